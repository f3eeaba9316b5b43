// Offline start-up check (see bootstrap.h).
#include "lib/fsck/bootstrap.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "lib/raft/core.h"
#include "lib/raft/log_storage.h"
#include "lib/tablet/superblock.h"

namespace kmend::fsck {

namespace {

// The WAL as WalLog::Open presents it to the core: entries [first, last];
// the term before the first is known only when the log starts at index 1
// (Kudu's segments do not record it).
class SkeletonStorage : public raft::LogStorage {
 public:
  explicit SkeletonStorage(const std::vector<consensus::ReplicateMsg>& entries)
      : entries_(entries) {
    if (!entries_.empty()) base_index_ = entries_.front().id().index() - 1;
  }
  int64_t FirstIndex() const override { return base_index_ + 1; }
  int64_t LastIndex() const override { return base_index_ + static_cast<int64_t>(entries_.size()); }
  absl::StatusOr<int64_t> Term(int64_t index) const override {
    if (index > LastIndex()) return absl::OutOfRangeError(absl::StrCat("index ", index));
    if (index == base_index_) {
      if (base_index_ == 0) return 0;
      return absl::NotFoundError(absl::StrCat("term of index ", index, " unknown"));
    }
    if (index < base_index_) return absl::NotFoundError(absl::StrCat("index ", index));
    return entries_[index - base_index_ - 1].id().term();
  }
  absl::Status Entries(int64_t lo, int64_t hi, int64_t max_bytes,
                       std::vector<consensus::ReplicateMsg>* out) const override {
    if (lo <= base_index_) return absl::NotFoundError(absl::StrCat("index ", lo));
    if (hi - 1 > LastIndex()) return absl::OutOfRangeError(absl::StrCat("index ", hi - 1));
    for (int64_t i = lo; i < hi; ++i) out->push_back(entries_[i - base_index_ - 1]);
    return absl::OkStatus();
  }

 private:
  const std::vector<consensus::ReplicateMsg>& entries_;
  int64_t base_index_ = 0;
};

}  // namespace

void BootstrapLog::Add(const consensus::ReplicateMsg& msg) {
  consensus::ReplicateMsg kept;
  *kept.mutable_id() = msg.id();
  kept.set_timestamp(msg.timestamp());
  kept.set_op_type(msg.op_type());
  if (msg.has_change_config_record()) {
    *kept.mutable_change_config_record() = msg.change_config_record();
  }
  entries.push_back(std::move(kept));
}

BootstrapReport CheckBootstrap(const std::string& tablet_id, const std::string& self_uuid,
                               const tablet::TabletSuperBlockPB& superblock,
                               const std::optional<consensus::ConsensusMetadataPB>& cmeta,
                               const BootstrapLog& log) {
  BootstrapReport r;
  r.checked = true;
  r.last_flushed_op_index = superblock.last_flushed_op_index();
  if (!log.entries.empty()) {
    r.wal_first_index = log.entries.front().id().index();
    r.wal_last_index = log.entries.back().id().index();
  }
  r.ops_to_replay = std::max<int64_t>(0, r.wal_last_index - r.last_flushed_op_index);
  if (superblock.tablet_data_state() != tablet::TABLET_DATA_READY) {
    r.ok = false;
    r.reason = absl::StrCat("data state is ", tablet::DataStateName(superblock.tablet_data_state()),
                            ": the server does not start this replica");
    return r;
  }
  if (!log.readable) {
    r.reason = absl::StrCat("the WAL cannot be read: ", log.first_problem);
    return r;
  }
  if (!log.first_problem.empty()) {
    r.reason = absl::StrCat("WAL recovery (wal::Log::Open) stops at: ", log.first_problem);
    return r;
  }
  if (!cmeta.has_value()) {
    r.reason = "the consensus metadata does not load";
    return r;
  }
  SkeletonStorage storage(log.entries);
  raft::CoreOptions options;
  options.tablet_id = tablet_id;
  options.self_uuid = self_uuid.empty() ? "fsck" : self_uuid;
  raft::InitialState init;
  init.hard_state.term = cmeta->current_term();
  init.hard_state.voted_for = cmeta->voted_for();
  init.committed_config = cmeta->committed_config();
  init.applied_index = superblock.last_flushed_op_index();
  auto core = raft::RaftCore::Create(options, init, &storage);
  if (!core.ok()) {
    r.reason = absl::StrCat("Raft start-up (RaftCore::Create) refuses: ", core.status().message());
    return r;
  }
  if (!log.entries.empty() && r.wal_first_index > r.last_flushed_op_index + 1) {
    r.reason = absl::StrCat("ops ", r.last_flushed_op_index + 1, "..", r.wal_first_index - 1,
                            " are in neither the flushed blocks (through op ",
                            r.last_flushed_op_index, ") nor the WAL (from op ", r.wal_first_index,
                            "): the replica would start without their rows");
    return r;
  }
  r.ok = true;
  return r;
}

}  // namespace kmend::fsck
