// `kmend ksck` as an operator runs it: the real binary against real
// kmend-server processes (testing/cluster), checking exit codes, the plain
// verdict and the JSON document.
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
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
    return RunKmend(absl::StrCat("ksck --masters ", cluster_->master_address(), " --timeout 2s ",
                                 args),
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
  cluster_->tserver(1)->KillNine();
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
  cluster_->master()->KillNine();
  ToolResult r = RunKmend(absl::StrCat("ksck --masters ", address, " --timeout 1s"),
                          cluster_->base_dir());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("no master reachable"));
  EXPECT_THAT(r.err, HasSubstr(address));
}

TEST_F(KsckToolTest, BadFlagsExitTwo) {
  StartCluster(1);
  EXPECT_EQ(Ksck("--sections bogus").exit_code, 2);
  EXPECT_EQ(Ksck("--timeout -3s").exit_code, 2);
  EXPECT_EQ(RunKmend("ksck", cluster_->base_dir()).exit_code, 2);  // --masters is required
}

}  // namespace
}  // namespace kmend::testing
