// The unsafe config change on real processes (issue 10: forced configs must
// not split the brain, and the master must order them as Raft does).
//
// RefusedOnAFollowerOfAHealthyTablet: an operator aims `kmend
// unsafe-change-config --yes` at a follower of a healthy 3-replica tablet.
// The tool refuses (exit 2, naming the leader and the running majority), the
// server refuses the same request sent straight to it, and the tablet goes
// on: writes through the leader succeed, no replica is tombstoned, no config
// or term changed, no backup was written.
//
// ForcedConfigAfterTheMajorityAddedAReplacement: 4 servers, one tablet on
// A, B, C (the master's dead-server delay is 10 minutes, so it never acts on
// its own here). C stops; the leader adds D as a NON_VOTER, a config change
// at an index C never logged; the catalog takes it. A and B die (kill -9), C
// returns and is forced to {C}: its forced config reuses an index below the
// catalog's, at a higher term. The master adopts it (Raft's order: term,
// then index), C takes writes, and when A and B come back with the old
// majority's config their replicas are tombstoned, never re-elected.
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "nlohmann/json.hpp"
#include "proto/tserver.grpc.pb.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

class UnsafeConfigTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) cluster_->DumpLogs(std::cerr);
  }

  void StartCluster(int tservers) {
    cluster_ = std::make_unique<ExternalCluster>(ClusterOptions{
        .num_tservers = tservers,
        .extra_master_flags = {"--rereplication_delay_ms=600000"}});
    ASSERT_TRUE(cluster_->Start().ok());
    auto uuids = GetTServerUuids(*cluster_);
    ASSERT_TRUE(uuids.ok()) << uuids.status();
    uuids_ = *uuids;
    auto tablets = CreateTable(*cluster_, KeyValueTableRequest("t", "v", 1, 3));
    ASSERT_TRUE(tablets.ok()) << tablets.status();
    tablet_ = (*tablets)[0];
  }

  // This tablet's replicas on the servers not in `down_`.
  ReplicasByUuid Replicas() { return LiveReplicas(*cluster_, uuids_, down_)[tablet_]; }

  // Waits until `n` replicas are READY and one of them leads; its index.
  int WaitForLeader(int n) {
    int leader = -1;
    absl::Status s = ExternalCluster::WaitFor(
        [&] {
          ReplicasByUuid reps = Replicas();
          int ready = 0;
          for (const auto& [u, r] : reps) ready += r.data_state() == server::TABLET_DATA_READY;
          leader = LeaderIndex(reps, uuids_);
          return ready >= n && leader >= 0;
        },
        seconds(30), "a leader and enough READY replicas");
    EXPECT_TRUE(s.ok()) << s;
    return leader;
  }

  absl::Status Upsert(int ts, int first, int n) {
    auto stub = cluster_->TServerStub(ts);
    return UpsertRows(stub.get(), tablet_, first, n,
                      [](int k) { return absl::StrCat("v", k); });
  }

  std::unique_ptr<tserver::ConsensusService::Stub> Consensus(int ts) {
    return tserver::ConsensusService::NewStub(
        server::NewChannel(cluster_->tserver(ts)->address()));
  }

  // The catalog's config of the tablet.
  absl::StatusOr<consensus::RaftConfigPB> CatalogConfig() {
    auto leader = WaitForLeaderMaster(*cluster_);
    if (!leader.ok()) return leader.status();
    auto stub = cluster_->MasterStub(*leader);
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, seconds(5));
    master::GetTabletLocationsRequestPB req;
    req.add_tablet_ids(tablet_);
    master::GetTabletLocationsResponsePB resp;
    absl::Status s = server::FromGrpcStatus(stub->GetTabletLocations(&ctx, req, &resp),
                                            "GetTabletLocations");
    if (!s.ok()) return s;
    if (resp.tablets_size() != 1) return absl::NotFoundError("tablet not in the catalog");
    return resp.tablets(0).config();
  }

  std::unique_ptr<ExternalCluster> cluster_;
  TServerUuids uuids_;
  std::set<int> down_;
  std::string tablet_;
};

TEST_F(UnsafeConfigTest, RefusedOnAFollowerOfAHealthyTablet) {
  StartCluster(3);
  const int leader = WaitForLeader(3);
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(Upsert(leader, 0, 100).ok());
  const int follower = (leader + 1) % 3;
  const std::string follower_uuid = uuids_[follower];
  const std::string leader_uuid = uuids_[leader];
  ReplicasByUuid before = Replicas();
  const int64_t term = before[follower_uuid].consensus_state().current_term();
  const std::string backups = cluster_->base_dir() + "/backups";
  const std::string cmd = absl::StrCat("unsafe-change-config --tserver ",
                                       cluster_->tserver(follower)->address(), " --tablet ",
                                       tablet_, " --voters ", follower_uuid, " --backup-dir ",
                                       backups);

  ToolResult forced = RunKmend(cmd + " --yes", cluster_->base_dir());
  EXPECT_EQ(forced.exit_code, 2) << forced.out << forced.err;
  EXPECT_THAT(forced.err, HasSubstr("looks alive"));
  EXPECT_THAT(forced.err, HasSubstr(leader_uuid));
  EXPECT_THAT(forced.out, HasSubstr("REFUSED"));
  ToolResult json = RunKmend(cmd + " --format=json", cluster_->base_dir());
  EXPECT_EQ(json.exit_code, 2) << json.err;
  nlohmann::json doc = nlohmann::json::parse(json.out, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded()) << json.out;
  EXPECT_EQ(doc["safety"], "refused");
  EXPECT_EQ(doc["applied"], false);
  EXPECT_EQ(doc["voters_probed"].size(), 3u);

  // Defence in depth: the server refuses the same request sent straight to it.
  {
    auto stub = Consensus(follower);
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, seconds(10));
    tserver::UnsafeChangeConfigRequestPB req;
    req.set_dest_uuid(follower_uuid);
    req.set_tablet_id(tablet_);
    req.add_keep_uuids(follower_uuid);
    tserver::UnsafeChangeConfigResponsePB resp;
    grpc::Status s = stub->UnsafeChangeConfig(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr("heard from leader " + leader_uuid));
  }

  // The tablet goes on as before.
  ASSERT_TRUE(Upsert(leader, 100, 100).ok());
  ReplicasByUuid after = Replicas();
  ASSERT_EQ(after.size(), 3u);
  for (const auto& [uuid, r] : after) {
    EXPECT_EQ(r.data_state(), server::TABLET_DATA_READY) << uuid;
    EXPECT_EQ(r.consensus_state().committed_config().peers_size(), 3) << uuid;
    EXPECT_FALSE(r.consensus_state().committed_config().unsafe_config_change()) << uuid;
    EXPECT_EQ(r.consensus_state().current_term(), term) << uuid;
  }
  EXPECT_EQ(LeaderIndex(after, uuids_), leader);
  EXPECT_FALSE(io::ListDir(backups).ok() && !io::ListDir(backups)->empty());
}

TEST_F(UnsafeConfigTest, ForcedConfigAfterTheMajorityAddedAReplacement) {
  StartCluster(4);
  int leader = WaitForLeader(3);
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(Upsert(leader, 0, 50).ok());
  // A = the leader, B and C its followers, D the server without a replica.
  ReplicasByUuid reps = Replicas();
  int a = leader, b = -1, c = -1, d = -1;
  for (int i = 0; i < 4; ++i) {
    if (i == a) continue;
    if (!reps.count(uuids_[i])) {
      d = i;
    } else if (b < 0) {
      b = i;
    } else {
      c = i;
    }
  }
  ASSERT_TRUE(b >= 0 && c >= 0 && d >= 0);
  const int64_t c_last_index = reps[uuids_[c]].last_logged_opid().index();

  // C stops; the majority commits a config change C never logs.
  ASSERT_TRUE(cluster_->tserver(c)->Shutdown().ok());
  down_.insert(c);
  {
    auto stub = Consensus(a);
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, seconds(15));
    tserver::ChangeConfigRequestPB req;
    req.set_tablet_id(tablet_);
    req.set_type(tserver::ADD_PEER);
    req.mutable_peer()->set_permanent_uuid(uuids_[d]);
    req.mutable_peer()->set_member_type(consensus::RaftPeerPB::NON_VOTER);
    auto hp = server::ParseHostPort(cluster_->tserver(d)->address());
    ASSERT_TRUE(hp.ok());
    *req.mutable_peer()->mutable_last_known_addr() = *hp;
    tserver::ChangeConfigResponsePB resp;
    grpc::Status s = stub->ChangeConfig(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_GT(resp.op_id().index(), c_last_index);
  }
  consensus::RaftConfigPB majority_config;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    auto cfg = CatalogConfig();
                    if (!cfg.ok() || cfg->peers_size() != 4) return false;
                    majority_config = *cfg;
                    return true;
                  },
                  seconds(20), "the catalog takes the majority's config with D")
                  .ok());

  // The majority dies; C returns and is forced to {C}.
  ASSERT_TRUE(cluster_->tserver(a)->KillNine().ok());
  ASSERT_TRUE(cluster_->tserver(b)->KillNine().ok());
  down_ = {a, b};
  ASSERT_TRUE(cluster_->tserver(c)->Restart().ok());
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    ReplicasByUuid r = Replicas();
                    return r.count(uuids_[c]) &&
                           r[uuids_[c]].data_state() == server::TABLET_DATA_READY;
                  },
                  seconds(30), "C's replica READY again")
                  .ok());
  ToolResult forced = RunKmend(
      absl::StrCat("unsafe-change-config --tserver ", cluster_->tserver(c)->address(),
                   " --tablet ", tablet_, " --voters ", uuids_[c], " --yes --backup-dir ",
                   cluster_->base_dir(), "/backups"),
      cluster_->base_dir());
  ASSERT_EQ(forced.exit_code, 0) << forced.out << forced.err;

  // The master adopts the forced config although its index is lower.
  consensus::RaftConfigPB catalog;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    auto cfg = CatalogConfig();
                    if (!cfg.ok()) return false;
                    catalog = *cfg;
                    return cfg->unsafe_config_change() || cfg->opid_term() > majority_config.opid_term();
                  },
                  seconds(20), "the catalog adopts the forced config")
                  .ok())
      << "catalog still has " << catalog.ShortDebugString();
  EXPECT_LE(catalog.opid_index(), majority_config.opid_index());
  EXPECT_GT(catalog.opid_term(), majority_config.opid_term());
  ASSERT_EQ(WaitForLeader(1), c);
  ASSERT_TRUE(Upsert(c, 50, 50).ok());

  // The old majority returns: its replicas are tombstoned, never re-elected.
  ASSERT_TRUE(cluster_->tserver(a)->Restart().ok());
  ASSERT_TRUE(cluster_->tserver(b)->Restart().ok());
  down_.clear();
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    ReplicasByUuid r = Replicas();
                    for (int i : {a, b}) {
                      auto it = r.find(uuids_[i]);
                      if (it == r.end()) continue;  // deleted
                      // Tombstoned, or a fresh copy of the new history.
                      const auto& cfg = it->second.consensus_state().committed_config();
                      if (it->second.data_state() != server::TABLET_DATA_TOMBSTONED &&
                          !(cfg.opid_term() >= catalog.opid_term())) {
                        return false;
                      }
                    }
                    return true;
                  },
                  seconds(30), "the old majority's replicas tombstoned")
                  .ok());
  // Nobody but C's history leads, and what C held survives.
  for (int i = 0; i < 20; ++i) {
    ReplicasByUuid r = Replicas();
    const int l = LeaderIndex(r, uuids_);
    if (l >= 0) {
      EXPECT_GE(r[uuids_[l]].consensus_state().current_term(), catalog.opid_term());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const int now_leader = WaitForLeader(1);
  ASSERT_GE(now_leader, 0);
  auto sum = ReplicaChecksum(*cluster_, now_leader, tablet_);
  ASSERT_TRUE(sum.ok()) << sum.status();
  EXPECT_EQ(sum->row_count(), 100);
}

}  // namespace
}  // namespace kmend::testing
