// RaftScheduler: the threads that run RaftDrivers, shared by every replica of
// a process so that a server's thread count does not grow with its replica
// count (issue 15; docs/design/scale.md). One timer thread ticks every
// registered driver at its own interval; a fixed pool of worker threads
// handles the drivers' Readies (persist, send, apply, Advance).
//
// Threads: 1 timer ("raft-timer") + Options::workers ("raft-ready-N"),
// whatever the number of drivers.
//
// Contract with the driver (raft_driver.cc):
//   - a driver registers once (Register returns its Slot) and Detach()es
//     before it is destroyed; after Detach returns, no scheduler thread is in
//     or will enter the driver's code;
//   - Tick(): the timer calls the slot's tick function every interval,
//     under the slot's lock (so Detach waits for a tick in progress);
//   - Sleep(slot) / Wake(slot): a driver with nothing to count (a quiesced
//     replica, docs/design/scale.md) stops its ticks from within its own
//     tick; anything may wake it (an input, the liveness watchdog), and its
//     ticks resume at the next grid point. A sleeping slot costs the timer
//     nothing: it is not in the heap.
//   - Schedule(slot): the driver asks for one run of its Ready function on a
//     worker. The driver itself makes sure a slot is queued at most once at a
//     time (its `scheduled_` flag), so Readies of one driver never run on two
//     workers at once and stay in order; different drivers run in parallel.
// A worker that runs a Ready may block (fsync); work of other drivers waits
// only when every worker is busy. Ready functions must not wait for another
// driver's Ready (that could need a worker that is not free).
//
// Rounds (Options::rounds; the tablet server's --raft_round_worker,
// docs/design/shared_log.md, step 1): a worker takes every queued slot at
// once (up to kMaxRoundSlots) and runs them in three passes through the
// slots' RoundHooks: `prepare` on each (write the Ready's entries without
// syncing, send what may leave before persistence), one flush of the held
// sends, `sync` on each slot whose prepare returned true, then `finish` on
// those (acknowledgements, applies, Advance), all inside one HoldSends, so
// each peer gets one frame per round for every group's messages. A slot
// without hooks runs run_ready in the prepare pass. The Schedule contract
// is unchanged: a slot is in at most one round at a time.
//
// Thread safety: all methods are thread-safe. Lifetime: Shared() is never
// destroyed (its threads end with the process); a scheduler made by hand must
// outlive its drivers.
#ifndef KMEND_LIB_CONSENSUS_RAFT_SCHEDULER_H_
#define KMEND_LIB_CONSENSUS_RAFT_SCHEDULER_H_

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <queue>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kmend::consensus_driver {

class RaftScheduler {
 public:
  struct Options {
    // Ready handlers running at once (each may be in an fsync); with
    // `rounds`, round workers.
    int workers = 8;
    // Workers run rounds (see the class comment) instead of one Ready at a time.
    bool rounds = false;
  };

  // A round's three passes over one slot (see the class comment). `prepare`
  // returns true when the slot has a Ready between its halves, for which
  // `sync` and then `finish` are called in the same round.
  struct RoundHooks {
    std::function<bool()> prepare;
    std::function<void()> sync;
    std::function<void()> finish;
  };
  // At most this many slots in one round: a burst of thousands of
  // heartbeat Readies is cut into rounds, each flushed when it ends.
  static constexpr size_t kMaxRoundSlots = 128;

  // One registered driver. Opaque to the driver except through the
  // scheduler's calls.
  class Slot {
   public:
    Slot(std::function<void()> tick, std::function<void()> run_ready, RoundHooks round,
         absl::Duration interval)
        : tick_(std::move(tick)),
          run_ready_(std::move(run_ready)),
          round_(std::move(round)),
          interval_(interval) {}

   private:
    friend class RaftScheduler;
    absl::Mutex mu_;
    bool detached_ ABSL_GUARDED_BY(mu_) = false;
    // Workers inside the slot's run_ready or round (a count: a driver may
    // queue itself again at the end of a run, and another worker start it
    // before the first one has left).
    int running_ ABSL_GUARDED_BY(mu_) = 0;
    const std::function<void()> tick_;
    const std::function<void()> run_ready_;
    const RoundHooks round_;
    const absl::Duration interval_;
    // Both guarded by the scheduler's timer_mu_. Invariant: the slot has one
    // timer entry (in the heap, or being ticked) iff in_timer_; a sleeping
    // slot's entry is dropped after its tick and Wake adds a new one.
    bool asleep_ = false;
    bool in_timer_ = false;
  };

  explicit RaftScheduler(Options options);
  ~RaftScheduler();  // stops the threads; every slot must be detached
  RaftScheduler(const RaftScheduler&) = delete;
  RaftScheduler& operator=(const RaftScheduler&) = delete;

  // The process's scheduler, made on first use with default Options.
  static RaftScheduler* Shared();

  // Starts ticking `tick` every `interval`, at the multiples of `interval`
  // since the Unix epoch (every driver of one interval ticks in the same
  // burst, so that the transport batches their heartbeats per peer).
  // `run_ready` is what Schedule runs; with Options::rounds, `round` is,
  // when it has a prepare.
  std::shared_ptr<Slot> Register(std::function<void()> tick, std::function<void()> run_ready,
                                 absl::Duration interval, RoundHooks round = {});
  bool rounds() const { return rounds_; }
  // With rounds: no slot is queued or in a round. RaftDriver runs a Ready on
  // the receiving or proposing thread (its inline paths) only then, so that
  // a busy server's work joins the rounds while an idle one's (a lone
  // client) keeps the path without a hand-off. A hint: it may change at once.
  bool idle() const { return pending_.load(std::memory_order_relaxed) == 0; }
  // Stops the slot's ticks after the tick in progress (call it from the
  // slot's own tick, or with the driver's lock that its tick takes) until
  // Wake. Queued and future Schedule runs are not affected.
  void Sleep(const std::shared_ptr<Slot>& slot);
  // Resumes a sleeping slot's ticks at the next grid point; no-op when it is
  // awake. Thread-safe, callable from anywhere (no driver lock needed): the
  // liveness watchdog wakes drivers through it.
  void Wake(const std::shared_ptr<Slot>& slot);
  // Slots whose ticks are running (awake), for tests and stats.
  int64_t ticking_slots() const;

  // Queues one run of the slot's run_ready on a worker (see the contract).
  void Schedule(const std::shared_ptr<Slot>& slot);
  // Stops ticks and runs of the slot: waits for a tick or run in progress;
  // queued runs are dropped. Must not be called from the slot's own tick or
  // run. Idempotent.
  void Detach(const std::shared_ptr<Slot>& slot);

  int num_threads() const { return 1 + static_cast<int>(workers_.size()); }

 private:
  struct Timer {
    absl::Time due;
    absl::Duration interval;
    std::weak_ptr<Slot> slot;
    bool operator>(const Timer& o) const { return due > o.due; }
  };
  void TimerLoop();
  void WorkerLoop();
  void RoundLoop();
  // Marks the slot running unless it is detached (then false: skip it).
  static bool StartRun(Slot* slot);
  static void EndRun(Slot* slot);

  mutable absl::Mutex timer_mu_;
  std::priority_queue<Timer, std::vector<Timer>, std::greater<Timer>> timers_
      ABSL_GUARDED_BY(timer_mu_);
  bool timer_stop_ ABSL_GUARDED_BY(timer_mu_) = false;
  // Entries taken out of the heap by the timer loop for the ticks it runs.
  int64_t ticking_now_ ABSL_GUARDED_BY(timer_mu_) = 0;
  // A timer due before the one the timer thread sleeps for was added.
  bool wake_ ABSL_GUARDED_BY(timer_mu_) = false;
  // Adds `slot`'s timer entry at the grid point after now.
  void ArmLocked(const std::shared_ptr<Slot>& slot) ABSL_EXCLUSIVE_LOCKS_REQUIRED(timer_mu_);

  // Slots queued, plus (with rounds) those in the round in progress.
  std::atomic<int64_t> pending_{0};
  absl::Mutex queue_mu_;
  std::deque<std::shared_ptr<Slot>> queue_ ABSL_GUARDED_BY(queue_mu_);
  bool queue_stop_ ABSL_GUARDED_BY(queue_mu_) = false;

  const bool rounds_;
  std::thread timer_;
  std::vector<std::thread> workers_;
};

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_RAFT_SCHEDULER_H_
