// RaftCore: one replica's Raft protocol as a deterministic state machine, in
// the style of etcd's raft package (docs/design/raft.md).
//
// No I/O, threads, clocks or hidden randomness: the inputs are Tick(), Step()
// of a received message and the local requests (Propose, ProposeConfigChange,
// TransferLeadership, StepDown, UnsafeChangeConfig, Campaign); the outputs are
// collected in a Ready (ready.h states the driver's obligations) acknowledged
// with Advance(). Equal inputs and seed give equal outputs. Election timeouts
// are drawn from a std::mt19937_64 seeded by CoreOptions::random_seed, mapped
// to ranges by hand (std:: distributions differ between standard libraries).
//
// Features: pre-vote, leader lease via check-quorum, NO_OP on election and
// commit of current-term entries only, fast log backtracking, leadership
// transfer, Kudu-style single-server membership change taking effect when
// appended (one at a time, CAS on the committed config's opid_index), and
// Kudu's UnsafeChangeConfig.
//
// Thread safety: none; the driver serializes every call (lib/consensus).
// Lifetime: the LogStorage passed to Create must outlive the core.
#ifndef KMEND_LIB_RAFT_CORE_H_
#define KMEND_LIB_RAFT_CORE_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/raft/config.h"
#include "lib/raft/log_storage.h"
#include "lib/raft/raft_log.h"
#include "lib/raft/ready.h"
#include "lib/raft/status.h"
#include "proto/consensus.pb.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/raft.pb.h"

namespace kmend::raft {

struct CoreOptions {
  std::string tablet_id;
  std::string self_uuid;
  // A follower campaigns after a random number of ticks in
  // [election_ticks, 2 * election_ticks) without hearing from a leader.
  // Backoff: after two elections in a row that found no leader, the range
  // doubles per further one, up to max_election_backoff times (a group
  // that knows a leader again starts over). A single failover, even with a
  // split vote, is as fast as without it; an election storm (thousands of
  // groups campaigning on servers too busy to answer within a timeout, each
  // vote a synced write) thins out instead of feeding itself.
  int election_ticks = 10;
  int max_election_backoff = 4;
  // A leader sends appends (heartbeats) to every peer this often.
  int heartbeat_ticks = 1;
  bool pre_vote = true;
  // A leader steps down after election_ticks without hearing from a majority;
  // followers that heard from a leader within election_ticks ignore votes.
  bool check_quorum = true;
  // Optional, with check_quorum: whether the server of voter `uuid` was
  // heard from (any message, for any group) within the last election_ticks.
  // A leader whose window failed while a majority of its voters' servers
  // still talk gets one more window before it steps down: its group's
  // answers are late, not gone (a server busy with thousands of groups after
  // a peer's restart), and stepping down there feeds an election storm. A
  // leader cut off from them steps down after one window, as without it.
  std::function<bool(const std::string& uuid)> server_heard_recently;
  uint64_t random_seed = 0;
  // Bounds on one append request and on one Ready's committed entries.
  int64_t max_entries_per_message = 256;
  int64_t max_bytes_per_message = 1 << 20;
  int64_t max_committed_bytes_per_ready = 8 << 20;
  // Append requests a leader keeps outstanding per peer while replicating.
  int max_inflight_messages = 8;
  // Quiescence (core_quiesce.cc, docs/design/scale.md): a leader with
  // nothing to send tells its followers so and stops heartbeating; its
  // followers stop their election timers. The caller must then report the
  // liveness of the servers in ServersToWatch() (ReportSilentServer), or a
  // quiesced follower would never notice a dead leader.
  bool quiesce = false;
  // Timestamp for entries the core creates itself (NO_OP, config changes);
  // the driver injects a clock here, tests leave the default (0).
  std::function<uint64_t()> timestamp_source;
};

// What the driver recovered from disk.
struct InitialState {
  HardState hard_state;
  // The last committed config from the consensus metadata (opid_index -1
  // for a bootstrap config). May be empty for a replica being added, which
  // then learns its config from the log.
  consensus::RaftConfigPB committed_config;
  // Entries through this index are already applied by the state machine.
  int64_t applied_index = 0;
};

class RaftCore {
 public:
  // Rebuilds the core from persisted state. FailedPrecondition when the
  // pieces disagree (applied or config index past the log's end).
  static absl::StatusOr<std::unique_ptr<RaftCore>> Create(const CoreOptions& options,
                                                          const InitialState& initial,
                                                          const LogStorage* storage);

  RaftCore(const RaftCore&) = delete;
  RaftCore& operator=(const RaftCore&) = delete;

  // Advances logical time by one tick.
  void Tick();
  // A tick that fell due while the driver could not deliver it, handed over
  // in a burst after a stall (lib/consensus/raft_driver.cc gives a leader
  // every tick it missed, for its read lease). It counts like any for the
  // timers and the lease, but a leader's check-quorum window ending in it is
  // judged at the next Tick(): no message could have arrived in between, so
  // a second window inside one burst would depose a leader whose followers
  // all answered (seen as every leader of a stalled server stepping down).
  void ReplayTick();

  // Handles a message from a peer. InvalidArgument for a malformed message
  // (missing fields, wrong receiver or tablet); never crashes on bad input.
  absl::Status Step(const consensus::RaftMessagePB& msg);

  // Leader only: appends `msg` (its id is assigned here; its timestamp is
  // kept if set). FailedPrecondition when not leader, Unavailable during a
  // leadership transfer, InvalidArgument for a CHANGE_CONFIG_OP.
  absl::StatusOr<consensus::OpId> Propose(consensus::ReplicateMsg msg);

  // Leader only: appends a CHANGE_CONFIG_OP entry for one membership change;
  // the new config is active at once and committed with the entry.
  // FailedPrecondition: not leader, CAS mismatch, a change already pending,
  // removing the leader itself; Unavailable: the leader has not yet
  // committed an entry of its term, or a transfer is in progress.
  absl::StatusOr<consensus::OpId> ProposeConfigChange(const ConfigChange& change);

  // Leader only: hands leadership to a caught-up voter by sending it
  // TimeoutNow; proposals are refused until it happens or election_ticks
  // pass.
  absl::Status TransferLeadership(const std::string& to_uuid);

  // Leader only: becomes a follower at the same term.
  absl::Status StepDown();

  // Starts an election now (tests, tools). FailedPrecondition when leader or
  // not a voter.
  absl::Status Campaign();

  // Kudu's UnsafeChangeConfig: forces `new_config` (a subset of the committed
  // config containing this replica as a VOTER) by appending a CHANGE_CONFIG_OP
  // at term + 1 after the last logged op, as if from an unknown new leader.
  // Nothing is truncated. The replica becomes a leaderless follower at term
  // + 1 and can then win an election among the peers of new_config.
  // Refused (FailedPrecondition, nothing changes) unless `force` while this
  // replica is a leader or heard from a leader within election_ticks: its
  // group is alive, and forcing would make a second leader (split brain).
  absl::StatusOr<consensus::OpId> UnsafeChangeConfig(consensus::RaftConfigPB new_config,
                                                     bool force = false);

  // OK when this replica may serve a read of its state machine as the
  // leader, linearizably: it is the leader, holds its lease (a majority of
  // voters acknowledged requests it sent within the last lease_ticks(), so no
  // other leader can have been elected meanwhile), is not transferring
  // leadership, and has applied its term's first entry (so it has applied
  // everything any earlier leader acknowledged). Otherwise FailedPrecondition
  // (not the leader) or Unavailable (leader without lease or not caught up),
  // with the reason. docs/design/raft.md, "Leader reads".
  absl::Status CheckLeaderRead() const;
  // The read lease window in ticks: election_ticks - 2, one tick of phase
  // between two replicas' tickers and one of slack for their clock rates.
  int64_t lease_ticks() const { return options_.election_ticks - 2; }

  // Quiescence (core_quiesce.cc). True while this replica is quiesced: as
  // leader it sends no heartbeats and suspends check-quorum; as follower its
  // election timer is stopped.
  bool quiesced() const { return quiesced_; }
  // Ends quiescence: a leader resumes heartbeating at once (a broadcast) and
  // restarts its check-quorum window; a follower restarts its election
  // timer. The driver calls it before a leader read (a quiesced leader holds
  // no fresh lease: wake, and the next acks renew it). No-op otherwise.
  void Wake();
  // The servers whose liveness the caller must watch for this replica while
  // it is quiesced: the leader's for a follower, every peer's for a leader;
  // empty when not quiesced.
  std::vector<std::string> ServersToWatch() const;
  // The server-pair liveness exchange has heard nothing from server `uuid`
  // for `silent_ticks` ticks (the caller reports only silences past its
  // threshold, which must stay below election_ticks). A quiesced follower of
  // a leader on that server wakes with its election timer at silent_ticks,
  // so it campaigns exactly when it would have had heartbeats stopped at the
  // last liveness message: T_failover is kept. A quiesced leader with a peer
  // there wakes (heartbeats, check-quorum, peer health resume).
  void ReportSilentServer(const std::string& uuid, int64_t silent_ticks);

  bool HasReady() const;
  // Collects the current obligations. While a Ready is outstanding (not yet
  // Advance()d) this returns an empty Ready.
  Ready GetReady();
  // The driver has done everything the last Ready asked (see ready.h).
  void Advance();
  // The driver applied the outstanding Ready's committed_entries ahead of
  // the rest of it (ready.h, step 5): they count as applied from now on, so
  // a read after a client's answer is not refused for an apply it already
  // saw (CheckLeaderRead). No-op without an outstanding Ready.
  void AppliedEarly();

  RaftStatus GetStatus() const;

  // Accessors for tests and the simulation.
  Role role() const { return role_; }
  int64_t term() const { return term_; }
  const std::string& leader_uuid() const { return lead_; }
  const std::string& uuid() const { return options_.self_uuid; }
  const RaftLog& log() const { return log_; }
  const consensus::RaftConfigPB& committed_config() const { return committed_config_; }
  const consensus::RaftConfigPB& active_config() const;
  bool has_pending_config() const { return !pending_configs_.empty(); }

 private:
  struct Progress {
    PeerStatus::State state = PeerStatus::State::kProbe;
    int64_t match = 0;
    int64_t next = 1;
    bool probe_sent = false;       // probe outstanding: wait for reply or heartbeat
    std::deque<int64_t> inflight;  // last indexes of outstanding appends
    bool recent_active = false;
    int64_t ticks_since_contact = 0;
    int64_t sent_commit = 0;  // highest commit index sent to the peer
    // The highest leader_tick the peer echoed: it received a request of our
    // term sent at that tick (and reset its election timer then or later).
    int64_t acked_tick = -1;
  };

  RaftCore(const CoreOptions& options, const LogStorage* storage);

  // Role changes.
  void BecomeFollower(int64_t term, const std::string& lead);
  void BecomePreCandidate();
  void BecomeCandidate();
  void BecomeLeader();
  void ResetTerm(int64_t term);
  void ResetRandomizedTimeout();
  void TickImpl(bool replay);
  // `why` ends up in the event logged for it ("no leader for an election
  // timeout of 14 ticks; round 1 since a leader was last known").
  void StartElection(bool pre_vote, bool transfer, absl::string_view why);
  void PollAndMaybeWin();

  // Events for the server's log (core_events.cc): Ready::events.
  void Event(std::string text);
  // "granted by A; refused by B; no answer from C" for the round in votes_.
  std::string VoteSummary() const;
  // A (pre-)candidate whose round ends without a majority (a new round, a
  // majority of refusals, a leadership transfer) logs how it went.
  void ReportUnfinishedRound();

  // Message handlers.
  void HandleVoteRequest(const consensus::RaftMessagePB& m);
  void HandleVoteResponse(const consensus::RaftMessagePB& m);
  void HandleAppendRequest(const consensus::RaftMessagePB& m);
  void HandleAppendResponse(const consensus::RaftMessagePB& m);
  void HandleTimeoutNow(const consensus::RaftMessagePB& m);

  // Replication (leader).
  void SendAppend(const std::string& to, bool heartbeat);
  void BroadcastHeartbeat();
  void FlushAppends();
  void MaybeCommit();
  // False when the leader must step down: its window had no answer from a
  // majority, and either it was the second such window in a row or a
  // majority of the voters' servers went unheard too.
  bool CheckQuorumWindow();
  bool QuorumActive();
  bool HoldsReadLease() const;
  void SyncProgress();
  void SendTimeoutNow(const std::string& to);

  // Quiescence (core_quiesce.cc).
  // Whether this replica is the voter, other than `dead_leader`, that a
  // dead leader's followers agree campaigns first (ReportSilentServer).
  bool IsFirstSuccessor(const std::string& dead_leader) const;
  bool CanQuiesce() const;
  void Quiesce();
  // Step's first act on a quiesced replica: whether `m` ends quiescence (a
  // leader keeps it for plain acks of its last op; everything else wakes).
  bool WakesQuiesced(const consensus::RaftMessagePB& m) const;
  // Follower: after an append from the leader, quiesce if it asked to and
  // this log is caught up with it.
  void MaybeQuiesceFollower(const consensus::AppendRequestPB& req, bool success);

  // Log and config bookkeeping.
  void AppendAsLeader(std::vector<consensus::ReplicateMsg> entries);
  void OnEntriesAppended(const std::vector<consensus::ReplicateMsg>& entries);
  void OnEntriesReplaced(int64_t first_replaced);
  void OnCommitAdvanced();
  bool Promotable() const;
  // A follower's side of the check-quorum lease: it heard from its leader
  // within election_ticks.
  bool HeardFromLeaderRecently() const;
  uint64_t Timestamp() const;

  void Send(consensus::RaftMessagePB m);
  static absl::Status Annotate(const absl::Status& s, const std::string& context);
  uint64_t RandomBelow(uint64_t n);

  CoreOptions options_;
  std::mt19937_64 rng_;
  RaftLog log_;

  int64_t term_ = 0;
  std::string vote_;
  std::string lead_;
  Role role_ = Role::kFollower;

  consensus::RaftConfigPB committed_config_;
  // Config entries appended but not known committed, by index; the last one
  // is the active config.
  std::map<int64_t, consensus::RaftConfigPB> pending_configs_;
  bool committed_config_dirty_ = false;

  int64_t election_elapsed_ = 0;
  int64_t heartbeat_elapsed_ = 0;
  // Logical clock: Tick() calls since the core was created. Sent in append
  // requests and echoed back for the read lease.
  int64_t tick_count_ = 0;
  // Acknowledgements of requests sent before this tick do not count towards
  // the read lease: set when a leadership transfer is aborted, since its
  // target may have won an election past the voters' leases meanwhile.
  int64_t lease_floor_tick_ = 0;
  // When this leader last sent a TIMEOUT_NOW (-1: never). An aborted
  // transfer's floor is at least an election timeout after it: one sent just
  // before the abort and delivered after it still makes its target campaign
  // past the leases of voters that acknowledged our requests meanwhile.
  int64_t last_timeout_now_tick_ = -1;
  int64_t randomized_timeout_ = 0;
  // Elections this replica's timer started since it last knew a leader
  // (or led): the election timeout's backoff (CoreOptions::election_ticks).
  // Zero whenever lead_ is set (BecomeFollower, BecomeLeader), and so is the
  // backoff of randomized_timeout_ drawn then.
  int64_t elections_without_leader_ = 0;
  bool quiesced_ = false;
  // The last check-quorum window failed and was forgiven because a majority
  // of the voters' servers were heard (CoreOptions::server_heard_recently):
  // the next failed window steps down. Cleared by a window that passes.
  bool quorum_grace_used_ = false;
  // tick_count_ when this replica last quiesced (ReportSilentServer's
  // successor order applies to groups quiet for an election timeout).
  int64_t quiesced_at_tick_ = 0;
  // Ready::events not yet handed out.
  std::vector<std::string> events_;

  std::map<std::string, bool> votes_;
  std::map<std::string, Progress> progress_;
  int64_t leader_start_index_ = 0;  // index of this leader's NO_OP
  std::string transferee_;

  std::vector<consensus::RaftMessagePB> msgs_;
  std::vector<consensus::RaftMessagePB> early_msgs_;  // leader's appends
  std::vector<std::string> need_copy_;

  HardState prev_hard_state_;
  SoftState prev_soft_state_;
  bool ready_outstanding_ = false;
  int64_t ready_stable_index_ = 0;
  int64_t ready_stable_term_ = 0;
  int64_t ready_applied_index_ = 0;
};

}  // namespace kmend::raft

#endif  // KMEND_LIB_RAFT_CORE_H_
