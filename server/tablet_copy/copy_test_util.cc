#include "server/tablet_copy/copy_test_util.h"

#include <stdlib.h>

#include <random>

#include "absl/strings/str_cat.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/layout.h"
#include "lib/fs/uuid.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/tablet/test_spec.h"
#include "lib/util/status_macros.h"

namespace kmend::tablet_copy::testing {

std::string FreshDir(const std::string& name) {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : "/tmp", "/", name, "XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) abort();
  return tmpl;
}

absl::Status Root::Open(const std::string& dir) {
  path = dir;
  RETURN_IF_ERROR(fs::Format(path, {"", 4096}).status());
  return Reopen();
}

absl::Status Root::Reopen() {
  bm.reset();
  blocks::BlockManagerOptions o;
  o.sync = false;  // tests: the durability order is unchanged, only fdatasync skipped
  ASSIGN_OR_RETURN(bm, blocks::LogBlockManager::Open(fs::Layout(path).DataDir(), o));
  return absl::OkStatus();
}

absl::StatusOr<SourceReplica> SourceReplicaProvider::GetReplica(const std::string& id) {
  if (id != tablet_id) return absl::NotFoundError(absl::StrCat("tablet ", id, " not hosted here"));
  return replica;
}

namespace {

kmend::RowOpPB InsertOp(int64_t k, const std::string& s) {
  kmend::RowOpPB op;
  op.set_type(kmend::RowOpPB::INSERT);
  op.add_cells()->set_int64_value(k);
  op.add_cells()->set_string_value(s);
  op.add_cells()->set_double_value(k * 0.25);
  op.add_cells()->set_bool_value(k % 3 == 0);
  return op;
}

consensus::ReplicateMsg NoOp(int64_t term, int64_t index, size_t payload_bytes) {
  consensus::ReplicateMsg msg;
  msg.mutable_id()->set_term(term);
  msg.mutable_id()->set_index(index);
  msg.set_timestamp(static_cast<uint64_t>(index));
  msg.set_op_type(consensus::NO_OP);
  // Bytes that depend on the index, so a reader can tell entries apart.
  // Incompressible, so that the WAL spans several segments.
  std::mt19937_64 rng(static_cast<uint64_t>(index));
  std::string payload(payload_bytes, ' ');
  for (char& c : payload) c = static_cast<char>(rng());
  msg.set_write_request(payload);
  return msg;
}

}  // namespace

absl::Status CopySource::Start(const SourceSpec& spec, SourceOptions options) {
  RETURN_IF_ERROR(root_.Open(FreshDir("copysrc") + "/root"));
  const fs::Layout layout(root_.path);
  tablet_id_ = fs::NewUuid();

  tablet::TabletSpec ts = tablet::AllTypesTestSpec(tablet_id_, "t1", "copy_test");
  ASSIGN_OR_RETURN(tablet_, tablet::Tablet::Create(layout, root_.bm.get(), ts));

  // Rows: printable random strings (compress about as badly as real text).
  std::mt19937_64 rng(42);
  int64_t op_index = 0;
  const int64_t per_flush = (spec.rows + spec.flushes - 1) / std::max(1, spec.flushes);
  int64_t k = 0;
  while (k < spec.rows) {
    const int64_t end = std::min(spec.rows, k + per_flush);
    while (k < end) {
      kmend::WriteOpsPB batch;
      for (int i = 0; i < 500 && k < end; ++i, ++k) {
        std::string s(spec.string_bytes, ' ');
        for (char& c : s) c = static_cast<char>(0x20 + rng() % 95);
        *batch.add_ops() = InsertOp(k, s);
      }
      ASSIGN_OR_RETURN(tablet::ApplyResult r, tablet_->Apply(batch, ++op_index));
      (void)r;
    }
    RETURN_IF_ERROR(tablet_->Flush().status());
  }

  // WAL: several closed segments and an open one.
  wal::LogOptions lo;
  lo.segment_size_bytes = spec.wal_segment_size_bytes;
  lo.sync = false;
  lo.tablet_id = tablet_id_;
  lo.schema = ts.schema;
  ASSIGN_OR_RETURN(log_, wal::Log::Open(layout.WalDir(tablet_id_), lo));
  for (int i = 1; i <= spec.wal_entries; i += 10) {
    std::vector<consensus::ReplicateMsg> batch;
    for (int j = i; j < i + 10 && j <= spec.wal_entries; ++j) {
      batch.push_back(NoOp(spec.term, j, spec.wal_payload_bytes));
    }
    RETURN_IF_ERROR(log_->Append(batch));
  }

  consensus::ConsensusMetadataPB cmeta;
  cmeta.set_current_term(spec.term);
  cmeta.set_voted_for("peer-a");
  ASSIGN_OR_RETURN(*cmeta.mutable_committed_config(),
                   meta::ParsePeerList("aaaa@127.0.0.1:1,bbbb@127.0.0.1:2,cccc@127.0.0.1:3"));
  RETURN_IF_ERROR(meta::StoreConsensusMeta(layout.ConsensusMetaPath(tablet_id_), cmeta));

  provider_.tablet_id = tablet_id_;
  provider_.replica.root = root_.path;
  provider_.replica.ready = true;
  provider_.replica.block_manager = root_.bm.get();
  if (options.server_uuid.empty()) options.server_uuid = "source-uuid";
  manager_ = std::make_unique<TabletCopySourceManager>(&provider_, std::move(options));
  service_ = std::make_unique<TabletCopyServiceImpl>(manager_.get());
  return rpc_.Start("127.0.0.1:0", {service_.get()}, "");
}

CopySource::~CopySource() {
  rpc_.Shutdown(std::chrono::milliseconds(100));
  service_.reset();
  manager_.reset();
  log_.reset();
  tablet_.reset();
}

std::string CopySource::address() const { return absl::StrCat("127.0.0.1:", rpc_.port()); }

std::vector<std::string> RowsAsText(const tablet::Tablet& tablet) {
  std::vector<std::string> out;
  for (const tablet::Row& row : tablet.Scan({}).rows) out.push_back(tablet::RowToString(row));
  return out;
}

}  // namespace kmend::tablet_copy::testing
