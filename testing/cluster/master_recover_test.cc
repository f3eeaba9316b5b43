// Lost masters, real processes (issue 14).
//
// TwoOfThreeMastersLostThenReAdded: three masters, a table written; kill -9
// of the two masters that are not the catalog leader... or are: the
// survivor is a random one. With the catalog's majority gone no master
// serves CreateTable. `kmend master unsafe-change-config` (dry run first:
// nothing changes) forces the catalog onto the survivor, which then serves
// CreateTable; the time from the `--yes` command to the first successful
// CreateTable is printed (MASTER_FORCE_FIGURE). A second force is refused
// (the catalog is alive). The two lost masters get empty data directories
// and start again: they join as non-members, `kmend master add` makes each
// a voter (a master restarted on its old data would be refused). With all
// three voters, kill -9 of the survivor: another master takes over and
// serves every table, the old and the new: the re-added masters hold the
// whole catalog. ksck is healthy with the three masters back.
//
// DroppedMastersBackOnTheirOldDataRefuseToRun: with every master alive
// unsafe-change-config refuses (even --force); after two are lost and the
// catalog is forced onto the survivor, both lost masters restarted together
// on their old data (a majority of their old config) find themselves dropped
// by the survivor's newer config and exit; the survivor keeps serving.
//
// OneOfThreeLostWithItsDataIsRemovedAndReplaced: with two of three masters
// running, unsafe-change-config is refused; `kmend master remove` refuses a
// master that answers; once it is dead it is removed, and a new empty
// master at its address is added.
//
// AllMastersDataLostRebuiltFromTheTabletServers: one master, its data
// directory deleted; `kmend master rebuild` (dry run, then --yes) writes a
// catalog from the three tablet servers; the master restarted on it sees
// every tablet server heartbeat in unchanged, ksck is HEALTHY, every table
// scans back fully, a deleted table stays deleted, new tables work.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"
#include "lib/audit/audit_log.h"
#include "nlohmann/json.hpp"
#include "proto/master.pb.h"
#include "proto/status.pb.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

class MasterRecoverTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && cluster_) cluster_->DumpLogs(std::cerr);
  }

  ToolResult Kmend(const std::string& args) { return RunKmend(args, cluster_->base_dir()); }
  ToolResult WithMasters(const std::string& args) {
    return Kmend(absl::StrCat(args, " --masters ", cluster_->master_addresses()));
  }
  ToolResult UntilOk(const std::string& args, seconds wait = seconds(30)) {
    ToolResult r;
    absl::Status s = ExternalCluster::WaitFor(
        [&] {
          r = WithMasters(args);
          return r.exit_code == 0;
        },
        wait, absl::StrCat("kmend ", args));
    EXPECT_TRUE(s.ok()) << s << "\n" << r.out << r.err;
    return r;
  }

  std::vector<std::string> CatalogVoters(int i) {
    std::vector<std::string> out;
    auto st = cluster_->GetStatus(cluster_->master(i), seconds(2));
    if (!st.ok()) return out;
    for (const auto& p : st->master().catalog_consensus_state().committed_config().peers()) {
      if (p.member_type() == consensus::RaftPeerPB::VOTER) out.push_back(p.permanent_uuid());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(MasterRecoverTest, TwoOfThreeMastersLostThenReAdded) {
  cluster_ = std::make_unique<ExternalCluster>(ClusterOptions{.num_masters = 3});
  ASSERT_TRUE(cluster_->Start().ok());
  ASSERT_TRUE(WaitForLeaderMaster(*cluster_).ok());
  UntilOk("table create before --schema 'id:int64:key,v:string' --tablets 2 --replicas 3");
  UntilOk("write before --rows 200");

  // Keep master 0; lose the other two, whichever leads.
  const int survivor = 0;
  auto survivor_status = cluster_->GetStatus(cluster_->master(survivor));
  ASSERT_TRUE(survivor_status.ok());
  const std::string survivor_uuid = survivor_status->server().uuid();
  ASSERT_TRUE(cluster_->master(1)->KillNine().ok());
  ASSERT_TRUE(cluster_->master(2)->KillNine().ok());
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] { return !cluster_->LeaderMasterIndex(milliseconds(500)).ok(); },
                  seconds(10), "the survivor to stop serving the catalog")
                  .ok());
  EXPECT_NE(WithMasters("table create nope --schema 'id:int64:key' --replicas 1").exit_code, 0);

  // Dry run: the plan names the survivor, changes nothing.
  ToolResult r = WithMasters("master unsafe-change-config --format=json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json plan = nlohmann::json::parse(r.out);
  EXPECT_EQ(plan["schema"], "kmend.master.unsafe_change_config/1");
  EXPECT_EQ(plan["survivor"]["uuid"], survivor_uuid);
  EXPECT_EQ(plan["forced_voters"], nlohmann::json::array({survivor_uuid}));
  EXPECT_EQ(plan["dropped"].size(), 2u);
  EXPECT_EQ(plan["applied"], false);
  EXPECT_EQ(CatalogVoters(survivor).size(), 3u);

  // Force, and time it to the first CreateTable that succeeds.
  const auto forced_at = Clock::now();
  r = WithMasters(absl::StrCat("master unsafe-change-config --yes --backup_dir ",
                               cluster_->base_dir(), "/backup"));
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("forced the sys catalog"), std::string::npos) << r.out;
  ToolResult created;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    created = WithMasters(
                        "table create after --schema 'id:int64:key,v:string' --tablets 2 "
                        "--replicas 3");
                    return created.exit_code == 0;
                  },
                  seconds(20), "CreateTable after the force")
                  .ok())
      << created.out << created.err;
  const auto ms =
      std::chrono::duration_cast<milliseconds>(Clock::now() - forced_at).count();
  double load = 0;
  getloadavg(&load, 1);
  std::cout << "MASTER_FORCE_FIGURE force_to_create_table_ms=" << ms << " load1=" << load
            << std::endl;
  EXPECT_EQ(CatalogVoters(survivor), std::vector<std::string>({survivor_uuid}));
  // The force is in the survivor's audit log.
  auto audit = audit::ReadAudit(cluster_->master(survivor)->fs_root());
  ASSERT_TRUE(audit.ok()) << audit.status();
  std::vector<audit::AuditRecord> forces;
  for (const auto& r : *audit) {
    if (r.action == "unsafe_change_config" && r.outcome == "OK") forces.push_back(r);
  }
  ASSERT_EQ(forces.size(), 1u);
  EXPECT_EQ(forces[0].caller, "kmend master unsafe-change-config");
  EXPECT_NE(forces[0].detail.find("forced catalog voters"), std::string::npos) << forces[0].detail;
  // The catalog is alive now: a second force is refused.
  r = WithMasters("master unsafe-change-config --yes");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  UntilOk("write after --rows 100");
  r = UntilOk("scan before --count");
  EXPECT_EQ(r.out, "200\n");

  // Re-add the lost masters on empty data directories.
  for (int i : {1, 2}) {
    std::error_code ec;
    std::filesystem::remove_all(cluster_->master(i)->fs_root(), ec);
    ASSERT_FALSE(ec) << ec.message();
    ASSERT_TRUE(cluster_->master(i)->Restart().ok()) << cluster_->master(i)->LogTail();
    const std::string address = cluster_->master(i)->address();
    r = Kmend(absl::StrCat("master add --masters ", cluster_->master(survivor)->address(), " ",
                           address, " --format=json"));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out)["step"], "add_and_promote") << r.out;
    r = Kmend(absl::StrCat("master add --masters ", cluster_->master(survivor)->address(), " ",
                           address, " --yes"));
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("promoted"), std::string::npos) << r.out;
    // Idempotent.
    r = Kmend(absl::StrCat("master add --masters ", cluster_->master(survivor)->address(), " ",
                           address, " --yes"));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("nothing to do"), std::string::npos) << r.out;
  }
  EXPECT_EQ(CatalogVoters(survivor).size(), 3u);
  EXPECT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    return CatalogVoters(1) == CatalogVoters(survivor) &&
                           CatalogVoters(2) == CatalogVoters(survivor);
                  },
                  seconds(10), "the re-added masters to see the three-voter config")
                  .ok());
  UntilOk("ksck");

  // The re-added masters hold the catalog: lose the survivor, the others serve.
  ASSERT_TRUE(cluster_->master(survivor)->KillNine().ok());
  UntilOk("table create third --schema 'id:int64:key,v:string' --tablets 1 --replicas 3");
  r = UntilOk("table list");
  for (const char* t : {"before", "after", "third"}) {
    EXPECT_NE(r.out.find(t), std::string::npos) << r.out;
  }
  r = UntilOk("scan before --count");
  EXPECT_EQ(r.out, "200\n");
  r = UntilOk("scan after --count");
  EXPECT_EQ(r.out, "100\n");
}

TEST_F(MasterRecoverTest, DroppedMastersBackOnTheirOldDataRefuseToRun) {
  cluster_ = std::make_unique<ExternalCluster>(ClusterOptions{.num_masters = 3, .num_tservers = 1});
  ASSERT_TRUE(cluster_->Start().ok());
  ASSERT_TRUE(WaitForLeaderMaster(*cluster_).ok());
  // Everything alive: every master would be kept, nothing to force.
  ToolResult r = WithMasters("master unsafe-change-config --yes --format=json");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["refused"], true);
  EXPECT_NE(doc["reason"].get<std::string>().find("nothing to force"), std::string::npos) << r.out;
  EXPECT_EQ(doc["applied"], false);
  // --force does not change that: a live catalog is never forced by choice.
  EXPECT_EQ(WithMasters("master unsafe-change-config --yes --force").exit_code, 2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(CatalogVoters(i).size(), 3u);

  ASSERT_TRUE(cluster_->master(1)->KillNine().ok());
  ASSERT_TRUE(cluster_->master(2)->KillNine().ok());
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] { return !cluster_->LeaderMasterIndex(milliseconds(500)).ok(); },
                  seconds(10), "no serving master")
                  .ok());
  r = WithMasters("master unsafe-change-config --yes");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(WaitForLeaderMaster(*cluster_).ok());
  UntilOk("table create after --schema 'id:int64:key,v:string' --tablets 1 --replicas 1");
  // Both dropped masters return on their old data at once (a rack's power
  // back, init restarting them): together they are a majority of their old
  // config and could elect a leader of the stale catalog. Each asks the
  // survivor first, finds itself dropped by a newer (forced) config, and
  // refuses to run.
  ASSERT_TRUE(cluster_->master(1)->Restart().ok()) << cluster_->master(1)->LogTail();
  ASSERT_TRUE(cluster_->master(2)->Restart().ok()) << cluster_->master(2)->LogTail();
  for (int i : {1, 2}) {
    absl::StatusOr<int> exit_status = cluster_->master(i)->WaitForExit(seconds(20));
    ASSERT_TRUE(exit_status.ok()) << exit_status.status() << "\n" << cluster_->master(i)->LogTail();
    EXPECT_NE(*exit_status, 0);
    EXPECT_NE(cluster_->master(i)->LogTail().find("was dropped from the sys catalog"),
              std::string::npos)
        << cluster_->master(i)->LogTail();
  }
  // The survivor still leads its forced config and serves the table made
  // after the force, and new ones.
  EXPECT_EQ(CatalogVoters(0).size(), 1u);
  EXPECT_EQ(Kmend(absl::StrCat("table describe after --masters ", cluster_->master(0)->address()))
                .exit_code,
            0);
  EXPECT_EQ(Kmend(absl::StrCat("table create later --schema 'id:int64:key,v:string' --tablets 1 "
                               "--replicas 1 --masters ",
                               cluster_->master(0)->address()))
                .exit_code,
            0);
  EXPECT_EQ(CatalogVoters(0).size(), 1u);
}

TEST_F(MasterRecoverTest, OneOfThreeLostWithItsDataIsRemovedAndReplaced) {
  cluster_ = std::make_unique<ExternalCluster>(ClusterOptions{.num_masters = 3, .num_tservers = 1});
  ASSERT_TRUE(cluster_->Start().ok());
  ASSERT_TRUE(WaitForLeaderMaster(*cluster_).ok());
  // Lose a follower (the leader cannot be removed by this tool).
  auto leader = cluster_->LeaderMasterIndex();
  ASSERT_TRUE(leader.ok());
  const int lost = (*leader + 1) % 3;
  auto st = cluster_->GetStatus(cluster_->master(lost));
  ASSERT_TRUE(st.ok());
  const std::string lost_uuid = st->server().uuid();
  ToolResult r = WithMasters("master remove " + lost_uuid + " --yes");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;  // it answers
  EXPECT_NE(r.err.find("answers"), std::string::npos) << r.err;

  ASSERT_TRUE(cluster_->master(lost)->KillNine().ok());
  // Two of three run: forcing is refused by the safety judgement.
  r = WithMasters("master unsafe-change-config --yes --format=json");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["safety"], "refused") << r.out;
  r = UntilOk("master remove " + lost_uuid + " --yes");
  EXPECT_NE(r.out.find("removed master"), std::string::npos) << r.out;
  auto now_leader = WaitForLeaderMaster(*cluster_);
  ASSERT_TRUE(now_leader.ok());
  EXPECT_EQ(CatalogVoters(*now_leader).size(), 2u);
  // A re-run (as after a remove whose answer was lost) changes nothing and
  // succeeds.
  r = WithMasters("master remove " + lost_uuid + " --yes --format=json");
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["step"], "nothing") << r.out;
  EXPECT_EQ(nlohmann::json::parse(r.out)["applied"], false) << r.out;

  std::error_code ec;
  std::filesystem::remove_all(cluster_->master(lost)->fs_root(), ec);
  ASSERT_TRUE(cluster_->master(lost)->Restart().ok()) << cluster_->master(lost)->LogTail();
  r = UntilOk("master add " + cluster_->master(lost)->address() + " --yes");
  EXPECT_NE(r.out.find("promoted"), std::string::npos) << r.out;
  EXPECT_EQ(CatalogVoters(*now_leader).size(), 3u);
  // The new master learns that its promotion committed with the next
  // heartbeat from the leader.
  EXPECT_TRUE(ExternalCluster::WaitFor(
                  [&] { return CatalogVoters(lost) == CatalogVoters(*now_leader); }, seconds(10),
                  "the new master to see the three-voter config")
                  .ok());
  UntilOk("table create t --schema 'id:int64:key,v:string' --tablets 1 --replicas 1");
  UntilOk("ksck");
}

TEST_F(MasterRecoverTest, AllMastersDataLostRebuiltFromTheTabletServers) {
  cluster_ = std::make_unique<ExternalCluster>(ClusterOptions{.num_tservers = 3});
  ASSERT_TRUE(cluster_->Start().ok());
  UntilOk("table create three --schema 'id:int64:key,v:string' --tablets 3 --replicas 3");
  UntilOk("table create one --schema 'id:int64:key,v:string' --tablets 2 --replicas 1");
  UntilOk("write three --rows 300");
  UntilOk("write one --rows 50");
  UntilOk("table create gone --schema 'id:int64:key' --tablets 1 --replicas 1");
  UntilOk("table delete gone");
  // Its replica is tombstoned (a READY one would bring the table back).
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    for (int i = 0; i < cluster_->num_tservers(); ++i) {
                      auto st = cluster_->GetStatus(cluster_->tserver(i));
                      if (!st.ok()) return false;
                      for (const auto& rep : st->replicas()) {
                        if (rep.table_name() == "gone" &&
                            rep.data_state() == server::TABLET_DATA_READY) {
                          return false;
                        }
                      }
                    }
                    return true;
                  },
                  seconds(20), "the deleted table's replica tombstoned")
                  .ok());

  std::vector<std::string> tservers;
  for (int i = 0; i < cluster_->num_tservers(); ++i) {
    tservers.push_back(cluster_->tserver(i)->address());
  }
  const std::string args =
      absl::StrCat("master rebuild --fs_root ", cluster_->master()->fs_root(), " --tservers ",
                   absl::StrJoin(tservers, ","), " --masters ", cluster_->master_addresses());
  // While the master answers, a rebuilt catalog would be a second one:
  // refused, naming it, even as a dry run into another directory.
  {
    ToolResult refused = Kmend(absl::StrCat(
        "master rebuild --fs_root ", cluster_->base_dir(), "/elsewhere --tservers ",
        absl::StrJoin(tservers, ","), " --masters ", cluster_->master_addresses(),
        " --format=json"));
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    nlohmann::json doc = nlohmann::json::parse(refused.out);
    EXPECT_EQ(doc["refused"], true) << refused.out;
    EXPECT_NE(doc["reason"].get<std::string>().find("still answer"), std::string::npos);
    EXPECT_EQ(doc["running_masters"].size(), 1u) << refused.out;
  }

  ASSERT_TRUE(cluster_->master()->KillNine().ok());
  std::error_code ec;
  std::filesystem::remove_all(cluster_->master()->fs_root(), ec);
  ASSERT_FALSE(ec);
  // Dry run: names both tables, writes nothing.
  ToolResult r = Kmend(args + " --format=json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["schema"], "kmend.master.rebuild/1");
  ASSERT_EQ(doc["tables"].size(), 2u) << r.out;
  EXPECT_TRUE(doc["lost"].empty()) << r.out;
  EXPECT_FALSE(std::filesystem::exists(cluster_->master()->fs_root() + "/master-catalog"));
  r = Kmend(args + " --yes");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // Written once only.
  EXPECT_EQ(Kmend(args + " --yes").exit_code, 2);

  ASSERT_TRUE(cluster_->master()->Restart().ok()) << cluster_->master()->LogTail();
  ASSERT_TRUE(cluster_->WaitForLiveTServers(3, seconds(20)).ok());
  r = UntilOk("ksck");
  EXPECT_NE(r.out.find("HEALTHY"), std::string::npos) << r.out;
  r = UntilOk("table list");
  EXPECT_NE(r.out.find("three"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("gone"), std::string::npos) << r.out;
  r = UntilOk("scan three --count");
  EXPECT_EQ(r.out, "300\n");
  r = UntilOk("scan one --count");
  EXPECT_EQ(r.out, "50\n");
  // The rebuilt master takes new tables and writes.
  UntilOk("table create after --schema 'id:int64:key,v:string' --tablets 2 --replicas 3");
  UntilOk("write after --rows 20");
  r = UntilOk("scan after --count");
  EXPECT_EQ(r.out, "20\n");
}

}  // namespace
}  // namespace kmend::testing
