// RaftCore: proposals, membership (config changes taking effect on append),
// leadership transfer, step-down, the unsafe config change, and status.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lib/raft/core.h"

namespace kmend::raft {

using consensus::RaftConfigPB;
using consensus::RaftMessagePB;
using consensus::RaftPeerPB;
using consensus::ReplicateMsg;

void RaftCore::OnEntriesAppended(const std::vector<ReplicateMsg>& entries) {
  bool changed = false;
  const int64_t committed_index =
      committed_config_.has_opid_index() ? committed_config_.opid_index() : -1;
  for (const ReplicateMsg& e : entries) {
    if (e.op_type() != consensus::CHANGE_CONFIG_OP || !e.has_change_config_record()) continue;
    if (e.id().index() <= committed_index) continue;
    RaftConfigPB c = e.change_config_record().new_config();
    c.set_opid_index(e.id().index());
    c.set_opid_term(e.id().term());
    pending_configs_[e.id().index()] = std::move(c);
    changed = true;
  }
  if (changed && role_ == Role::kLeader) SyncProgress();
}

void RaftCore::OnEntriesReplaced(int64_t first_replaced) {
  // A config entry that was overwritten never happened: fall back to the
  // config before it (thesis 4.1: a server uses the latest config in its log).
  pending_configs_.erase(pending_configs_.lower_bound(first_replaced), pending_configs_.end());
}

void RaftCore::OnCommitAdvanced() {
  const int64_t committed = log_.committed();
  while (!pending_configs_.empty() && pending_configs_.begin()->first <= committed) {
    committed_config_ = std::move(pending_configs_.begin()->second);
    pending_configs_.erase(pending_configs_.begin());
    committed_config_dirty_ = true;
  }
  if (role_ == Role::kLeader && !IsVoter(active_config(), options_.self_uuid) &&
      pending_configs_.empty()) {
    // Our removal (or demotion) is committed: stop leading.
    Event(absl::StrCat("stepping down as leader of term ", term_,
                       ": a committed config no longer has this replica as a voter"));
    BecomeFollower(term_, "");
  }
}

void RaftCore::SyncProgress() {
  const RaftConfigPB& config = active_config();
  for (auto it = progress_.begin(); it != progress_.end();) {
    if (!IsMember(config, it->first) && it->first != options_.self_uuid) {
      if (transferee_ == it->first) transferee_.clear();
      it = progress_.erase(it);
    } else {
      ++it;
    }
  }
  for (const RaftPeerPB& p : config.peers()) {
    if (progress_.count(p.permanent_uuid())) continue;
    Progress pr;
    pr.next = log_.LastIndex() + 1;
    pr.recent_active = true;  // give a new peer one check-quorum period
    progress_.emplace(p.permanent_uuid(), pr);
  }
  Progress& self = progress_[options_.self_uuid];
  self.state = PeerStatus::State::kReplicate;
  self.match = log_.StableLastIndex();
  self.next = log_.LastIndex() + 1;
}

absl::StatusOr<consensus::OpId> RaftCore::Propose(ReplicateMsg msg) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raft: ", options_.self_uuid, " is not the leader (", RoleName(role_), " at term ",
        term_, ", leader ", lead_.empty() ? "unknown" : lead_, ")"));
  }
  Wake();  // a quiesced leader heartbeats again (core_quiesce.cc)
  if (!transferee_.empty()) {
    return absl::UnavailableError(
        absl::StrCat("raft: leadership transfer to ", transferee_, " in progress"));
  }
  if (msg.op_type() == consensus::CHANGE_CONFIG_OP) {
    return absl::InvalidArgumentError(
        "raft: CHANGE_CONFIG_OP entries go through ProposeConfigChange");
  }
  if (!msg.has_timestamp()) msg.set_timestamp(Timestamp());
  AppendAsLeader({std::move(msg)});
  consensus::OpId id;
  id.set_term(term_);
  id.set_index(log_.LastIndex());
  return id;
}

absl::StatusOr<consensus::OpId> RaftCore::ProposeConfigChange(const ConfigChange& change) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raft: ", options_.self_uuid, " is not the leader (", RoleName(role_), " at term ",
        term_, ")"));
  }
  Wake();  // a quiesced leader heartbeats again (core_quiesce.cc)
  if (!transferee_.empty()) {
    return absl::UnavailableError(
        absl::StrCat("raft: leadership transfer to ", transferee_, " in progress"));
  }
  const int64_t committed_index =
      committed_config_.has_opid_index() ? committed_config_.opid_index() : -1;
  if (change.cas_config_opid_index != ConfigChange::kNoCas &&
      change.cas_config_opid_index != committed_index) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raft: config change CAS failed: expected committed config opid_index ",
        change.cas_config_opid_index, ", found ", committed_index));
  }
  if (!pending_configs_.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raft: a config change is already pending at index ",
        pending_configs_.rbegin()->first, " (", ConfigSummary(active_config()),
        "); one change at a time"));
  }
  if (log_.committed() < leader_start_index_) {
    // Until an entry of our term commits we may not know the latest
    // committed config (the fix to single-server changes, Ongaro 2015).
    return absl::UnavailableError(
        "raft: the leader has not committed an entry of its term yet");
  }
  if (change.type == ChangeType::kRemovePeer && change.uuid == options_.self_uuid) {
    return absl::FailedPreconditionError(
        "raft: the leader cannot remove itself; transfer leadership first");
  }
  absl::StatusOr<RaftConfigPB> next = ApplyChange(active_config(), change);
  if (!next.ok()) return next.status();
  const int64_t index = log_.LastIndex() + 1;
  next->set_opid_index(index);
  ReplicateMsg e;
  e.set_op_type(consensus::CHANGE_CONFIG_OP);
  e.set_timestamp(Timestamp());
  auto* rec = e.mutable_change_config_record();
  rec->set_tablet_id(options_.tablet_id);
  *rec->mutable_old_config() = active_config();
  *rec->mutable_new_config() = *next;
  AppendAsLeader({std::move(e)});
  consensus::OpId id;
  id.set_term(term_);
  id.set_index(index);
  return id;
}

absl::Status RaftCore::TransferLeadership(const std::string& to_uuid) {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError("raft: only the leader can transfer leadership");
  }
  Wake();  // a quiesced leader heartbeats again (core_quiesce.cc)
  if (to_uuid == options_.self_uuid) {
    return absl::InvalidArgumentError("raft: already the leader");
  }
  if (!IsVoter(active_config(), to_uuid)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raft: transfer target ", to_uuid, " is not a voter in ",
        ConfigSummary(active_config())));
  }
  transferee_ = to_uuid;
  election_elapsed_ = 0;  // the transfer is aborted after one election timeout
  auto it = progress_.find(to_uuid);
  if (it != progress_.end() && it->second.match == log_.LastIndex()) {
    SendTimeoutNow(to_uuid);
  } else {
    SendAppend(to_uuid, /*heartbeat=*/false);
  }
  return absl::OkStatus();
}

absl::Status RaftCore::StepDown() {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError("raft: only the leader can step down");
  }
  Wake();  // a quiesced leader heartbeats again (core_quiesce.cc)
  Event(absl::StrCat("stepping down as leader of term ", term_, ": asked to"));
  BecomeFollower(term_, "");
  return absl::OkStatus();
}

absl::StatusOr<consensus::OpId> RaftCore::UnsafeChangeConfig(RaftConfigPB new_config,
                                                             bool force) {
  absl::Status s = CheckUnsafeConfig(committed_config_, new_config, options_.self_uuid);
  if (!s.ok()) return s;
  if (!force && role_ == Role::kLeader) {
    return absl::FailedPreconditionError(absl::StrCat(
        "unsafe config change refused: this replica (", options_.self_uuid,
        ") is the leader of term ", term_, "; its group is alive. Use a safe config change, "
        "or force"));
  }
  if (!force && role_ != Role::kLeader && HeardFromLeaderRecently()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "unsafe config change refused: this replica heard from leader ", lead_, " of term ",
        term_, " ", election_elapsed_, " tick(s) ago, within the election timeout (",
        options_.election_ticks, " ticks); forcing now would make a second leader"));
  }
  // As Kudu: the entry looks as if it came from a new leader at term + 1
  // that we have not heard of; it goes after our last op, so nothing of our
  // log is lost, and it becomes the active config at once.
  const int64_t new_term = std::max(term_, log_.LastTerm()) + 1;
  const int64_t index = log_.LastIndex() + 1;
  new_config.set_opid_index(index);
  new_config.set_opid_term(new_term);
  new_config.set_unsafe_config_change(true);
  for (RaftPeerPB& p : *new_config.mutable_peers()) p.clear_health_report();
  ReplicateMsg e;
  e.mutable_id()->set_term(new_term);
  e.mutable_id()->set_index(index);
  e.set_op_type(consensus::CHANGE_CONFIG_OP);
  e.set_timestamp(Timestamp());
  auto* rec = e.mutable_change_config_record();
  rec->set_tablet_id(options_.tablet_id);
  *rec->mutable_old_config() = committed_config_;
  *rec->mutable_new_config() = new_config;
  Event(absl::StrCat(role_ == Role::kLeader ? "stepping down as leader: " : "",
                     "unsafe config change to ", ConfigSummary(new_config), " at term ",
                     new_term));
  BecomeFollower(new_term, "");
  std::vector<ReplicateMsg> entries{std::move(e)};
  log_.Append(entries);
  OnEntriesAppended(entries);
  consensus::OpId id;
  id.set_term(new_term);
  id.set_index(index);
  return id;
}

RaftStatus RaftCore::GetStatus() const {
  RaftStatus st;
  st.uuid = options_.self_uuid;
  st.role = role_;
  st.term = term_;
  st.voted_for = vote_;
  st.leader_uuid = lead_;
  st.committed_config = committed_config_;
  if (!pending_configs_.empty()) st.pending_config = pending_configs_.rbegin()->second;
  st.last_logged.set_index(log_.LastIndex());
  st.last_logged.set_term(log_.LastTerm());
  st.committed.set_index(log_.committed());
  st.committed.set_term(log_.TermOrZero(log_.committed()));
  st.applied_index = log_.applied();
  st.transferring_to = transferee_;
  st.quiesced = quiesced_;
  if (role_ == Role::kLeader) {
    st.leader_lease = HoldsReadLease();
    st.ticks_since_leader_contact = 0;
  } else if (!lead_.empty()) {
    st.ticks_since_leader_contact = election_elapsed_;
    st.leader_lease = HeardFromLeaderRecently();
  }
  if (role_ == Role::kLeader) {
    const RaftConfigPB& config = active_config();
    for (const auto& [uuid, pr] : progress_) {
      PeerStatus ps;
      ps.uuid = uuid;
      ps.voter = IsVoter(config, uuid);
      ps.state = pr.state;
      ps.match_index = pr.match;
      ps.next_index = pr.next;
      ps.ticks_since_contact = uuid == options_.self_uuid ? 0 : pr.ticks_since_contact;
      if (uuid == options_.self_uuid) {
        ps.health = consensus::HealthReportPB::HEALTHY;
      } else if (pr.state == PeerStatus::State::kNeedsTabletCopy) {
        ps.health = consensus::HealthReportPB::FAILED_UNRECOVERABLE;
      } else if (pr.ticks_since_contact >= options_.election_ticks) {
        ps.health = consensus::HealthReportPB::FAILED;
      } else {
        ps.health = consensus::HealthReportPB::HEALTHY;
      }
      st.peers.push_back(ps);
    }
  }
  return st;
}

}  // namespace kmend::raft
