// `kmend write` and `kmend scan` as a user runs them, against a real
// three-server cluster (testing/cluster): generated rows scan back with the
// expected values; upsert overwrites, delete removes, duplicate inserts are
// row errors (exit 1); and with the leader of a tablet killed (-9) during a
// write, every row the tool reported acknowledged is there afterwards.

#include <iostream>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "nlohmann/json.hpp"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

class WriteScanToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<ExternalCluster>();
    absl::Status s = cluster_->Start();
    ASSERT_TRUE(s.ok()) << s;
  }
  void TearDown() override {
    if (HasFailure()) cluster_->DumpLogs(std::cerr);
  }

  // `kmend <args> --masters <cluster>`, output captured under `scratch`
  // (a sub-directory of the cluster's base directory, one per thread).
  ToolResult Run(const std::string& args, const std::string& scratch = "main") {
    std::string dir = io::JoinPath(cluster_->base_dir(), scratch);
    EXPECT_TRUE(io::CreateDirs(dir).ok());
    return RunKmend(absl::StrCat(args, " --masters ", cluster_->master_address()), dir);
  }

  // Like Run, with stdin from `input`.
  ToolResult RunWithInput(const std::string& args, const std::string& input) {
    return RunKmendWithInput(absl::StrCat(args, " --masters ", cluster_->master_address()), input,
                             cluster_->base_dir());
  }

  void CreateTable(const std::string& name, int tablets) {
    ToolResult r = Run(absl::StrCat("table create ", name,
                                    " --schema 'id:int64:key,name:string,v:double,b:bool' "
                                    "--tablets ",
                                    tablets, " --replicas 3"));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  int64_t Count(const std::string& table, const std::string& scratch = "main") {
    ToolResult r = Run(absl::StrCat("scan ", table, " --count --format=json"), scratch);
    if (r.exit_code != 0) {
      ADD_FAILURE() << r.err;
      return -1;
    }
    return nlohmann::json::parse(r.out)["count"].get<int64_t>();
  }

  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(WriteScanToolTest, WriteScanUpsertDeleteDuplicates) {
  ASSERT_NO_FATAL_FAILURE(CreateTable("t", 4));
  ToolResult r = Run("write t --rows 2000 --start 0 --batch 500 --format=json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  auto w = nlohmann::json::parse(r.out);
  EXPECT_EQ(w["schema_version"], 1);
  EXPECT_EQ(w["acknowledged"], 2000);
  EXPECT_EQ(w["row_errors"], 0);
  EXPECT_EQ(w["failed"], 0);
  EXPECT_EQ(Count("t"), 2000);

  r = Run("scan t --format=json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto s = nlohmann::json::parse(r.out);
  EXPECT_EQ(s["columns"], nlohmann::json({"id", "name", "v", "b"}));
  ASSERT_EQ(s["rows"].size(), 2000u);
  std::set<int64_t> seen;
  for (const auto& row : s["rows"]) {
    int64_t k = row[0].get<int64_t>();
    seen.insert(k);
    EXPECT_EQ(row[1], absl::StrCat("r", k));
    EXPECT_EQ(row[2].get<double>(), k * 0.5);
    EXPECT_EQ(row[3].get<bool>(), k % 2 == 0);
  }
  EXPECT_EQ(seen.size(), 2000u);
  EXPECT_EQ(*seen.begin(), 0);
  EXPECT_EQ(*seen.rbegin(), 1999);

  // Inserting keys 1990..2009 again: 10 duplicates (row errors), 10 new.
  r = Run("write t --rows 20 --start 1990 --format=json");
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  w = nlohmann::json::parse(r.out);
  EXPECT_EQ(w["acknowledged"], 10);
  EXPECT_EQ(w["row_errors"], 10);
  EXPECT_EQ(w["failed"], 0);
  EXPECT_EQ(Count("t"), 2010);

  // Upsert over CSV overwrites; empty string field stays a value, NULL-able
  // columns are not in this schema so every field is given.
  r = RunWithInput("write t --csv --op upsert --format=json",
                   "5,\"hello, world\",99.5,false\n2500,x,1,true\n");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["acknowledged"], 2);
  r = Run("scan t --format=csv");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("5,\"hello, world\",99.5,false\n"), std::string::npos);
  EXPECT_NE(r.out.find("2500,x,1,true\n"), std::string::npos);
  EXPECT_EQ(Count("t"), 2011);

  // A malformed CSV line: usage error, nothing sent.
  r = RunWithInput("write t --csv", "7,a,notadouble,true\n");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("column v"), std::string::npos) << r.err;

  // Delete 0..999; deleting them again are row errors.
  r = Run("write t --op delete --rows 1000 --start 0 --format=json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(Count("t"), 1011);
  r = Run("write t --op delete --rows 3 --start 0 --format=json");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(nlohmann::json::parse(r.out)["row_errors"], 3);

  r = Run("scan t --limit 5");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("(5 rows)"), std::string::npos) << r.out;

  r = Run("scan nosuch --count");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("not found"), std::string::npos) << r.err;
}

// Finds the tserver index serving as leader of the table's first tablet.
absl::StatusOr<int> LeaderIndex(ExternalCluster* cluster, const std::string& table) {
  auto stub = cluster->MasterStub();
  master::DescribeTableRequestPB req;
  req.set_name(table);
  master::DescribeTableResponsePB resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::Status gs = stub->DescribeTable(&ctx, req, &resp);
  if (!gs.ok()) return absl::UnavailableError(gs.error_message());
  if (resp.tablets_size() == 0 || resp.tablets(0).leader_uuid().empty()) {
    return absl::NotFoundError("no leader reported yet");
  }
  for (int i = 0; i < cluster->num_tservers(); ++i) {
    auto uuid = cluster->TServerUuid(i);
    if (uuid.ok() && *uuid == resp.tablets(0).leader_uuid()) return i;
  }
  return absl::NotFoundError("leader is not one of ours");
}

TEST_F(WriteScanToolTest, AcknowledgedRowsSurviveLeaderKill) {
  ASSERT_NO_FATAL_FAILURE(CreateTable("k", 2));
  ToolResult r = Run("write k --rows 200 --op upsert");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  int leader = -1;
  absl::Status st = ExternalCluster::WaitFor(
      [&] {
        auto l = LeaderIndex(cluster_.get(), "k");
        if (!l.ok()) return false;
        leader = *l;
        return true;
      },
      std::chrono::seconds(10), "master reports a leader for tablet 0");
  ASSERT_TRUE(st.ok()) << st;

  ToolResult writer;
  std::thread t([&] {
    writer = Run("write k --rows 20000 --start 1000 --batch 200 --op upsert --timeout 20000 "
                 "--list_acked --format=json",
                 "writer");
  });
  // Kill the leader once the write is visibly under way.
  st = ExternalCluster::WaitFor([&] { return Count("k", "poll") >= 1200; },
                                std::chrono::seconds(30), "the write makes progress");
  absl::Status kill = cluster_->tserver(leader)->KillNine();
  t.join();
  ASSERT_TRUE(st.ok()) << st;
  ASSERT_TRUE(kill.ok()) << kill;
  ASSERT_TRUE(writer.exit_code == 0 || writer.exit_code == 1) << writer.err;
  auto w = nlohmann::json::parse(writer.out);
  std::cerr << "writer: " << w.dump() << "\n";
  int64_t acked = w["acknowledged"].get<int64_t>();
  EXPECT_GT(acked, 0);
  EXPECT_EQ(w["row_errors"], 0);

  // Every acknowledged key scans back (through the surviving leaders).
  r = Run("scan k --format=json --timeout 20000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::set<int64_t> present;
  const nlohmann::json scanned = nlohmann::json::parse(r.out);
  for (const auto& row : scanned["rows"]) {
    present.insert(row[0].get<int64_t>());
  }
  int64_t listed = 0;
  for (const auto& range : w["acknowledged_ranges"]) {
    for (int64_t k = range[0].get<int64_t>(); k <= range[1].get<int64_t>(); ++k) {
      ++listed;
      ASSERT_TRUE(present.count(k)) << "acknowledged key " << k << " is missing";
    }
  }
  EXPECT_EQ(listed, acked);
  // Unacknowledged rows may exist (applied after the client gave up) but no
  // row outside what was ever written.
  EXPECT_LE(static_cast<int64_t>(present.size()), 200 + 20000);
  EXPECT_GE(static_cast<int64_t>(present.size()), 200 + acked);
}

}  // namespace
}  // namespace kmend::testing
