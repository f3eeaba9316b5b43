// RaftCore: construction, ticks, message dispatch and elections. Replication
// is in core_replication.cc, proposals and membership in core_config.cc.
#include "lib/raft/core.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kmend::raft {

using consensus::RaftConfigPB;
using consensus::RaftMessagePB;
using consensus::ReplicateMsg;

const char* RoleName(Role role) {
  switch (role) {
    case Role::kFollower: return "FOLLOWER";
    case Role::kPreCandidate: return "PRE_CANDIDATE";
    case Role::kCandidate: return "CANDIDATE";
    case Role::kLeader: return "LEADER";
  }
  return "UNKNOWN";
}

RaftCore::RaftCore(const CoreOptions& options, const LogStorage* storage)
    : options_(options), rng_(options.random_seed), log_(storage) {}

absl::StatusOr<std::unique_ptr<RaftCore>> RaftCore::Create(const CoreOptions& options,
                                                          const InitialState& initial,
                                                          const LogStorage* storage) {
  if (options.self_uuid.empty()) return absl::InvalidArgumentError("raft: self_uuid is empty");
  if (options.election_ticks < 1 || options.heartbeat_ticks < 1 ||
      options.heartbeat_ticks >= options.election_ticks) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raft: need 1 <= heartbeat_ticks < election_ticks, found heartbeat_ticks=",
        options.heartbeat_ticks, " election_ticks=", options.election_ticks));
  }
  if (options.max_entries_per_message < 1 || options.max_inflight_messages < 1) {
    return absl::InvalidArgumentError("raft: message limits must be positive");
  }
  if (options.max_election_backoff < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "raft: need max_election_backoff >= 1, found ", options.max_election_backoff));
  }
  std::unique_ptr<RaftCore> core(new RaftCore(options, storage));
  const int64_t last = storage->LastIndex();
  const RaftConfigPB& cc = initial.committed_config;
  int64_t config_index = cc.has_opid_index() ? cc.opid_index() : -1;
  if (config_index > last) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raft: committed config opid_index ", config_index,
        " is past the last log index ", last, " (consensus metadata ahead of the WAL)"));
  }
  if (initial.applied_index > last) {
    return absl::FailedPreconditionError(absl::StrCat("raft: applied index ",
                                                      initial.applied_index,
                                                      " is past the last log index ", last));
  }
  if (cc.peers_size() > 0) {
    absl::Status s = ValidateConfig(cc);
    if (!s.ok()) return Annotate(s, "raft: committed config");
  }
  core->committed_config_ = cc;
  if (config_index >= storage->FirstIndex() && !cc.has_opid_term()) {
    // Written before configs carried their entry's term: the log knows it.
    absl::StatusOr<int64_t> t = storage->Term(config_index);
    if (t.ok()) core->committed_config_.set_opid_term(*t);
  }
  core->term_ = initial.hard_state.term;
  core->vote_ = initial.hard_state.voted_for;
  core->prev_hard_state_ = initial.hard_state;

  // Everything through the committed config's index, the applied index and
  // the compaction point is committed.
  int64_t commit = std::max({storage->FirstIndex() - 1, config_index, initial.applied_index});
  core->log_.SetCommittedOnStartup(commit);
  core->log_.SetApplied(std::max(storage->FirstIndex() - 1, initial.applied_index));

  // Config entries after the committed config are pending (or committed,
  // when the applied index passed them).
  int64_t scan_from = std::max(config_index + 1, storage->FirstIndex());
  for (int64_t lo = scan_from; lo <= last;) {
    std::vector<ReplicateMsg> batch;
    absl::Status s = storage->Entries(lo, last + 1, 8 << 20, &batch);
    if (!s.ok()) return Annotate(s, "raft: scanning the log for config changes");
    if (batch.empty()) break;
    core->OnEntriesAppended(batch);
    lo += static_cast<int64_t>(batch.size());
  }
  core->OnCommitAdvanced();
  if (core->log_.LastTerm() > core->term_) {
    // Only a lost hard state write can cause this; the log is the better
    // witness of the term (a vote in the old term is moot).
    core->term_ = core->log_.LastTerm();
    core->vote_.clear();
  }
  core->role_ = Role::kFollower;
  core->ResetRandomizedTimeout();
  core->prev_soft_state_ = SoftState{Role::kFollower, ""};
  return core;
}

absl::Status RaftCore::Annotate(const absl::Status& s, const std::string& context) {
  return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
}

uint64_t RaftCore::RandomBelow(uint64_t n) {
  // Rejection sampling on the raw 64-bit output: unbiased and identical on
  // every standard library, unlike std::uniform_int_distribution.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do {
    x = rng_();
  } while (x >= limit);
  return x % n;
}

void RaftCore::ResetRandomizedTimeout() {
  // The first two elections without a leader use the plain range; each
  // further one doubles it, up to max_election_backoff times.
  int64_t base = options_.election_ticks;
  for (int64_t n = 2; n < elections_without_leader_ &&
                      base * 2 <= int64_t{options_.election_ticks} * options_.max_election_backoff;
       ++n) {
    base *= 2;
  }
  randomized_timeout_ = base + static_cast<int64_t>(RandomBelow(base));
}

uint64_t RaftCore::Timestamp() const {
  return options_.timestamp_source ? options_.timestamp_source() : 0;
}

const RaftConfigPB& RaftCore::active_config() const {
  if (!pending_configs_.empty()) return pending_configs_.rbegin()->second;
  return committed_config_;
}

bool RaftCore::HeardFromLeaderRecently() const {
  // election_elapsed_ restarts at every append from the leader (and at a
  // granted vote); lead_ is cleared when the term changes without one.
  return !lead_.empty() && election_elapsed_ < options_.election_ticks;
}

bool RaftCore::Promotable() const { return IsVoter(active_config(), options_.self_uuid); }

void RaftCore::Send(RaftMessagePB m) {
  m.set_from_uuid(options_.self_uuid);
  m.set_tablet_id(options_.tablet_id);
  if (!m.has_term()) m.set_term(term_);
  if (m.type() == RaftMessagePB::APPEND_REQUEST && role_ == Role::kLeader) {
    early_msgs_.push_back(std::move(m));
  } else {
    msgs_.push_back(std::move(m));
  }
}

void RaftCore::ResetTerm(int64_t term) {
  if (term_ != term) {
    term_ = term;
    vote_.clear();
  }
  lead_.clear();
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  ResetRandomizedTimeout();
  votes_.clear();
  transferee_.clear();
  quiesced_ = false;
  quorum_grace_used_ = false;
}

void RaftCore::BecomeFollower(int64_t term, const std::string& lead) {
  // Knowing a leader ends the backoff before ResetTerm draws the timeout:
  // this is the timeout that runs when that leader is lost, and a backed-off
  // one left from an earlier leaderless spell (this replica cut off a while
  // ago) would make the up-to-date follower the last to campaign.
  if (!lead.empty()) elections_without_leader_ = 0;
  if (!lead.empty() && (lead != lead_ || term != term_)) {
    Event(absl::StrCat("following leader ", lead, " in term ", term));
  }
  ResetTerm(term);
  lead_ = lead;
  role_ = Role::kFollower;
  progress_.clear();
}

void RaftCore::BecomePreCandidate() {
  // No term change and no vote: a pre-vote disturbs nobody (thesis 9.6).
  votes_.clear();
  lead_.clear();
  progress_.clear();
  role_ = Role::kPreCandidate;
  quiesced_ = false;
}

void RaftCore::BecomeCandidate() {
  ResetTerm(term_ + 1);
  vote_ = options_.self_uuid;
  role_ = Role::kCandidate;
  progress_.clear();
}

void RaftCore::BecomeLeader() {
  Event(absl::StrCat("won the election for term ", term_, " (", VoteSummary(),
                     "); now the leader"));
  elections_without_leader_ = 0;
  ResetTerm(term_);
  lead_ = options_.self_uuid;
  role_ = Role::kLeader;
  progress_.clear();
  SyncProgress();
  // A NO_OP of the new term: commits every earlier entry once replicated
  // (Raft 5.4.2: a leader only counts replicas for its own term's entries).
  ReplicateMsg noop;
  noop.set_op_type(consensus::NO_OP);
  noop.set_timestamp(Timestamp());
  noop.mutable_noop_request();
  leader_start_index_ = log_.LastIndex() + 1;
  AppendAsLeader({std::move(noop)});
  for (auto& [uuid, pr] : progress_) {
    if (uuid != options_.self_uuid) SendAppend(uuid, /*heartbeat=*/true);
  }
}

void RaftCore::Tick() { TickImpl(/*replay=*/false); }

void RaftCore::ReplayTick() { TickImpl(/*replay=*/true); }

void RaftCore::TickImpl(bool replay) {
  ++tick_count_;
  // Quiesced (core_quiesce.cc): no heartbeats, no check-quorum, no election
  // timer; the caller's per-server liveness wakes us if a server dies.
  if (quiesced_) return;
  if (role_ == Role::kLeader) {
    ++heartbeat_elapsed_;
    ++election_elapsed_;
    for (auto& [uuid, pr] : progress_) ++pr.ticks_since_contact;
    // A replayed tick leaves a due window to the next real one (ReplayTick).
    if (election_elapsed_ >= options_.election_ticks && !replay) {
      election_elapsed_ = 0;
      if (options_.check_quorum && !CheckQuorumWindow()) {
        // Lost contact with a majority: another leader may exist; stop
        // accepting writes that can't commit (thesis 6.2).
        Event(absl::StrCat("stepping down as leader of term ", term_,
                           ": no answer from a majority of voters within ",
                           quorum_grace_used_
                               ? "two election timeouts, the first forgiven because their "
                                 "servers were heard (check-quorum)"
                               : "an election timeout (check-quorum)"));
        BecomeFollower(term_, "");
        return;
      }
      // A transfer that didn't happen within an election timeout is aborted.
      // Its target may still win past the voters' leases (a TimeoutNow
      // overrides them), also after this if our last TimeoutNow is still on
      // its way: the read lease restarts from acks of requests sent from now
      // on and at least an election timeout after that TimeoutNow (a message
      // delayed longer is not expected of our transports). A voter that
      // joined the new term cannot acknowledge those at ours.
      if (!transferee_.empty()) {
        lease_floor_tick_ = tick_count_;
        if (last_timeout_now_tick_ >= 0) {
          lease_floor_tick_ = std::max(lease_floor_tick_,
                                       last_timeout_now_tick_ + options_.election_ticks);
        }
      }
      transferee_.clear();
    }
    if (heartbeat_elapsed_ >= options_.heartbeat_ticks) {
      heartbeat_elapsed_ = 0;
      if (CanQuiesce()) {
        Quiesce();
      } else {
        BroadcastHeartbeat();
      }
    }
    return;
  }
  ++election_elapsed_;
  if (Promotable() && election_elapsed_ >= randomized_timeout_) {
    election_elapsed_ = 0;
    ++elections_without_leader_;
    ReportUnfinishedRound();
    StartElection(options_.pre_vote, /*transfer=*/false,
                  absl::StrCat("no leader for an election timeout of ", randomized_timeout_,
                               " ticks; round ", elections_without_leader_,
                               " since a leader was last known"));
    // Also when a pre-vote leaves the term (and its timeout) unchanged.
    ResetRandomizedTimeout();
  }
}

absl::Status RaftCore::Campaign() {
  if (role_ == Role::kLeader) return absl::FailedPreconditionError("raft: already leader");
  if (!Promotable()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "raft: ", options_.self_uuid, " is not a voter in ", ConfigSummary(active_config())));
  }
  ReportUnfinishedRound();
  StartElection(options_.pre_vote, /*transfer=*/false, "asked to campaign");
  return absl::OkStatus();
}

void RaftCore::StartElection(bool pre_vote, bool transfer, absl::string_view why) {
  Event(absl::StrCat("starting ", pre_vote ? "pre-election" : "election", " for term ", term_ + 1,
                     " (", why, "); last op ", log_.LastTerm(), ".", log_.LastIndex()));
  if (pre_vote) {
    BecomePreCandidate();
  } else {
    BecomeCandidate();
  }
  votes_[options_.self_uuid] = true;
  const int64_t vote_term = pre_vote ? term_ + 1 : term_;
  for (const std::string& peer : VoterUuids(active_config())) {
    if (peer == options_.self_uuid) continue;
    RaftMessagePB m;
    m.set_type(RaftMessagePB::VOTE_REQUEST);
    m.set_to_uuid(peer);
    m.set_term(vote_term);
    auto* req = m.mutable_vote_request();
    req->set_pre_vote(pre_vote);
    req->mutable_last_logged_op_id()->set_index(log_.LastIndex());
    req->mutable_last_logged_op_id()->set_term(log_.LastTerm());
    if (transfer) req->set_leadership_transfer(true);
    Send(std::move(m));
  }
  PollAndMaybeWin();
}

void RaftCore::PollAndMaybeWin() {
  const std::vector<std::string> voters = VoterUuids(active_config());
  int granted = 0, rejected = 0;
  for (const std::string& v : voters) {
    auto it = votes_.find(v);
    if (it == votes_.end()) continue;
    (it->second ? granted : rejected)++;
  }
  const int majority = MajoritySize(static_cast<int>(voters.size()));
  if (granted >= majority) {
    if (role_ == Role::kPreCandidate) {
      StartElection(/*pre_vote=*/false, /*transfer=*/false,
                    absl::StrCat("won the pre-election: ", VoteSummary()));
    } else if (role_ == Role::kCandidate) {
      BecomeLeader();
    }
  } else if (rejected > static_cast<int>(voters.size()) - majority) {
    ReportUnfinishedRound();
    BecomeFollower(term_, "");
  }
}

absl::Status RaftCore::Step(const RaftMessagePB& m) {
  if (!m.has_type() || !m.has_term() || m.from_uuid().empty()) {
    return absl::InvalidArgumentError(
        "raft message: type, term and from_uuid are required");
  }
  if (m.has_to_uuid() && m.to_uuid() != options_.self_uuid) {
    return absl::InvalidArgumentError(absl::StrCat("raft message: addressed to ", m.to_uuid(),
                                                   ", this replica is ", options_.self_uuid));
  }
  if (m.has_tablet_id() && m.tablet_id() != options_.tablet_id) {
    return absl::InvalidArgumentError(absl::StrCat("raft message: for tablet ", m.tablet_id(),
                                                   ", this replica is of ", options_.tablet_id));
  }
  switch (m.type()) {
    case RaftMessagePB::VOTE_REQUEST:
      if (!m.has_vote_request() || !m.vote_request().has_last_logged_op_id()) {
        return absl::InvalidArgumentError("raft message: VOTE_REQUEST without its body");
      }
      break;
    case RaftMessagePB::VOTE_RESPONSE:
      if (!m.has_vote_response()) {
        return absl::InvalidArgumentError("raft message: VOTE_RESPONSE without its body");
      }
      break;
    case RaftMessagePB::APPEND_REQUEST: {
      if (!m.has_append_request() || !m.append_request().has_preceding_op_id()) {
        return absl::InvalidArgumentError("raft message: APPEND_REQUEST without its body");
      }
      int64_t expect = m.append_request().preceding_op_id().index() + 1;
      for (const ReplicateMsg& e : m.append_request().entries()) {
        if (e.id().index() != expect || e.id().term() > m.term()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "raft message: APPEND_REQUEST entry ", e.id().term(), ".", e.id().index(),
              ": expected index ", expect, " and term <= ", m.term()));
        }
        ++expect;
      }
      break;
    }
    case RaftMessagePB::APPEND_RESPONSE:
      if (!m.has_append_response()) {
        return absl::InvalidArgumentError("raft message: APPEND_RESPONSE without its body");
      }
      break;
    case RaftMessagePB::TIMEOUT_NOW:
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("raft message: unknown type ", static_cast<int>(m.type())));
  }

  if (quiesced_ && WakesQuiesced(m)) Wake();
  const bool is_vote_req = m.type() == RaftMessagePB::VOTE_REQUEST;
  const bool is_pre_vote_req = is_vote_req && m.vote_request().pre_vote();
  if (m.term() > term_) {
    if (is_vote_req) {
      const bool force = m.vote_request().leadership_transfer();
      const bool in_lease = options_.check_quorum && HeardFromLeaderRecently();
      if (!force && in_lease) {
        // We heard from a leader recently: this candidate is probably a
        // removed or partitioned replica; don't let it disrupt (thesis 4.2.3).
        return absl::OkStatus();
      }
    }
    const bool granted_pre_vote = m.type() == RaftMessagePB::VOTE_RESPONSE &&
                                  m.vote_response().pre_vote() && m.vote_response().granted();
    if (!is_pre_vote_req && !granted_pre_vote) {
      if (role_ == Role::kLeader) {
        Event(absl::StrCat("stepping down as leader of term ", term_, ": ", m.from_uuid(),
                           " is at term ", m.term()));
      } else if (role_ == Role::kPreCandidate || role_ == Role::kCandidate) {
        const bool pre = role_ == Role::kPreCandidate;
        Event(absl::StrCat("abandoning the ", pre ? "pre-election" : "election", " for term ",
                           pre ? term_ + 1 : term_, ": ", m.from_uuid(), " is at term ",
                           m.term()));
      }
    }
    if (is_pre_vote_req) {
      // Never change our term for a pre-vote.
    } else if (granted_pre_vote) {
      // A granted pre-vote carries the future term; we bump it on winning.
    } else if (m.type() == RaftMessagePB::APPEND_REQUEST) {
      BecomeFollower(m.term(), m.from_uuid());
    } else if (is_vote_req && role_ != Role::kLeader) {
      // A vote request moves us to its term but restarts our election timer
      // only if we grant it (HandleVoteRequest; Raft figure 2: the timer
      // restarts on an append from the leader or a granted vote). Otherwise
      // a candidate with a stale log, campaigning again every timeout
      // without pre-vote, would restart the timer of the replica that holds
      // the newest log each time and keep it from ever campaigning: no
      // leader for as long as that goes on (raftsim found it with the
      // election backoff, whose long timeouts let the stale one win every
      // race).
      const int64_t elapsed = election_elapsed_;
      const int64_t timeout = randomized_timeout_;
      BecomeFollower(m.term(), "");
      election_elapsed_ = elapsed;
      randomized_timeout_ = timeout;
    } else {
      BecomeFollower(m.term(), "");
    }
  } else if (m.term() < term_) {
    if (m.type() == RaftMessagePB::APPEND_REQUEST) {
      // Tell a stale leader about the newer term so it steps down.
      RaftMessagePB r;
      r.set_type(RaftMessagePB::APPEND_RESPONSE);
      r.set_to_uuid(m.from_uuid());
      r.mutable_append_response()->set_success(false);
      r.mutable_append_response()->set_rejected_index(
          m.append_request().preceding_op_id().index());
      Send(std::move(r));
    } else if (is_pre_vote_req) {
      RaftMessagePB r;
      r.set_type(RaftMessagePB::VOTE_RESPONSE);
      r.set_to_uuid(m.from_uuid());
      r.mutable_vote_response()->set_pre_vote(true);
      r.mutable_vote_response()->set_granted(false);
      Send(std::move(r));
    }
    return absl::OkStatus();
  }

  switch (m.type()) {
    case RaftMessagePB::VOTE_REQUEST: HandleVoteRequest(m); break;
    case RaftMessagePB::VOTE_RESPONSE: HandleVoteResponse(m); break;
    case RaftMessagePB::APPEND_REQUEST: HandleAppendRequest(m); break;
    case RaftMessagePB::APPEND_RESPONSE: HandleAppendResponse(m); break;
    case RaftMessagePB::TIMEOUT_NOW: HandleTimeoutNow(m); break;
    default: break;
  }
  return absl::OkStatus();
}

void RaftCore::HandleVoteRequest(const RaftMessagePB& m) {
  const bool pre = m.vote_request().pre_vote();
  const std::string& from = m.from_uuid();
  // We can vote for `from` if we already did in this term, or haven't voted
  // and know no leader; a pre-vote for a future term is always possible.
  const bool can_vote = vote_ == from || (vote_.empty() && lead_.empty()) ||
                        (pre && m.term() > term_);
  const auto& last = m.vote_request().last_logged_op_id();
  const bool granted = can_vote && log_.IsUpToDate(last.index(), last.term());
  RaftMessagePB r;
  r.set_type(RaftMessagePB::VOTE_RESPONSE);
  r.set_to_uuid(from);
  // A granted response carries the request's term (for a pre-vote, the
  // future term) so the candidate counts it; a rejection carries ours.
  r.set_term(granted ? m.term() : term_);
  r.mutable_vote_response()->set_pre_vote(pre);
  r.mutable_vote_response()->set_granted(granted);
  Send(std::move(r));
  if (granted && !pre) {
    election_elapsed_ = 0;
    vote_ = from;
  }
}

void RaftCore::HandleVoteResponse(const RaftMessagePB& m) {
  const bool pre = m.vote_response().pre_vote();
  if ((pre && role_ != Role::kPreCandidate) || (!pre && role_ != Role::kCandidate)) return;
  if (!IsVoter(active_config(), m.from_uuid())) return;
  votes_.emplace(m.from_uuid(), m.vote_response().granted());
  PollAndMaybeWin();
}

void RaftCore::HandleTimeoutNow(const RaftMessagePB& m) {
  if (role_ == Role::kLeader || !Promotable()) return;
  // Leadership transfer: campaign at once, without pre-vote, past leases.
  ReportUnfinishedRound();
  StartElection(/*pre_vote=*/false, /*transfer=*/true,
                absl::StrCat("leadership transfer: TIMEOUT_NOW from ", m.from_uuid()));
}

}  // namespace kmend::raft
