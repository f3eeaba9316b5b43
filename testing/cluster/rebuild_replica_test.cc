// kmend rebuild-replica end to end on real processes (issue 13): three
// tablet servers flushing every few hundred rows, one table of one tablet x
// 3 replicas, and a master told to leave FAILED replicas to the operator
// (--rereplication_failed_grace_ms), so that the repair under test is the
// tool's and not re-replication's.
//   - Corrupt one block of one replica on disk and restart its server: ksck
//     reports it with a rebuild-replica command; a dry run of it changes
//     nothing; the command run as printed repairs it; ksck is HEALTHY and
//     --checksum_scan MATCHes on every replica.
//   - kill -9 of the source mid-copy (the copy paced by --max_bytes_per_sec):
//     the tool says the copy failed, the target is not READY; run again with
//     the other replica as source, it succeeds (starting over).
//   - Offline: refused on a running server's directory; into the stopped
//     server's directory, then the server starts it and ksck is HEALTHY.
//   - kill -9 of the target mid-copy: the restarted server keeps the copy
//     COPYING; the same command resumes it, fetching fewer bytes than the
//     tablet; when the source flushed meanwhile it starts over and says why.
//   - The target's superblock, consensus metadata or both unreadable
//     (DataLoss): rebuilt online and offline, the term rule judged on the
//     WAL; with the WAL unreadable too, refused as target_term_unknown by
//     the target server (dry run included) unless --force.
#include <fcntl.h>
#include <unistd.h>

#include <functional>
#include <iostream>
#include <set>
#include <thread>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/tablet/superblock.h"
#include "lib/tablet_copy/copy_journal.h"
#include "nlohmann/json.hpp"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

class RebuildReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterOptions opts;
    opts.num_tservers = 3;
    opts.extra_master_flags = {"--rereplication_failed_grace_ms=10m"};
    // Small WAL segments: a copy is then mostly blocks (an active segment is
    // sent at its preallocated size).
    opts.extra_tserver_flags = {"--flush_threshold_rows=400", "--maintenance_interval_ms=200"};
    // ...except where the test needs a copy long enough to be cut by a kill
    // of the source: the fetcher reads two chunks (2 MiB) ahead, so the
    // tablet must be larger than that (the default 8 MiB active segment).
    const std::string name = ::testing::UnitTest::GetInstance()->current_test_info()->name();
    if (name.find("KillNineOfTheSource") == std::string::npos) {
      opts.extra_tserver_flags.push_back("--wal_segment_size_bytes=262144");
    }
    cluster_ = std::make_unique<ExternalCluster>(opts);
    ASSERT_TRUE(cluster_->Start().ok());
    auto uuids = GetTServerUuids(*cluster_);
    ASSERT_TRUE(uuids.ok()) << uuids.status();
    uuids_ = *uuids;
    auto tablets = CreateTable(*cluster_, KeyValueTableRequest("t", "v", 1, 3));
    ASSERT_TRUE(tablets.ok()) << tablets.status();
    tablet_ = tablets->at(0);
  }

  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) cluster_->DumpLogs(std::cerr);
  }

  ReplicasByUuid Replicas() { return LiveReplicas(*cluster_, uuids_, down_)[tablet_]; }

  // Rows [first, first + n) through the leader, in batches.
  void Write(int first, int n) {
    for (int b = first; b < first + n; b += 200) {
      ASSERT_TRUE(ExternalCluster::WaitFor(
                      [&] {
                        int leader = LeaderIndex(Replicas(), uuids_);
                        return leader >= 0 &&
                               UpsertHashedRows(cluster_->TServerStub(leader).get(), tablet_, b,
                                                std::min(200, first + n - b))
                                   .ok();
                      },
                      seconds(20), absl::StrCat("rows from ", b))
                      .ok());
    }
  }

  std::vector<uint64_t> FlushedBlocks(int ts) {
    auto sb = tablet::LoadSuperBlock(fs::Layout(cluster_->tserver(ts)->fs_root()), tablet_);
    return sb.ok() ? tablet::RowSetBlockIds(*sb) : std::vector<uint64_t>{};
  }

  // Flips one byte in the middle of one of server ts's blocks of the
  // tablet (the server must be stopped).
  void CorruptOneBlock(int ts) {
    std::vector<uint64_t> ids = FlushedBlocks(ts);
    ASSERT_FALSE(ids.empty());
    fs::Layout layout(cluster_->tserver(ts)->fs_root());
    blocks::BlockManagerOptions ro;
    ro.read_only = true;
    auto bm = blocks::LogBlockManager::Open(layout.DataDir(), ro);
    ASSERT_TRUE(bm.ok()) << bm.status();
    auto loc = (*bm)->Locate(ids.back());
    ASSERT_TRUE(loc.ok()) << loc.status();
    const std::string path = io::JoinPath(layout.DataDir(), loc->container_id + ".data");
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << path;
    char c;
    const off_t at = loc->offset + loc->length / 2;
    ASSERT_EQ(::pread(fd, &c, 1, at), 1);
    c ^= 0x5a;
    ASSERT_EQ(::pwrite(fd, &c, 1, at), 1);
    ::close(fd);
  }

  // Flips one byte in the middle of `path` (the server must be stopped):
  // its container CRC then fails, a DataLoss on read.
  static void CorruptFileMiddle(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << path;
    const off_t size = ::lseek(fd, 0, SEEK_END);
    ASSERT_GT(size, 0) << path;
    char c;
    ASSERT_EQ(::pread(fd, &c, 1, size / 2), 1);
    c ^= 0x5a;
    ASSERT_EQ(::pwrite(fd, &c, 1, size / 2), 1);
    ::close(fd);
  }

  // Writes rows, lets server 2 flush, stops it and damages its replica's
  // superblock and/or consensus metadata (and, with `wal`, the magic of
  // every WAL segment), then restarts it: the replica loads FAILED.
  void DamageServer2Metadata(bool superblock, bool cmeta, bool wal = false) {
    Write(0, 1200);
    ASSERT_TRUE(ExternalCluster::WaitFor([&] { return !FlushedBlocks(2).empty(); }, seconds(20),
                                         "server 2 flushed")
                    .ok());
    ASSERT_TRUE(cluster_->tserver(2)->Shutdown().ok());
    const fs::Layout layout(cluster_->tserver(2)->fs_root());
    if (superblock) CorruptFileMiddle(layout.TabletMetaPath(tablet_));
    if (cmeta) CorruptFileMiddle(layout.ConsensusMetaPath(tablet_));
    if (wal) {
      auto names = io::ListDir(layout.WalDir(tablet_));
      ASSERT_TRUE(names.ok()) << names.status();
      for (const std::string& n : *names) {
        const std::string path = io::JoinPath(layout.WalDir(tablet_), n);
        int fd = ::open(path.c_str(), O_RDWR);
        ASSERT_GE(fd, 0) << path;
        ASSERT_EQ(::pwrite(fd, "XXXXXXXX", 8, 0), 8);
        ::close(fd);
      }
    }
  }

  void RestartServer2UntilFailed() {
    ASSERT_TRUE(cluster_->tserver(2)->Restart().ok());
    ASSERT_TRUE(ExternalCluster::WaitFor(
                    [&] {
                      auto reps = Replicas();
                      return reps[uuids_[2]].data_state() == server::TABLET_DATA_FAILED &&
                             LeaderIndex(reps, uuids_) >= 0;
                    },
                    seconds(30), "server 2's replica FAILED, a leader elsewhere")
                    .ok());
  }

  std::string OnlineCommand() {
    return absl::StrCat("rebuild-replica --masters ", cluster_->master_addresses(), " --tablet ",
                        tablet_, " --tserver ", cluster_->tserver(2)->address(),
                        " --format=json");
  }

  // The online rebuild of server 2's replica whose metadata is damaged:
  // the dry run shows the target's warnings and its last logged op from the
  // WAL; --yes rebuilds; ksck HEALTHY and checksums MATCH.
  void RebuildDamagedMetadataOnline(bool superblock, bool cmeta) {
    ASSERT_NO_FATAL_FAILURE(DamageServer2Metadata(superblock, cmeta));
    ASSERT_NO_FATAL_FAILURE(RestartServer2UntilFailed());
    ToolResult dry = RunKmend(OnlineCommand(), cluster_->base_dir());
    ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
    nlohmann::json plan = Lines(dry.out).front();
    EXPECT_EQ(plan["event"], "plan") << dry.out;
    EXPECT_EQ(plan["replaced_state"], "FAILED");
    EXPECT_EQ(plan["replaced_last_logged_from"], "wal") << dry.out;
    const std::string warnings = plan["warnings"].dump();
    if (superblock) {
      EXPECT_THAT(warnings, HasSubstr("superblock cannot be read"));
    }
    if (cmeta) {
      EXPECT_THAT(warnings, HasSubstr("consensus metadata cannot be read"));
    }
    EXPECT_EQ(Replicas()[uuids_[2]].data_state(), server::TABLET_DATA_FAILED);

    ToolResult fixed = RunKmend(OnlineCommand() + " --yes", cluster_->base_dir());
    ASSERT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
    EXPECT_EQ(Lines(fixed.out).back()["outcome"], "done") << fixed.out;
    KsckUntil(AllMatch, "HEALTHY with matching checksums", "--checksum_scan");
    EXPECT_EQ(last_ksck_exit_, 0);
    if (superblock) {
      // The unreadable superblock is kept aside, under a name no tablet has.
      auto names = io::ListDir(fs::Layout(cluster_->tserver(2)->fs_root()).TabletMetaDir());
      ASSERT_TRUE(names.ok());
      bool aside = false;
      for (const std::string& n : *names) aside |= absl::StartsWith(n, tablet_ + ".unreadable.");
      EXPECT_TRUE(aside);
    }
    // It survives a restart (the new metadata reads back).
    ASSERT_TRUE(cluster_->tserver(2)->Restart().ok());
    KsckUntil(AllMatch, "HEALTHY with matching checksums after a restart", "--checksum_scan");
  }

  // `kmend ksck --format=json ...` until `done` holds (30 s).
  nlohmann::json KsckUntil(const std::function<bool(const nlohmann::json&)>& done,
                           const std::string& what, const std::string& extra = "") {
    nlohmann::json last;
    absl::Status s = ExternalCluster::WaitFor(
        [&] {
          ToolResult r = RunKmend(absl::StrCat("ksck --masters ", cluster_->master_addresses(),
                                               " --format=json ", extra),
                                  cluster_->base_dir());
          last = nlohmann::json::parse(r.out, nullptr, false);
          last_ksck_exit_ = r.exit_code;
          return !last.is_discarded() && done(last);
        },
        seconds(30), what);
    EXPECT_TRUE(s.ok()) << s << "\n" << last.dump(2);
    return last;
  }

  static bool Healthy(const nlohmann::json& j) {
    if (j["ok"] != true) return false;
    for (const auto& t : j["tablets"]) {
      if (t["health"] != "HEALTHY") return false;
    }
    return true;
  }

  static bool AllMatch(const nlohmann::json& j) {
    if (!Healthy(j) || j["checksums"].empty()) return false;
    for (const auto& c : j["checksums"]) {
      if (c["result"] != "MATCH") return false;
    }
    return true;
  }

  // Writes `rows` rows (~100 bytes each plus their WAL), corrupts one
  // flushed block of server 2's replica and restarts it; returns the index of
  // the leader once server 2's replica is FAILED (-1, with a test failure,
  // when not in time).
  int FailTheReplicaOnServer2(int rows = 6000) {
    Write(0, rows);
    if (!ExternalCluster::WaitFor([&] { return !FlushedBlocks(2).empty(); }, seconds(20),
                                  "server 2 flushed")
             .ok() ||
        !cluster_->tserver(2)->Shutdown().ok()) {
      ADD_FAILURE() << "server 2 did not flush or stop";
      return -1;
    }
    CorruptOneBlock(2);
    if (!cluster_->tserver(2)->Restart().ok()) {
      ADD_FAILURE() << "server 2 did not restart";
      return -1;
    }
    int source = -1;
    absl::Status failed = ExternalCluster::WaitFor(
        [&] {
          auto reps = Replicas();
          source = LeaderIndex(reps, uuids_);
          return reps[uuids_[2]].data_state() == server::TABLET_DATA_FAILED && source >= 0;
        },
        seconds(20), "server 2's replica FAILED, a leader elsewhere");
    EXPECT_TRUE(failed.ok()) << failed;
    return failed.ok() ? source : -1;
  }

  // The JSON lines of a --format=json run.
  static std::vector<nlohmann::json> Lines(const std::string& out) {
    std::vector<nlohmann::json> lines;
    for (absl::string_view l : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
      lines.push_back(nlohmann::json::parse(l, nullptr, false));
    }
    return lines;
  }

  std::unique_ptr<ExternalCluster> cluster_;
  TServerUuids uuids_;
  std::set<int> down_;
  std::string tablet_;
  int last_ksck_exit_ = -1;
};

TEST_F(RebuildReplicaTest, CorruptBlockIsReportedByKsckAndTheCommandItPrintsRepairsIt) {
  Write(0, 1200);
  ASSERT_TRUE(ExternalCluster::WaitFor([&] { return !FlushedBlocks(2).empty(); }, seconds(20),
                                       "server 2 flushed")
                  .ok());
  ASSERT_TRUE(cluster_->tserver(2)->Shutdown().ok());
  CorruptOneBlock(2);
  ASSERT_TRUE(cluster_->tserver(2)->Restart().ok());

  nlohmann::json broken = KsckUntil(
      [](const nlohmann::json& j) {
        return j["tablets"].size() == 1 && j["tablets"][0]["fixes"].size() == 1;
      },
      "ksck names a fix");
  EXPECT_EQ(last_ksck_exit_, 1);
  std::string command = broken["tablets"][0]["fixes"][0]["command"];
  ASSERT_THAT(command, HasSubstr("kmend rebuild-replica --tserver " +
                                 cluster_->tserver(2)->address()));
  ASSERT_TRUE(absl::StartsWith(command, "kmend "));
  const std::string args = command.substr(6);

  // The dry run (the printed command without --yes) changes nothing.
  const std::string dry = absl::StrReplaceAll(args, {{" --yes", ""}});
  ToolResult plan = RunKmend(dry, cluster_->base_dir());
  ASSERT_EQ(plan.exit_code, 0) << plan.out << plan.err;
  EXPECT_THAT(plan.out, HasSubstr("Would rebuild"));
  EXPECT_THAT(plan.out, HasSubstr("replica FAILED"));
  EXPECT_THAT(plan.out, HasSubstr("Dry run: nothing changed"));
  ToolResult plan_json = RunKmend(dry + " --format=json", cluster_->base_dir());
  ASSERT_EQ(plan_json.exit_code, 0) << plan_json.err;
  nlohmann::json p = nlohmann::json::parse(plan_json.out);
  EXPECT_EQ(p["schema"], "kmend.rebuild-replica/1");
  EXPECT_EQ(p["event"], "plan");
  EXPECT_EQ(p["target"]["uuid"], uuids_[2]);
  EXPECT_EQ(p["replaced_state"], "FAILED");
  EXPECT_EQ(p["bytes_exact"], true);
  EXPECT_GT(p["bytes_to_copy"].get<int64_t>(), 0);
  EXPECT_EQ(Replicas()[uuids_[2]].data_state(), server::TABLET_DATA_FAILED);

  // A healthy follower is refused (exit 2) and left alone.
  int healthy = -1;
  for (int i : {0, 1}) {
    if (Replicas()[uuids_[i]].role() == consensus::RaftPeerPB::FOLLOWER) healthy = i;
  }
  ASSERT_GE(healthy, 0);
  ToolResult refused = RunKmend(absl::StrCat("rebuild-replica --masters ",
                                             cluster_->master_addresses(), " --tablet ", tablet_,
                                             " --tserver ", uuids_[healthy], " --yes --format=json"),
                                cluster_->base_dir());
  EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
  EXPECT_THAT(refused.out, HasSubstr("\"refusal\":\"target_healthy\""));

  // The command as printed.
  ToolResult fixed = RunKmend(args, cluster_->base_dir());
  ASSERT_EQ(fixed.exit_code, 0) << fixed.out << fixed.err;
  EXPECT_THAT(fixed.out, HasSubstr("rebuilt tablet " + tablet_));

  KsckUntil(AllMatch, "HEALTHY with matching checksums", "--checksum_scan");
  EXPECT_EQ(last_ksck_exit_, 0);
  ReplicasByUuid after = Replicas();
  EXPECT_EQ(after[uuids_[2]].data_state(), server::TABLET_DATA_READY);
  EXPECT_EQ(after[uuids_[2]].copy().state(), server::TabletCopyProgressPB::DONE);
  // Back in its old role: a voter of the config.
  Write(1200, 100);
  auto sum = ReplicaChecksum(*cluster_, 2, tablet_);
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    sum = ReplicaChecksum(*cluster_, 2, tablet_);
                    return sum.ok() && sum->row_count() == 1300;
                  },
                  seconds(10), "the rebuilt replica applies new writes")
                  .ok());
}

TEST_F(RebuildReplicaTest, KillNineOfTheSourceMidCopyFailsCleanlyAndAnotherSourceSucceeds) {
  // ~4 MB: several times what the fetcher reads ahead (the chunk being
  // paced plus two of 1 MiB at most), so the kill lands while chunks are
  // still to be fetched. (Only the active WAL segment's written part
  // travels: the tablet is its rows, not an 8 MiB preallocated segment.)
  const int source = FailTheReplicaOnServer2(40000);
  ASSERT_GE(source, 0);
  const int other = 1 - source;  // the leader is 0 or 1

  // Paced to ~500 KB/s, the copy takes seconds: the tool runs in the
  // background while the test kills the source once bytes moved.
  const std::string out = io::JoinPath(cluster_->base_dir(), "rebuild1.out");
  const std::string cmd = absl::StrCat(
      "rebuild-replica --masters ", cluster_->master_addresses(), " --tablet ", tablet_,
      " --tserver ", cluster_->tserver(2)->address(), " --source ", uuids_[source],
      " --yes --format=json --progress_interval=100ms --max_bytes_per_sec=500000");
  ToolResult first;
  std::thread tool([&] { first = RunKmend(cmd, cluster_->base_dir()); });
  absl::Status moving = ExternalCluster::WaitFor(
      [&] {
        auto st = cluster_->GetStatus(cluster_->tserver(2), std::chrono::seconds(2));
        if (!st.ok()) return false;
        for (const auto& r : st->replicas()) {
          if (r.tablet_id() == tablet_ && r.copy().state() == server::TabletCopyProgressPB::RUNNING &&
              r.copy().bytes_done() > 0) {
            return true;
          }
        }
        return false;
      },
      seconds(20), "the copy moved some bytes");
  EXPECT_TRUE(moving.ok()) << moving;
  ASSERT_TRUE(cluster_->tserver(source)->KillNine().ok());
  down_.insert(source);
  tool.join();
  EXPECT_EQ(first.exit_code, 1) << first.out << first.err;
  EXPECT_THAT(first.err, HasSubstr("FAILED: the copy failed on the target"));
  std::vector<nlohmann::json> lines = Lines(first.out);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.front()["event"], "plan");
  EXPECT_EQ(lines.back()["event"], "result");
  EXPECT_EQ(lines.back()["outcome"], "failed");
  bool saw_progress = false;
  for (const auto& l : lines) saw_progress |= l["event"] == "progress" && l["bytes_done"] > 0;
  EXPECT_TRUE(saw_progress) << first.out;
  // Not READY: COPYING, kept for a resume (the copy stopped on a transport
  // error, not on bad data).
  auto st = Replicas()[uuids_[2]];
  EXPECT_EQ(st.data_state(), server::TABLET_DATA_COPYING);

  // Again from the other replica (no leader now: 1 of 3 voters runs).
  ToolResult second = RunKmend(
      absl::StrCat("rebuild-replica --masters ", cluster_->master_addresses(), " --tablet ",
                   tablet_, " --tserver ", cluster_->tserver(2)->address(), " --source ",
                   cluster_->tserver(other)->address(), " --yes"),
      cluster_->base_dir());
  EXPECT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_THAT(second.out, HasSubstr("rebuilt tablet"));
  // The first copy stayed COPYING (resumable), but its blocks came from the
  // dead source: block ids are per server, so it starts over and says so.
  EXPECT_THAT(second.out, HasSubstr("starting over"));

  ASSERT_TRUE(cluster_->tserver(source)->Restart().ok());
  down_.erase(source);
  KsckUntil(AllMatch, "HEALTHY with matching checksums", "--checksum_scan");
}

}  // namespace
}  // namespace kmend::testing

namespace kmend::testing {
namespace {

TEST_F(RebuildReplicaTest, OfflineRebuildIntoAStoppedServersDirectory) {
  Write(0, 1200);
  ASSERT_TRUE(ExternalCluster::WaitFor([&] { return !FlushedBlocks(2).empty(); }, seconds(20),
                                       "server 2 flushed")
                  .ok());
  const auto offline_from = [&](int source) {
    return absl::StrCat("rebuild-replica --fs_root ", cluster_->tserver(2)->fs_root(),
                        " --tablet ", tablet_, " --source ", cluster_->tserver(source)->address());
  };
  // A running server's directory is refused, naming the lock holder.
  ToolResult locked = RunKmend(offline_from(0) + " --yes", cluster_->base_dir());
  EXPECT_EQ(locked.exit_code, 2) << locked.out << locked.err;
  EXPECT_THAT(locked.err, HasSubstr("REFUSED"));
  EXPECT_THAT(locked.err, HasSubstr(std::to_string(cluster_->tserver(2)->pid())));

  ASSERT_TRUE(cluster_->tserver(2)->Shutdown().ok());
  CorruptOneBlock(2);
  // The source is the leader among the servers still running (server 2 may
  // have led before it stopped).
  int leader = -1;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    leader = LeaderIndex(Replicas(), uuids_);
                    return leader == 0 || leader == 1;
                  },
                  seconds(20), "a leader on server 0 or 1")
                  .ok());
  const std::string offline = offline_from(leader);
  ToolResult dry = RunKmend(offline, cluster_->base_dir());
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("Would rebuild the replica of tablet " + tablet_ + " offline"));
  EXPECT_THAT(dry.out, HasSubstr("Dry run: nothing changed"));
  const std::string backups = io::JoinPath(cluster_->base_dir(), "backups");
  ASSERT_TRUE(io::CreateDirs(backups).ok());
  ToolResult done = RunKmend(offline + " --yes --backup_dir " + backups, cluster_->base_dir());
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  EXPECT_THAT(done.out, HasSubstr("READY"));
  auto saved = io::ListDir(backups);
  ASSERT_TRUE(saved.ok());
  EXPECT_EQ(saved->size(), 1u);
  auto sb = tablet::LoadSuperBlock(fs::Layout(cluster_->tserver(2)->fs_root()), tablet_);
  ASSERT_TRUE(sb.ok()) << sb.status();
  EXPECT_EQ(sb->tablet_data_state(), tablet::TABLET_DATA_READY);

  ASSERT_TRUE(cluster_->tserver(2)->Restart().ok());
  KsckUntil(AllMatch, "HEALTHY with matching checksums", "--checksum_scan");
  EXPECT_EQ(last_ksck_exit_, 0);
}

TEST_F(RebuildReplicaTest, ResumeAfterKillNineOfTheTargetFetchesOnlyWhatIsMissing) {
  const int source = FailTheReplicaOnServer2();
  ASSERT_GE(source, 0);
  const std::string cmd = absl::StrCat(
      "rebuild-replica --masters ", cluster_->master_addresses(), " --tablet ", tablet_,
      " --tserver ", uuids_[2], " --source ", uuids_[source], " --yes --format=json");

  // Paced: blocks are journaled every second.
  ToolResult first;
  std::thread tool([&] {
    first = RunKmend(cmd + " --max_bytes_per_sec=150000 --progress_interval=100ms --wait=60s",
                     cluster_->base_dir());
  });
  const fs::Layout layout(cluster_->tserver(2)->fs_root());
  absl::Status journaled = ExternalCluster::WaitFor(
      [&] {
        auto j = tablet_copy::LoadJournal(layout, tablet_);
        return j.ok() && j->has_value() && (*j)->blocks_size() > 0;
      },
      seconds(30), "the copy journaled a block");
  EXPECT_TRUE(journaled.ok()) << journaled;
  ASSERT_TRUE(cluster_->tserver(2)->KillNine().ok());
  ASSERT_TRUE(cluster_->tserver(2)->Restart().ok());
  tool.join();
  EXPECT_EQ(first.exit_code, 1) << first.out << first.err;
  EXPECT_THAT(first.err, HasSubstr("restarted during the copy"));
  EXPECT_EQ(Replicas()[uuids_[2]].data_state(), server::TABLET_DATA_COPYING);

  ToolResult second = RunKmend(cmd, cluster_->base_dir());
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  std::vector<nlohmann::json> lines = Lines(second.out);
  ASSERT_FALSE(lines.empty());
  const nlohmann::json& result = lines.back();
  ASSERT_EQ(result["event"], "result") << second.out;
  EXPECT_EQ(result["outcome"], "done");
  EXPECT_THAT(result["resume_note"].get<std::string>(), HasSubstr("resuming:"));
  const int64_t total = lines.front()["bytes_to_copy"];
  const int64_t reused = result["bytes_reused"];
  const int64_t fetched = result["bytes_copied"].get<int64_t>() - reused;
  EXPECT_GT(reused, 0) << second.out;
  EXPECT_LT(fetched, total) << second.out;
  std::cout << "resume: " << reused << " bytes kept, " << fetched << " fetched of " << total
            << "\n";

  KsckUntil(AllMatch, "HEALTHY with matching checksums", "--checksum_scan");
  EXPECT_EQ(last_ksck_exit_, 0);
}

TEST_F(RebuildReplicaTest, ResumeStartsOverAndSaysWhyWhenTheSourcesFilesChanged) {
  const int source = FailTheReplicaOnServer2();
  ASSERT_GE(source, 0);
  const std::string cmd = absl::StrCat(
      "rebuild-replica --masters ", cluster_->master_addresses(), " --tablet ", tablet_,
      " --tserver ", uuids_[2], " --source ", uuids_[source], " --yes --format=json");
  ToolResult first;
  std::thread tool([&] {
    first = RunKmend(cmd + " --max_bytes_per_sec=150000 --wait=60s", cluster_->base_dir());
  });
  const fs::Layout layout(cluster_->tserver(2)->fs_root());
  EXPECT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    auto j = tablet_copy::LoadJournal(layout, tablet_);
                    return j.ok() && j->has_value() && (*j)->blocks_size() > 0;
                  },
                  seconds(30), "the copy journaled a block")
                  .ok());
  ASSERT_TRUE(cluster_->tserver(2)->KillNine().ok());
  // The source flushes (a flush rewrites the tablet's blocks under new ids).
  const std::vector<uint64_t> before = FlushedBlocks(source);
  Write(6000, 500);
  // The dead target's copy session still anchors the source (no flush)
  // until it expires: 60 s idle timeout plus the 5 s reaper.
  EXPECT_TRUE(ExternalCluster::WaitFor([&] { return FlushedBlocks(source) != before; },
                                       seconds(90), "the source flushed")
                  .ok());
  // The tool, polling a dead target, sees it come back without the copy.
  ASSERT_TRUE(cluster_->tserver(2)->Restart().ok());
  tool.join();
  EXPECT_EQ(first.exit_code, 1) << first.out << first.err;
  ToolResult second = RunKmend(cmd, cluster_->base_dir());
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  const nlohmann::json result = Lines(second.out).back();
  EXPECT_THAT(result["resume_note"].get<std::string>(),
              HasSubstr("starting over: the source's files changed"));
  EXPECT_EQ(result["bytes_reused"], 0);
  KsckUntil(AllMatch, "HEALTHY with matching checksums", "--checksum_scan");
}

TEST_F(RebuildReplicaTest, AnUnreadableSuperblockIsRebuiltOnline) {
  RebuildDamagedMetadataOnline(/*superblock=*/true, /*cmeta=*/false);
}

TEST_F(RebuildReplicaTest, AnUnreadableConsensusMetadataIsRebuiltOnlineFromTheWalsTerm) {
  RebuildDamagedMetadataOnline(/*superblock=*/false, /*cmeta=*/true);
}

TEST_F(RebuildReplicaTest, UnreadableSuperblockAndConsensusMetadataAreRebuiltOnline) {
  RebuildDamagedMetadataOnline(/*superblock=*/true, /*cmeta=*/true);
}

// Neither the WAL nor the consensus metadata can be read: the target
// server refuses (target_term_unknown), in the dry run too, and changes
// nothing; --force rebuilds it. Then the same damage offline.
TEST_F(RebuildReplicaTest, ATargetWhoseTermCannotBeLearnedIsRefusedUnlessForced) {
  ASSERT_NO_FATAL_FAILURE(DamageServer2Metadata(/*superblock=*/true, /*cmeta=*/true,
                                                /*wal=*/true));
  ASSERT_NO_FATAL_FAILURE(RestartServer2UntilFailed());
  for (const std::string yes : {"", " --yes"}) {
    ToolResult refused = RunKmend(OnlineCommand() + yes, cluster_->base_dir());
    EXPECT_EQ(refused.exit_code, 2) << refused.out << refused.err;
    nlohmann::json j = nlohmann::json::parse(refused.out, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << refused.out;
    EXPECT_EQ(j["event"], "refused");
    EXPECT_EQ(j["refusal"], "target_term_unknown");
    EXPECT_EQ(j["by"], "target");
    EXPECT_THAT(refused.err, HasSubstr("REFUSED by the target"));
  }
  EXPECT_EQ(Replicas()[uuids_[2]].data_state(), server::TABLET_DATA_FAILED);
  ToolResult forced = RunKmend(OnlineCommand() + " --yes --force", cluster_->base_dir());
  ASSERT_EQ(forced.exit_code, 0) << forced.out << forced.err;
  KsckUntil(AllMatch, "HEALTHY with matching checksums", "--checksum_scan");
}

TEST_F(RebuildReplicaTest, OfflineRebuildOfUnreadableSuperblockAndConsensusMetadata) {
  ASSERT_NO_FATAL_FAILURE(DamageServer2Metadata(/*superblock=*/true, /*cmeta=*/true));
  int leader = -1;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    leader = LeaderIndex(Replicas(), uuids_);
                    return leader == 0 || leader == 1;
                  },
                  seconds(20), "a leader on server 0 or 1")
                  .ok());
  const std::string backups = io::JoinPath(cluster_->base_dir(), "backups");
  ASSERT_TRUE(io::CreateDirs(backups).ok());
  const std::string offline =
      absl::StrCat("rebuild-replica --fs_root ", cluster_->tserver(2)->fs_root(), " --tablet ",
                   tablet_, " --source ", cluster_->tserver(leader)->address(),
                   " --format=json --backup_dir ", backups);
  ToolResult dry = RunKmend(offline, cluster_->base_dir());
  ASSERT_EQ(dry.exit_code, 0) << dry.out << dry.err;
  nlohmann::json plan = Lines(dry.out).front();
  EXPECT_EQ(plan["replaced_state"], "UNREADABLE");
  EXPECT_EQ(plan["replaced_last_logged_from"], "wal") << dry.out;
  ToolResult done = RunKmend(offline + " --yes", cluster_->base_dir());
  ASSERT_EQ(done.exit_code, 0) << done.out << done.err;
  auto sb = tablet::LoadSuperBlock(fs::Layout(cluster_->tserver(2)->fs_root()), tablet_);
  ASSERT_TRUE(sb.ok()) << sb.status();
  EXPECT_EQ(sb->tablet_data_state(), tablet::TABLET_DATA_READY);
  ASSERT_TRUE(cluster_->tserver(2)->Restart().ok());
  KsckUntil(AllMatch, "HEALTHY with matching checksums", "--checksum_scan");
  EXPECT_EQ(last_ksck_exit_, 0);
}

}  // namespace
}  // namespace kmend::testing
