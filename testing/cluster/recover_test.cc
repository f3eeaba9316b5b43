// `kmend recover plan/apply/verify` on real processes (issue 14).
//
// WholeClusterRecoveryAfterTwoServersDie: RF 3 on 5 tablet servers, 3
// tables (RECOVER_TABLETS_PER_TABLE tablets each: 4 in the default suite,
// 20 in the soak variant). Every acknowledged write is recorded with its op
// index; the two servers sharing the most tablets are killed with SIGKILL.
// plan names exactly the tablets both hosted; apply --yes forces them; every
// recovered tablet takes a write (the time from the apply command to the
// last tablet's first acknowledged write is printed: RECOVER_FIGURE); a
// second apply changes nothing and says so; verify --wait sees every tablet
// HEALTHY at RF 3; every acknowledged key whose op the survivor had logged
// scans back. The dead servers restart: their stale replicas are tombstoned,
// never re-elected, and ksck is HEALTHY.
//
// AStalePlanIsRefusedNamingTheDifference: a dead server restarted after
// planning makes apply refuse (exit 2) naming it, and nothing is forced.
//
// (WholeClusterRecovery also unregisters the dead servers with `kmend
// tserver unregister`, which a live server or one that may hold a tablet's
// only copy refuses.)
//
// TheOfflinePathEndsTheSame: the survivor's server is stopped after the
// plan; `apply --offline --fs_root` (refused while the server runs) writes
// its force into the consensus metadata; started again it leads and takes
// writes, the dead return, and the tablet is HEALTHY at RF 3 with every
// acknowledged key.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "lib/audit/audit_log.h"
#include "nlohmann/json.hpp"
#include "proto/tserver.grpc.pb.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

#ifndef RECOVER_TABLETS_PER_TABLE
#define RECOVER_TABLETS_PER_TABLE 4
#endif

namespace kmend::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

constexpr int kTables = 3;
constexpr int kTabletsPerTable = RECOVER_TABLETS_PER_TABLE;
constexpr int kBatches = 5;
constexpr int kRowsPerBatch = 20;

class RecoverTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) cluster_->DumpLogs(std::cerr);
  }

  void StartCluster(int tservers, int tables, int tablets_per_table) {
    cluster_ = std::make_unique<ExternalCluster>(ClusterOptions{
        .num_tservers = tservers,
        // Re-replication starts soon after a server is declared dead, so that
        // verify sees RF 3 again within the test's time.
        .extra_master_flags = {"--rereplication_delay_ms=2000"}});
    ASSERT_TRUE(cluster_->Start().ok());
    auto uuids = GetTServerUuids(*cluster_);
    ASSERT_TRUE(uuids.ok()) << uuids.status();
    uuids_ = *uuids;
    for (int t = 0; t < tables; ++t) {
      auto ids = CreateTable(*cluster_, KeyValueTableRequest(absl::StrCat("t", t), "v",
                                                             tablets_per_table, 3));
      ASSERT_TRUE(ids.ok()) << ids.status();
      tablets_.insert(tablets_.end(), ids->begin(), ids->end());
    }
  }

  // Every tablet's leader index, once every tablet has one and 3 READY replicas.
  std::map<std::string, int> WaitForLeaders() {
    std::map<std::string, int> leaders;
    absl::Status s = ExternalCluster::WaitFor(
        [&] {
          ReplicasByTablet all = LiveReplicas(*cluster_, uuids_, down_);
          leaders.clear();
          for (const std::string& t : tablets_) {
            int ready = 0;
            for (const auto& [u, r] : all[t]) ready += r.data_state() == server::TABLET_DATA_READY;
            int l = LeaderIndex(all[t], uuids_);
            if (ready < 3 || l < 0) return false;
            leaders[t] = l;
          }
          return true;
        },
        seconds(60), "a leader for every tablet");
    EXPECT_TRUE(s.ok()) << s;
    return leaders;
  }

  // Upserts keys [first, first + n) into `tablet` at server `ts`; the op id
  // of the write when acknowledged.
  absl::StatusOr<consensus::OpId> Write(int ts, const std::string& tablet, int64_t first, int n,
                                        milliseconds timeout = seconds(10)) {
    tserver::WriteRequestPB req;
    req.set_tablet_id(tablet);
    for (int64_t k = first; k < first + n; ++k) {
      RowOpPB* op = req.mutable_ops()->add_ops();
      op->set_type(RowOpPB::UPSERT);
      op->add_cells()->set_int64_value(k);
      op->add_cells()->set_string_value(absl::StrCat("v", k));
    }
    tserver::WriteResponsePB resp;
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, timeout);
    absl::Status s = server::FromGrpcStatus(cluster_->TServerStub(ts)->Write(&ctx, req, &resp));
    if (!s.ok()) return s;
    return resp.op_id();
  }

  // Every key of `tablet` as its leader at server `ts` scans it.
  absl::StatusOr<std::set<int64_t>> ScanKeys(int ts, const std::string& tablet) {
    std::set<int64_t> keys;
    std::string resume;
    while (true) {
      tserver::ScanRequestPB req;
      req.set_tablet_id(tablet);
      req.set_limit(1000);
      if (!resume.empty()) req.set_resume_after_key(resume);
      tserver::ScanResponsePB resp;
      grpc::ClientContext ctx;
      server::SetDeadline(&ctx, seconds(10));
      absl::Status s = server::FromGrpcStatus(cluster_->TServerStub(ts)->Scan(&ctx, req, &resp));
      if (!s.ok()) return s;
      for (const auto& row : resp.rows()) keys.insert(row.cells(0).int64_value());
      if (!resp.has_more()) return keys;
      resume = resp.last_key();
    }
  }

  ToolResult Kmend(const std::string& args) { return RunKmend(args, cluster_->base_dir()); }

  std::string PlanPath() const { return cluster_->base_dir() + "/plan.json"; }

  std::unique_ptr<ExternalCluster> cluster_;
  TServerUuids uuids_;
  std::set<int> down_;
  std::vector<std::string> tablets_;
};

TEST_F(RecoverTest, WholeClusterRecoveryAfterTwoServersDie) {
  StartCluster(5, kTables, kTabletsPerTable);
  std::map<std::string, int> leaders = WaitForLeaders();
  ASSERT_EQ(leaders.size(), tablets_.size());

  // Acknowledged writes: tablet -> (key range start, op index) per batch.
  struct Acked {
    int64_t first;
    int64_t index;
  };
  std::map<std::string, std::vector<Acked>> acked;
  for (size_t ti = 0; ti < tablets_.size(); ++ti) {
    const std::string& t = tablets_[ti];
    for (int b = 0; b < kBatches; ++b) {
      const int64_t first = static_cast<int64_t>(ti) * 100000 + b * kRowsPerBatch;
      auto id = Write(leaders[t], t, first, kRowsPerBatch);
      ASSERT_TRUE(id.ok()) << t << ": " << id.status();
      acked[t].push_back({first, id->index()});
    }
  }

  // The two servers sharing the most tablets die.
  ReplicasByTablet before = LiveReplicas(*cluster_, uuids_, {});
  std::map<std::pair<int, int>, std::set<std::string>> shared;
  for (const std::string& t : tablets_) {
    std::vector<int> on;
    for (const auto& [u, r] : before[t]) on.push_back(TServerIndexOf(uuids_, u));
    for (int a : on)
      for (int b : on)
        if (a < b) shared[{a, b}].insert(t);
  }
  auto worst = std::max_element(shared.begin(), shared.end(), [](const auto& x, const auto& y) {
    return x.second.size() < y.second.size();
  });
  const auto [dead_a, dead_b] = worst->first;
  const std::set<std::string> lost = worst->second;
  ASSERT_GE(lost.size(), 1u);
  ASSERT_TRUE(cluster_->tserver(dead_a)->KillNine().ok());
  ASSERT_TRUE(cluster_->tserver(dead_b)->KillNine().ok());
  down_ = {dead_a, dead_b};
  ASSERT_TRUE(cluster_->WaitForLiveTServers(3, seconds(30)).ok());

  // plan: exactly the tablets both dead servers hosted.
  ToolResult plan = Kmend(absl::StrCat("recover plan --masters ", cluster_->master_addresses(),
                                       " -o ", PlanPath(), " --format=json"));
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  nlohmann::json doc = nlohmann::json::parse(plan.out);
  std::set<std::string> planned;
  std::map<std::string, std::pair<std::string, int64_t>> survivor;  // tablet -> (uuid, last index)
  for (const auto& e : doc["entries"]) {
    planned.insert(e["tablet_id"].get<std::string>());
    survivor[e["tablet_id"]] = {e["survivor"]["uuid"].get<std::string>(),
                                e["survivor_last_logged"]["index"].get<int64_t>()};
    EXPECT_EQ(e["dropped"].size(), 2u);
  }
  EXPECT_EQ(planned, lost);
  EXPECT_EQ(doc["dead_servers"].size(), 2u);
  EXPECT_TRUE(io::FileExists(PlanPath()));

  // apply --yes, and the first acknowledged write on every recovered tablet.
  const auto t0 = std::chrono::steady_clock::now();
  ToolResult apply = Kmend(absl::StrCat("recover apply ", PlanPath(), " --yes --backup_dir ",
                                        cluster_->base_dir(), "/backups --format=json"));
  const auto applied_at = std::chrono::steady_clock::now();
  ASSERT_EQ(apply.exit_code, 0) << apply.out << apply.err;
  nlohmann::json applied = nlohmann::json::parse(apply.out);
  for (const auto& t : applied["tablets"]) EXPECT_EQ(t["outcome"], "applied") << t.dump();
  std::atomic<int64_t> last_first_write_ms{0};
  std::vector<std::thread> writers;
  std::atomic<int> failed{0};
  for (const std::string& t : planned) {
    const int ts = TServerIndexOf(uuids_, survivor[t].first);
    writers.emplace_back([&, t, ts] {
      const auto give_up = std::chrono::steady_clock::now() + seconds(30);
      while (std::chrono::steady_clock::now() < give_up) {
        if (Write(ts, t, 9000000, 1, milliseconds(1000)).ok()) {
          const int64_t ms = std::chrono::duration_cast<milliseconds>(
                                 std::chrono::steady_clock::now() - t0)
                                 .count();
          int64_t prev = last_first_write_ms.load();
          while (ms > prev && !last_first_write_ms.compare_exchange_weak(prev, ms)) {
          }
          return;
        }
        std::this_thread::sleep_for(milliseconds(10));
      }
      ++failed;
    });
  }
  for (auto& w : writers) w.join();
  ASSERT_EQ(failed.load(), 0) << "a recovered tablet took no write within 30 s";
  std::cout << "RECOVER_FIGURE tablets=" << tablets_.size() << " recovered=" << planned.size()
            << " apply_ms="
            << std::chrono::duration_cast<milliseconds>(applied_at - t0).count()
            << " apply_to_last_first_write_ms=" << last_first_write_ms.load() << std::endl;

  // Each force is in its survivor's audit log, with who ran it.
  for (const std::string& t : planned) {
    const int ts = TServerIndexOf(uuids_, survivor[t].first);
    auto audit = audit::ReadAudit(cluster_->tserver(ts)->fs_root());
    ASSERT_TRUE(audit.ok()) << audit.status();
    bool found = false;
    for (const auto& r : *audit) {
      // Every admin call is in the log (the master's CreateTablet too).
      if (r.tablet_id != t || r.action != "unsafe_change_config") continue;
      found = true;
      EXPECT_THAT(r.caller, HasSubstr("kmend recover apply"));
      EXPECT_EQ(r.outcome, "OK");
      EXPECT_THAT(r.detail, HasSubstr("forced voters"));
    }
    EXPECT_TRUE(found) << "no audit record of " << t;
  }

  // Applied twice: nothing changes, and it says so.
  ToolResult again = Kmend(absl::StrCat("recover apply ", PlanPath(), " --yes --backup_dir ",
                                        cluster_->base_dir(), "/backups"));
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_THAT(again.out, HasSubstr("nothing to do"));
  EXPECT_THAT(again.out, HasSubstr(absl::StrCat(planned.size(), " already applied")));

  // verify: every tablet of the plan HEALTHY at RF 3.
  ToolResult verify = Kmend(absl::StrCat("recover verify ", PlanPath(), " --wait 90s"));
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  // Every acknowledged key whose op the survivor had logged scans back.
  for (const std::string& t : planned) {
    std::set<int64_t> keys;
    ASSERT_TRUE(ExternalCluster::WaitFor(
                    [&] {
                      ReplicasByTablet all = LiveReplicas(*cluster_, uuids_, down_);
                      int l = LeaderIndex(all[t], uuids_);
                      if (l < 0) return false;
                      auto k = ScanKeys(l, t);
                      if (!k.ok()) return false;
                      keys = *k;
                      return true;
                    },
                    seconds(30), "a scan of " + t)
                    .ok());
    int checked = 0;
    for (const Acked& a : acked[t]) {
      if (a.index > survivor[t].second) continue;
      for (int64_t k = a.first; k < a.first + kRowsPerBatch; ++k) {
        EXPECT_TRUE(keys.count(k)) << "tablet " << t << " lost acknowledged key " << k;
      }
      ++checked;
    }
    EXPECT_GT(checked, 0) << t;
    EXPECT_TRUE(keys.count(9000000)) << t;
  }

  // Gone for good: unregistered, ksck stops reporting them and is HEALTHY
  // once the master re-replicated the tablets that had only lost one replica.
  for (int dead : {dead_a, dead_b}) {
    ToolResult un = Kmend(absl::StrCat("tserver unregister --masters ",
                                       cluster_->master_addresses(), " ", uuids_[dead], " --yes"));
    ASSERT_EQ(un.exit_code, 0) << un.out << un.err;
  }
  ToolResult healthy;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    healthy = Kmend(absl::StrCat("ksck --masters ", cluster_->master_addresses()));
                    return healthy.exit_code == 0;
                  },
                  seconds(60), "ksck HEALTHY with the dead servers unregistered")
                  .ok())
      << healthy.out << healthy.err;
  EXPECT_THAT(healthy.out, ::testing::Not(HasSubstr(uuids_[dead_a])));

  // The dead return after all: they register again, their replicas of forced
  // tablets are tombstoned, never re-elected, and ksck stays HEALTHY.
  ASSERT_TRUE(cluster_->tserver(dead_a)->Restart().ok());
  ASSERT_TRUE(cluster_->tserver(dead_b)->Restart().ok());
  down_.clear();
  ToolResult ksck;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    ksck = Kmend(absl::StrCat("ksck --masters ", cluster_->master_addresses()));
                    return ksck.exit_code == 0;
                  },
                  seconds(60), "ksck HEALTHY after the dead servers return")
                  .ok())
      << ksck.out << ksck.err;
  ReplicasByTablet after = LiveReplicas(*cluster_, uuids_, {});
  for (const std::string& t : planned) {
    for (int dead : {dead_a, dead_b}) {
      auto it = after[t].find(uuids_[dead]);
      if (it == after[t].end()) continue;
      const auto& cfg = it->second.consensus_state().committed_config();
      // Tombstoned, or a fresh copy of the new history (re-replication may
      // have placed a new replica there).
      EXPECT_TRUE(it->second.data_state() == server::TABLET_DATA_TOMBSTONED ||
                  cfg.opid_term() > 2 || cfg.unsafe_config_change())
          << t << " on " << uuids_[dead] << ": " << it->second.ShortDebugString();
      EXPECT_NE(it->second.role(), consensus::RaftPeerPB::LEADER) << t;
    }
  }
}

TEST_F(RecoverTest, AStalePlanIsRefusedNamingTheDifference) {
  StartCluster(3, 1, 2);
  ASSERT_EQ(WaitForLeaders().size(), 2u);
  ASSERT_TRUE(cluster_->tserver(0)->KillNine().ok());
  ASSERT_TRUE(cluster_->tserver(1)->KillNine().ok());
  down_ = {0, 1};
  ASSERT_TRUE(cluster_->WaitForLiveTServers(1, seconds(30)).ok());
  ToolResult plan = Kmend(absl::StrCat("recover plan --masters ", cluster_->master_addresses(),
                                       " -o ", PlanPath()));
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("2 lost their majority"));

  // A server the plan takes as dead comes back.
  ASSERT_TRUE(cluster_->tserver(1)->Restart().ok());
  down_ = {0};
  const std::string backups = cluster_->base_dir() + "/backups";
  ToolResult apply = Kmend(absl::StrCat("recover apply ", PlanPath(), " --yes --backup_dir ", backups));
  EXPECT_EQ(apply.exit_code, 2) << apply.out << apply.err;
  EXPECT_THAT(apply.out, HasSubstr("REFUSED: the cluster no longer matches the plan"));
  EXPECT_THAT(apply.out, HasSubstr(absl::StrCat("tablet server ", uuids_[1])));
  EXPECT_THAT(apply.err, HasSubstr("taken as dead by the plan"));
  EXPECT_FALSE(io::ListDir(backups).ok() && !io::ListDir(backups)->empty());
  // A live server is never unregistered.
  ToolResult un = Kmend(absl::StrCat("tserver unregister --masters ", cluster_->master_addresses(),
                                     " ", uuids_[2], " --yes"));
  EXPECT_EQ(un.exit_code, 2) << un.out << un.err;
  EXPECT_THAT(un.err, HasSubstr("only a server that is gone can be unregistered"));
  ReplicasByTablet now = LiveReplicas(*cluster_, uuids_, down_);
  for (const std::string& t : tablets_) {
    for (const auto& [u, r] : now[t]) {
      EXPECT_FALSE(r.consensus_state().committed_config().unsafe_config_change()) << t;
      EXPECT_FALSE(r.consensus_state().has_pending_config() &&
                   r.consensus_state().pending_config().unsafe_config_change())
          << t;
    }
  }
}

TEST_F(RecoverTest, TheOfflinePathEndsTheSame) {
  StartCluster(3, 1, 1);
  std::map<std::string, int> leaders = WaitForLeaders();
  ASSERT_EQ(leaders.size(), 1u);
  const std::string t = tablets_[0];
  std::vector<int64_t> acked_index;
  for (int b = 0; b < kBatches; ++b) {
    auto id = Write(leaders[t], t, b * kRowsPerBatch, kRowsPerBatch);
    ASSERT_TRUE(id.ok()) << id.status();
    acked_index.push_back(id->index());
  }
  ASSERT_TRUE(cluster_->tserver(0)->KillNine().ok());
  ASSERT_TRUE(cluster_->tserver(1)->KillNine().ok());
  down_ = {0, 1};
  ASSERT_TRUE(cluster_->WaitForLiveTServers(1, seconds(30)).ok());
  ToolResult plan = Kmend(absl::StrCat("recover plan --masters ", cluster_->master_addresses(),
                                       " -o ", PlanPath(), " --format=json"));
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  nlohmann::json doc = nlohmann::json::parse(plan.out);
  ASSERT_EQ(doc["entries"].size(), 1u);
  EXPECT_EQ(doc["entries"][0]["survivor"]["uuid"], uuids_[2]);
  const int64_t survivor_index = doc["entries"][0]["survivor_last_logged"]["index"];

  const std::string offline = absl::StrCat("recover apply ", PlanPath(), " --offline --fs_root ",
                                           cluster_->tserver(2)->fs_root(), " --backup_dir ",
                                           cluster_->base_dir(), "/backups");
  // The survivor still runs: its directory is locked.
  ToolResult locked = Kmend(offline + " --yes");
  EXPECT_EQ(locked.exit_code, 2) << locked.out << locked.err;
  EXPECT_THAT(locked.err, HasSubstr("locked"));

  ASSERT_TRUE(cluster_->tserver(2)->Shutdown().ok());
  ASSERT_TRUE(cluster_->WaitForLiveTServers(0, seconds(30)).ok());
  // Every replica of the tablet is down now: no dead server may be forgotten.
  ToolResult un = Kmend(absl::StrCat("tserver unregister --masters ", cluster_->master_addresses(),
                                     " ", uuids_[0], " --yes"));
  EXPECT_EQ(un.exit_code, 2) << un.out << un.err;
  EXPECT_THAT(un.err, HasSubstr("may hold the only copy of 1 tablet(s): " + t));
  ToolResult dry = Kmend(offline);
  EXPECT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("would_apply"));
  ToolResult applied = Kmend(offline + " --yes");
  ASSERT_EQ(applied.exit_code, 0) << applied.out << applied.err;
  EXPECT_THAT(applied.out, HasSubstr(": applied: wrote "));
  ToolResult again = Kmend(offline + " --yes");
  EXPECT_EQ(again.exit_code, 0) << again.out << again.err;
  EXPECT_THAT(again.out, HasSubstr("already_applied"));
  auto audit = audit::ReadAudit(cluster_->tserver(2)->fs_root());
  ASSERT_TRUE(audit.ok()) << audit.status();
  std::vector<audit::AuditRecord> forces;
  for (const auto& r : *audit) {
    if (r.action == "offline_force") forces.push_back(r);
  }
  ASSERT_EQ(forces.size(), 1u);
  EXPECT_THAT(forces[0].caller, HasSubstr("kmend recover apply --offline"));

  // Started again, the survivor leads its forced config and takes writes.
  ASSERT_TRUE(cluster_->tserver(2)->Restart().ok());
  down_ = {0, 1};
  ASSERT_TRUE(ExternalCluster::WaitFor([&] { return Write(2, t, 9000000, 1, seconds(1)).ok(); },
                                       seconds(30), "a write to the offline-forced survivor")
                  .ok());
  // The dead return; the master adopts the forced config, tombstones their
  // stale replicas and re-replicates to RF 3.
  ASSERT_TRUE(cluster_->tserver(0)->Restart().ok());
  ASSERT_TRUE(cluster_->tserver(1)->Restart().ok());
  down_.clear();
  ToolResult verify = Kmend(absl::StrCat("recover verify ", PlanPath(), " --wait 90s"));
  ASSERT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  std::set<int64_t> keys;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    int l = LeaderIndex(LiveReplicas(*cluster_, uuids_, {})[t], uuids_);
                    if (l < 0) return false;
                    auto k = ScanKeys(l, t);
                    if (k.ok()) keys = *k;
                    return k.ok();
                  },
                  seconds(30), "a scan")
                  .ok());
  for (int b = 0; b < kBatches; ++b) {
    if (acked_index[b] > survivor_index) continue;
    for (int64_t k = b * kRowsPerBatch; k < (b + 1) * kRowsPerBatch; ++k) {
      EXPECT_TRUE(keys.count(k)) << "lost acknowledged key " << k;
    }
  }
  EXPECT_TRUE(keys.count(9000000));
}

}  // namespace
}  // namespace kmend::testing
