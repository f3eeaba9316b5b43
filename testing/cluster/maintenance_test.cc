// `kmend tserver maintenance enter|exit` on real processes (issue 14): four
// tablet servers, a one-tablet RF 3 table (so one server holds no replica
// and is the only place a replacement can go). A replica's server enters
// maintenance and is killed: past the re-replication delay nothing is
// re-replicated and ksck shows the server in maintenance. It exits
// maintenance while still down: the replica is replaced on the fourth
// server.
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/status.pb.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

using std::chrono::seconds;

class MaintenanceTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && cluster_) cluster_->DumpLogs(std::cerr);
  }
  ToolResult WithMasters(const std::string& args) {
    return RunKmend(absl::StrCat(args, " --masters ", cluster_->master_addresses()),
                    cluster_->base_dir());
  }
  // Whether tablet server `i` holds a READY or copying replica of any tablet.
  bool HostsAReplica(int i) {
    auto st = cluster_->GetStatus(cluster_->tserver(i), std::chrono::seconds(2));
    if (!st.ok()) return false;
    for (const auto& r : st->replicas()) {
      if (r.data_state() == server::TABLET_DATA_READY ||
          r.data_state() == server::TABLET_DATA_COPYING) {
        return true;
      }
    }
    return false;
  }
  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(MaintenanceTest, ADownServerInMaintenanceIsNotReplacedUntilItExits) {
  cluster_ = std::make_unique<ExternalCluster>(ClusterOptions{
      .num_tservers = 4, .extra_master_flags = {"--rereplication_delay_ms=2000"}});
  ASSERT_TRUE(cluster_->Start().ok());
  ToolResult r = WithMasters("table create t --schema 'id:int64:key,v:string' --replicas 3");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    int n = 0;
                    for (int i = 0; i < 4; ++i) n += HostsAReplica(i);
                    return n == 3;
                  },
                  seconds(20), "three replicas")
                  .ok());
  int spare = -1, victim = -1;
  for (int i = 0; i < 4; ++i) (HostsAReplica(i) ? victim : spare) = i;
  ASSERT_GE(spare, 0);
  auto uuid = cluster_->TServerUuid(victim);
  ASSERT_TRUE(uuid.ok());

  r = WithMasters("tserver maintenance enter " + *uuid);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  // The mode is in the catalog: a master restarted after `enter` still
  // holds it (it was in memory only before).
  ASSERT_TRUE(cluster_->master()->Restart().ok()) << cluster_->master()->LogTail();
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    ToolResult k = WithMasters("ksck");
                    return k.out.find("HEALTHY (MAINTENANCE)") != std::string::npos;
                  },
                  seconds(30), "the restarted master to show the server in maintenance")
                  .ok());
  ASSERT_TRUE(cluster_->tserver(victim)->KillNine().ok());
  // Dead (1.5 s) and past the re-replication delay (2 s), with margin.
  std::this_thread::sleep_for(seconds(7));
  EXPECT_FALSE(HostsAReplica(spare)) << "re-replicated although in maintenance";
  r = WithMasters("ksck");
  EXPECT_NE(r.out.find("DEAD (MAINTENANCE)"), std::string::npos) << r.out;

  r = WithMasters("tserver maintenance exit " + *uuid + " --format=json");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("kmend.tserver.maintenance/1"), std::string::npos) << r.out;
  EXPECT_TRUE(ExternalCluster::WaitFor([&] { return HostsAReplica(spare); }, seconds(30),
                                       "the replica replaced after exit")
                  .ok());
  // Entering or exiting for a server the master does not know is refused
  // (an exit that succeeded for a typo would hide that the real server
  // stays in maintenance).
  r = WithMasters("tserver maintenance enter no-such-uuid");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  r = WithMasters("tserver maintenance exit no-such-uuid");
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_NE(r.out.find("not registered"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace kmend::testing
