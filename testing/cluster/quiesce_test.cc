// Quiescence of idle Raft groups on real processes (issue 15;
// docs/design/scale.md, "Quiescence"): an idle table's groups quiesce on
// every replica; a write wakes its group, which quiesces again; killing the
// server that leads quiesced groups (SIGKILL) gets every one of them a new
// leader, found through the per-server liveness calls, and writes go on.
// Run with --raft_quiesce on (the default) and off, printing the failover
// time both ways.
#include <chrono>
#include <iostream>
#include <map>
#include <set>
#include <thread>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::testing {
namespace {

using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

#define ASSERT_OK(expr)         \
  do {                          \
    absl::Status s_ = (expr);   \
    ASSERT_TRUE(s_.ok()) << s_; \
  } while (0)

constexpr int kTablets = 6;

// Tablet id -> this server's replica's consensus state.
using States = std::map<std::string, tserver::ReplicaConsensusStatePB>;

absl::StatusOr<States> ConsensusStates(ExternalCluster& cluster, int ts) {
  auto stub = tserver::ConsensusService::NewStub(
      server::NewChannel(cluster.tserver(ts)->address()));
  tserver::GetConsensusStateRequestPB req;
  tserver::GetConsensusStateResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, seconds(3));
  absl::Status s = server::FromGrpcStatus(stub->GetConsensusState(&ctx, req, &resp));
  if (!s.ok()) return s;
  States out;
  for (const auto& r : resp.replicas()) out[r.tablet_id()] = r;
  return out;
}

class QuiesceClusterTest : public ::testing::TestWithParam<bool> {
 protected:
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) cluster_->DumpLogs(std::cerr);
  }

  // Every live server reports every tablet, and all of them quiesced.
  bool AllQuiesced(const std::set<int>& servers) {
    for (int ts : servers) {
      auto st = ConsensusStates(*cluster_, ts);
      if (!st.ok() || st->size() != tablets_.size()) return false;
      for (const auto& [id, r] : *st) {
        if (!r.quiesced()) return false;
      }
    }
    return true;
  }

  // Tablet -> leader uuid, for tablets whose leader (by its own report, at
  // the highest term any live server reports) is on one of `servers`.
  std::map<std::string, std::string> Leaders(const std::set<int>& servers) {
    std::map<std::string, std::pair<int64_t, std::string>> best;
    for (int ts : servers) {
      auto st = ConsensusStates(*cluster_, ts);
      if (!st.ok()) continue;
      for (const auto& [id, r] : *st) {
        const std::string& self = uuids_.at(ts);
        if (r.cstate().leader_uuid() != self) continue;
        auto& b = best[id];
        if (r.cstate().current_term() >= b.first) b = {r.cstate().current_term(), self};
      }
    }
    std::map<std::string, std::string> out;
    for (const auto& [id, b] : best) out[id] = b.second;
    return out;
  }

  std::unique_ptr<ExternalCluster> cluster_;
  TServerUuids uuids_;
  std::vector<std::string> tablets_;
};

TEST_P(QuiesceClusterTest, KilledLeaderServerOfIdleGroupsIsReplacedAndWritesGoOn) {
  const bool quiesce = GetParam();
  ClusterOptions opts;
  opts.tserver_unresponsive_timeout_ms = 5000;
  // Killing a server must not start re-replication during the test.
  opts.extra_master_flags = {"--rereplication_delay_ms=3600000"};
  if (!quiesce) opts.extra_tserver_flags = {"--raft_quiesce=false"};
  cluster_ = std::make_unique<ExternalCluster>(opts);
  ASSERT_OK(cluster_->Start());
  auto uuids = GetTServerUuids(*cluster_);
  ASSERT_TRUE(uuids.ok()) << uuids.status();
  uuids_ = *uuids;
  auto tablets = CreateTable(*cluster_, KeyValueTableRequest("q", "v", kTablets, 3));
  ASSERT_TRUE(tablets.ok()) << tablets.status();
  tablets_ = *tablets;
  const std::set<int> all = {0, 1, 2};
  ASSERT_OK(ExternalCluster::WaitFor([&] { return Leaders(all).size() == tablets_.size(); },
                                     seconds(60), "every tablet led"));
  if (quiesce) {
    ASSERT_OK(ExternalCluster::WaitFor([&] { return AllQuiesced(all); }, seconds(60),
                                       "every replica quiesced"));
    // A write wakes its group (the leader proposes), which then quiesces
    // again once everyone applied it.
    const std::string tablet = tablets_[0];
    const int leader = TServerIndexOf(uuids_, Leaders(all).at(tablet));
    ASSERT_GE(leader, 0);
    ASSERT_OK(UpsertRows(cluster_->TServerStub(leader).get(), tablet, 0, 10,
                         [](int k) { return std::to_string(k); }));
    ASSERT_OK(ExternalCluster::WaitFor([&] { return AllQuiesced(all); }, seconds(60),
                                       "every replica quiesced again after a write"));
  } else {
    std::this_thread::sleep_for(seconds(3));
    auto st = ConsensusStates(*cluster_, 0);
    ASSERT_TRUE(st.ok()) << st.status();
    for (const auto& [id, r] : *st) EXPECT_FALSE(r.quiesced()) << id;
  }

  // The server leading the most tablets dies.
  std::map<int, int> led;
  for (const auto& [id, u] : Leaders(all)) ++led[TServerIndexOf(uuids_, u)];
  int victim = 0;
  for (const auto& [ts, n] : led) {
    if (n > led[victim]) victim = ts;
  }
  const int victim_led = led[victim];
  ASSERT_GT(victim_led, 0);
  std::set<int> survivors = all;
  survivors.erase(victim);
  const auto t0 = Clock::now();
  ASSERT_OK(cluster_->tserver(victim)->KillNine());
  ASSERT_OK(ExternalCluster::WaitFor(
      [&] { return Leaders(survivors).size() == tablets_.size(); }, seconds(60),
      "every tablet led by a survivor"));
  const double failover_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::cout << "raft_quiesce=" << (quiesce ? "true" : "false") << ": " << victim_led
            << " of " << tablets_.size() << " tablets lost their leader; all led again after "
            << failover_s << " s (election timeout 1-2 s)\n";
  // Generous for a loaded machine; the point is that they are found at all.
  EXPECT_LT(failover_s, 30);

  // Writes go on through the new leaders.
  for (const auto& [tablet, u] : Leaders(survivors)) {
    const int ts = TServerIndexOf(uuids_, u);
    ASSERT_OK(ExternalCluster::WaitFor(
        [&, &tablet = tablet] {  // a structured binding is captured by name before C++20
          return UpsertRows(cluster_->TServerStub(ts).get(), tablet, 100, 5,
                            [](int k) { return std::to_string(k); })
              .ok();
        },
        seconds(30), "a write through the new leader"));
  }
}

INSTANTIATE_TEST_SUITE_P(RaftQuiesce, QuiesceClusterTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) {
                           return p.param ? std::string("On") : std::string("Off");
                         });

}  // namespace
}  // namespace kmend::testing
