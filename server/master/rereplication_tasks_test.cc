#include "server/master/rereplication_tasks.h"

#include <atomic>
#include <memory>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kmend::master {
namespace {

using Task = RereplicationTasks::Task;

// A task that signals when it started and blocks until released.
struct Gate {
  absl::Notification started;
  absl::Notification release;
  Task MakeTask(const std::string& tablet, const std::string& copy_to = "") {
    Task t;
    t.tablet_id = tablet;
    t.copy_destination = copy_to;
    t.run = [this] {
      started.Notify();
      release.WaitForNotification();
    };
    return t;
  }
};

TEST(RereplicationTasksTest, AtMostOneTaskPerTablet) {
  RereplicationTasks tasks(4, 2);
  Gate first;
  ASSERT_TRUE(tasks.TryStart(first.MakeTask("t1")));
  first.started.WaitForNotification();
  EXPECT_TRUE(tasks.InFlight("t1"));
  // The same tablet is refused while its task runs; another tablet is not.
  bool ran_second = false;
  Task again;
  again.tablet_id = "t1";
  again.run = [&] { ran_second = true; };
  EXPECT_FALSE(tasks.TryStart(std::move(again)));
  Gate other;
  EXPECT_TRUE(tasks.TryStart(other.MakeTask("t2")));
  other.started.WaitForNotification();
  EXPECT_EQ(tasks.TabletsInFlight(), (std::set<std::string>{"t1", "t2"}));

  first.release.Notify();
  other.release.Notify();
  tasks.WaitIdle();
  EXPECT_FALSE(ran_second);
  EXPECT_FALSE(tasks.InFlight("t1"));
  // Once the first returned, the tablet takes a new task.
  std::atomic<bool> ran_third{false};
  Task third;
  third.tablet_id = "t1";
  third.run = [&] { ran_third = true; };
  EXPECT_TRUE(tasks.TryStart(std::move(third)));
  tasks.WaitIdle();
  EXPECT_TRUE(ran_third);
}

TEST(RereplicationTasksTest, RefusesWhenEveryWorkerIsBusy) {
  RereplicationTasks tasks(2, 2);
  Gate a, b;
  ASSERT_TRUE(tasks.TryStart(a.MakeTask("t1")));
  ASSERT_TRUE(tasks.TryStart(b.MakeTask("t2")));
  EXPECT_EQ(tasks.FreeWorkers(), 0);
  Gate c;
  EXPECT_FALSE(tasks.TryStart(c.MakeTask("t3")));
  // Both accepted tasks run at once: nothing queues behind a slow one.
  a.started.WaitForNotification();
  b.started.WaitForNotification();
  a.release.Notify();
  b.release.Notify();
  tasks.WaitIdle();
  EXPECT_EQ(tasks.FreeWorkers(), 2);
}

TEST(RereplicationTasksTest, CountsCopiesInFlightPerDestination) {
  RereplicationTasks tasks(4, 2);
  Gate a, b, c;
  ASSERT_TRUE(tasks.TryStart(a.MakeTask("t1", "ts-x")));
  ASSERT_TRUE(tasks.TryStart(b.MakeTask("t2", "ts-x")));
  ASSERT_TRUE(tasks.TryStart(c.MakeTask("t3")));  // not a copy
  auto copies = tasks.CopiesInFlight();
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies["ts-x"], (std::set<std::string>{"t1", "t2"}));
  a.release.Notify();
  b.release.Notify();
  c.release.Notify();
  tasks.WaitIdle();
  EXPECT_TRUE(tasks.CopiesInFlight().empty());
}

TEST(RereplicationTasksTest, ShutdownWaitsForAcceptedTasksAndRefusesNewOnes) {
  auto tasks = std::make_unique<RereplicationTasks>(2, 2);
  std::atomic<int> ran{0};
  Gate a;
  ASSERT_TRUE(tasks->TryStart(a.MakeTask("t1")));
  Task counted;
  counted.tablet_id = "t2";
  counted.run = [&] { ++ran; };
  ASSERT_TRUE(tasks->TryStart(std::move(counted)));
  a.started.WaitForNotification();
  a.release.Notify();
  tasks->Shutdown();
  EXPECT_EQ(ran.load(), 1);
  EXPECT_EQ(tasks->FreeWorkers(), 0);
  Task late;
  late.tablet_id = "t3";
  late.run = [&] { ++ran; };
  EXPECT_FALSE(tasks->TryStart(std::move(late)));
  tasks->Shutdown();  // idempotent
  tasks.reset();
  EXPECT_EQ(ran.load(), 1);
}

TEST(RereplicationTasksTest, CopyLimitPerDestinationIsEnforcedAtomically) {
  RereplicationTasks tasks(8, 2);
  Gate a, b, c, d;
  ASSERT_TRUE(tasks.TryStart(a.MakeTask("t1", "ts-x")));
  ASSERT_TRUE(tasks.TryStart(b.MakeTask("t2", "ts-x")));
  // A third copy into ts-x is refused; one into another server is not.
  EXPECT_FALSE(tasks.TryStart(c.MakeTask("t3", "ts-x")));
  EXPECT_TRUE(tasks.TryStart(c.MakeTask("t3", "ts-y")));
  // A running task moving on to a copy obeys the same limit.
  ASSERT_TRUE(tasks.TryStart(d.MakeTask("t4")));
  EXPECT_FALSE(tasks.SetCopyDestination("t4", "ts-x"));
  EXPECT_TRUE(tasks.SetCopyDestination("t4", "ts-y"));
  EXPECT_EQ(tasks.CopiesInFlight()["ts-y"], (std::set<std::string>{"t3", "t4"}));
  // Releasing a slot (a copy that finished) lets another task take it.
  EXPECT_TRUE(tasks.SetCopyDestination("t1", ""));
  EXPECT_TRUE(tasks.SetCopyDestination("t4", "ts-x"));
  EXPECT_FALSE(tasks.SetCopyDestination("unknown", ""));
  for (Gate* g : {&a, &b, &c, &d}) g->release.Notify();
  tasks.WaitIdle();
  EXPECT_TRUE(tasks.CopiesInFlight().empty());
}

}  // namespace
}  // namespace kmend::master
