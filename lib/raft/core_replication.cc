// RaftCore: log replication (both sides), commit, and the Ready handshake.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lib/raft/core.h"

namespace kmend::raft {

using consensus::RaftMessagePB;
using consensus::ReplicateMsg;

void RaftCore::AppendAsLeader(std::vector<ReplicateMsg> entries) {
  int64_t index = log_.LastIndex();
  for (ReplicateMsg& e : entries) {
    e.mutable_id()->set_term(term_);
    e.mutable_id()->set_index(++index);
  }
  log_.Append(entries);
  OnEntriesAppended(entries);
  // The leader's own match advances when the entries are persisted
  // (Advance), so that commit only counts durable copies.
}

void RaftCore::SendAppend(const std::string& to, bool heartbeat) {
  auto it = progress_.find(to);
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  const int64_t last = log_.LastIndex();
  RaftMessagePB m;
  m.set_type(RaftMessagePB::APPEND_REQUEST);
  m.set_to_uuid(to);
  auto* req = m.mutable_append_request();
  req->set_leader_tick(tick_count_);

  if (pr.state == PeerStatus::State::kNeedsTabletCopy) {
    if (!heartbeat) return;
    // Probe at our last op: after a tablet copy the peer answers with a hint
    // from which we can resume (see HandleAppendResponse).
    req->mutable_preceding_op_id()->set_index(last);
    req->mutable_preceding_op_id()->set_term(log_.LastTerm());
    req->set_committed_index(log_.committed());
    Send(std::move(m));
    return;
  }
  if (pr.state == PeerStatus::State::kProbe && pr.probe_sent && !heartbeat) return;
  if (pr.state == PeerStatus::State::kReplicate && !heartbeat &&
      (pr.next > last ||
       static_cast<int>(pr.inflight.size()) >= options_.max_inflight_messages)) {
    return;
  }

  const int64_t prev = pr.next - 1;
  absl::StatusOr<int64_t> prev_term = log_.Term(prev);
  std::vector<ReplicateMsg> entries;
  absl::Status s = prev_term.status();
  if (s.ok() && pr.next <= last) {
    s = log_.Entries(pr.next, std::min(last + 1, pr.next + options_.max_entries_per_message),
                     options_.max_bytes_per_message, &entries);
  }
  if (!s.ok()) {
    // Our log no longer holds what the peer needs: only a tablet copy helps.
    pr.state = PeerStatus::State::kNeedsTabletCopy;
    pr.inflight.clear();
    need_copy_.push_back(to);
    return;
  }
  req->mutable_preceding_op_id()->set_index(prev);
  req->mutable_preceding_op_id()->set_term(*prev_term);
  // Never tell a follower to commit past what this message proves it holds.
  req->set_committed_index(log_.committed());
  pr.sent_commit = std::max(pr.sent_commit, log_.committed());
  for (ReplicateMsg& e : entries) *req->add_entries() = std::move(e);
  const int n = req->entries_size();
  if (pr.state == PeerStatus::State::kReplicate) {
    if (n > 0) {
      pr.next = prev + n + 1;  // optimistic: pipelined
      pr.inflight.push_back(prev + n);
    }
  } else {
    pr.probe_sent = true;
  }
  Send(std::move(m));
}

void RaftCore::BroadcastHeartbeat() {
  for (auto& [uuid, pr] : progress_) {
    if (uuid == options_.self_uuid) continue;
    // A full window likely means lost messages; let the heartbeat through and
    // reopen the window (a lost append is then detected by rejection).
    pr.inflight.clear();
    SendAppend(uuid, /*heartbeat=*/true);
  }
}

void RaftCore::FlushAppends() {
  if (role_ != Role::kLeader) return;
  for (auto& [uuid, pr] : progress_) {
    if (uuid == options_.self_uuid) continue;
    // Batch: keep sending while the window has room and entries remain.
    size_t before_all = early_msgs_.size();
    for (int i = 0; i < options_.max_inflight_messages; ++i) {
      size_t before = early_msgs_.size();
      SendAppend(uuid, /*heartbeat=*/false);
      if (early_msgs_.size() == before) break;
      if (pr.state != PeerStatus::State::kReplicate) break;
    }
    // A caught-up follower learns a new commit index now rather than at the
    // next heartbeat (one message per Ready, not per commit).
    if (early_msgs_.size() == before_all && pr.state == PeerStatus::State::kReplicate &&
        pr.sent_commit < log_.committed() && pr.inflight.empty()) {
      SendAppend(uuid, /*heartbeat=*/true);
      // Nothing in flight and nothing to send: the follower holds our last
      // op, so it accepts this and its answer would repeat what its last one
      // said. Liveness, check-quorum and the read lease count the tick
      // heartbeats' answers, as they do between writes.
      if (early_msgs_.size() > before_all && pr.match == log_.LastIndex()) {
        early_msgs_.back().mutable_append_request()->set_no_ack(true);
      }
    }
  }
}

void RaftCore::HandleAppendRequest(const RaftMessagePB& m) {
  if (role_ == Role::kLeader) return;  // impossible at one term (election safety)
  if (role_ != Role::kFollower || lead_ != m.from_uuid()) {
    BecomeFollower(term_, m.from_uuid());
  }
  election_elapsed_ = 0;
  const auto& req = m.append_request();
  const int64_t prev_index = req.preceding_op_id().index();
  const int64_t prev_term = req.preceding_op_id().term();

  RaftMessagePB r;
  r.set_type(RaftMessagePB::APPEND_RESPONSE);
  r.set_to_uuid(m.from_uuid());
  auto* resp = r.mutable_append_response();
  if (req.has_leader_tick()) resp->set_leader_tick(req.leader_tick());
  // Entries at or below our commit index must match: a legitimate leader
  // holds every committed entry (leader completeness). Only an unsafe config
  // change can elect a leader that doesn't; then we refuse and ask for a
  // tablet copy instead of mixing two histories.
  const int64_t committed = log_.committed();
  bool conflict = false;
  if (prev_index <= committed) {
    absl::StatusOr<int64_t> t = log_.Term(prev_index);
    if (t.ok() && *t != prev_term) conflict = true;
  }
  for (const ReplicateMsg& e : req.entries()) {
    if (e.id().index() > committed) break;
    absl::StatusOr<int64_t> t = log_.Term(e.id().index());
    if (t.ok() && *t != e.id().term()) conflict = true;
  }
  if (conflict) {
    resp->set_success(false);
    resp->set_rejected_index(prev_index);
    resp->set_committed_conflict(true);
    Send(std::move(r));
    return;
  }
  std::vector<ReplicateMsg> entries;
  std::optional<int64_t> last_new;
  int64_t first_replaced = -1;
  if (prev_index < committed) {
    // Everything through our commit index matches this leader's log (just
    // checked where we still hold it; compacted entries were committed).
    // Take only what follows it, and report a match through at least our
    // commit index, as etcd does: a leader probing below our compaction
    // point then moves straight past it.
    for (const ReplicateMsg& e : req.entries()) {
      if (e.id().index() > committed) entries.push_back(e);
    }
    last_new = entries.empty() ? committed
                               : log_.MaybeAppend(committed, log_.TermOrZero(committed),
                                                  entries, &first_replaced);
  } else {
    entries.assign(req.entries().begin(), req.entries().end());
    last_new = log_.MaybeAppend(prev_index, prev_term, entries, &first_replaced);
  }
  if (last_new) {
    if (first_replaced >= 0) OnEntriesReplaced(first_replaced);
    // Config entries take effect on append; re-registering ones already
    // present is harmless (same index, same config).
    OnEntriesAppended(entries);
    log_.CommitTo(std::min(req.committed_index(), *last_new));
    OnCommitAdvanced();
    resp->set_success(true);
    resp->set_last_index(*last_new);
    MaybeQuiesceFollower(req, /*success=*/true);
    // A commit announcement (no_ack): accepted, nothing appended, so the
    // answer would tell the leader nothing (proto/raft.proto).
    if (req.no_ack() && req.entries_size() == 0) return;
  } else {
    resp->set_success(false);
    resp->set_rejected_index(prev_index);
    int64_t hint = log_.FindConflictByTerm(std::min(prev_index, log_.LastIndex()), prev_term);
    resp->set_hint_index(hint);
    resp->set_hint_term(log_.TermOrZero(hint));
  }
  Send(std::move(r));
}

void RaftCore::HandleAppendResponse(const RaftMessagePB& m) {
  if (role_ != Role::kLeader) return;
  auto it = progress_.find(m.from_uuid());
  if (it == progress_.end()) return;
  Progress& pr = it->second;
  pr.recent_active = true;
  pr.ticks_since_contact = 0;
  const auto& resp = m.append_response();
  if (resp.has_leader_tick()) pr.acked_tick = std::max(pr.acked_tick, resp.leader_tick());
  if (resp.success()) {
    const int64_t idx = resp.last_index();
    while (!pr.inflight.empty() && pr.inflight.front() <= idx) pr.inflight.pop_front();
    if (idx > pr.match) {
      pr.match = idx;
      pr.next = std::max(pr.next, idx + 1);
      if (pr.state != PeerStatus::State::kReplicate) {
        pr.state = PeerStatus::State::kReplicate;
        pr.next = idx + 1;
        pr.inflight.clear();
      }
      pr.probe_sent = false;
      MaybeCommit();
      if (role_ != Role::kLeader) return;
    } else if (pr.state == PeerStatus::State::kProbe) {
      pr.probe_sent = false;
      if (idx == pr.match && pr.next == idx + 1) {
        // A probe matched at our current match point (e.g. match 0 on a
        // fresh peer): start replicating.
        pr.state = PeerStatus::State::kReplicate;
      }
    }
    if (m.from_uuid() == transferee_ && pr.match == log_.LastIndex()) {
      SendTimeoutNow(transferee_);
    }
    SendAppend(m.from_uuid(), /*heartbeat=*/false);
    return;
  }

  // Rejected.
  if (resp.committed_conflict()) {
    if (pr.state != PeerStatus::State::kNeedsTabletCopy) {
      pr.state = PeerStatus::State::kNeedsTabletCopy;
      pr.inflight.clear();
      need_copy_.push_back(m.from_uuid());
    }
    return;
  }
  const int64_t rejected = resp.rejected_index();
  if (pr.state == PeerStatus::State::kNeedsTabletCopy) {
    // The peer answered our probe: if our log still covers what it has, go
    // back to probing from there.
    int64_t probe = resp.hint_index();
    if (resp.hint_term() > 0) probe = log_.FindConflictByTerm(probe, resp.hint_term());
    if (probe >= log_.FirstIndex() - 1 && log_.Term(probe).ok()) {
      pr.state = PeerStatus::State::kProbe;
      pr.next = std::max(probe + 1, pr.match + 1);
      pr.probe_sent = false;
      SendAppend(m.from_uuid(), /*heartbeat=*/false);
    }
    return;
  }
  if (rejected <= pr.match) return;  // stale
  if (pr.state == PeerStatus::State::kReplicate) {
    pr.state = PeerStatus::State::kProbe;
    pr.next = pr.match + 1;
    pr.inflight.clear();
  } else {
    if (rejected != pr.next - 1) return;  // answer to an older probe
    int64_t probe = resp.hint_index();
    if (resp.hint_term() > 0) probe = log_.FindConflictByTerm(probe, resp.hint_term());
    pr.next = std::max(std::min(rejected, probe + 1), pr.match + 1);
  }
  pr.probe_sent = false;
  SendAppend(m.from_uuid(), /*heartbeat=*/false);
}

void RaftCore::SendTimeoutNow(const std::string& to) {
  RaftMessagePB m;
  m.set_type(RaftMessagePB::TIMEOUT_NOW);
  m.set_to_uuid(to);
  m.mutable_timeout_now();
  last_timeout_now_tick_ = tick_count_;
  Send(std::move(m));
}

void RaftCore::MaybeCommit() {
  std::vector<int64_t> matches;
  for (const std::string& v : VoterUuids(active_config())) {
    auto it = progress_.find(v);
    matches.push_back(it == progress_.end() ? 0 : it->second.match);
  }
  if (matches.empty()) return;
  std::sort(matches.rbegin(), matches.rend());
  const int64_t idx = matches[MajoritySize(static_cast<int>(matches.size())) - 1];
  // Only entries of the current term are committed by counting (5.4.2).
  if (idx > log_.committed() && log_.TermOrZero(idx) == term_) {
    log_.CommitTo(idx);
    OnCommitAdvanced();
  }
}

bool RaftCore::CheckQuorumWindow() {
  // The voters' servers are asked only when the group's window failed: the
  // callback takes the liveness table's lock, and thousands of leaders judge
  // a window every election timeout.
  if (QuorumActive()) {
    quorum_grace_used_ = false;
    return true;
  }
  if (quorum_grace_used_ || !options_.server_heard_recently) return false;
  const std::vector<std::string> voters = VoterUuids(active_config());
  int heard = 0;
  for (const std::string& v : voters) {
    if (v == options_.self_uuid || options_.server_heard_recently(v)) ++heard;
  }
  if (heard < MajoritySize(static_cast<int>(voters.size()))) return false;
  quorum_grace_used_ = true;
  return true;
}

bool RaftCore::QuorumActive() {
  const std::vector<std::string> voters = VoterUuids(active_config());
  int active = 0;
  for (const std::string& v : voters) {
    if (v == options_.self_uuid) {
      ++active;
      continue;
    }
    auto it = progress_.find(v);
    if (it != progress_.end() && it->second.recent_active) ++active;
  }
  for (auto& [uuid, pr] : progress_) pr.recent_active = false;
  return voters.empty() || active >= MajoritySize(static_cast<int>(voters.size()));
}

bool RaftCore::HoldsReadLease() const {
  if (role_ != Role::kLeader || !transferee_.empty()) return false;
  const std::vector<std::string> voters = VoterUuids(active_config());
  int fresh = 0;
  for (const std::string& v : voters) {
    if (v == options_.self_uuid) {
      ++fresh;
      continue;
    }
    // A voter that acknowledged a request sent at tick s reset its election
    // timer after s, so it refuses votes (check-quorum lease) until at least
    // election_ticks of its ticks later; counting only acks younger than
    // lease_ticks() leaves a tick for phase and one for clock-rate slack.
    auto it = progress_.find(v);
    if (it != progress_.end() && it->second.acked_tick >= lease_floor_tick_ &&
        it->second.acked_tick >= 0 && tick_count_ - it->second.acked_tick < lease_ticks()) {
      ++fresh;
    }
  }
  return fresh >= MajoritySize(static_cast<int>(voters.size()));
}

absl::Status RaftCore::CheckLeaderRead() const {
  if (role_ != Role::kLeader) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raft: ", options_.self_uuid, " is not the leader (", RoleName(role_), " at term ", term_,
        ", leader ", lead_.empty() ? "unknown" : lead_, ")"));
  }
  if (!options_.check_quorum) {
    return absl::UnavailableError("raft: leader reads need check_quorum (the voters' lease)");
  }
  if (!transferee_.empty()) {
    return absl::UnavailableError(
        absl::StrCat("raft: leadership transfer to ", transferee_, " in progress"));
  }
  if (!HoldsReadLease()) {
    return absl::UnavailableError(absl::StrCat(
        "raft: leader ", options_.self_uuid, " of term ", term_,
        " has no read lease: a majority of voters did not acknowledge it within the last ",
        lease_ticks(), " ticks (another leader may exist)"));
  }
  if (log_.applied() < leader_start_index_) {
    return absl::UnavailableError(absl::StrCat(
        "raft: leader ", options_.self_uuid, " of term ", term_, " has applied through ",
        log_.applied(), ", not yet its first entry at ", leader_start_index_));
  }
  return absl::OkStatus();
}

bool RaftCore::HasReady() const {
  if (ready_outstanding_) return false;
  if (SoftState{role_, lead_} != prev_soft_state_) return true;
  if (HardState{term_, vote_} != prev_hard_state_) return true;
  if (!log_.unstable().empty() || log_.PendingTruncation()) return true;
  if (!msgs_.empty() || !early_msgs_.empty() || committed_config_dirty_ ||
      !need_copy_.empty() || !events_.empty()) {
    return true;
  }
  return log_.applied() < std::min(log_.committed(), log_.StableLastIndex());
}

Ready RaftCore::GetReady() {
  Ready rd;
  if (ready_outstanding_) return rd;
  FlushAppends();
  SoftState soft{role_, lead_};
  if (soft != prev_soft_state_) {
    rd.soft_state = soft;
    prev_soft_state_ = soft;
  }
  HardState hard{term_, vote_};
  if (hard != prev_hard_state_) {
    rd.hard_state = hard;
    prev_hard_state_ = hard;
  }
  rd.truncate_after = log_.PendingTruncation();
  rd.entries = log_.unstable();
  if (!rd.entries.empty()) {
    ready_stable_index_ = rd.entries.back().id().index();
    ready_stable_term_ = rd.entries.back().id().term();
  } else {
    ready_stable_index_ = 0;
  }
  const int64_t apply_hi = std::min(log_.committed(), log_.StableLastIndex());
  if (log_.applied() < apply_hi) {
    absl::Status s = log_.Entries(log_.applied() + 1, apply_hi + 1,
                                  options_.max_committed_bytes_per_ready,
                                  &rd.committed_entries);
    if (!s.ok()) rd.committed_entries.clear();  // retried on the next Ready
  }
  ready_applied_index_ =
      rd.committed_entries.empty() ? 0 : rd.committed_entries.back().id().index();
  rd.messages = std::move(msgs_);
  msgs_.clear();
  rd.early_messages = std::move(early_msgs_);
  early_msgs_.clear();
  if (rd.hard_state) {
    // Early messages may go out before persistence only if they promise
    // nothing that persistence secures. An append carries our term: sent
    // before a new term (and our vote in it) is durable, a crash could let
    // us win that term again and send a different entry at the same
    // (term, index). A one-voter group elects itself inside one Ready, so
    // this happens. The appends wait for the hard state, as messages do.
    for (auto& m : rd.early_messages) rd.messages.push_back(std::move(m));
    rd.early_messages.clear();
  }
  if (committed_config_dirty_) {
    rd.committed_config = committed_config_;
    committed_config_dirty_ = false;
  }
  rd.need_tablet_copy = std::move(need_copy_);
  need_copy_.clear();
  rd.events = std::move(events_);
  events_.clear();
  ready_outstanding_ = true;
  return rd;
}

void RaftCore::AppliedEarly() {
  if (ready_outstanding_ && ready_applied_index_ > log_.applied()) {
    log_.SetApplied(ready_applied_index_);
  }
}

void RaftCore::Advance() {
  if (!ready_outstanding_) return;
  ready_outstanding_ = false;
  if (ready_stable_index_ > 0) log_.StableTo(ready_stable_index_, ready_stable_term_);
  if (ready_applied_index_ > log_.applied()) log_.SetApplied(ready_applied_index_);
  if (role_ == Role::kLeader) {
    auto it = progress_.find(options_.self_uuid);
    if (it != progress_.end()) {
      it->second.match = std::max(it->second.match, log_.StableLastIndex());
      it->second.next = it->second.match + 1;
      MaybeCommit();
    }
  }
}

}  // namespace kmend::raft
