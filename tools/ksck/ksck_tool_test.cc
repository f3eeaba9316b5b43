// `kmend ksck` as an operator runs it: the real binary against real
// kmend-server processes (testing/cluster), checking exit codes, the plain
// verdict and the JSON document.
#include <algorithm>
#include <functional>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "nlohmann/json.hpp"
#include "proto/tserver.grpc.pb.h"
#include "proto/write_ops.pb.h"
#include "lib/rpc/grpc_util.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

using ::testing::HasSubstr;

class KsckToolTest : public ::testing::Test {
 protected:
  void StartCluster(int tservers) {
    ClusterOptions opt;
    opt.num_tservers = tservers;
    cluster_ = std::make_unique<ExternalCluster>(opt);
    absl::Status s = cluster_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  void TearDown() override {
    if (HasFailure() && cluster_) cluster_->DumpLogs(std::cerr);
  }

  ToolResult Ksck(const std::string& args = "") {
    return RunKmend(
        absl::StrCat("ksck --masters ", cluster_->master_address(), " --timeout 2s ", args),
        cluster_->base_dir());
  }

  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(KsckToolTest, EmptyHealthyClusterExitsZero) {
  StartCluster(3);
  ToolResult r = Ksck();
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("\nOK\n"));
  r = Ksck("--format=json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["schema_version"], 1);
  EXPECT_EQ(j["ok"], true);
  EXPECT_EQ(j["tablet_servers"].size(), 3u);
  EXPECT_EQ(j["masters"][0]["reachable"], true);
}

TEST_F(KsckToolTest, DeadTabletServerIsReportedAndExitsOne) {
  StartCluster(3);
  ASSERT_TRUE(cluster_->tserver(1)->KillNine().ok());
  ASSERT_TRUE(cluster_->WaitForLiveTServers(2, std::chrono::seconds(15)).ok());
  ToolResult r = Ksck("--format=json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  int dead = 0;
  for (const auto& ts : j["tablet_servers"]) dead += ts["state"] == "DEAD" ? 1 : 0;
  EXPECT_EQ(dead, 1);
  EXPECT_EQ(j["ok"], false);
}

TEST_F(KsckToolTest, MasterDownExitsTwoWithAClearMessage) {
  StartCluster(1);
  std::string address = cluster_->master_address();
  ASSERT_TRUE(cluster_->master()->KillNine().ok());
  ToolResult r =
      RunKmend(absl::StrCat("ksck --masters ", address, " --timeout 1s"), cluster_->base_dir());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("no master reachable"));
  EXPECT_THAT(r.err, HasSubstr(address));
}

// The tests below create table "t" (3 tablets, RF 3) with `kmend table`, and
// wait for Raft to elect leaders.
class KsckTableTest : public KsckToolTest {
 protected:
  void SetUp() override {
    StartCluster(3);
    ToolResult r = RunKmend(absl::StrCat("table create t --schema 'id:int64:key,name:string' "
                                         "--tablets 3 --replicas 3 --masters ",
                                         cluster_->master_address()),
                            cluster_->base_dir());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_TRUE(WaitForJson([](const nlohmann::json& j) { return j["ok"] == true; },
                            "ksck healthy after table creation"));
  }

  // Polls `ksck --format=json` until `done` holds; keeps the last document.
  bool WaitForJson(const std::function<bool(const nlohmann::json&)>& done, const std::string& what,
                   const std::string& extra_args = "") {
    absl::Status s = ExternalCluster::WaitFor(
        [&] {
          ToolResult r = Ksck("--format=json " + extra_args);
          if (r.exit_code != 0 && r.exit_code != 1) return false;
          last_ = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
          last_exit_ = r.exit_code;
          return !last_.is_discarded() && done(last_);
        },
        std::chrono::seconds(40), what);
    if (!s.ok()) ADD_FAILURE() << s << "\nlast document: " << last_.dump(2);
    return s.ok();
  }

  static bool AllTablets(const nlohmann::json& j, const std::string& health) {
    if (j["tablets"].size() != 3) return false;
    for (const auto& t : j["tablets"]) {
      if (t["health"] != health) return false;
    }
    return true;
  }

  // Writes `n` rows into tablet `tablet_id` through its leader at `address`.
  void WriteRows(const std::string& tablet_id, const std::string& address, int first, int n) {
    auto stub = tserver::TabletServerService::NewStub(rpc::NewChannel(address));
    tserver::WriteRequestPB req;
    req.set_tablet_id(tablet_id);
    for (int i = first; i < first + n; ++i) {
      RowOpPB* op = req.mutable_ops()->add_ops();
      op->set_type(RowOpPB::INSERT);
      op->add_cells()->set_int64_value(i);
      op->add_cells()->set_string_value(absl::StrCat("row ", i));
    }
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, std::chrono::seconds(15));
    tserver::WriteResponsePB resp;
    grpc::Status s = stub->Write(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.rows_applied(), n);
  }

  nlohmann::json last_;
  int last_exit_ = -1;
};

TEST_F(KsckTableTest, HealthyTableExitsZero) {
  EXPECT_EQ(last_exit_, 0);
  EXPECT_TRUE(AllTablets(last_, "HEALTHY"));
  for (const auto& t : last_["tablets"]) {
    int leaders = 0;
    for (const auto& r : t["replicas"]) leaders += r["role"] == "LEADER" ? 1 : 0;
    EXPECT_EQ(leaders, 1) << t.dump(2);
  }
  ToolResult r = Ksck();
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("\nOK\n"));
}

// Issue 15: the per-table DescribeTable calls run in parallel; each table
// keeps its own tablets, in the master's order.
TEST_F(KsckTableTest, EveryTableIsDescribedWithItsOwnTablets) {
  ToolResult r = RunKmend(absl::StrCat("table create u --schema 'id:int64:key' "
                                       "--tablets 2 --replicas 3 --masters ",
                                       cluster_->master_address()),
                          cluster_->base_dir());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(WaitForJson(
      [](const nlohmann::json& j) { return j["ok"] == true && j["tablets"].size() == 5; },
      "ksck healthy with both tables"));
  ASSERT_EQ(last_["tables"].size(), 2u) << last_["tables"].dump(2);
  EXPECT_EQ(last_["tables"][0]["name"], "t");
  EXPECT_EQ(last_["tables"][0]["tablets"], 3);
  EXPECT_EQ(last_["tables"][1]["name"], "u");
  EXPECT_EQ(last_["tables"][1]["tablets"], 2);
}

TEST_F(KsckTableTest, OneServerDownIsUnderReplicated) {
  ASSERT_TRUE(cluster_->tserver(2)->KillNine().ok());
  ASSERT_TRUE(WaitForJson([](const nlohmann::json& j) { return AllTablets(j, "UNDER_REPLICATED"); },
                          "every tablet UNDER_REPLICATED"));
  EXPECT_EQ(last_exit_, 1);
  EXPECT_EQ(last_["tables"][0]["health"], "UNDER_REPLICATED");
}

TEST_F(KsckTableTest, TwoOfThreeDownIsUnavailableAndTheSuggestedForceWorks) {
  absl::StatusOr<std::string> survivor = cluster_->TServerUuid(0);
  ASSERT_TRUE(survivor.ok()) << survivor.status();
  ASSERT_TRUE(cluster_->tserver(1)->KillNine().ok());
  ASSERT_TRUE(cluster_->tserver(2)->KillNine().ok());
  ASSERT_TRUE(WaitForJson([](const nlohmann::json& j) { return AllTablets(j, "UNAVAILABLE"); },
                          "every tablet UNAVAILABLE"));
  EXPECT_EQ(last_exit_, 1);
  for (const auto& t : last_["tablets"]) {
    ASSERT_EQ(t["fixes"].size(), 1u) << t.dump(2);
    std::string cmd = t["fixes"][0]["command"];
    EXPECT_THAT(cmd,
                HasSubstr("unsafe-change-config --tserver " + cluster_->tserver(0)->address()));
    EXPECT_THAT(cmd, HasSubstr("--voters " + *survivor));
  }
  ToolResult plain = Ksck();
  EXPECT_THAT(plain.out, HasSubstr("fix: kmend unsafe-change-config"));

  // Do what ksck says, with the very command it printed: first without
  // --yes (a dry run that changes nothing), then as printed.
  for (const auto& t : last_["tablets"]) {
    std::string cmd = t["fixes"][0]["command"];
    ASSERT_EQ(cmd.rfind("kmend ", 0), 0u) << cmd;
    std::string args = cmd.substr(6) + " --backup-dir " + cluster_->base_dir() + "/backups";
    std::string dry = args.substr(0, args.find(" --yes")) + args.substr(args.find(" --yes") + 6);
    ToolResult plan = RunKmend(dry, cluster_->base_dir());
    ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
    EXPECT_THAT(plan.out, HasSubstr("DRY RUN"));
    ToolResult done = RunKmend(args, cluster_->base_dir());
    ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
    EXPECT_THAT(done.out, HasSubstr("previous consensus state saved in"));
  }
  absl::StatusOr<std::vector<std::string>> backups = io::ListDir(cluster_->base_dir() + "/backups");
  ASSERT_TRUE(backups.ok()) << backups.status();
  EXPECT_EQ(backups->size(), 3u);
  // Writable again, and no longer unavailable: one voter of an RF-3 table is
  // under-replicated (the master's view follows the new committed config).
  ASSERT_TRUE(WaitForJson(
      [](const nlohmann::json& j) {
        for (const auto& t : j["tablets"]) {
          if (t["health"] == "UNAVAILABLE") return false;
        }
        return j["tablets"].size() == 3;
      },
      "tablets led by the survivor after the forced config"));
  for (const auto& t : last_["tablets"]) {
    WriteRows(t["tablet_id"], cluster_->tserver(0)->address(), 0, 10);
  }
}

TEST_F(KsckTableTest, DivergedConfigOnDiskIsConsensusMismatch) {
  // Rewrite server 2's consensus metadata offline (kmend cmeta create
  // --force) so that its replicas believe in a config without server 1.
  absl::StatusOr<std::string> ts0 = cluster_->TServerUuid(0), ts2 = cluster_->TServerUuid(2);
  ASSERT_TRUE(ts0.ok() && ts2.ok());
  nlohmann::json healthy = last_;
  ASSERT_TRUE(cluster_->tserver(2)->Shutdown().ok());
  for (const auto& t : healthy["tablets"]) {
    int64_t term = 0;
    for (const auto& r : t["replicas"]) term = std::max<int64_t>(term, r["term"].get<int64_t>());
    ToolResult r =
        RunKmend(absl::StrCat("cmeta create ", cluster_->tserver(2)->fs_root(), " --tablet ",
                              t["tablet_id"].get<std::string>(), " --term ", term,
                              " --force --peers ", *ts2, "@", cluster_->tserver(2)->address(), ",",
                              *ts0, "@", cluster_->tserver(0)->address()),
                 cluster_->base_dir());
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  }
  ASSERT_TRUE(cluster_->tserver(2)->Restart().ok());
  ASSERT_TRUE(
      WaitForJson([](const nlohmann::json& j) { return AllTablets(j, "CONSENSUS_MISMATCH"); },
                  "every tablet CONSENSUS_MISMATCH"));
  EXPECT_EQ(last_exit_, 1);
  for (const auto& t : last_["tablets"]) {
    EXPECT_THAT(t["reason"].get<std::string>(), HasSubstr(*ts2));
    ASSERT_EQ(t["fixes"].size(), 1u) << t.dump(2);
    EXPECT_THAT(t["fixes"][0]["command"].get<std::string>(),
                HasSubstr("rebuild-replica --tserver " + cluster_->tserver(2)->address()));
  }
}

TEST_F(KsckTableTest, ChecksumScanMatchesOnReplicatedRows) {
  for (const auto& t : last_["tablets"]) {
    std::string leader;
    for (const auto& r : t["replicas"]) {
      if (r["role"] == "LEADER") leader = r["ts_address"];
    }
    ASSERT_FALSE(leader.empty());
    WriteRows(t["tablet_id"], leader, 0, 100);
  }
  ASSERT_TRUE(WaitForJson(
      [](const nlohmann::json& j) {
        if (j["ok"] != true || j["checksums"].size() != 3) return false;
        for (const auto& c : j["checksums"]) {
          if (c["result"] != "MATCH") return false;
        }
        return true;
      },
      "checksums match", "--checksum-scan"));
  EXPECT_EQ(last_exit_, 0);
  for (const auto& c : last_["checksums"]) {
    EXPECT_EQ(c["result"], "MATCH") << c.dump(2);
    for (const auto& [uuid, rep] : c["replicas"].items()) EXPECT_EQ(rep["row_count"], 100);
  }
}

TEST_F(KsckToolTest, BadFlagsExitTwo) {
  StartCluster(1);
  EXPECT_EQ(Ksck("--sections bogus").exit_code, 2);
  EXPECT_EQ(Ksck("--timeout -3s").exit_code, 2);
  EXPECT_EQ(RunKmend("ksck", cluster_->base_dir()).exit_code, 2);  // --masters is required
}

}  // namespace
}  // namespace kmend::testing
