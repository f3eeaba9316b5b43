// `kmend table ...` as a user runs it: the real binaries against a real
// cluster (testing/cluster).
#include <iostream>
#include <set>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "nlohmann/json.hpp"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

class TableToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<ExternalCluster>();
    absl::Status s = cluster_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  void TearDown() override {
    if (HasFailure()) cluster_->DumpLogs(std::cerr);
  }

  // Runs `kmend table <args>` (through the front command) with
  // --masters pointing at the cluster unless `masters` is given.
  ToolResult Run(const std::string& args, const std::string& masters = "") {
    return RunKmend(absl::StrCat("table ", args, " --masters ",
                                 masters.empty() ? cluster_->master_address() : masters),
                    cluster_->base_dir());
  }

  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(TableToolTest, CreateListDescribeDelete) {
  ToolResult r = Run("create orders --schema 'id:int64:key,name:string,v:double' "
                     "--tablets 4 --replicas 3 --format=json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto created = nlohmann::json::parse(r.out);
  EXPECT_EQ(created["schema_version"], 1);
  EXPECT_EQ(created["created"]["tablet_ids"].size(), 4u);

  r = Run("list");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("orders"), std::string::npos) << r.out;

  r = Run("list --format=json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto listed = nlohmann::json::parse(r.out);
  ASSERT_EQ(listed["tables"].size(), 1u);
  EXPECT_EQ(listed["tables"][0]["name"], "orders");
  EXPECT_EQ(listed["tables"][0]["num_tablets"], 4);
  EXPECT_EQ(listed["tables"][0]["columns"].size(), 3u);

  // Wait until every replica has been reported READY in a heartbeat.
  nlohmann::json described;
  absl::Status s = ExternalCluster::WaitFor(
      [&] {
        ToolResult d = Run("describe orders --format=json");
        if (d.exit_code != 0) return false;
        described = nlohmann::json::parse(d.out);
        for (const auto& t : described["table"]["tablets"]) {
          for (const auto& rep : t["replicas"]) {
            if (rep["data_state"] != "READY" || rep["live"] != true) return false;
          }
        }
        return true;
      },
      std::chrono::seconds(20), "describe shows every replica READY");
  ASSERT_TRUE(s.ok()) << s;
  const auto& tablets = described["table"]["tablets"];
  ASSERT_EQ(tablets.size(), 4u);
  std::set<int> buckets;
  for (const auto& t : tablets) {
    buckets.insert(t["hash_bucket"].get<int>());
    ASSERT_EQ(t["replicas"].size(), 3u);
    std::set<std::string> servers;
    for (const auto& rep : t["replicas"]) servers.insert(rep["ts_uuid"].get<std::string>());
    EXPECT_EQ(servers.size(), 3u);
  }
  EXPECT_EQ(buckets, (std::set<int>{0, 1, 2, 3}));

  r = Run("describe orders");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("schema:   id:int64:key,name:string,v:double"), std::string::npos)
      << r.out;

  r = Run("delete orders");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Run("list --format=json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["tables"].size(), 0u);
}

TEST_F(TableToolTest, ErrorsExitTwoWithAMessage) {
  ToolResult r = Run("create t --schema 'id:int64:key,v:float'");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("type 'float'"), std::string::npos) << r.err;

  r = Run("create t --schema 'v:double,id:int64:key'");  // key not first: the master refuses
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("schema"), std::string::npos) << r.err;

  r = Run("describe nosuch");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;

  r = Run("create t --schema 'id:int64:key' --replicas 5");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("live tablet servers"), std::string::npos) << r.err;

  r = Run("create t --schema 'id:int64:key' --tablets 0");
  EXPECT_EQ(r.exit_code, 2);

  // A master that is not there: a clear message, not a hang.
  r = Run("list --timeout_ms 500", "127.0.0.1:1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("no master reachable"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace kmend::testing
