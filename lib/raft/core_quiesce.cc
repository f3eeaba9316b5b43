// RaftCore: quiescence of an idle group (docs/design/scale.md, "Quiescence";
// CockroachDB's range quiescence, TiKV's hibernate regions).
//
// An idle group costs its servers a heartbeat and its answer per follower
// per tick. A leader with nothing to send quiesces: at a heartbeat tick,
// when every peer has acknowledged its last op, everything is committed and
// applied, and no config change, transfer or proposal is pending, it sends
// its heartbeat with `quiesce` set and stops heartbeating. A follower whose
// log then matches the leader's last op and commit index quiesces too: it
// stops its election timer.
//
// Invariants:
//   - only a leader or a follower with a known leader is ever quiesced; any
//     role change (ResetTerm, pre-candidacy) clears it;
//   - a quiesced leader has no transfer and no pending config, and every
//     peer's match index was its last index when it quiesced;
//   - a quiesced replica's election_elapsed_ does not move, so a quiesced
//     follower keeps its check-quorum lease (it refuses to help depose a
//     leader whose server is alive, as an active follower hearing
//     heartbeats would).
// Waking: any message (a quiesced leader keeps quiet for plain acks of its
// last op: the answers to its own quiesce heartbeat), a proposal, a config
// change, a transfer, a step-down, a campaign, Wake() (leader reads), and
// ReportSilentServer (the caller's per-server liveness: a dead leader's
// server stops being heard, and its quiesced followers wake with their
// election timers at the time of the last liveness message).
#include <algorithm>

#include "lib/raft/core.h"
#include "lib/util/fnv1a.h"

namespace kmend::raft {

using consensus::RaftMessagePB;

bool RaftCore::CanQuiesce() const {
  if (!options_.quiesce || role_ != Role::kLeader || quiesced_) return false;
  if (!transferee_.empty() || !pending_configs_.empty()) return false;
  const int64_t last = log_.LastIndex();
  // Everything durable here, committed and applied: no Ready left to do that
  // a tick would have to push along.
  if (log_.StableLastIndex() != last || log_.committed() != last ||
      log_.applied() != last || !log_.unstable().empty()) {
    return false;
  }
  if (!msgs_.empty() || !early_msgs_.empty() || !need_copy_.empty()) return false;
  for (const auto& [uuid, pr] : progress_) {
    if (uuid == options_.self_uuid) continue;
    // Every peer (voters and non-voters) holds the last op and answered the
    // last heartbeat round: it is alive and needs nothing.
    if (pr.state != PeerStatus::State::kReplicate || pr.match != last ||
        !pr.inflight.empty() || pr.ticks_since_contact > 2 * options_.heartbeat_ticks) {
      return false;
    }
  }
  return progress_.size() > 1;
}

void RaftCore::Quiesce() {
  for (auto& [uuid, pr] : progress_) {
    if (uuid == options_.self_uuid) continue;
    const size_t before = early_msgs_.size();
    SendAppend(uuid, /*heartbeat=*/true);
    if (early_msgs_.size() > before) {
      early_msgs_.back().mutable_append_request()->set_quiesce(true);
    }
  }
  quiesced_ = true;
  quiesced_at_tick_ = tick_count_;
}

void RaftCore::Wake() {
  if (!quiesced_) return;
  quiesced_ = false;
  if (role_ != Role::kLeader) return;  // the follower's timer runs again from here
  // Check-quorum restarts with an empty window: only peers that answer from
  // now on count, so a leader cut off while quiesced steps down one election
  // timeout after waking, as an active one would.
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  for (auto& [uuid, pr] : progress_) pr.recent_active = false;
  quorum_grace_used_ = false;
  BroadcastHeartbeat();
}

bool RaftCore::WakesQuiesced(const RaftMessagePB& m) const {
  if (role_ != Role::kLeader) return true;
  return !(m.type() == RaftMessagePB::APPEND_RESPONSE && m.term() == term_ &&
           m.append_response().success() &&
           m.append_response().last_index() == log_.LastIndex());
}

void RaftCore::MaybeQuiesceFollower(const consensus::AppendRequestPB& req, bool success) {
  quiesced_ = false;
  if (!options_.quiesce || !req.quiesce() || !success || role_ != Role::kFollower) return;
  // Caught up with the leader's last op (a quiesce heartbeat carries no
  // entries, so its preceding op is the leader's last) and its commit index.
  const int64_t leader_last = req.preceding_op_id().index();
  if (log_.LastIndex() == leader_last && log_.committed() == leader_last) {
    quiesced_ = true;
    quiesced_at_tick_ = tick_count_;
  }
}

std::vector<std::string> RaftCore::ServersToWatch() const {
  std::vector<std::string> out;
  if (!quiesced_) return out;
  if (role_ == Role::kLeader) {
    for (const auto& [uuid, pr] : progress_) {
      if (uuid != options_.self_uuid) out.push_back(uuid);
    }
  } else if (!lead_.empty()) {
    out.push_back(lead_);
  }
  return out;
}

void RaftCore::ReportSilentServer(const std::string& uuid, int64_t silent_ticks) {
  if (!quiesced_) return;
  if (role_ == Role::kLeader) {
    if (uuid != options_.self_uuid && progress_.count(uuid) > 0) Wake();
    return;
  }
  if (uuid != lead_) return;
  quiesced_ = false;
  // As if the leader's heartbeats had stopped with its last liveness
  // message: the election fires at the same tick it would have without
  // quiescence (give or take the liveness message's phase in the tick).
  election_elapsed_ = std::max(election_elapsed_, silent_ticks);
  // Successor order. Every follower of the dead leader learns of its death
  // at the same time, so with plain random timeouts two of them campaign
  // within a tick of each other far more often than after lost heartbeats,
  // and split the vote. One dead server does that to all of its groups at
  // once: at 2,000 replicas the survivors split hundreds of votes, each
  // split an election timeout more of elections for servers already too
  // busy to answer in time. So the followers agree, without a message, on
  // who goes first: the voter that ranks first for this tablet (rendezvous
  // hashing of tablet and uuid spreads the new leaders over the servers)
  // draws its timeout from the first half of the range, a median like the
  // earliest of two full-range draws, so T_failover is kept; the others
  // wait an election timeout more, and campaign only if it did not win.
  // Only in a group that had been quiet for an election timeout before the
  // silence began: its other followers then quiesced too (the same quiesce
  // heartbeat, nothing since), so they learn of the death with us; that is
  // where the split votes come from. A group quiesced a moment before (a
  // pause between two writes) may have a follower still active, counting
  // from the last heartbeat; the order buys nothing there, so plain timers
  // stay (kmend_failover's upper quartile grew with the order everywhere,
  // though the simulation of that state shows no loss).
  const bool settled = tick_count_ - quiesced_at_tick_ - silent_ticks >= options_.election_ticks;
  if (!settled) return;
  const int64_t base = options_.election_ticks;
  if (IsFirstSuccessor(uuid)) {
    randomized_timeout_ = base + static_cast<int64_t>(RandomBelow((base + 1) / 2));
  } else {
    randomized_timeout_ = 2 * base + static_cast<int64_t>(RandomBelow(base));
  }
}

namespace {
// The successor order's hash: FNV-1a's loop (lib/util/fnv1a.h) over the
// tablet id and the voter's uuid, each followed by a 0xff separator so that
// ("ab","c") and ("a","bc") differ. Every server must compute the same
// number without talking, across builds too (a rolling upgrade runs two),
// so it starts from the value the first builds used: FNV's offset basis
// with its last digit lost. Any fixed start spreads as well; changing it
// would make servers of two builds disagree on who campaigns first.
constexpr uint64_t kSuccessorHashStart = 1469598103934665603ULL;

uint64_t SuccessorHash(absl::string_view tablet_id, absl::string_view uuid) {
  constexpr absl::string_view kSeparator("\xff", 1);
  uint64_t h = Fnv1aAdd(kSuccessorHashStart, tablet_id);
  h = Fnv1aAdd(h, kSeparator);
  h = Fnv1aAdd(h, uuid);
  return Fnv1aAdd(h, kSeparator);
}
}  // namespace

bool RaftCore::IsFirstSuccessor(const std::string& dead_leader) const {
  std::string first;
  uint64_t best = 0;
  for (const std::string& v : VoterUuids(active_config())) {
    if (v == dead_leader) continue;
    const uint64_t h = SuccessorHash(options_.tablet_id, v);
    if (first.empty() || h < best || (h == best && v < first)) {
      first = v;
      best = h;
    }
  }
  return first == options_.self_uuid;
}

}  // namespace kmend::raft
