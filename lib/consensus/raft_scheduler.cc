#include "lib/consensus/raft_scheduler.h"

#include <pthread.h>

#include <algorithm>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/consensus/held_sends.h"

namespace kmend::consensus_driver {
namespace {

// Names show in top -H, perf and /proc/<pid>/task/*/comm (at most 15 bytes).
void NameThisThread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

// The first multiple of `interval` (counted from the Unix epoch) after `t`.
// Every driver with the same interval ticks on the same grid, so the
// heartbeats of all groups leave in one burst per tick and the transport
// sends them to each peer server in one batched RPC, instead of one RPC per
// group spread over the interval (heartbeat coalescing per server pair).
absl::Time NextGridPoint(absl::Time t, absl::Duration interval) {
  if (interval <= absl::ZeroDuration()) return t;
  const absl::Duration since_epoch = t - absl::UnixEpoch();
  return absl::UnixEpoch() + absl::Floor(since_epoch, interval) + interval;
}

}  // namespace

RaftScheduler::RaftScheduler(Options options) : rounds_(options.rounds) {
  const int n = std::max(1, options.workers);
  timer_ = std::thread([this] {
    NameThisThread("raft-timer");
    TimerLoop();
  });
  for (int i = 0; i < n; ++i) {
    workers_.emplace_back([this, i] {
      NameThisThread(absl::StrCat(rounds_ ? "raft-round-" : "raft-ready-", i));
      if (rounds_) {
        RoundLoop();
      } else {
        WorkerLoop();
      }
    });
  }
}

RaftScheduler::~RaftScheduler() {
  {
    absl::MutexLock l(&timer_mu_);
    timer_stop_ = true;
  }
  {
    absl::MutexLock l(&queue_mu_);
    queue_stop_ = true;
  }
  timer_.join();
  for (std::thread& t : workers_) t.join();
}

RaftScheduler* RaftScheduler::Shared() {
  // Leaked on purpose: drivers of static or late-destroyed objects may still
  // detach during exit, and the threads end with the process.
  static RaftScheduler* shared = new RaftScheduler(Options());
  return shared;
}

std::shared_ptr<RaftScheduler::Slot> RaftScheduler::Register(std::function<void()> tick,
                                                             std::function<void()> run_ready,
                                                             absl::Duration interval,
                                                             RoundHooks round) {
  auto slot =
      std::make_shared<Slot>(std::move(tick), std::move(run_ready), std::move(round), interval);
  absl::MutexLock l(&timer_mu_);
  ArmLocked(slot);
  return slot;
}

void RaftScheduler::ArmLocked(const std::shared_ptr<Slot>& slot) {
  const absl::Time due = NextGridPoint(absl::Now(), slot->interval_);
  if (timers_.empty() || due < timers_.top().due) wake_ = true;
  timers_.push(Timer{due, slot->interval_, slot});
  slot->in_timer_ = true;
}

void RaftScheduler::Sleep(const std::shared_ptr<Slot>& slot) {
  absl::MutexLock l(&timer_mu_);
  slot->asleep_ = true;
}

void RaftScheduler::Wake(const std::shared_ptr<Slot>& slot) {
  absl::MutexLock l(&timer_mu_);
  slot->asleep_ = false;
  // An entry still held by the timer loop (being ticked) is pushed back by
  // the loop, which reads asleep_ under timer_mu_ after the tick.
  if (!slot->in_timer_) ArmLocked(slot);
}

int64_t RaftScheduler::ticking_slots() const {
  absl::MutexLock l(&timer_mu_);
  return static_cast<int64_t>(timers_.size()) + ticking_now_;
}

void RaftScheduler::Schedule(const std::shared_ptr<Slot>& slot) {
  absl::MutexLock l(&queue_mu_);
  queue_.push_back(slot);
  pending_.fetch_add(1, std::memory_order_relaxed);
}

void RaftScheduler::Detach(const std::shared_ptr<Slot>& slot) {
  absl::MutexLock l(&slot->mu_);
  slot->detached_ = true;
  Slot* s = slot.get();  // named outside the lambda: clang's annotation must see it
  auto idle = [s]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu_) { return s->running_ == 0; };
  slot->mu_.Await(absl::Condition(&idle));
  // Its timer entry and any queued run are dropped when next seen.
}

void RaftScheduler::TimerLoop() {
  std::vector<Timer> due_now;
  while (true) {
    {
      absl::MutexLock l(&timer_mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(timer_mu_) {
        return timer_stop_ || wake_;
      };
      absl::Time until = timers_.empty() ? absl::InfiniteFuture() : timers_.top().due;
      timer_mu_.AwaitWithDeadline(absl::Condition(&woken), until);
      if (timer_stop_) return;
      wake_ = false;
      const absl::Time now = absl::Now();
      while (!timers_.empty() && timers_.top().due <= now) {
        due_now.push_back(timers_.top());
        timers_.pop();
      }
      ticking_now_ = static_cast<int64_t>(due_now.size());
    }
    // Ticks run without timer_mu_ so that registrations do not wait for them.
    const absl::Time now = absl::Now();
    for (Timer& t : due_now) {
      std::shared_ptr<Slot> slot = t.slot.lock();
      if (slot == nullptr) continue;
      {
        absl::MutexLock l(&slot->mu_);
        if (slot->detached_) continue;
        slot->tick_();
      }
      // A timer that fell behind (an overloaded machine) skips the ticks it
      // missed instead of firing them back to back, and stays on the grid.
      t.due = t.due + t.interval;
      if (t.due <= now) t.due = NextGridPoint(now, t.interval);
    }
    absl::MutexLock l(&timer_mu_);
    for (Timer& t : due_now) {
      std::shared_ptr<Slot> slot = t.slot.lock();
      if (slot == nullptr) continue;
      if (slot->asleep_) {
        slot->in_timer_ = false;  // Wake re-arms it
        continue;
      }
      timers_.push(std::move(t));
    }
    ticking_now_ = 0;
    due_now.clear();
  }
}

void RaftScheduler::WorkerLoop() {
  // Messages of consecutive Readies leave together (held_sends.h): the hold
  // ends when the queue is empty or after kMaxHeldReadies, so a message
  // waits for at most that many other drivers' Readies.
  constexpr int kMaxHeldReadies = 32;
  std::unique_ptr<HoldSends> hold;
  int held_readies = 0;
  while (true) {
    std::shared_ptr<Slot> slot;
    {
      absl::MutexLock l(&queue_mu_);
      if (hold != nullptr && (queue_.empty() || held_readies >= kMaxHeldReadies)) {
        queue_mu_.Unlock();
        hold.reset();  // sends what the Readies so far held
        queue_mu_.Lock();
        held_readies = 0;
      }
      auto work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return queue_stop_ || !queue_.empty();
      };
      queue_mu_.Await(absl::Condition(&work));
      if (queue_stop_) return;
      slot = std::move(queue_.front());
      queue_.pop_front();
      pending_.fetch_sub(1, std::memory_order_relaxed);
    }
    if (!StartRun(slot.get())) continue;
    if (hold == nullptr) hold = std::make_unique<HoldSends>();
    ++held_readies;
    slot->run_ready_();
    EndRun(slot.get());
  }
}

bool RaftScheduler::StartRun(Slot* slot) {
  absl::MutexLock l(&slot->mu_);
  if (slot->detached_) return false;
  ++slot->running_;
  return true;
}

void RaftScheduler::EndRun(Slot* slot) {
  absl::MutexLock l(&slot->mu_);
  --slot->running_;
}

void RaftScheduler::RoundLoop() {
  std::vector<std::shared_ptr<Slot>> taken, round;
  std::vector<Slot*> halfway;  // prepared, waiting for sync and finish
  while (true) {
    {
      absl::MutexLock l(&queue_mu_);
      auto work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(queue_mu_) {
        return queue_stop_ || !queue_.empty();
      };
      queue_mu_.Await(absl::Condition(&work));
      if (queue_stop_) return;
      while (!queue_.empty() && taken.size() < kMaxRoundSlots) {
        taken.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    // Outside queue_mu_: a tick holds its slot's mu_ and queues (slot, then
    // queue), so the other order here could deadlock.
    for (std::shared_ptr<Slot>& slot : taken) {
      if (StartRun(slot.get())) round.push_back(std::move(slot));
    }
    const size_t round_taken = taken.size();  // detached ones included
    taken.clear();
    {
      HoldSends hold;
      for (const std::shared_ptr<Slot>& slot : round) {
        if (!slot->round_.prepare) {
          slot->run_ready_();
        } else if (slot->round_.prepare()) {
          halfway.push_back(slot.get());
        }
      }
      // The leaders' appends of every group leave before the first sync
      // (raft/ready.h, step 0), one frame per peer.
      HoldSends::FlushNow();
      for (Slot* slot : halfway) slot->round_.sync();
      for (Slot* slot : halfway) slot->round_.finish();
    }  // the acknowledgements and answers of the round leave here
    for (const std::shared_ptr<Slot>& slot : round) EndRun(slot.get());
    pending_.fetch_sub(static_cast<int64_t>(round_taken), std::memory_order_relaxed);
    round.clear();
    halfway.clear();
  }
}

}  // namespace kmend::consensus_driver
