// Catalog copy between masters (server/master/catalog_copy_client.h), real
// processes: 3 masters + 3 tablet servers with a tiny sys-catalog WAL
// retention (--catalog_wal_retained_entries=2, nothing extra kept for
// lagging masters, 4 KiB segments). One follower master is killed with
// kill -9; create/delete table rounds make the leader garbage-collect the
// WAL segments that master would need; restarted, it catches up through a
// catalog copy (its log says so) and reports the same catalog version and
// tables as the leader. Then the old masters are killed with kill -9 until
// the copied master is elected: it serves the right catalog and accepts
// changes that every master applies.
//
// Figure printed, not asserted: time from the restart of the lagging master
// to it reporting the leader's catalog.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/wal/format.h"
#include "proto/master.grpc.pb.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr char kSysCatalog[] = "00000000000000000000000000000000";

class MultiMasterCatchupTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && cluster_) cluster_->DumpLogs(std::cerr);
  }

  int WaitForServingLeader() {
    absl::StatusOr<int> leader = WaitForLeaderMaster(*cluster_);
    EXPECT_TRUE(leader.ok()) << leader.status();
    return leader.ok() ? *leader : -1;
  }

  grpc::Status CreateTable(int master, const std::string& name) {
    const master::CreateTableRequestPB req = KeyOnlyTableRequest(name);
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, std::chrono::seconds(10));
    master::CreateTableResponsePB resp;
    return cluster_->MasterStub(master)->CreateTable(&ctx, req, &resp);
  }

  grpc::Status DeleteTable(int master, const std::string& name) {
    master::DeleteTableRequestPB req;
    req.set_name(name);
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, std::chrono::seconds(10));
    master::DeleteTableResponsePB resp;
    return cluster_->MasterStub(master)->DeleteTable(&ctx, req, &resp);
  }

  absl::StatusOr<std::set<std::string>> ListTables(int master) {
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, std::chrono::seconds(5));
    master::ListTablesResponsePB resp;
    grpc::Status s =
        cluster_->MasterStub(master)->ListTables(&ctx, master::ListTablesRequestPB(), &resp);
    if (!s.ok()) return server::FromGrpcStatus(s, "ListTables");
    std::set<std::string> names;
    for (const auto& t : resp.tables()) names.insert(t.name());
    return names;
  }

  bool HasSegment(int master, int seqno) {
    return io::FileExists(io::JoinPath(fs::Layout(cluster_->master(master)->fs_root()).WalDir(kSysCatalog),
                                       wal::SegmentFileName(seqno)));
  }

  std::string ReadLog(int master) {
    std::ifstream in(cluster_->master(master)->log_path());
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Every running master reports catalog `version` with `tables` tables.
  absl::Status WaitForSameCatalog(int64_t version, int64_t tables) {
    return ExternalCluster::WaitFor(
        [&] {
          for (int i = 0; i < cluster_->num_masters(); ++i) {
            if (!cluster_->master(i)->running()) continue;
            auto st = cluster_->GetStatus(cluster_->master(i), std::chrono::seconds(2));
            if (!st.ok() || st->master().catalog_version() != version ||
                st->master().num_tables() != tables) {
              return false;
            }
          }
          return true;
        },
        std::chrono::seconds(30), absl::StrCat("every master at catalog version ", version));
  }

  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(MultiMasterCatchupTest, MasterBehindTheLeadersLogCatchesUpByCatalogCopy) {
  ClusterOptions opts;
  opts.num_masters = 3;
  opts.num_tservers = 3;
  opts.extra_master_flags = {"--catalog_wal_retained_entries=2",
                             "--catalog_wal_max_entries_retained_for_peers=0",
                             "--catalog_wal_segment_size_bytes=4096"};
  cluster_ = std::make_unique<ExternalCluster>(opts);
  ASSERT_TRUE(cluster_->Start().ok());
  int leader = WaitForServingLeader();
  ASSERT_GE(leader, 0);
  ASSERT_TRUE(cluster_->WaitForLiveTServers(3, std::chrono::seconds(30)).ok());
  ASSERT_TRUE(CreateTable(leader, "before").ok());

  const int lagging = (leader + 1) % 3;
  ASSERT_TRUE(cluster_->master(lagging)->KillNine().ok());

  // Catalog changes until the leader has deleted its first two segments:
  // everything the lagging master would need next is gone.
  int rounds = 0;
  absl::Status gc = ExternalCluster::WaitFor(
      [&] {
        for (int i = 0; i < 5; ++i, ++rounds) {
          const std::string name = absl::StrCat("t", rounds);
          EXPECT_TRUE(CreateTable(leader, name).ok());
          if (rounds % 2 == 0) {
            EXPECT_TRUE(DeleteTable(leader, name).ok());
          }
        }
        return !HasSegment(leader, 1) && !HasSegment(leader, 2);
      },
      std::chrono::seconds(40), "the leader garbage-collecting its first two WAL segments");
  ASSERT_TRUE(gc.ok()) << gc << " after " << rounds << " rounds";
  std::cout << "leader GC'd its first two sys-catalog WAL segments after " << rounds
            << " create(/delete) rounds" << std::endl;
  auto lst = cluster_->GetStatus(cluster_->master(leader));
  ASSERT_TRUE(lst.ok()) << lst.status();
  const int64_t version = lst->master().catalog_version();
  const int64_t tables = lst->master().num_tables();
  auto expected_tables = ListTables(leader);
  ASSERT_TRUE(expected_tables.ok()) << expected_tables.status();
  ASSERT_EQ(static_cast<int64_t>(expected_tables->size()), tables);

  auto restarted_at = Clock::now();
  ASSERT_TRUE(cluster_->master(lagging)->Restart().ok());
  absl::Status same = WaitForSameCatalog(version, tables);
  ASSERT_TRUE(same.ok()) << same;
  std::cout << "lagging master reported the leader's catalog (version " << version << ", "
            << tables << " tables) "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - restarted_at)
                   .count()
            << " ms after its restart" << std::endl;
  const std::string log = ReadLog(lagging);
  EXPECT_NE(log.find("installed catalog copy from master"), std::string::npos)
      << "the lagging master caught up without a catalog copy: the test did not force one";
  // Exactly one copy: after it, ordinary replication resumes.
  const std::string installed = "installed catalog copy from master";
  EXPECT_EQ(log.find(installed), log.rfind(installed)) << log;

  // Replication goes on after the copy: a change reaches the copied master.
  ASSERT_TRUE(CreateTable(leader, "after_copy").ok());
  ASSERT_TRUE(WaitForSameCatalog(version + 1, tables + 1).ok());

  // kill -9 masters other than the copied one until it leads (each killed
  // one is restarted, so two of three are always up).
  int serving = leader;
  for (int attempt = 0; attempt < 8 && serving != lagging; ++attempt) {
    ASSERT_TRUE(cluster_->master(serving)->KillNine().ok());
    int next = WaitForServingLeader();
    ASSERT_GE(next, 0);
    ASSERT_TRUE(cluster_->master(serving)->Restart().ok());
    serving = next;
  }
  ASSERT_EQ(serving, lagging) << "the copied master was never elected in 8 kill -9 rounds";
  auto served = ListTables(lagging);
  ASSERT_TRUE(served.ok()) << served.status();
  std::set<std::string> want = *expected_tables;
  want.insert("after_copy");
  EXPECT_EQ(*served, want);
  ASSERT_TRUE(CreateTable(lagging, "led_by_copied_master").ok());
  EXPECT_TRUE(WaitForSameCatalog(version + 2, tables + 2).ok());
}

}  // namespace
}  // namespace kmend::testing
