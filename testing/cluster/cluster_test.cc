// Integration tests of the reference server as real processes: registration,
// failure detection, restart, table creation, the data-directory lock.
#include <iostream>
#include <map>
#include <set>

#include "gtest/gtest.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

#define ASSERT_OK(expr)                          \
  do {                                           \
    absl::Status s_ = (expr);                    \
    ASSERT_TRUE(s_.ok()) << s_;                  \
  } while (0)

class ClusterTest : public ::testing::Test {
 protected:
  void StartCluster(ClusterOptions opts = {}) {
    cluster_ = std::make_unique<ExternalCluster>(opts);
    ASSERT_OK(cluster_->Start());
  }
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) cluster_->DumpLogs(std::cerr);
  }

  // The master's view of one tablet server.
  absl::StatusOr<master::TServerEntryPB> Entry(const std::string& uuid) {
    auto list = cluster_->ListTabletServers();
    if (!list.ok()) return list.status();
    for (const auto& s : list->servers()) {
      if (s.registration().permanent_uuid() == uuid) return s;
    }
    return absl::NotFoundError(uuid);
  }
  bool IsLive(const std::string& uuid) {
    auto e = Entry(uuid);
    return e.ok() && e->live();
  }

  absl::StatusOr<master::CreateTableResponsePB> CreateTable(const std::string& name, int tablets,
                                                            int replicas) {
    const master::CreateTableRequestPB req = KeyValueTableRequest(name, "name", tablets, replicas);
    master::CreateTableResponsePB resp;
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, seconds(30));
    absl::Status s = server::FromGrpcStatus(cluster_->MasterStub()->CreateTable(&ctx, req, &resp));
    if (!s.ok()) return s;
    return resp;
  }

  absl::Status DeleteTable(const std::string& name) {
    master::DeleteTableRequestPB req;
    req.set_name(name);
    master::DeleteTableResponsePB resp;
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, seconds(10));
    return server::FromGrpcStatus(cluster_->MasterStub()->DeleteTable(&ctx, req, &resp));
  }

  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(ClusterTest, AllTabletServersRegisterAndShowLive) {
  StartCluster();
  auto list = cluster_->ListTabletServers();
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->servers_size(), 3);
  std::set<std::string> uuids;
  for (int i = 0; i < 3; ++i) {
    auto uuid = cluster_->TServerUuid(i);
    ASSERT_TRUE(uuid.ok()) << uuid.status();
    uuids.insert(*uuid);
    auto e = Entry(*uuid);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_TRUE(e->live());
    EXPECT_EQ(e->registration().rpc_address().port(),
              static_cast<uint32_t>(cluster_->tserver(i)->port()));
    EXPECT_FALSE(e->registration().version().empty());
  }
  EXPECT_EQ(uuids.size(), 3u);

  auto st = cluster_->GetStatus(cluster_->master());
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->server().role(), server::MASTER);
  EXPECT_EQ(st->server().uuid().size(), 32u);
  EXPECT_EQ(st->master().num_live_tablet_servers(), 3);
  EXPECT_TRUE(st->master().is_leader());
  EXPECT_EQ(st->server().rpc_address().port(),
            static_cast<uint32_t>(cluster_->master()->port()));
}

TEST_F(ClusterTest, KilledServerIsMarkedDeadAndComesBackWithTheSameUuid) {
  StartCluster();
  auto uuid = cluster_->TServerUuid(1);
  ASSERT_TRUE(uuid.ok());
  int port = cluster_->tserver(1)->port();
  ASSERT_OK(cluster_->tserver(1)->KillNine());
  ASSERT_OK(ExternalCluster::WaitFor([&] { return !IsLive(*uuid); }, seconds(20),
                                     "killed tablet server marked dead"));
  auto e = Entry(*uuid);
  ASSERT_TRUE(e.ok());
  EXPECT_GT(e->millis_since_heartbeat(), cluster_->options().tserver_unresponsive_timeout_ms);
  // The other two stay live.
  EXPECT_TRUE(IsLive(*cluster_->TServerUuid(0)));
  EXPECT_TRUE(IsLive(*cluster_->TServerUuid(2)));

  ASSERT_OK(cluster_->tserver(1)->Restart());
  EXPECT_EQ(cluster_->tserver(1)->port(), port);
  auto again = cluster_->TServerUuid(1);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, *uuid);
  ASSERT_OK(cluster_->WaitForLiveTServers(3, seconds(20)));
  auto list = cluster_->ListTabletServers();
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->servers_size(), 3);  // same server, not a fourth
}

TEST_F(ClusterTest, StoppedServerIsDeadUntilContinued) {
  StartCluster();
  auto uuid = cluster_->TServerUuid(0);
  ASSERT_TRUE(uuid.ok());
  ASSERT_OK(cluster_->tserver(0)->Stop());
  ASSERT_OK(ExternalCluster::WaitFor([&] { return !IsLive(*uuid); }, seconds(20),
                                     "stopped tablet server marked dead"));
  // Its status call times out rather than hanging the caller.
  EXPECT_FALSE(cluster_->GetStatus(cluster_->tserver(0), milliseconds(300)).ok());
  ASSERT_OK(cluster_->tserver(0)->Continue());
  ASSERT_OK(ExternalCluster::WaitFor([&] { return IsLive(*uuid); }, seconds(20),
                                     "continued tablet server live again"));
}

TEST_F(ClusterTest, CreateTablePutsReplicasOnEveryServerAndTheyReportThem) {
  StartCluster();
  auto created = CreateTable("orders", 4, 3);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->tablet_ids_size(), 4);
  std::set<std::string> tablet_ids(created->tablet_ids().begin(), created->tablet_ids().end());

  std::set<std::string> ts_uuids;
  for (int i = 0; i < 3; ++i) ts_uuids.insert(*cluster_->TServerUuid(i));
  for (int i = 0; i < 3; ++i) {
    auto st = cluster_->GetStatus(cluster_->tserver(i));
    ASSERT_TRUE(st.ok()) << st.status();
    EXPECT_EQ(st->server().role(), server::TABLET_SERVER);
    ASSERT_EQ(st->replicas_size(), 4) << "ts" << i;
    for (const auto& r : st->replicas()) {
      EXPECT_TRUE(tablet_ids.count(r.tablet_id())) << r.tablet_id();
      EXPECT_EQ(r.table_name(), "orders");
      EXPECT_EQ(r.data_state(), server::TABLET_DATA_READY);
      const auto& config = r.consensus_state().committed_config();
      ASSERT_EQ(config.peers_size(), 3);
      std::set<std::string> peers;
      for (const auto& p : config.peers()) {
        peers.insert(p.permanent_uuid());
        EXPECT_EQ(p.member_type(), consensus::RaftPeerPB::VOTER);
      }
      EXPECT_EQ(peers, ts_uuids);
      EXPECT_GT(r.on_disk_size_bytes(), 0);
    }
  }

  // The master reports the same through DescribeTable and heartbeats.
  master::DescribeTableRequestPB dreq;
  dreq.set_name("orders");
  ASSERT_OK(ExternalCluster::WaitFor(
      [&] {
        master::DescribeTableResponsePB d;
        grpc::ClientContext ctx;
        server::SetDeadline(&ctx, seconds(5));
        if (!cluster_->MasterStub()->DescribeTable(&ctx, dreq, &d).ok()) return false;
        if (d.tablets_size() != 4) return false;
        for (const auto& t : d.tablets()) {
          if (t.replicas_size() != 3) return false;
          for (const auto& r : t.replicas()) {
            if (!r.ts_live() || r.data_state() != server::TABLET_DATA_READY) return false;
          }
        }
        return true;
      },
      seconds(20), "every replica reported READY to the master"));

  // Names are unique.
  EXPECT_EQ(CreateTable("orders", 1, 1).status().code(), absl::StatusCode::kAlreadyExists);
  // RF above the live server count is refused.
  EXPECT_EQ(CreateTable("wide", 1, 5).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClusterTest, CatalogAndReplicasSurviveRestarts) {
  StartCluster();
  auto created = CreateTable("t", 2, 3);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_OK(cluster_->master()->Shutdown());  // SIGTERM: clean exit 0
  ASSERT_OK(cluster_->master()->Restart());
  ASSERT_OK(cluster_->tserver(2)->Restart());
  ASSERT_OK(cluster_->WaitForLiveTServers(3, seconds(20)));
  master::ListTablesResponsePB tables;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, seconds(5));
  ASSERT_TRUE(cluster_->MasterStub()
                  ->ListTables(&ctx, master::ListTablesRequestPB(), &tables)
                  .ok());
  ASSERT_EQ(tables.tables_size(), 1);
  EXPECT_EQ(tables.tables(0).num_tablets(), 2);
  auto st = cluster_->GetStatus(cluster_->tserver(2));
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->replicas_size(), 2);
  // The restarted master forgot every report; servers 0 and 1, which were
  // sending incremental reports to it, must send full ones again (issue 15).
  ASSERT_OK(ExternalCluster::WaitFor(
      [&] {
        master::ListTabletServersResponsePB ts;
        grpc::ClientContext c;
        server::SetDeadline(&c, seconds(5));
        if (!cluster_->MasterStub()
                 ->ListTabletServers(&c, master::ListTabletServersRequestPB(), &ts)
                 .ok() ||
            ts.servers_size() != 3) {
          return false;
        }
        for (const auto& e : ts.servers()) {
          if (e.num_reported_replicas() != 2) return false;
        }
        return true;
      },
      seconds(20), "every server's 2 replicas reported to the restarted master"));
}

TEST_F(ClusterTest, DeletedTableIsTombstonedOnItsServers) {
  StartCluster();
  ASSERT_TRUE(CreateTable("gone", 2, 3).ok());
  ASSERT_OK(DeleteTable("gone"));
  for (int i = 0; i < 3; ++i) {
    auto st = cluster_->GetStatus(cluster_->tserver(i));
    ASSERT_TRUE(st.ok());
    ASSERT_EQ(st->replicas_size(), 2);
    for (const auto& r : st->replicas()) {
      EXPECT_EQ(r.data_state(), server::TABLET_DATA_TOMBSTONED);
    }
  }
}

TEST_F(ClusterTest, TombstonesReplicasDeletedWhileTheServerWasDown) {
  StartCluster();
  ASSERT_TRUE(CreateTable("gone", 1, 3).ok());
  ASSERT_OK(cluster_->tserver(0)->KillNine());
  ASSERT_OK(DeleteTable("gone"));
  ASSERT_OK(cluster_->tserver(0)->Restart());
  // The master's heartbeat answer tells it to tombstone.
  ASSERT_OK(ExternalCluster::WaitFor(
      [&] {
        auto st = cluster_->GetStatus(cluster_->tserver(0));
        return st.ok() && st->replicas_size() == 1 &&
               st->replicas(0).data_state() == server::TABLET_DATA_TOMBSTONED;
      },
      seconds(20), "replica of the deleted table tombstoned after restart"));
}

TEST_F(ClusterTest, ServerDownDuringCreateTableGetsItsReplicaWhenBack) {
  ClusterOptions opts;
  opts.extra_master_flags = {"--tserver_rpc_timeout_ms=500"};
  // Long enough that the killed server is still "live" when CreateTable
  // places replicas right after the kill.
  opts.tserver_unresponsive_timeout_ms = 30000;
  StartCluster(opts);
  ASSERT_OK(cluster_->tserver(2)->KillNine());
  auto created = CreateTable("late", 2, 3);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_OK(cluster_->tserver(2)->Restart());
  // The master's monitor notices the reported replica set lacks the
  // tablets and sends CreateTablet again.
  ASSERT_OK(ExternalCluster::WaitFor(
      [&] {
        auto st = cluster_->GetStatus(cluster_->tserver(2));
        return st.ok() && st->replicas_size() == 2;
      },
      seconds(30), "restarted server hosts both replicas"));
}

TEST_F(ClusterTest, RaftMessagesReachTheConsensusService) {
  StartCluster({.num_tservers = 1});
  auto created = CreateTable("r", 1, 1);
  ASSERT_TRUE(created.ok()) << created.status();
  auto stub = tserver::ConsensusService::NewStub(
      server::NewChannel(cluster_->tserver(0)->address()));
  tserver::RaftMessageRequestPB req;
  auto* unknown = req.add_messages();
  unknown->set_tablet_id("ffffffffffffffffffffffffffffffff");
  unknown->set_type(consensus::RaftMessagePB::APPEND_REQUEST);
  tserver::RaftMessageResponsePB resp;
  {
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, seconds(5));
    ASSERT_TRUE(stub->RaftMessage(&ctx, req, &resp).ok());
    ASSERT_EQ(resp.unknown_tablet_message_indexes_size(), 1);
    EXPECT_EQ(resp.unknown_tablet_message_indexes(0), 0);
  }
  // A running replica's message is delivered to its Raft driver (which may
  // drop it as malformed: one lost message, not a failed batch).
  tserver::RaftMessageRequestPB hosted_req;
  auto* hosted = hosted_req.add_messages();
  hosted->set_tablet_id(created->tablet_ids(0));
  hosted->set_type(consensus::RaftMessagePB::APPEND_REQUEST);
  {
    tserver::RaftMessageResponsePB hosted_resp;
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, seconds(5));
    grpc::Status s = stub->RaftMessage(&ctx, hosted_req, &hosted_resp);
    EXPECT_TRUE(s.ok()) << s.error_code() << ": " << s.error_message();
    EXPECT_EQ(hosted_resp.unknown_tablet_message_indexes_size(), 0);
  }
  // A tombstoned replica is still hosted but runs no Raft: refused, saying
  // so (the sender's transport drops the batch), never "unknown".
  ASSERT_OK(DeleteTable("r"));
  tserver::RaftMessageResponsePB tombstoned_resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, seconds(5));
  grpc::Status s = stub->RaftMessage(&ctx, hosted_req, &tombstoned_resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_EQ(s.error_message(),
            "tablet " + created->tablet_ids(0) +
                " is hosted but not running Raft (state TABLET_DATA_TOMBSTONED)");
  EXPECT_EQ(tombstoned_resp.unknown_tablet_message_indexes_size(), 0);
}

TEST_F(ClusterTest, SecondServerOnTheSameDataDirIsRefused) {
  StartCluster({.num_tservers = 1});
  ServerProcess::RunResult r = cluster_->tserver(0)->RunSecondInstance();
  EXPECT_EQ(r.exit_status, 1) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find("lock"), std::string::npos) << r.stderr_text;
  EXPECT_NE(r.stderr_text.find(std::to_string(cluster_->tserver(0)->pid())), std::string::npos)
      << r.stderr_text;
  r = cluster_->master()->RunSecondInstance();
  EXPECT_EQ(r.exit_status, 1) << r.stderr_text;
  // The first server is unharmed.
  EXPECT_TRUE(cluster_->GetStatus(cluster_->tserver(0)).ok());
}

}  // namespace
}  // namespace kmend::testing
