// The shared scheduler: a constant number of threads whatever the number of
// drivers, every driver ticked, Detach waiting for a run in progress.
#include "lib/consensus/raft_scheduler.h"

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/consensus/held_sends.h"
#include "lib/consensus/raft_driver.h"
#include "lib/util/thread_count.h"

namespace kmend::consensus_driver {
namespace {

using util::ThreadsOfThisProcess;

TEST(RaftSchedulerTest, EverySlotIsTickedByOneTimerThread) {
  RaftScheduler sched({.workers = 2});
  const int before = ThreadsOfThisProcess();
  constexpr int kSlots = 500;
  std::vector<std::atomic<int>> ticks(kSlots);
  std::vector<std::shared_ptr<RaftScheduler::Slot>> slots;
  for (int i = 0; i < kSlots; ++i) {
    slots.push_back(sched.Register([&ticks, i] { ticks[i]++; }, [] {}, absl::Milliseconds(5)));
  }
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  auto all_ticked = [&] {
    for (auto& t : ticks) {
      if (t.load() < 3) return false;
    }
    return true;
  };
  while (!all_ticked() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_TRUE(all_ticked());
  EXPECT_EQ(ThreadsOfThisProcess(), before);  // no thread per slot
  for (auto& s : slots) sched.Detach(s);
  // Detached slots are not ticked again.
  std::vector<int> at_detach;
  for (auto& t : ticks) at_detach.push_back(t.load());
  absl::SleepFor(absl::Milliseconds(50));
  for (int i = 0; i < kSlots; ++i) EXPECT_EQ(ticks[i].load(), at_detach[i]) << i;
}

// A slot that sleeps from its own tick is not ticked (nor held in the
// timer's heap) until Wake; Wake from another thread resumes it.
TEST(RaftSchedulerTest, SleepingSlotIsNotTickedUntilWoken) {
  RaftScheduler sched({.workers = 1});
  std::atomic<int> ticks{0};
  std::atomic<bool> sleep_next{false};
  std::shared_ptr<RaftScheduler::Slot> slot;
  absl::Mutex mu;  // orders Register's assignment before the first tick
  {
    absl::MutexLock l(&mu);
    slot = sched.Register(
        [&] {
          absl::MutexLock l(&mu);
          ++ticks;
          if (sleep_next.load()) sched.Sleep(slot);
        },
        [] {}, absl::Milliseconds(2));
  }
  auto wait_for = [&](int n) {
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (ticks.load() < n && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
    return ticks.load() >= n;
  };
  ASSERT_TRUE(wait_for(3));
  EXPECT_EQ(sched.ticking_slots(), 1);
  sleep_next = true;
  const int at_request = ticks.load();
  ASSERT_TRUE(wait_for(at_request + 1));
  absl::SleepFor(absl::Milliseconds(10));  // let the loop drop the entry
  const int asleep_at = ticks.load();
  absl::SleepFor(absl::Milliseconds(50));  // 25 intervals
  EXPECT_EQ(ticks.load(), asleep_at);
  EXPECT_EQ(sched.ticking_slots(), 0);
  sleep_next = false;
  sched.Wake(slot);
  sched.Wake(slot);  // idempotent: one timer entry
  EXPECT_TRUE(wait_for(asleep_at + 3));
  EXPECT_EQ(sched.ticking_slots(), 1);
  sched.Detach(slot);
}

TEST(RaftSchedulerTest, DetachWaitsForTheRunInProgress) {
  RaftScheduler sched({.workers = 1});
  absl::Notification started, release;
  std::atomic<bool> finished{false};
  auto slot = sched.Register([] {},
                             [&] {
                               started.Notify();
                               release.WaitForNotification();
                               finished = true;
                             },
                             absl::Hours(1));
  sched.Schedule(slot);
  started.WaitForNotification();
  std::atomic<bool> detached{false};
  std::thread t([&] {
    sched.Detach(slot);
    detached = true;
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(detached.load());
  release.Notify();
  t.join();
  EXPECT_TRUE(finished.load());
  // A run queued after Detach is dropped.
  std::atomic<int> runs{0};
  auto other = sched.Register([] {}, [&] { runs++; }, absl::Hours(1));
  sched.Detach(other);
  sched.Schedule(other);
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(runs.load(), 0);
}

// A round: every queued slot's prepare, one flush, the syncs of the slots
// whose prepare left a half, then their finishes, all under one HoldSends; a
// slot without hooks runs whole in the prepare pass.
TEST(RaftSchedulerTest, RoundWorkerRunsEveryQueuedSlotInThreePasses) {
  RaftScheduler sched({.workers = 1, .rounds = true});
  absl::Mutex mu;
  std::vector<std::string> trace;
  bool held_throughout = true;
  auto note = [&](const std::string& what) {
    absl::MutexLock l(&mu);
    trace.push_back(what);
    held_throughout = held_throughout && HoldSends::Active();
  };
  absl::Notification gate_entered, gate_open;
  auto gate = sched.Register([] {}, [] {}, absl::Hours(1),
                             {[&] {
                                gate_entered.Notify();
                                gate_open.WaitForNotification();
                                return false;
                              },
                              [] {}, [] {}});
  auto hooks = [&](const std::string& n, bool half) {
    return RaftScheduler::RoundHooks{[&note, n, half] {
                                       note("prepare " + n);
                                       return half;
                                     },
                                     [&note, n] { note("sync " + n); },
                                     [&note, n] { note("finish " + n); }};
  };
  auto a = sched.Register([] {}, [] {}, absl::Hours(1), hooks("a", true));
  auto b = sched.Register([] {}, [] {}, absl::Hours(1), hooks("b", false));
  auto c = sched.Register([] {}, [] {}, absl::Hours(1), hooks("c", true));
  auto d = sched.Register([] {}, [&] { note("run d"); }, absl::Hours(1));
  // The worker is held in the gate's round while the others queue: they
  // make up the next round together.
  EXPECT_TRUE(sched.idle());
  sched.Schedule(gate);
  gate_entered.WaitForNotification();
  EXPECT_FALSE(sched.idle());  // a round is in progress
  for (auto* s : {&a, &b, &c, &d}) sched.Schedule(*s);
  gate_open.Notify();
  absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    {
      absl::MutexLock l(&mu);
      if (trace.size() >= 8) break;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  while (!sched.idle() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(5));
  EXPECT_TRUE(sched.idle());  // both rounds ended, nothing queued
  for (auto* s : {&gate, &a, &b, &c, &d}) sched.Detach(*s);
  absl::MutexLock l(&mu);
  EXPECT_EQ(trace, (std::vector<std::string>{"prepare a", "prepare b", "prepare c", "run d",
                                             "sync a", "sync c", "finish a", "finish c"}));
  EXPECT_TRUE(held_throughout);
  EXPECT_EQ(sched.num_threads(), 2);  // the timer and one round worker
}

// Many one-voter groups on one scheduler: each elects itself and applies its
// leader's no-op, and the process gains no thread per group; on a pool of
// workers and on a round worker.
void ManyDriversOn(RaftScheduler::Options options) {
  RaftScheduler sched(options);
  struct NoTransport : Transport {
    void Send(const std::string&, const consensus::RaftMessagePB&) override {}
  } transport;
  const int before = ThreadsOfThisProcess();
  constexpr int kDrivers = 300;
  std::vector<std::atomic<int>> applied(kDrivers);
  std::vector<std::unique_ptr<RaftDriver>> drivers;
  for (int i = 0; i < kDrivers; ++i) {
    DriverOptions o;
    o.core.tablet_id = "t" + std::to_string(i);
    o.core.self_uuid = "A";
    o.core.election_ticks = 3;
    o.core.random_seed = i;
    o.tick_interval = absl::Milliseconds(5);
    o.bootstrap_config.set_opid_index(-1);
    auto* p = o.bootstrap_config.add_peers();
    p->set_permanent_uuid("A");
    p->set_member_type(consensus::RaftPeerPB::VOTER);
    o.apply = [&applied, i](const consensus::ReplicateMsg&) { applied[i]++; };
    o.scheduler = &sched;
    auto d = RaftDriver::Open(std::move(o), &transport);
    ASSERT_TRUE(d.ok()) << d.status();
    drivers.push_back(std::move(*d));
  }
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  auto all_applied = [&] {
    for (auto& a : applied) {
      if (a.load() < 1) return false;
    }
    return true;
  };
  while (!all_applied() && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_TRUE(all_applied());
  EXPECT_EQ(ThreadsOfThisProcess(), before);
  for (auto& d : drivers) EXPECT_EQ(d->GetStatus().role, raft::Role::kLeader);
  drivers.clear();  // every driver detaches before the scheduler goes
}

TEST(RaftSchedulerTest, ManyDriversShareTheWorkers) { ManyDriversOn({.workers = 3}); }

TEST(RaftSchedulerTest, ManyDriversShareOneRoundWorker) {
  ManyDriversOn({.workers = 1, .rounds = true});
}

}  // namespace
}  // namespace kmend::consensus_driver
