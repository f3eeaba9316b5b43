// RaftDriver: one replica's Raft group member: the pure core (lib/raft)
// plus everything it leaves out: durable log (lib/wal through WalLog),
// consensus metadata file (lib/meta/cmeta), ticks and Ready handling on a
// RaftScheduler shared by every driver of the process (no thread of its
// own: issue 15, docs/design/scale.md), and a Transport to the peers
// (docs/design/raft.md, "The driver").
//
// Ready handling follows ready.h, one Ready at a time per driver on a
// scheduler worker: under the lock it takes a Ready; outside the lock it
// truncates/appends the log (durable when Append returns), stores
// term/vote/committed config in the cmeta file, then sends the messages, then
// applies committed entries through options.apply, then Advance()s under the
// lock. Inputs (Receive, Propose, ticks...) take the lock briefly, never wait
// for I/O, and queue the driver on the scheduler when the core has a Ready
// and none is queued or running (`scheduled_`), so they overlap with a
// Ready's fsyncs; the next Ready batches whatever arrived meanwhile (group
// commit). Committed entries are applied before the Ready's own persist
// when the Ready neither truncates nor commits a config (they are durable
// already; docs/design/raft_transport.md). With options.inline_light_readies,
// Receive handles a Ready that persists nothing itself instead of queueing
// it (see DriverOptions); a thread that allows it (inline_sync.h: the TCP
// reader of a single-group frame, Propose with run_ready_here) also one
// that persists; an inline caller goes on with up to 3 Readies that arrived
// meanwhile.
//
// On a scheduler that runs rounds (RaftScheduler::Options::rounds) the same
// Ready is handled in three calls instead (PrepareRound: up to the entries
// written, unsynced; SyncRound; FinishRound: messages, applies, Advance),
// so that one thread writes every group's entries, syncs each log, and only
// then sends, one frame per peer for all of them.
//
// Failure is fail-stop: if persisting fails, the driver stops handling
// Readies (nothing more is sent or applied) and health() returns the error.
//
// Thread safety: all public methods are thread-safe. options.apply runs on a
// scheduler worker (or, with inline_light_readies, on the thread of a
// Receive), one entry at a time in log order, without the lock; it
// may call GetStatus/Propose but must not call Shutdown, nor wait for another
// driver's progress (the workers are shared).
// Lifetime: the Transport and the scheduler must outlive the driver; the
// destructor calls Shutdown(). Messages arriving after Shutdown are ignored.
#ifndef KMEND_LIB_CONSENSUS_RAFT_DRIVER_H_
#define KMEND_LIB_CONSENSUS_RAFT_DRIVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/consensus/durable_log.h"
#include "lib/consensus/peer_liveness.h"
#include "lib/consensus/raft_scheduler.h"
#include "lib/consensus/transport.h"
#include "lib/raft/core.h"
#include "lib/wal/log.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::consensus_driver {

struct DriverOptions {
  // tablet_id, self_uuid, election/heartbeat ticks, seed. The driver sets
  // timestamp_source to the wall clock in microseconds unless one is set.
  raft::CoreOptions core;
  // One tick; with the core's defaults (10/1) that is a 100 ms heartbeat and
  // a 1-2 s election timeout.
  absl::Duration tick_interval = absl::Milliseconds(100);
  // The WAL directory (<wal_root>/wals/<tablet_id>); empty: an in-memory log
  // (benchmarks, tests: nothing survives the driver).
  std::string wal_dir;
  wal::LogOptions wal_options;
  // The consensus metadata file; empty: kept in memory only.
  std::string cmeta_path;
  // The config to start from when there is no cmeta file yet (a new
  // replica); opid_index -1 if unset. Ignored when the file exists.
  consensus::RaftConfigPB bootstrap_config;
  // Entries through this index are already in the state machine.
  int64_t applied_index = 0;
  // Applies one committed entry (see the class comment).
  std::function<void(const consensus::ReplicateMsg&)> apply;
  // Runs the ticks and Readies; null: RaftScheduler::Shared().
  RaftScheduler* scheduler = nullptr;
  // Quiescence (core.quiesce; docs/design/scale.md): the server's per-peer
  // liveness table, which a quiesced replica consults to notice a dead
  // leader (or follower) server. Required for quiescence: with core.quiesce
  // set and no liveness, Open turns quiescence off (a quiesced follower
  // would never notice its leader's death). A quiesced replica stops
  // ticking and leaves watches on its watched servers here instead.
  PeerLiveness* liveness = nullptr;
  // The server's "reachable" flag (optional): while it is false the core
  // gets no ticks, so no follower counts election time that no leader could
  // have interrupted. A starting server opens its replicas before it listens
  // (2,000 replicas take seconds); counting from each replica's open made
  // every early one campaign before its server served a single message.
  // Set once the server listens for Raft messages; never cleared.
  const std::atomic<bool>* reachable = nullptr;
  // A watched server silent for this many ticks is reported to the core
  // (RaftCore::ReportSilentServer), which counts its election timer from the
  // silence's start, so this only sets how soon a quiesced group wakes, not
  // T_failover. Must be below core.election_ticks; the liveness calls come
  // once a tick, so 3 tolerates two late ones on a loaded machine.
  int quiesce_silent_ticks = 3;
  // Light Readies on the receiving thread: when a message leaves the core a
  // Ready that persists nothing (no entries, truncation, term, vote or
  // config) and applies at most kMaxInlineApplies WRITE_OP/NO_OP entries,
  // and no Ready of this driver is queued or running, Receive handles it on
  // the calling thread instead of waking a scheduler worker: the leader's
  // commit after a follower's acknowledgement (apply, answer the client,
  // announce the commit), a follower's apply of an announced commit, the
  // answer to a heartbeat. The receiving thread must tolerate the apply and
  // `apply`'s callers (a gRPC callback thread does: nothing in it blocks on
  // I/O). A Ready found heavier once taken goes to a worker as usual. Saves
  // a worker wake-up (two context switches) per such Ready and takes one
  // hand-off off the write's path (docs/benchmarks.md, "Context switches
  // per write"). Off: every Ready on a worker. On a scheduler that runs
  // rounds, only while it is idle (RaftScheduler::idle): under load every
  // Ready joins a round.
  bool inline_light_readies = false;
  // Logs one of the core's events (raft::Ready::events: elections and
  // leadership changes, one sentence each), on the thread running the Ready
  // (a worker: a Ready with events is never light). Empty: not logged.
  std::function<void(const std::string&)> log_event;
};

class RaftDriver {
 public:
  // Opens the WAL (replaying it), loads or creates the cmeta, rebuilds the
  // core and registers with the scheduler.
  static absl::StatusOr<std::unique_ptr<RaftDriver>> Open(DriverOptions options,
                                                          Transport* transport);
  ~RaftDriver();
  RaftDriver(const RaftDriver&) = delete;
  RaftDriver& operator=(const RaftDriver&) = delete;

  // Stops ticks and Ready handling (waits for a Ready in progress) and
  // closes the WAL. Idempotent.
  void Shutdown();

  // A message from a peer (the transport calls this).
  absl::Status Receive(const consensus::RaftMessagePB& msg);

  // Leader only; see RaftCore::Propose. Returns at once with the op id.
  // With `run_ready_here` (and DriverOptions::inline_light_readies), the
  // caller's thread persists and sends the new entry itself when no Ready
  // of this group is queued or running, instead of waking a worker: one
  // hand-off less on a write's path. The caller must be able to block for
  // an fsync.
  absl::StatusOr<consensus::OpId> Propose(consensus::ReplicateMsg msg, bool run_ready_here = false);
  // Waits until `id` is applied here: OK, Aborted if another entry was
  // committed at its index (the proposal was lost with a leader change),
  // DeadlineExceeded after `timeout`.
  absl::Status WaitForApplied(const consensus::OpId& id, absl::Duration timeout);
  // WaitForApplied without a waiting thread: calls `done` exactly once with
  // what WaitForApplied would return (DeadlineExceeded once `deadline` has
  // passed, checked at each tick). `done` runs on a scheduler worker right
  // after the apply, on the ticker, or on the calling thread when the answer
  // is known at once; it must not block nor call Shutdown (the workers are
  // shared: a blocked worker holds back other groups). This is how a
  // server answers a client's Write from the apply (issue 15) without a
  // thread parked per request.
  void NotifyWhenApplied(const consensus::OpId& id, absl::Time deadline,
                         std::function<void(absl::Status)> done);
  // Propose + WaitForApplied.
  absl::StatusOr<consensus::OpId> Replicate(consensus::ReplicateMsg msg,
                                            absl::Duration timeout);

  absl::StatusOr<consensus::OpId> ChangeConfig(const raft::ConfigChange& change);
  absl::Status TransferLeadership(const std::string& to_uuid);
  absl::Status StepDown();
  absl::Status Campaign();
  // See RaftCore::UnsafeChangeConfig. Returns once the forced entry is
  // durable in the WAL (an answer before that could be forgotten by a crash),
  // DeadlineExceeded if that takes longer than `timeout`.
  absl::StatusOr<consensus::OpId> UnsafeChangeConfig(consensus::RaftConfigPB new_config,
                                                     bool force, absl::Duration timeout);
  // See RaftCore::CheckLeaderRead: OK when a read served here now, by the
  // leader, is linearizable. Also UNAVAILABLE while the ticker is more than
  // one interval behind the steady clock (the process was stopped or
  // starved): the core's lease counts ticks, and ticks not yet delivered
  // would make it outlive the followers' election timers.
  // A quiesced leader holds no fresh lease: this wakes it (a heartbeat
  // round) and waits up to `wake_wait` for the acknowledgements that renew
  // the lease (wake-on-read).
  absl::Status CheckLeaderRead(absl::Duration wake_wait = absl::Milliseconds(500));

  raft::RaftStatus GetStatus() const;

  // Deletes the WAL segments whose entries all have index < retention_index
  // (never the segment being written): for a state machine that made those
  // entries durable elsewhere (a flush). The caller picks the index (peers
  // that still need entries, open tablet copies); entries a leader no longer
  // holds make it ask for a tablet copy of that peer. Returns how many
  // segments were deleted; 0 for an in-memory log.
  absl::StatusOr<int> GarbageCollectLog(int64_t retention_index);
  // The WAL for read-only queries (FirstIndex, Locate, stats); null for an
  // in-memory log. Valid until the driver is destroyed.
  const wal::Log* wal() const { return wal_.get(); }
  // OK, or the persistence error that stopped this replica.
  absl::Status health() const;
  const std::string& uuid() const { return options_.core.self_uuid; }
  // True while the replica is quiesced and its ticks are stopped; how many
  // times it went to sleep (tests: asleep with an unchanged count means no
  // input and no tick since).
  bool asleep() const;
  int64_t sleep_count() const;
  // Changes whenever GetStatus() or health() may have changed: counts
  // ticks, Readies and inputs. A sleeping replica's stays put, so a caller
  // that caches what it derived from GetStatus (the heartbeat report)
  // re-derives it only for replicas that did something.
  uint64_t activity() const { return activity_.load(std::memory_order_acquire); }

 private:
  RaftDriver(DriverOptions options, Transport* transport);
  absl::Status Init();
  // Quiescence: reports the watched servers' silences, and their restarts
  // (a new incarnation since this quiesced replica began watching them), to
  // the core.
  void CheckWatchedServersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Sleep while quiesced (docs/design/scale.md, "Quiesced replicas do not
  // tick"): after a tick that leaves the core quiesced with nothing to do,
  // the driver stops its ticks and watches its core's watched servers in the
  // liveness table; an input, or a watch firing (a silent or restarted
  // server), resumes them. Invariant: asleep_ implies the core is quiesced
  // (every input resumes ticks before the core sees it).
  void MaybeSleepLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends a sleep: credits the core with the ticks it slept through (its tick
  // count is its clock for leases: a lease must not outlive real time),
  // drops the watches and restarts the scheduler's ticks. No-op when awake.
  void ResumeTicksLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Every input: resumes ticks and counts activity, before the core sees it.
  void OnInputLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    activity_.fetch_add(1, std::memory_order_release);
    ResumeTicksLocked();
  }
  // The scheduler's calls: one tick; one Ready.
  void OnTick();
  void RunReady();
  // RunReady, on a worker or (inline_call) on the thread of a Receive that
  // took the driver's Ready token itself (DriverOptions::inline_light_readies).
  void RunReadyOn(bool inline_call);
  // One Ready of RunReadyOn: TakeReady, BeginReady, Persist (synced),
  // FinishReady. With `may_continue`, keeps the driver's Ready token when
  // another Ready is waiting and returns true (run it too).
  bool RunOneReady(bool inline_call, bool may_continue);
  // Under the lock: the next Ready into *rd (handed over or the core's).
  // False when there is none (the token is released) or when an inline
  // caller's Ready proved heavy (handed to a worker, which keeps the token).
  bool TakeReady(bool inline_call, raft::Ready* rd);
  // What comes before the persist: log the events, send early_messages,
  // apply the committed entries when they may go first. Returns whether
  // they did. Outside a round, what was sent so far is flushed before a
  // persist (a round flushes once for all its groups).
  bool BeginReady(const raft::Ready& rd, bool in_round);
  // What comes after it: on a failed persist, fail-stop; otherwise send
  // `messages`, apply the rest, Advance, and release the token (or keep it,
  // returning true, with `may_continue` and another Ready waiting).
  bool FinishReady(const raft::Ready& rd, bool apply_first, const absl::Status& persisted,
                   bool may_continue, bool in_round);
  // A round worker's three calls (RaftScheduler::RoundHooks): PrepareRound
  // takes a Ready, begins it and writes its entries without syncing; a Ready
  // with nothing left to sync is finished at once (false). Otherwise it is
  // kept in halfway_ (true) until SyncRound syncs the log and FinishRound
  // finishes it. The token is held throughout, so halfway_ needs no lock.
  bool PrepareRound();
  void SyncRound();
  void FinishRound();
  // On a scheduler that runs rounds: it has work queued or in progress, so a
  // Ready joins its rounds rather than running inline (RaftScheduler::idle).
  bool RoundWorkerBusy() const { return scheduler_->rounds() && !scheduler_->idle(); }
  // Queues RunReady when the core has a Ready and none is queued or running.
  void MaybeScheduleLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Truncation, entries (synced, or with `sync` false only written: the
  // round's Sync follows), term/vote/config (always synced).
  absl::Status Persist(const raft::Ready& rd, bool sync);
  static absl::Status Annotate(const absl::Status& s, const std::string& context);
  // A NotifyWhenApplied caller, and its answer once known.
  struct ApplyWaiter {
    consensus::OpId id;
    absl::Time deadline;
    std::function<void(absl::Status)> done;
    absl::Status answer;  // for an applied op: OK until its term is checked
    bool applied = false;
  };
  // Removes the waiters that have their answer now: applied (through
  // applied_index_), past their deadline at `now`, or all of them once the
  // driver stopped or failed.
  std::vector<ApplyWaiter> TakeAnsweredWaitersLocked(absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Outside the lock: checks the applied ones' terms, then calls `done`.
  void AnswerWaiters(std::vector<ApplyWaiter> waiters);
  // Applies rd.committed_entries (non-empty), moves applied_index_ (and the
  // core's) and returns the waiters they satisfy, for AnswerWaiters.
  std::vector<ApplyWaiter> ApplyCommitted(const raft::Ready& rd);
  // The answer of an op applied here: OK, or Aborted when the entry at its
  // index is of another term (the proposal was lost with a leader change).
  absl::Status CheckAppliedTerm(const consensus::OpId& id) const;

  DriverOptions options_;
  Transport* const transport_;
  std::unique_ptr<wal::Log> wal_;
  std::unique_ptr<DurableLog> log_;
  consensus::ConsensusMetadataPB cmeta_;  // RunReady only (one at a time)

  mutable absl::Mutex mu_;
  std::unique_ptr<raft::RaftCore> core_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  int64_t applied_index_ ABSL_GUARDED_BY(mu_) = 0;
  // NotifyWhenApplied callers by op index. Invariant: none is applied yet
  // (RunReady takes those right after moving applied_index_). A replica
  // with waiters does not sleep: its ticks enforce their deadlines.
  std::multimap<int64_t, ApplyWaiter> apply_waiters_ ABSL_GUARDED_BY(mu_);
  // While quiesced: each watched server's incarnation when first watched.
  std::map<std::string, uint64_t> watched_incarnations_ ABSL_GUARDED_BY(mu_);
  // Ticks stopped (MaybeSleepLocked), and the liveness watches left.
  bool asleep_ ABSL_GUARDED_BY(mu_) = false;
  int64_t sleep_count_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<uint64_t> watch_ids_ ABSL_GUARDED_BY(mu_);
  // When the next tick is due (steady clock: it keeps running while the
  // process is stopped). The ticker delivers every tick that fell due, so
  // the core's tick count follows real time after a SIGSTOP or a stall.
  std::chrono::steady_clock::time_point next_tick_ ABSL_GUARDED_BY(mu_);

  // A RunReady is queued or running (on a worker or inline); stays true
  // after a persistence failure, so that no Ready is handled after it.
  bool scheduled_ ABSL_GUARDED_BY(mu_) = false;
  // A Ready taken inline that proved not light: the worker scheduled for it
  // handles this one before asking the core for another.
  std::optional<raft::Ready> handed_over_ ABSL_GUARDED_BY(mu_);
  // A Ready between a round's PrepareRound and FinishRound (token holder only).
  struct HalfwayReady {
    raft::Ready rd;
    bool apply_first = false;
    absl::Status persisted;  // the Sync's
  };
  std::optional<HalfwayReady> halfway_;
  // Receives running a Ready inline, counted from taking the token until
  // RunReadyOn returns (Shutdown waits for them: they run on threads the
  // scheduler's Detach does not know).
  int inline_running_ ABSL_GUARDED_BY(mu_) = 0;
  RaftScheduler* scheduler_ = nullptr;
  std::shared_ptr<RaftScheduler::Slot> slot_;  // set by Open before any input
  std::atomic<bool> shut_down_{false};
  // Bumped under mu_ after each change the core may have seen (see activity()).
  std::atomic<uint64_t> activity_{0};
};

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_RAFT_DRIVER_H_
