#include "testing/raftsim/sim_node.h"

#include "absl/strings/str_cat.h"

namespace kmend::raftsim {

std::string EntryKey(const consensus::ReplicateMsg& e) {
  std::string bytes;
  e.SerializeToString(&bytes);
  return bytes;
}

SimNode::SimNode(std::string uuid, raft::CoreOptions options,
                 consensus::RaftConfigPB initial_config)
    : uuid_(std::move(uuid)), options_(std::move(options)),
      cmeta_config_(std::move(initial_config)) {
  options_.self_uuid = uuid_;
}

absl::Status SimNode::Start(uint64_t seed) {
  raft::CoreOptions o = options_;
  o.random_seed = seed;
  raft::InitialState init;
  init.hard_state = hard_state_;
  init.committed_config = cmeta_config_;
  init.applied_index = 0;  // the state machine is rebuilt by replaying
  absl::StatusOr<std::unique_ptr<raft::RaftCore>> core =
      raft::RaftCore::Create(o, init, &storage_);
  if (!core.ok()) return core.status();
  core_ = std::move(*core);
  applied_.clear();
  return absl::OkStatus();
}

void SimNode::Crash() {
  core_.reset();
  applied_.clear();
}

uint64_t SimNode::prefix_hash(int64_t index) const {
  if (index == storage_.FirstIndex() - 1) return base_hash_;
  if (index < storage_.FirstIndex()) return 0;
  return prefix_hashes_[index - storage_.FirstIndex()];
}

bool SimNode::ProcessReady(std::vector<consensus::RaftMessagePB>* out, CrashPoint crash) {
  last_persisted_lo_ = 1;
  last_persisted_hi_ = 0;
  last_applied_.clear();
  became_leader_ = false;
  if (!core_ || !core_->HasReady()) return false;
  raft::Ready rd = core_->GetReady();
  if (rd.soft_state && rd.soft_state->role == raft::Role::kLeader) became_leader_ = true;
  for (std::string& e : rd.events) events_.push_back(std::move(e));
  // 0: a leader's appends may leave before its own fsync.
  for (auto& m : rd.early_messages) out->push_back(std::move(m));
  if (crash == CrashPoint::kBeforePersist) {
    Crash();
    return true;
  }
  // 1-2: truncate, persist hard state and entries.
  if (rd.truncate_after) {
    absl::Status s = storage_.TruncateAfter(*rd.truncate_after);
    if (!s.ok()) abort();
    prefix_hashes_.resize(storage_.LastIndex() - storage_.FirstIndex() + 1);
  }
  if (rd.hard_state) hard_state_ = *rd.hard_state;
  if (!rd.entries.empty()) {
    if (storage_.LastIndex() + 1 != rd.entries.front().id().index()) {
      // The core's contract says this can't happen; make it loud.
      abort();
    }
    absl::Status s = storage_.Append(rd.entries);
    if (!s.ok()) abort();
    uint64_t h = prefix_hashes_.empty() ? base_hash_ : prefix_hashes_.back();
    for (const auto& e : rd.entries) {
      h = Fnv1aAdd(h, EntryKey(e));
      prefix_hashes_.push_back(h);
    }
    last_persisted_lo_ = rd.entries.front().id().index();
    last_persisted_hi_ = rd.entries.back().id().index();
  }
  // 3: consensus metadata.
  if (rd.committed_config) cmeta_config_ = *rd.committed_config;
  if (crash == CrashPoint::kAfterPersist) {
    Crash();
    return true;
  }
  for (const std::string& peer : rd.need_tablet_copy) copy_requests_.push_back(peer);
  // 4-5: send, apply.
  for (auto& m : rd.messages) out->push_back(std::move(m));
  for (const auto& e : rd.committed_entries) {
    applied_.push_back(e);
    last_applied_.push_back(e);
  }
  core_->Advance();
  return true;
}

absl::Status SimNode::CompactThrough(int64_t index) {
  const int64_t first = storage_.FirstIndex();
  const uint64_t new_base = prefix_hash(index);
  absl::Status s = storage_.CompactThrough(index);
  if (!s.ok()) return s;
  prefix_hashes_.erase(prefix_hashes_.begin(),
                       prefix_hashes_.begin() + (storage_.FirstIndex() - first));
  base_hash_ = new_base;
  return absl::OkStatus();
}

void SimNode::InstallTabletCopy(const SimNode& source) {
  storage_ = source.storage_;
  prefix_hashes_ = source.prefix_hashes_;
  base_hash_ = source.base_hash_;
  cmeta_config_ = source.cmeta_config_;
  if (source.hard_state_.term > hard_state_.term) {
    hard_state_.term = source.hard_state_.term;
    hard_state_.voted_for.clear();
  }
}

}  // namespace kmend::raftsim
