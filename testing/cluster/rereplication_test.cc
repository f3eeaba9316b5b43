// Re-replication end to end on real processes (server/master/rereplicator.h).
//
//  - A dead server: kill -9 a tablet server holding replicas and wait until
//    every tablet is back to 3 voters on live servers, each replica READY
//    with the leader's row checksum; then restart the killed server and wait
//    until its replaced replicas are TOMBSTONED (the master says so in
//    heartbeat answers).
//  - A FAILED replica on a live server: stop a server, corrupt one replica's
//    superblock, restart it (the replica comes up FAILED) and wait until the
//    tablet is back to 3 healthy voters elsewhere and the FAILED replica is
//    deleted, well before the dead-server delay could have played a part.
//  - Six tablets with one dead server: the same healing, with the time from
//    the end of the re-replication delay to "every tablet healed" printed as
//    a figure (REREPLICATION_FIGURE line in the test log). Not asserted.
//  - One large tablet and small ones with one dead server: the small
//    tablets' time to heal, and everyone's, printed the same way.
// Figures by hand: KMEND_RR_FIGURE_ROWS / KMEND_RR_FIGURE_LARGE_ROWS change
// the sizes, KMEND_RR_SERVER_BIN runs another kmend-server build (e.g. an
// older one) under the same test (docs/design/server.md, "Re-replication,
// part 2").
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "lib/fs/layout.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Replicas = ReplicasByTablet;

class RereplicationTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) cluster_->DumpLogs(std::cerr);
  }

  void StartCluster(int num_tservers, std::vector<std::string> master_flags) {
    ClusterOptions opts;
    opts.num_tservers = num_tservers;
    opts.tserver_unresponsive_timeout_ms = 1500;
    opts.extra_master_flags = std::move(master_flags);
    // Another kmend-server build (e.g. an older one, to compare figures).
    if (const char* bin = std::getenv("KMEND_RR_SERVER_BIN")) opts.server_binary = bin;
    cluster_ = std::make_unique<ExternalCluster>(opts);
    absl::Status s = cluster_->Start();
    ASSERT_TRUE(s.ok()) << s;
    auto uuids = GetTServerUuids(*cluster_);
    ASSERT_TRUE(uuids.ok()) << uuids.status();
    uuids_ = *uuids;
  }

  // A table of `num_tablets` x 3 replicas with `rows` rows in each tablet,
  // written through each tablet's leader (retried until one is elected).
  void CreateTableWithRows(int num_tablets, int rows) {
    auto created = CreateTable(*cluster_, KeyValueTableRequest("rr", "name", num_tablets, 3));
    ASSERT_TRUE(created.ok()) << created.status();
    ASSERT_EQ(static_cast<int>(created->size()), num_tablets);
    tablet_ids_ = *created;
    for (int t = 0; t < num_tablets; ++t) {
      WriteRows(t, 0, rows);
      if (HasFatalFailure()) return;
    }
  }

  // Rows [first, first + n) of tablet number `t`, through its leader.
  // Upserts keyed apart per tablet; each tablet keeps what it is sent, so
  // the checksum comparison only needs replicas of one tablet to agree.
  void WriteRows(int t, int first, int n) {
    const std::string& id = tablet_ids_[t];
    int leader = -1;
    for (int at = first; at < first + n; at += 1000) {
      int batch = std::min(1000, first + n - at);
      absl::Status w = ExternalCluster::WaitFor(
          [&] {
            if (leader >= 0 && Write(leader, id, t * 10'000'000 + at, batch).ok()) return true;
            leader = Leader(ReplicasNow()[id]);
            return leader >= 0 && Write(leader, id, t * 10'000'000 + at, batch).ok();
          },
          seconds(20), "a write through the leader of " + id);
      ASSERT_TRUE(w.ok()) << w;
    }
    rows_[id] += n;
  }

  // Tablet id -> server uuid -> replica, over the servers not in `down_`.
  Replicas ReplicasNow() { return LiveReplicas(*cluster_, uuids_, down_); }
  int IndexOf(const std::string& uuid) const { return TServerIndexOf(uuids_, uuid); }
  // The live leader of a tablet with the highest term, or -1.
  int Leader(const ReplicasByUuid& reps) const { return LeaderIndex(reps, uuids_); }
  absl::StatusOr<tserver::ChecksumResponsePB> Checksum(int ts, const std::string& tablet_id) {
    return ReplicaChecksum(*cluster_, ts, tablet_id);
  }

  absl::Status Write(int ts, const std::string& tablet_id, int first, int n) {
    return UpsertRows(cluster_->TServerStub(ts).get(), tablet_id, first, n,
                      [](int i) { return absl::StrCat("row ", i, " of the re-replication test"); });
  }

  // True when every tablet (of `tablet_ids`, default all) has a leader whose committed config has exactly 3
  // voters and no other member, none of them `excluded_uuid`, each READY on
  // a running server with the leader's checksum and row count. Otherwise
  // false, with the first reason in `last_`.
  bool Healed(const std::string& excluded_uuid) { return Healed(excluded_uuid, tablet_ids_); }
  bool Healed(const std::string& excluded_uuid, const std::vector<std::string>& tablet_ids) {
    auto now = ReplicasNow();
    for (const std::string& id : tablet_ids) {
      auto& reps = now[id];
      int leader = Leader(reps);
      if (leader < 0) return (last_ = "no leader of " + id, false);
      const auto& config = reps[uuids_[leader]].consensus_state().committed_config();
      int voters = 0;
      for (const auto& p : config.peers()) {
        if (p.member_type() != consensus::RaftPeerPB::VOTER) {
          return (last_ = absl::StrCat(id, ": non-voter ", p.permanent_uuid()), false);
        }
        ++voters;
        if (p.permanent_uuid() == excluded_uuid) {
          return (last_ = absl::StrCat(id, ": ", excluded_uuid, " still a voter"), false);
        }
        auto r = reps.find(p.permanent_uuid());
        if (r == reps.end() || r->second.data_state() != server::TABLET_DATA_READY) {
          return (last_ = absl::StrCat(id, ": ", p.permanent_uuid(), " not READY"), false);
        }
      }
      if (voters != 3) return (last_ = absl::StrCat(id, ": ", voters, " voters"), false);
      auto want = Checksum(leader, id);
      if (!want.ok()) return (last_ = std::string(want.status().message()), false);
      if (want->row_count() != rows_[id]) {
        return (last_ = absl::StrCat(id, ": leader has ", want->row_count(), " rows"), false);
      }
      for (const auto& p : config.peers()) {
        auto got = Checksum(IndexOf(p.permanent_uuid()), id);
        if (!got.ok() || got->digest() != want->digest() ||
            got->row_count() != want->row_count()) {
          return (last_ = absl::StrCat(id, ": checksum of ", p.permanent_uuid()), false);
        }
      }
    }
    return true;
  }

  // The tablet server holding the most replicas.
  int BusiestServer() {
    auto reps = ReplicasNow();
    int best = -1;
    int best_n = -1;
    for (const auto& [i, uuid] : uuids_) {
      int n = 0;
      for (const auto& [id, by_server] : reps) n += by_server.count(uuid);
      if (n > best_n) {
        best = i;
        best_n = n;
      }
    }
    return best;
  }

  std::unique_ptr<ExternalCluster> cluster_;
  TServerUuids uuids_;
  std::set<int> down_;
  std::vector<std::string> tablet_ids_;
  // Tablet id -> rows written.
  std::map<std::string, int64_t> rows_;
  std::string last_;
};

TEST_F(RereplicationTest, DeadServerReplicasAreReplacedAndTombstonedWhenItReturns) {
  StartCluster(4, {"--rereplication_delay_ms=2000", "--tserver_rpc_timeout_ms=5000"});
  CreateTableWithRows(2, 20);
  if (HasFatalFailure()) return;

  // The victim: a server holding replicas of both tablets (with 4 servers
  // and 2 x 3 replicas, at least two servers hold both).
  const int victim = BusiestServer();
  ASSERT_GE(victim, 0);
  const std::string victim_uuid = uuids_[victim];
  ASSERT_TRUE(cluster_->tserver(victim)->KillNine().ok());
  down_.insert(victim);

  absl::Status healed = ExternalCluster::WaitFor([&] { return Healed(victim_uuid); }, seconds(45),
                                                 "every tablet back to 3 voters");
  ASSERT_TRUE(healed.ok()) << healed << " (last: " << last_ << ")";

  // The killed server returns: its replaced replicas get tombstoned.
  ASSERT_TRUE(cluster_->tserver(victim)->Restart().ok());
  down_.erase(victim);
  absl::Status tombstoned = ExternalCluster::WaitFor(
      [&] {
        auto st = cluster_->GetStatus(cluster_->tserver(victim), seconds(2));
        if (!st.ok()) return false;
        int n = 0;
        for (const auto& r : st->replicas()) {
          if (r.data_state() != server::TABLET_DATA_TOMBSTONED) {
            return (last_ = r.tablet_id(), false);
          }
          ++n;
        }
        return n == 2;
      },
      seconds(20), "the returning server's replicas TOMBSTONED");
  ASSERT_TRUE(tombstoned.ok()) << tombstoned << " (last: " << last_ << ")";
}

TEST_F(RereplicationTest, FailedReplicaOnLiveServerIsReplacedAndDeleted) {
  // The dead-server delay is far above this test's waits: only the FAILED
  // path can replace the replica.
  StartCluster(4, {"--rereplication_delay_ms=600000", "--tserver_rpc_timeout_ms=5000"});
  CreateTableWithRows(1, 50);
  if (HasFatalFailure()) return;
  const std::string id = tablet_ids_[0];

  // A non-leader voter of the tablet: the leader then stays put.
  auto reps = ReplicasNow()[id];
  int leader = Leader(reps);
  ASSERT_GE(leader, 0);
  int victim = -1;
  for (const auto& [uuid, r] : reps) {
    if (IndexOf(uuid) != leader) victim = IndexOf(uuid);
  }
  ASSERT_GE(victim, 0);
  const std::string victim_uuid = uuids_[victim];

  // Offline corruption of the replica's superblock: flip bytes in its middle.
  ServerProcess* ts = cluster_->tserver(victim);
  ASSERT_TRUE(ts->Shutdown().ok());
  const std::string superblock = fs::Layout(ts->fs_root()).TabletMetaPath(id);
  {
    std::fstream f(superblock, std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(f.good()) << superblock;
    f.seekg(0, std::ios::end);
    const std::streamoff size = f.tellg();
    ASSERT_GT(size, 16) << superblock;
    for (std::streamoff off = size / 2; off < size / 2 + 4; ++off) {
      f.seekg(off);
      char c = 0;
      f.get(c);
      f.seekp(off);
      f.put(static_cast<char>(c ^ 0x5a));
    }
    ASSERT_TRUE(f.good());
  }
  ASSERT_TRUE(ts->Restart().ok());
  absl::Status failed = ExternalCluster::WaitFor(
      [&] {
        auto st = cluster_->GetStatus(ts, seconds(2));
        if (!st.ok()) return false;
        for (const auto& r : st->replicas()) {
          if (r.tablet_id() == id) return r.data_state() == server::TABLET_DATA_FAILED;
        }
        return false;
      },
      seconds(20), "the corrupted replica FAILED after the restart");
  ASSERT_TRUE(failed.ok()) << failed;

  absl::Status healed = ExternalCluster::WaitFor([&] { return Healed(victim_uuid); }, seconds(45),
                                                 "the tablet back to 3 healthy voters");
  ASSERT_TRUE(healed.ok()) << healed << " (last: " << last_ << ")";

  // The evicted FAILED replica is deleted from its (live) server.
  absl::Status deleted = ExternalCluster::WaitFor(
      [&] {
        auto st = cluster_->GetStatus(ts, seconds(2));
        if (!st.ok()) return false;
        for (const auto& r : st->replicas()) {
          if (r.tablet_id() == id && r.data_state() != server::TABLET_DATA_TOMBSTONED &&
              r.data_state() != server::TABLET_DATA_DELETED) {
            return (last_ = server::ReplicaDataState_Name(r.data_state()), false);
          }
        }
        return true;
      },
      seconds(20), "the FAILED replica deleted from " + victim_uuid);
  ASSERT_TRUE(deleted.ok()) << deleted << " (last state: " << last_ << ")";
}

TEST_F(RereplicationTest, SixTabletsOneDeadServerFigure) {
  constexpr int kTablets = 6;
  // $KMEND_RR_FIGURE_ROWS (rows per tablet) makes the copies heavier for a
  // measurement by hand; the default keeps the test short.
  const char* rows_env = std::getenv("KMEND_RR_FIGURE_ROWS");
  const int kRows = rows_env != nullptr ? std::max(1, std::atoi(rows_env)) : 2000;
  constexpr int64_t kDelayMs = 2000;
  StartCluster(5, {absl::StrCat("--rereplication_delay_ms=", kDelayMs),
                   "--tserver_rpc_timeout_ms=5000"});
  CreateTableWithRows(kTablets, kRows);
  if (HasFatalFailure()) return;
  const int victim = BusiestServer();
  ASSERT_GE(victim, 0);
  const std::string victim_uuid = uuids_[victim];
  int lost = 0;
  for (const auto& [id, by_server] : ReplicasNow()) lost += by_server.count(victim_uuid);

  const auto killed = std::chrono::steady_clock::now();
  ASSERT_TRUE(cluster_->tserver(victim)->KillNine().ok());
  down_.insert(victim);
  absl::Status healed = ExternalCluster::WaitFor([&] { return Healed(victim_uuid); }, seconds(50),
                                                 "every tablet back to 3 voters");
  const int64_t total_ms = std::chrono::duration_cast<milliseconds>(
                               std::chrono::steady_clock::now() - killed)
                               .count();
  ASSERT_TRUE(healed.ok()) << healed << " (last: " << last_ << ")";
  // The figure: from the moment the server has been silent for the delay
  // (when replacement may start) to every tablet healed, as polled here
  // (each poll checksums every replica, so it includes up to one poll).
  std::cout << "REREPLICATION_FIGURE tablets=" << kTablets << " rows_per_tablet=" << kRows
            << " replicas_lost=" << lost << " delay_ms=" << kDelayMs
            << " kill_to_healed_ms=" << total_ms
            << " delay_end_to_healed_ms=" << total_ms - kDelayMs << std::endl;
  // The master's account of the steps (start, done, waits), for a breakdown.
  std::ifstream log(cluster_->master()->log_path());
  for (std::string line; std::getline(log, line);) {
    if (line.find("re-replication") != std::string::npos) std::cout << line << "\n";
  }
}

TEST_F(RereplicationTest, LargeTabletCopyDoesNotHoldUpTheOthersFigure) {
  // One tablet much larger than the others (its copy takes a while), one
  // dead server holding a replica of it and of some small ones: the small
  // tablets' time to heal should not include the large copy.
  constexpr int kTablets = 6;
  constexpr int kSmallRows = 1000;
  const char* rows_env = std::getenv("KMEND_RR_FIGURE_LARGE_ROWS");
  const int large_rows = rows_env != nullptr ? std::max(1, std::atoi(rows_env)) : 40000;
  constexpr int64_t kDelayMs = 2000;
  StartCluster(5, {absl::StrCat("--rereplication_delay_ms=", kDelayMs),
                   "--tserver_rpc_timeout_ms=5000"});
  CreateTableWithRows(kTablets, kSmallRows);
  if (HasFatalFailure()) return;
  WriteRows(0, kSmallRows, large_rows - kSmallRows);
  if (HasFatalFailure()) return;
  const std::string large = tablet_ids_[0];

  // The victim: the holder of a replica of the large tablet with the most
  // replicas overall.
  Replicas before = ReplicasNow();
  int victim = -1;
  int best_n = -1;
  for (const auto& [uuid, r] : before[large]) {
    int n = 0;
    for (const auto& [id, by_server] : before) n += by_server.count(uuid);
    if (n > best_n) {
      victim = IndexOf(uuid);
      best_n = n;
    }
  }
  ASSERT_GE(victim, 0);
  const std::string victim_uuid = uuids_[victim];
  std::vector<std::string> small;
  for (const auto& [id, by_server] : before) {
    if (id != large && by_server.count(victim_uuid) > 0) small.push_back(id);
  }
  ASSERT_FALSE(small.empty());

  const auto killed = std::chrono::steady_clock::now();
  auto ms_since_kill = [&] {
    return std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - killed)
        .count();
  };
  ASSERT_TRUE(cluster_->tserver(victim)->KillNine().ok());
  down_.insert(victim);
  absl::Status small_healed = ExternalCluster::WaitFor(
      [&] { return Healed(victim_uuid, small); }, seconds(50), "the small tablets healed");
  const int64_t small_ms = ms_since_kill();
  ASSERT_TRUE(small_healed.ok()) << small_healed << " (last: " << last_ << ")";
  absl::Status all_healed = ExternalCluster::WaitFor([&] { return Healed(victim_uuid); },
                                                     seconds(50), "every tablet healed");
  const int64_t all_ms = ms_since_kill();
  ASSERT_TRUE(all_healed.ok()) << all_healed << " (last: " << last_ << ")";
  std::cout << "REREPLICATION_FIGURE large_tablet_rows=" << large_rows
            << " small_tablets_lost=" << small.size() << " small_rows=" << kSmallRows
            << " delay_ms=" << kDelayMs << " small_healed_after_delay_ms=" << small_ms - kDelayMs
            << " all_healed_after_delay_ms=" << all_ms - kDelayMs << std::endl;
  std::ifstream log(cluster_->master()->log_path());
  for (std::string line; std::getline(log, line);) {
    if (line.find("re-replication") != std::string::npos &&
        line.find(" done in ") != std::string::npos) {
      std::cout << line << "\n";
    }
  }
}

}  // namespace
}  // namespace kmend::testing
