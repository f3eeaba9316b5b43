// Bootstrap from the WAL: after every tablet server restarts (cleanly, then
// with kill -9), each replica rebuilds its rows from its files and WAL, and
// every replica's checksum is the same as before the restart. And a follower
// that missed writes while down catches up with one append in flight.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

class RestartTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && cluster_) cluster_->DumpLogs(std::cerr);
  }

  ToolResult Kmend(const std::string& args) {
    return RunKmend(absl::StrCat(args, " --masters ", cluster_->master_address()),
                    cluster_->base_dir());
  }

  // Waits until ksck --checksum-scan is healthy with every tablet MATCHing;
  // returns tablet id -> digest.
  std::map<std::string, std::string> WaitForMatchingChecksums() {
    std::map<std::string, std::string> digests;
    absl::Status s = ExternalCluster::WaitFor(
        [&] {
          ToolResult r = Kmend("ksck --checksum-scan --timeout 2s --format=json");
          if (r.exit_code != 0) return false;
          nlohmann::json j = nlohmann::json::parse(r.out, nullptr, false);
          if (j.is_discarded() || j["checksums"].size() != 3) return false;
          digests.clear();
          for (const auto& c : j["checksums"]) {
            if (c["result"] != "MATCH") return false;
            digests[c["tablet_id"]] = c["replicas"].begin().value()["digest"];
          }
          return true;
        },
        std::chrono::seconds(40), "every tablet healthy with matching checksums");
    EXPECT_TRUE(s.ok()) << s;
    return digests;
  }

  // Starts a cluster whose tablet servers get `tserver_flags`, creates a
  // 3-tablet table, stops tablet server 2, writes 3,000 rows and restarts
  // it; ksck's checksum scan reads every replica, the restarted server's
  // too: MATCH on all three tablets means it caught up on the rows it missed.
  void CatchUpAfterMissingRows(std::vector<std::string> tserver_flags) {
    ClusterOptions opts;
    opts.extra_tserver_flags = std::move(tserver_flags);
    cluster_ = std::make_unique<ExternalCluster>(opts);
    ASSERT_TRUE(cluster_->Start().ok());
    ToolResult r = Kmend(
        "table create t --schema 'id:int64:key,name:string,v:double' --tablets 3 "
        "--replicas 3");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(WaitForMatchingChecksums().size(), 3u);

    ASSERT_TRUE(cluster_->tserver(2)->Shutdown().ok());
    r = Kmend("write t --rows 3000");
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    ASSERT_TRUE(cluster_->tserver(2)->Restart().ok());
    EXPECT_EQ(WaitForMatchingChecksums().size(), 3u);
  }

  void ExpectRowCount(const std::string& count) {
    ToolResult r = Kmend("scan t --count");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, count + "\n");
  }

  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(RestartTest, RestartsKeepEveryRowAndTheSameChecksums) {
  cluster_ = std::make_unique<ExternalCluster>();
  ASSERT_TRUE(cluster_->Start().ok());
  ToolResult r = Kmend(
      "table create t --schema 'id:int64:key,name:string,v:double' --tablets 3 "
      "--replicas 3");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_TRUE(WaitForMatchingChecksums().size() == 3);
  r = Kmend("write t --rows 2000");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  r = Kmend("write t --rows 500 --start 100 --op upsert");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::map<std::string, std::string> before = WaitForMatchingChecksums();
  ASSERT_EQ(before.size(), 3u);

  for (bool kill : {false, true}) {
    SCOPED_TRACE(kill ? "after kill -9 of every tablet server" : "after clean restarts");
    for (int i = 0; i < cluster_->num_tservers(); ++i) {
      if (kill) {
        ASSERT_TRUE(cluster_->tserver(i)->KillNine().ok());
      } else {
        ASSERT_TRUE(cluster_->tserver(i)->Shutdown().ok());
      }
    }
    for (int i = 0; i < cluster_->num_tservers(); ++i) {
      ASSERT_TRUE(cluster_->tserver(i)->Restart().ok());
    }
    EXPECT_EQ(WaitForMatchingChecksums(), before);
    r = Kmend("scan t --count");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, "2000\n");
  }
}

// With one append in flight per follower (--raft_max_inflight_appends=1, as
// Kudu does) a follower that missed thousands of entries still catches up:
// each round trip carries one bounded batch, and the next leaves only when
// the last is answered.
TEST_F(RestartTest, FollowerCatchesUpWithOneAppendInFlight) {
  ASSERT_NO_FATAL_FAILURE(CatchUpAfterMissingRows({"--raft_max_inflight_appends=1"}));
  ExpectRowCount("3000");
}

// Both ways of running a tablet server's Raft work: the round worker (the
// default: every replica's entries written without a sync, each WAL synced,
// then the acknowledgements sent) and the pool (--raft_round_worker=false:
// one Ready at a time, each syncing its own WAL). A follower that missed
// 3,000 rows catches up, and after every tablet server is killed (SIGKILL:
// no clean WAL close) and restarted the rows are all there: what was
// acknowledged had been synced.
TEST_F(RestartTest, BothWorkerModesCatchUpAndKeepEveryAcknowledgedRowAcrossKills) {
  for (const char* mode : {"--raft_round_worker=true", "--raft_round_worker=false"}) {
    SCOPED_TRACE(mode);
    ASSERT_NO_FATAL_FAILURE(CatchUpAfterMissingRows({mode}));
    for (int i = 0; i < cluster_->num_tservers(); ++i) {
      ASSERT_TRUE(cluster_->tserver(i)->KillNine().ok());
    }
    for (int i = 0; i < cluster_->num_tservers(); ++i) {
      ASSERT_TRUE(cluster_->tserver(i)->Restart().ok());
    }
    EXPECT_EQ(WaitForMatchingChecksums().size(), 3u);
    ExpectRowCount("3000");
  }
}

}  // namespace
}  // namespace kmend::testing
