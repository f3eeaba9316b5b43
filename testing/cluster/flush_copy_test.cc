// Flushes, WAL GC and tablet copy of flushed data, end to end on real
// processes: 4 tablet servers flushing every few hundred rows into column
// blocks and deleting the WAL segments the flushes made unnecessary (16 KiB
// segments); a table of 2 tablets x 3 replicas written through each leader.
// Then:
//   1. every replica has flushed blocks and has lost its first WAL segment;
//   2. kill -9 of a server holding replicas of both tablets: the master
//      replaces them by tablet copy; the copies hold the flushed blocks and a
//      WAL that starts past op 1 (so rows came from blocks), every tablet is
//      back to 3 READY voters with the leader's checksum. Meanwhile a writer
//      keeps upserting the same rows with the same values, so flushes and
//      WAL GC want to run during the copies (the copy anchor holds them off)
//      while the checksums stay comparable;
//   3. a surviving server with flushed data restarts: its replicas come back
//      with the leader's checksum (rows from blocks + WAL replay from the
//      flushed op).
// Prints the WAL bytes on disk per server against the bytes written, the
// figure that shows the WAL stays bounded.
#include <sys/stat.h>

#include <atomic>
#include <iostream>
#include <map>
#include <set>
#include <thread>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/tablet/superblock.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::testing {
namespace {

using std::chrono::seconds;

constexpr int kRowsPerTablet = 4000;
constexpr int kBatch = 200;

class FlushCopyTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) cluster_->DumpLogs(std::cerr);
  }

  ReplicasByTablet Replicas() { return LiveReplicas(*cluster_, uuids_, down_); }
  int IndexOf(const std::string& uuid) const { return TServerIndexOf(uuids_, uuid); }
  int Leader(const ReplicasByUuid& reps) const { return LeaderIndex(reps, uuids_); }
  absl::StatusOr<tserver::ChecksumResponsePB> Checksum(int ts, const std::string& tablet_id) {
    return ReplicaChecksum(*cluster_, ts, tablet_id);
  }

  // Upserts [first, first + n): ~100-byte values that compress little.
  absl::Status Write(int ts, const std::string& tablet_id, int first, int n) {
    return UpsertHashedRows(cluster_->TServerStub(ts).get(), tablet_id, first, n);
  }

  // All of a tablet's rows, each batch through the current leader (retried).
  void WriteTablet(const std::string& id, int base) {
    for (int b = 0; b < kRowsPerTablet; b += kBatch) {
      ASSERT_TRUE(ExternalCluster::WaitFor(
                      [&] {
                        int leader = Leader(Replicas()[id]);
                        return leader >= 0 && Write(leader, id, base + b, kBatch).ok();
                      },
                      seconds(20), absl::StrCat("batch ", b, " through the leader of ", id))
                      .ok());
    }
  }

  // The replica of `tablet_id` on server `ts` as stored: flushed op and
  // whether its first WAL segment (wal-000000001) is gone.
  struct OnDisk {
    int64_t last_flushed = 0;
    int rowsets = 0;
    bool first_segment_gone = false;
    int64_t wal_bytes = 0;
  };
  OnDisk Inspect(int ts, const std::string& tablet_id) {
    OnDisk out;
    fs::Layout layout(cluster_->tserver(ts)->fs_root());
    auto sb = tablet::LoadSuperBlock(layout, tablet_id);
    if (sb.ok()) {
      out.last_flushed = sb->last_flushed_op_index();
      out.rowsets = sb->rowsets_size();
    }
    auto names = io::ListDir(layout.WalDir(tablet_id));
    if (names.ok()) {
      out.first_segment_gone = true;
      for (const std::string& name : *names) {
        if (name == "wal-000000001") out.first_segment_gone = false;
        struct stat st;
        if (absl::StartsWith(name, "wal-") &&
            ::stat(io::JoinPath(layout.WalDir(tablet_id), name).c_str(), &st) == 0) {
          out.wal_bytes += static_cast<int64_t>(st.st_blocks) * 512;  // allocated
        }
      }
    }
    return out;
  }

  // Every voter of every tablet READY, `voters` of them, none on a down
  // server, each with the leader's checksum over all the rows.
  absl::Status WaitHealed(const std::vector<std::string>& tablets, const std::string& what) {
    std::string last;
    absl::Status s = ExternalCluster::WaitFor(
        [&] {
          auto now = Replicas();
          for (const std::string& id : tablets) {
            auto& reps = now[id];
            int leader = Leader(reps);
            if (leader < 0) return (last = "no leader of " + id, false);
            const auto& config = reps[uuids_[leader]].consensus_state().committed_config();
            int voters = 0;
            for (const auto& p : config.peers()) {
              if (p.member_type() != consensus::RaftPeerPB::VOTER) {
                return (last = absl::StrCat(id, ": non-voter ", p.permanent_uuid()), false);
              }
              ++voters;
              int idx = IndexOf(p.permanent_uuid());
              if (idx < 0 || down_.count(idx)) {
                return (last = absl::StrCat(id, ": voter ", p.permanent_uuid(), " is down"), false);
              }
              auto r = reps.find(p.permanent_uuid());
              if (r == reps.end() || r->second.data_state() != server::TABLET_DATA_READY) {
                return (last = absl::StrCat(id, ": ", p.permanent_uuid(), " not READY"), false);
              }
            }
            if (voters != 3) return (last = absl::StrCat(id, ": ", voters, " voters"), false);
            auto want = Checksum(leader, id);
            if (!want.ok()) return (last = std::string(want.status().message()), false);
            if (want->row_count() != kRowsPerTablet) {
              return (last = absl::StrCat(id, ": leader has ", want->row_count(), " rows"), false);
            }
            for (const auto& p : config.peers()) {
              auto got = Checksum(IndexOf(p.permanent_uuid()), id);
              if (!got.ok() || got->digest() != want->digest() ||
                  got->row_count() != want->row_count()) {
                return (last = absl::StrCat(id, ": checksum of ", p.permanent_uuid()), false);
              }
            }
          }
          return true;
        },
        seconds(45), what);
    if (!s.ok()) return absl::Status(s.code(), absl::StrCat(s.message(), " (last: ", last, ")"));
    return s;
  }

  std::unique_ptr<ExternalCluster> cluster_;
  TServerUuids uuids_;
  std::set<int> down_;
};

TEST_F(FlushCopyTest, FlushedBlocksAreCopiedAndSurviveRestart) {
  ClusterOptions opts;
  opts.num_tservers = 4;
  opts.tserver_unresponsive_timeout_ms = 1500;
  opts.extra_master_flags = {"--rereplication_delay_ms=2000", "--tserver_rpc_timeout_ms=5000"};
  opts.extra_tserver_flags = {"--flush_threshold_rows=500", "--wal_segment_size_bytes=16384",
                              "--maintenance_interval_ms=100"};
  cluster_ = std::make_unique<ExternalCluster>(opts);
  ASSERT_TRUE(cluster_->Start().ok());
  auto uuids = GetTServerUuids(*cluster_);
  ASSERT_TRUE(uuids.ok()) << uuids.status();
  uuids_ = *uuids;

  auto created = CreateTable(*cluster_, KeyValueTableRequest("flushed", "v", 2, 3));
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_EQ(created->size(), 2u);
  const std::vector<std::string> tablets = *created;
  for (int t = 0; t < 2; ++t) {
    WriteTablet(tablets[t], t * 1'000'000);
    if (HasFatalFailure()) return;
  }

  // 1. Every replica flushed and garbage-collected its first WAL segment.
  std::string last;
  absl::Status flushed = ExternalCluster::WaitFor(
      [&] {
        for (const auto& [id, reps] : Replicas()) {
          for (const auto& [uuid, r] : reps) {
            OnDisk d = Inspect(IndexOf(uuid), id);
            if (d.rowsets != 1 || d.last_flushed <= 0 || !d.first_segment_gone) {
              return (last = absl::StrCat(id, " on ", uuid, ": flushed through ", d.last_flushed,
                                          ", first segment gone: ", d.first_segment_gone),
                      false);
            }
          }
        }
        return true;
      },
      seconds(30), "every replica flushed, first WAL segment deleted");
  ASSERT_TRUE(flushed.ok()) << flushed << " (last: " << last << ")";
  for (const auto& [id, reps] : Replicas()) {
    for (const auto& [uuid, r] : reps) {
      OnDisk d = Inspect(IndexOf(uuid), id);
      std::cout << "replica " << id.substr(0, 8) << " on " << uuid.substr(0, 8)
                << ": flushed through op " << d.last_flushed << ", WAL on disk " << d.wal_bytes
                << " bytes\n";
    }
  }
  const int64_t written_bytes = int64_t{2} * kRowsPerTablet * 110;
  std::cout << "rows written: " << 2 * kRowsPerTablet << " (~" << written_bytes
            << " bytes of values) per replica set\n";
  ASSERT_TRUE(WaitHealed(tablets, "all replicas equal after the writes").ok());

  // 2. kill -9 a server holding replicas of both tablets.
  auto before = Replicas();
  int victim = -1;
  for (int i = 0; i < 4 && victim < 0; ++i) {
    int n = 0;
    for (const auto& [id, reps] : before) n += reps.count(uuids_[i]);
    if (n == 2) victim = i;
  }
  ASSERT_GE(victim, 0);
  std::set<std::pair<std::string, std::string>> old_placement;
  for (const auto& [id, reps] : before) {
    for (const auto& [uuid, r] : reps) old_placement.insert({id, uuid});
  }
  // The writer: rewrites existing rows with their own values through
  // whichever live server leads (others refuse quickly), until stopped.
  std::atomic<bool> stop_writer{false};
  std::atomic<int> rewrites{0};
  std::vector<std::unique_ptr<tserver::TabletServerService::Stub>> stubs;
  for (int i = 0; i < 4; ++i) {
    if (i != victim) stubs.push_back(cluster_->TServerStub(i));
  }
  std::thread writer([&] {
    for (int k = 0; !stop_writer.load(); ++k) {
      const int t = k % 2;
      const int first = (k / 2 * kBatch) % kRowsPerTablet;
      for (const auto& stub : stubs) {
        if (UpsertHashedRows(stub.get(), tablets[t], t * 1'000'000 + first, kBatch).ok()) {
          ++rewrites;
          break;
        }
      }
    }
  });
  struct Joiner {
    std::atomic<bool>* stop;
    std::thread* t;
    ~Joiner() {
      stop->store(true);
      if (t->joinable()) t->join();
    }
  } joiner{&stop_writer, &writer};

  ASSERT_TRUE(cluster_->tserver(victim)->KillNine().ok());
  down_.insert(victim);
  absl::Status healed = WaitHealed(tablets, "every tablet back to 3 voters, equal checksums");
  ASSERT_TRUE(healed.ok()) << healed;
  std::cout << "rewrite batches acknowledged during re-replication: " << rewrites.load() << "\n";

  // The new replicas were copied with their flushed blocks: a WAL starting
  // past op 1 yet every row there.
  int copies = 0;
  for (const auto& [id, reps] : Replicas()) {
    for (const auto& [uuid, r] : reps) {
      if (old_placement.count({id, uuid})) continue;
      ++copies;
      OnDisk d = Inspect(IndexOf(uuid), id);
      EXPECT_EQ(d.rowsets, 1) << id << " on " << uuid;
      EXPECT_GT(d.last_flushed, 0) << id << " on " << uuid;
      EXPECT_TRUE(d.first_segment_gone) << id << " on " << uuid;
    }
  }
  EXPECT_EQ(copies, 2);

  // 3. A survivor with flushed data is killed -9 and restarted: rows from
  // its blocks plus the WAL replayed from the flushed op, same checksums.
  int survivor = -1;
  for (int i = 0; i < 4 && survivor < 0; ++i) {
    if (i != victim) survivor = i;
  }
  ASSERT_TRUE(cluster_->tserver(survivor)->KillNine().ok());
  ASSERT_TRUE(cluster_->tserver(survivor)->Restart().ok());
  healed = WaitHealed(tablets, "equal checksums after a restart of a server with flushed data");
  ASSERT_TRUE(healed.ok()) << healed;
  stop_writer.store(true);
  writer.join();
  EXPECT_GT(rewrites.load(), 0);
  std::cout << "rewrite batches acknowledged in all: " << rewrites.load() << "\n";
  healed = WaitHealed(tablets, "equal checksums once the writer stopped");
  ASSERT_TRUE(healed.ok()) << healed;
  for (const auto& [id, reps] : Replicas()) {
    auto it = reps.find(uuids_[survivor]);
    if (it == reps.end() || it->second.data_state() != server::TABLET_DATA_READY) continue;
    auto want = Checksum(Leader(reps), id);
    auto got = Checksum(survivor, id);
    ASSERT_TRUE(want.ok() && got.ok());
    EXPECT_EQ(got->digest(), want->digest()) << id;
    EXPECT_EQ(got->row_count(), kRowsPerTablet) << id;
  }
}

}  // namespace
}  // namespace kmend::testing
