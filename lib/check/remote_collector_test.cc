// The remote collector against in-process fake servers: what it gathers, that
// it makes one status call per tablet server, and that an unreachable or
// hanging server becomes "unreachable" with a reason instead of a hang.
#include "lib/check/remote_collector.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/check/checker.h"
#include "lib/check/fake_cluster.h"

namespace kmend::check {
namespace {

using ::testing::HasSubstr;

CollectOptions Options(const FakeCluster& c) {
  CollectOptions opt;
  opt.masters = {c.master_address()};
  opt.timeout = std::chrono::milliseconds(2000);
  return opt;
}

TEST(RemoteCollectorTest, HealthyClusterOneStatusCallPerServer) {
  FakeCluster c(3, 20, 3);
  ASSERT_TRUE(c.Start().ok());
  absl::StatusOr<check::ClusterSnapshot> snap = CollectRemote(Options(c));
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_EQ(snap->tablet_servers.size(), 3u);
  ASSERT_EQ(snap->tables.size(), 1u);
  EXPECT_EQ(snap->tables[0].tablets.size(), 20u);
  EXPECT_EQ(snap->tables[0].replication_factor, 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(c.tserver(i).status_calls.load(), 1) << "server " << i;
    EXPECT_EQ(snap->replicas[c.tserver(i).uuid].size(), 20u);
  }
  check::KsckResults r = check::Check(*snap);
  EXPECT_TRUE(r.healthy());
}

TEST(RemoteCollectorTest, StoppedServerIsUnreachableWithReason) {
  FakeCluster c(3, 4, 3);
  c.tserver(1).running = false;
  c.tserver(1).live_per_master = false;
  ASSERT_TRUE(c.Start().ok());
  absl::StatusOr<check::ClusterSnapshot> snap = CollectRemote(Options(c));
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_FALSE(snap->tablet_servers[1].reachable);
  EXPECT_FALSE(snap->tablet_servers[1].unreachable_reason.empty());
  check::KsckResults r = check::Check(*snap);
  // Fakes do not re-elect: the one tablet server 1 led (tablet 1) has no
  // leader left; the other three lost a follower.
  using check::Health;
  EXPECT_EQ(r.tables[0].by_health[static_cast<int>(Health::kUnderReplicated)], 3);
  EXPECT_EQ(r.tables[0].by_health[static_cast<int>(Health::kUnavailable)], 1);
  EXPECT_EQ(r.tablets[1].health, Health::kUnavailable);
}

TEST(RemoteCollectorTest, HangingServerHitsTheDeadlineAndIsUnknown) {
  FakeCluster c(3, 4, 3);
  c.tserver(2).hang = true;
  ASSERT_TRUE(c.Start().ok());
  CollectOptions opt = Options(c);
  opt.timeout = std::chrono::milliseconds(300);
  absl::StatusOr<check::ClusterSnapshot> snap = CollectRemote(opt);
  ASSERT_TRUE(snap.ok()) << snap.status();
  EXPECT_FALSE(snap->tablet_servers[2].reachable);
  EXPECT_EQ(snap->tablet_servers[2].unreachable_reason, "deadline exceeded");
  check::KsckResults r = check::Check(*snap);
  // The master still hears from it: its replicas are unknown, not down.
  EXPECT_EQ(r.tables[0].health, check::Health::kUnknown);
  EXPECT_EQ(r.tablet_servers[2].state, "UNREACHABLE");
}

TEST(RemoteCollectorTest, NoMasterReachableIsAnError) {
  CollectOptions opt;
  opt.masters = {"127.0.0.1:1"};
  opt.timeout = std::chrono::milliseconds(500);
  absl::StatusOr<check::ClusterSnapshot> snap = CollectRemote(opt);
  ASSERT_FALSE(snap.ok());
  EXPECT_EQ(snap.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(snap.status().message()), HasSubstr("no master reachable"));
}

TEST(RemoteCollectorTest, ChecksumScanFindsTheOddReplica) {
  FakeCluster c(3, 2, 3);
  c.SetDigest(1, 0, 0xbad);  // tablet 0's replica on server 1
  ASSERT_TRUE(c.Start().ok());
  CollectOptions opt = Options(c);
  opt.checksum_scan = true;
  absl::StatusOr<check::ClusterSnapshot> snap = CollectRemote(opt);
  ASSERT_TRUE(snap.ok()) << snap.status();
  check::KsckResults r = check::Check(*snap);
  ASSERT_EQ(r.checksums.size(), 2u);
  int mismatches = 0;
  for (const auto& cs : r.checksums) mismatches += cs.match ? 0 : 1;
  EXPECT_EQ(mismatches, 1);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_THAT(r.problems[0].message, HasSubstr(c.tserver(1).uuid + "=0000000000000bad"));
}

TEST(RemoteCollectorTest, TabletFilterKeepsOnlyThoseTablets) {
  FakeCluster c(3, 5, 3);
  ASSERT_TRUE(c.Start().ok());
  CollectOptions opt = Options(c);
  opt.tablets = {"00000000000000000000000000000002"};
  absl::StatusOr<check::ClusterSnapshot> snap = CollectRemote(opt);
  ASSERT_TRUE(snap.ok()) << snap.status();
  ASSERT_EQ(snap->tables[0].tablets.size(), 1u);
  EXPECT_EQ(snap->tables[0].tablets[0].tablet_id, "00000000000000000000000000000002");
}

}  // namespace
}  // namespace kmend::check
