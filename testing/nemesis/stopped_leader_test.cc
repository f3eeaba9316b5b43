// Regression test for the stale read nemesis seed 1003 found: a tablet
// leader stopped with SIGSTOP while a new leader is elected and acknowledges
// a write must not, once continued, serve the old value. Its read lease is
// counted in Raft ticks, and a stopped process delivers none: the driver now
// delivers every overdue tick and refuses leader reads while ticks are
// behind (lib/consensus/raft_driver.cc). Loopback cluster, no root needed.
#include <chrono>
#include <future>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// One Scan of the whole (one-row) tablet at server `ts`: the value of key 0,
// or an error (a refused read is fine).
absl::StatusOr<std::string> ReadAt(tserver::TabletServerService::Stub* stub,
                                   const std::string& tablet) {
  tserver::ScanRequestPB req;
  req.set_tablet_id(tablet);
  tserver::ScanResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, seconds(10));
  grpc::Status g = stub->Scan(&ctx, req, &resp);
  if (!g.ok()) return absl::UnavailableError(g.error_message());
  if (resp.rows_size() != 1 || resp.rows(0).cells_size() < 2) {
    return absl::InternalError(absl::StrCat("expected one row, got ", resp.rows_size()));
  }
  return resp.rows(0).cells(1).string_value();
}

TEST(StoppedLeaderTest, ContinuedLeaderServesNoStaleRead) {
  ExternalCluster cluster;
  ASSERT_TRUE(cluster.Start().ok());
  auto uuids = GetTServerUuids(cluster);
  ASSERT_TRUE(uuids.ok()) << uuids.status();
  auto tablets = CreateTable(cluster, KeyValueTableRequest("t", "v", 1, 3));
  ASSERT_TRUE(tablets.ok()) << tablets.status();
  const std::string tablet = (*tablets)[0];

  int old_leader = -1;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    old_leader = LeaderIndex(LiveReplicas(cluster, *uuids, {})[tablet], *uuids);
                    if (old_leader < 0) return false;
                    auto to_leader = cluster.TServerStub(old_leader);
                    return UpsertRows(to_leader.get(), tablet, 0, 1,
                                      [](int) { return "old"; }).ok();
                  },
                  seconds(30), "a leader that takes the first write")
                  .ok());
  // One channel to the leader, connected before it stops, as a client
  // that was reading from it has: requests sent while it is stopped wait in
  // its socket.
  auto stub = cluster.TServerStub(old_leader);
  // The leader serves the first value (it holds its lease).
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    auto v = ReadAt(stub.get(), tablet);
                    return v.ok() && *v == "old";
                  },
                  seconds(10), "a leader read of the first value")
                  .ok());

  ASSERT_TRUE(cluster.tserver(old_leader)->Stop().ok());
  int new_leader = -1;
  absl::Status s = ExternalCluster::WaitFor(
      [&] {
        new_leader =
            LeaderIndex(LiveReplicas(cluster, *uuids, {old_leader})[tablet], *uuids);
        if (new_leader < 0 || new_leader == old_leader) return false;
        auto to_new = cluster.TServerStub(new_leader);
        return UpsertRows(to_new.get(), tablet, 0, 1, [](int) { return "new"; }).ok();
      },
      seconds(30), "a new leader that acknowledges the second write");
  if (!s.ok()) (void)cluster.tserver(old_leader)->Continue();
  ASSERT_TRUE(s.ok()) << s;

  // Reads queued at the stopped leader before it continues race its ticker
  // when it wakes up: none may return the old value.
  std::vector<std::future<absl::StatusOr<std::string>>> queued;
  for (int i = 0; i < 4; ++i) {
    queued.push_back(std::async(std::launch::async,
                                [&] { return ReadAt(stub.get(), tablet); }));
  }
  // Stopped for seconds, as the nemesis's sigstop step holds it.
  std::this_thread::sleep_for(milliseconds(1500));
  ASSERT_TRUE(cluster.tserver(old_leader)->Continue().ok());
  int served = 0;
  for (auto& f : queued) {
    auto v = f.get();
    if (!v.ok()) continue;
    ++served;
    EXPECT_EQ(*v, "new") << "a continued, deposed leader served a stale read";
  }
  auto until = std::chrono::steady_clock::now() + seconds(2);
  while (std::chrono::steady_clock::now() < until) {
    auto v = ReadAt(stub.get(), tablet);
    if (v.ok()) {
      ++served;
      EXPECT_EQ(*v, "new") << "a continued, deposed leader served a stale read";
    }
  }
  std::cerr << "reads served by the continued replica: " << served << "\n";
  if (HasFailure()) cluster.DumpLogs(std::cerr);
}

}  // namespace
}  // namespace kmend::testing
