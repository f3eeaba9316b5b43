// Test data directories (see test_data_dir.h).
#include "lib/fsck/test_data_dir.h"

#include <algorithm>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/layout.h"
#include "lib/fs/uuid.h"
#include "lib/meta/cmeta.h"
#include "lib/tablet/tablet.h"
#include "lib/tablet/test_spec.h"
#include "lib/util/status_macros.h"
#include "lib/wal/log.h"

namespace kmend::fsck {

absl::StatusOr<TestDataDir> MakeTestDataDir(const std::string& root, const TestDataDirOptions& o) {
  TestDataDir out;
  out.root = root;
  ASSIGN_OR_RETURN(fs::InstanceInfo info, fs::Format(root));
  out.server_uuid = info.uuid;
  out.peer_uuid = fs::NewUuid();
  fs::Layout layout(root);
  blocks::BlockManagerOptions bo;
  bo.sync = o.sync;
  ASSIGN_OR_RETURN(auto bm, blocks::LogBlockManager::Open(layout.DataDir(), bo));
  for (int t = 0; t < o.tablets; ++t) {
    const std::string id = fs::NewUuid();
    out.tablet_ids.push_back(id);
    tablet::TabletSpec spec;
    spec.tablet_id = id;
    spec.table_id = "tbl";
    spec.table_name = "fsck_test";
    spec.schema = tablet::KeyValueTestSchema("v");
    spec.num_replicas = 2;
    ASSIGN_OR_RETURN(auto tab, tablet::Tablet::Create(layout, bm.get(), spec));

    consensus::ConsensusMetadataPB cm;
    cm.set_current_term(1);
    cm.set_voted_for(out.server_uuid);
    consensus::RaftConfigPB* config = cm.mutable_committed_config();
    config->set_opid_index(-1);
    for (const auto& [uuid, port] :
         {std::pair<std::string, int>{out.server_uuid, 7050}, {out.peer_uuid, 7051}}) {
      auto* p = config->add_peers();
      p->set_permanent_uuid(uuid);
      p->set_member_type(consensus::RaftPeerPB::VOTER);
      p->mutable_last_known_addr()->set_host("127.0.0.1");
      p->mutable_last_known_addr()->set_port(port);
    }
    RETURN_IF_ERROR(meta::StoreConsensusMeta(layout.ConsensusMetaPath(id), cm));

    wal::LogOptions lo;
    lo.segment_size_bytes = o.wal_segment_size_bytes;
    lo.sync = o.sync;
    lo.preallocate = false;
    lo.tablet_id = id;
    lo.schema = spec.schema;
    ASSIGN_OR_RETURN(auto log, wal::Log::Open(layout.WalDir(id), lo));
    int64_t key = 0;
    std::mt19937_64 rng(t + 1);
    for (int op = 1; op <= o.ops; ++op) {
      kmend::WriteOpsPB ops;
      for (int r = 0; r < o.rows_per_op; ++r, ++key) {
        kmend::RowOpPB* row = ops.add_ops();
        row->set_type(kmend::RowOpPB::UPSERT);
        row->add_cells()->set_int64_value(key);
        std::string v;
        if (o.random_values) {
          v.resize(static_cast<size_t>(o.value_bytes));
          for (size_t i = 0; i + 8 <= v.size(); i += 8) {
            const uint64_t x = rng();
            std::memcpy(&v[i], &x, 8);
          }
        } else {
          v = tablet::IncompressibleTestValue(key);
          while (static_cast<int>(v.size()) < o.value_bytes) v += v;
          v.resize(static_cast<size_t>(o.value_bytes));
        }
        row->add_cells()->set_string_value(v);
      }
      consensus::ReplicateMsg msg;
      msg.mutable_id()->set_term(1);
      msg.mutable_id()->set_index(op);
      msg.set_timestamp(static_cast<uint64_t>(op));
      msg.set_op_type(consensus::WRITE_OP);
      *msg.mutable_kmend_write() = ops;
      RETURN_IF_ERROR(log->Append({msg}));
      RETURN_IF_ERROR(tab->Apply(ops, op).status());
      if (op == o.flush_after_op) {
        RETURN_IF_ERROR(tab->Flush().status());
        // As the server does: keep the segment holding the flushed op.
        if (o.wal_gc) RETURN_IF_ERROR(log->GarbageCollect(op).status());
      }
    }
    RETURN_IF_ERROR(log->Close());
  }
  std::sort(out.tablet_ids.begin(), out.tablet_ids.end());
  return out;
}

absl::StatusOr<std::vector<uint64_t>> AddOrphanedBlocks(const std::string& root, int count) {
  fs::Layout layout(root);
  ASSIGN_OR_RETURN(auto bm, blocks::LogBlockManager::Open(layout.DataDir()));
  std::vector<std::string> data;
  for (int i = 0; i < count; ++i) data.push_back(absl::StrCat("orphan block ", i, " payload"));
  std::vector<absl::string_view> views(data.begin(), data.end());
  return bm->CreateBlocks(views);
}

}  // namespace kmend::fsck
