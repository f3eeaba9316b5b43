// kmend fsck on data directories written by the real server (issue 12):
// one tablet server (16 KiB WAL segments, flushes every 5000 rows), a table
// of 2 tablets x 1 replica, 12,000 upserts per tablet in 30 batches, then a
// clean shutdown. That directory is the "golden" copy every case starts from.
//
//   - corruption sweep: one random byte flip (or one truncation) in a random
//     file, every file type in turn, on a fresh copy; `kmend fsck
//     --format=json` must flag the damaged file (its status, or a block in
//     it). A miss is allowed only for bytes provably unused (outside every
//     live block extent of a .data file) or for fields Kudu's format leaves
//     without a checksum or constraint (a WAL footer's close_timestamp),
//     counted and printed separately;
//   - repair then serve: a flipped block byte in one tablet and a torn WAL
//     tail in the other; `fsck --repair --yes`; the server starts, the torn
//     tablet serves every row but the torn batch's, the other is FAILED;
//     `fsck undo` restores every byte;
//   - kill -9 of `fsck --repair --yes` at random moments, then the same
//     command again: the directory equals an uninterrupted repair's, and
//     undo restores the damaged original;
//   - a directory locked by a running server is refused naming its pid; an
//     unreadable file (fsck run as an unprivileged user) is reported, the
//     rest is checked.
// Trial counts come from the command line (the soak target passes larger
// ones): argv[1] flips, argv[2] truncations, argv[3] kill trials.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "gtest/gtest.h"
#include "lib/blocks/container.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/tablet/superblock.h"
#include "lib/wal/log_reader.h"
#include "lib/wal/segment_reader.h"
#include "nlohmann/json.hpp"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

namespace stdfs = std::filesystem;
using nlohmann::json;
using std::chrono::seconds;

int g_flips = 24;
int g_truncations = 12;
int g_kills = 5;

constexpr int kRowsPerTablet = 12000;
constexpr int kBatch = 400;

std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == ".kmend.lock") continue;
    out[stdfs::relative(e.path(), dir).string()] = *io::ReadFileToString(e.path().string());
  }
  return out;
}

// The files that differ between two snapshots ("" when equal), named, so a
// failure does not print megabytes.
std::string Diff(const std::map<std::string, std::string>& a,
                 const std::map<std::string, std::string>& b) {
  std::string out;
  for (const auto& [k, v] : a) {
    auto it = b.find(k);
    if (it == b.end()) {
      absl::StrAppend(&out, k, " only in the first; ");
    } else if (it->second != v) {
      absl::StrAppend(&out, k, " differs (", v.size(), " vs ", it->second.size(), " bytes); ");
    }
  }
  for (const auto& [k, v] : b) {
    if (!a.count(k)) absl::StrAppend(&out, k, " only in the second; ");
  }
  return out;
}

// cp -a: keeps modes and times, so copies are equal in everything fsck sees.
void CopyDir(const std::string& from, const std::string& to) {
  stdfs::remove_all(to);
  ASSERT_EQ(std::system(absl::StrCat("cp -a '", from, "' '", to, "'").c_str()), 0);
}

std::string Kind(const std::string& rel) {
  if (rel == "instance") return "instance";
  if (rel == "data/block_manager_instance") return "block_manager_instance";
  if (absl::StartsWith(rel, "tablet-meta/")) return "superblock";
  if (absl::StartsWith(rel, "consensus-meta/")) return "consensus_meta";
  if (absl::StartsWith(rel, "wals/")) return "wal_segment";
  if (absl::EndsWith(rel, ".metadata")) return "container_metadata";
  if (absl::EndsWith(rel, ".data")) return "container_data";
  return "other";
}

class FsckClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    base_ = absl::StrCat(std::getenv("TEST_TMPDIR") ? std::getenv("TEST_TMPDIR") : "/tmp",
                         "/fsck_cluster_", ::getpid());
    stdfs::create_directories(base_);
    ClusterOptions o;
    o.num_tservers = 1;
    o.extra_tserver_flags = {"--wal_segment_size_bytes=16384", "--flush_threshold_rows=5000",
                             "--maintenance_interval_ms=100"};
    cluster_ = new ExternalCluster(o);
    absl::Status s = cluster_->Start();
    ASSERT_TRUE(s.ok()) << s;
    auto ids = CreateTable(*cluster_, KeyValueTableRequest("t", "v", 2, 1));
    ASSERT_TRUE(ids.ok()) << ids.status();
    tablets_ = *ids;
    auto stub = cluster_->TServerStub(0);
    for (size_t t = 0; t < tablets_.size(); ++t) {
      for (int b = 0; b < kRowsPerTablet; b += kBatch) {
        absl::Status w = ExternalCluster::WaitFor(
            [&] {
              return UpsertHashedRows(stub.get(), tablets_[t], static_cast<int>(t) * 1000000 + b,
                                      kBatch)
                  .ok();
            },
            seconds(20), "upsert");
        ASSERT_TRUE(w.ok()) << w;
      }
    }
    // Both tablets flushed at least once (blocks on disk).
    fs::Layout layout(cluster_->tserver(0)->fs_root());
    ASSERT_TRUE(ExternalCluster::WaitFor(
                    [&] {
                      for (const std::string& id : tablets_) {
                        auto sb = tablet::LoadSuperBlock(layout, id);
                        if (!sb.ok() || sb->rowsets_size() == 0) return false;
                      }
                      return true;
                    },
                    seconds(30), "flushes")
                    .ok());
    ASSERT_TRUE(cluster_->tserver(0)->Shutdown().ok());
    golden_ = base_ + "/golden";
    CopyDir(cluster_->tserver(0)->fs_root(), golden_);
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
    stdfs::remove_all(base_);
  }
  void TearDown() override {
    if (HasFailure() && cluster_ != nullptr) cluster_->DumpLogs(std::cerr);
  }

  ToolResult Fsck(const std::string& args) { return RunKmend(absl::StrCat("fsck ", args), base_); }
  static json Parse(const ToolResult& r) {
    return json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  }

  // Live extents [offset, end) of every .data file of `root`.
  static std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> LiveExtents(
      const std::string& root) {
    std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> out;
    fs::Layout layout(root);
    const std::vector<std::string> ids = *blocks::ListContainerIds(layout.DataDir());
    for (const std::string& id : ids) {
      auto c = blocks::LoadContainer(layout.DataDir(), id, 4096);
      if (!c.ok()) continue;
      for (const auto& [bid, loc] : c->live) {
        out[c->data_path].push_back(
            {static_cast<uint64_t>(loc.offset), static_cast<uint64_t>(loc.offset + loc.length)});
      }
    }
    return out;
  }

  // Byte range of close_timestamp_micros (field 4, a varint) in a WAL
  // segment's footer, or {0, 0}.
  static std::pair<uint64_t, uint64_t> FooterTimestampRange(const std::string& path) {
    auto r = wal::SegmentReader::Open(path);
    if (!r.ok() || !(*r)->has_footer()) return {0, 0};
    std::string bytes = *io::ReadFileToString(path);
    uint32_t len = 0;
    for (int i = 3; i >= 0; --i)
      len = (len << 8) | static_cast<unsigned char>(bytes[bytes.size() - 4 + i]);
    const uint64_t start = bytes.size() - 12 - len;
    google::protobuf::io::CodedInputStream in(
        reinterpret_cast<const uint8_t*>(bytes.data() + start), static_cast<int>(len));
    while (true) {
      const uint64_t at = start + static_cast<uint64_t>(in.CurrentPosition());
      uint32_t tag = in.ReadTag();
      if (tag == 0) break;
      uint64_t v;
      if ((tag & 7) != 0 || !in.ReadVarint64(&v)) break;
      if ((tag >> 3) == 4) return {at, start + static_cast<uint64_t>(in.CurrentPosition())};
    }
    return {0, 0};
  }

  // Is `path` (absolute, in the copy) flagged by the fsck JSON?
  static bool Flagged(const json& doc, const std::string& path) {
    for (const json& f : doc["files"]) {
      if (f["path"] == path && f["status"] != "OK") return true;
    }
    for (const json& b : doc["blocks"]) {
      if (b.contains("path") && b["path"] == path) return true;
    }
    return false;
  }

  void Sweep(int trials, bool truncate);

  static ExternalCluster* cluster_;
  static std::string base_;
  static std::string golden_;
  static std::vector<std::string> tablets_;
};

ExternalCluster* FsckClusterTest::cluster_ = nullptr;
std::string FsckClusterTest::base_;
std::string FsckClusterTest::golden_;
std::vector<std::string> FsckClusterTest::tablets_;

TEST_F(FsckClusterTest, GoldenDirectoryIsHealthyAtEveryCheckLevel) {
  for (const char* checks : {"framing", "checksums", "decode"}) {
    ToolResult r = Fsck(absl::StrCat("--fs_root ", golden_, " --format=json --checks=", checks));
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    json doc = Parse(r);
    ASSERT_FALSE(doc.is_discarded()) << r.out;
    EXPECT_EQ(doc["schema"], "kmend.fsck/1");
    ASSERT_EQ(doc["tablets"].size(), 2u);
    int segments = 0;
    for (const json& f : doc["files"]) segments += f["kind"] == "wal_segment";
    EXPECT_GE(segments, 4) << "want several WAL segments per tablet";
    for (const json& t : doc["tablets"]) {
      EXPECT_EQ(t["verdict"], "HEALTHY");
      EXPECT_TRUE(t["bootstrap"]["can_bootstrap"].get<bool>()) << t.dump();
      EXPECT_GT(t["bootstrap"]["last_flushed_op_index"].get<int64_t>(), 0);
      if (std::string(checks) == "decode") {
        EXPECT_GT(t["rows"].get<int64_t>(), 0);
      }
    }
  }
}

void FsckClusterTest::Sweep(int trials, bool truncate) {
  std::mt19937_64 rng(truncate ? 12 : 34);
  auto pick = [&](uint64_t n) { return n == 0 ? 0 : rng() % n; };
  // Files of the golden copy by kind, so every kind is represented.
  std::map<std::string, std::vector<std::string>> by_kind;
  for (const auto& [rel, bytes] : Snapshot(golden_)) {
    if (!bytes.empty() && Kind(rel) != "other") by_kind[Kind(rel)].push_back(rel);
  }
  ASSERT_EQ(by_kind.size(), 7u) << "every file type must be present";
  std::vector<std::string> kinds;
  for (const auto& [k, v] : by_kind) kinds.push_back(k);
  const auto extents = LiveExtents(golden_);
  const std::string copy = base_ + "/sweep";
  int flagged = 0, unused = 0, unprotected = 0;
  std::map<std::string, int> per_kind;
  for (int i = 0; i < trials; ++i) {
    const std::string& kind = kinds[i % kinds.size()];
    const std::string rel = by_kind[kind][pick(by_kind[kind].size())];
    CopyDir(golden_, copy);
    const std::string path = copy + "/" + rel;
    std::string bytes = *io::ReadFileToString(path);
    const uint64_t offset = pick(bytes.size());
    if (truncate) {
      ASSERT_EQ(::truncate(path.c_str(), static_cast<off_t>(offset)), 0);
    } else {
      int fd = ::open(path.c_str(), O_WRONLY);
      ASSERT_GE(fd, 0);
      char c = static_cast<char>(bytes[offset] ^ static_cast<char>(1 + pick(255)));
      ASSERT_EQ(::pwrite(fd, &c, 1, static_cast<off_t>(offset)), 1);
      ::close(fd);
    }
    ToolResult r = Fsck(absl::StrCat("--fs_root ", copy, " --format=json"));
    json doc = Parse(r);
    ASSERT_FALSE(doc.is_discarded()) << "trial " << i << ": " << r.out << r.err;
    const std::string what = absl::StrCat(truncate ? "truncation" : "flip", " of ", rel, " at ",
                                          offset, " (", bytes.size(), " bytes)");
    if (Flagged(doc, path)) {
      EXPECT_EQ(r.exit_code, 1) << what;
      ++flagged;
      ++per_kind[kind];
      continue;
    }
    // Not flagged: only acceptable where no check can exist.
    bool ok = false;
    if (kind == "container_data") {
      bool in_extent = false;
      for (const auto& [b, e] : extents.at(golden_ + "/" + rel)) {
        in_extent |= truncate ? offset < e : (offset >= b && offset < e);
      }
      if (!in_extent) {
        ++unused;
        ok = true;
      }
    } else if (kind == "wal_segment" && !truncate) {
      auto [b, e] = FooterTimestampRange(golden_ + "/" + rel);
      if (offset >= b && offset < e) {
        ++unprotected;
        ok = true;
      }
    }
    EXPECT_TRUE(ok) << "not flagged: " << what << "\n" << r.out;
    if (!ok) break;
  }
  std::cout << (truncate ? "truncations" : "flips") << ": " << trials << " trials, " << flagged
            << " flagged naming the file, " << unused
            << " in bytes of .data files outside every live block (alignment padding, "
               "punched holes: never read), "
            << unprotected
            << " in a WAL footer's close_timestamp_micros (no checksum or constraint in the "
               "format)\n  flagged per file type:";
  for (const auto& [k, n] : per_kind) std::cout << " " << k << "=" << n;
  std::cout << std::endl;
}

TEST_F(FsckClusterTest, EveryByteFlipIsFlaggedNamingTheFile) { Sweep(g_flips, false); }

TEST_F(FsckClusterTest, EveryTruncationIsFlaggedNamingTheFile) { Sweep(g_truncations, true); }

// Damage for the repair cases: a flipped byte inside a live block of tablet
// 0 and a torn last batch in tablet 1's last segment. Returns the rows the
// torn batch held (lost by the repair, never acknowledged as far as the
// replica's WAL can tell).
int64_t Damage(const std::string& root, const std::vector<std::string>& tablets) {
  fs::Layout layout(root);
  // A block of tablet 0.
  auto sb = tablet::LoadSuperBlock(layout, tablets[0]);
  EXPECT_TRUE(sb.ok());
  const uint64_t block = sb->rowsets(0).columns(1).block().id();
  const std::vector<std::string> ids = *blocks::ListContainerIds(layout.DataDir());
  for (const std::string& id : ids) {
    auto c = blocks::LoadContainer(layout.DataDir(), id, 4096);
    auto it = c->live.find(block);
    if (it == c->live.end()) continue;
    int fd = ::open(c->data_path.c_str(), O_RDWR);
    char x = 0;
    EXPECT_EQ(::pread(fd, &x, 1, it->second.offset + it->second.length / 2), 1);
    x = static_cast<char>(x ^ 0x10);
    EXPECT_EQ(::pwrite(fd, &x, 1, it->second.offset + it->second.length / 2), 1);
    ::close(fd);
  }
  // The last batch of tablet 1: cut the footer and 20 bytes of that batch.
  std::string last;
  int64_t rows = 0;
  uint64_t last_batch = 0;
  const std::vector<std::string> segments = *wal::ListSegmentFiles(layout.WalDir(tablets[1]));
  for (const std::string& s : segments) {
    class V : public wal::LogVisitor {
     public:
      absl::Status OnBatch(const wal::SegmentReader&, const wal::Batch& b) override {
        offset = b.offset + b.size_bytes;
        rows = 0;
        for (const auto& e : b.batch.entry()) {
          if (e.has_replicate()) rows += e.replicate().kmend_write().ops_size();
        }
        return absl::OkStatus();
      }
      uint64_t offset = 0;
      int64_t rows = 0;
    } v;
    auto sum = wal::ReadLog(s, {}, &v);
    if (sum.ok() && sum->entries > 0) {
      last = s;
      rows = v.rows;
      last_batch = v.offset;
    }
  }
  EXPECT_EQ(::truncate(last.c_str(), static_cast<off_t>(last_batch - 20)), 0);
  return rows;
}

TEST_F(FsckClusterTest, RepairedDirectoryStartsAndServesEveryUndamagedRow) {
  // Row counts before any damage.
  ServerProcess* ts = cluster_->tserver(0);
  const std::string root = ts->fs_root();
  CopyDir(golden_, root);
  const int64_t lost = Damage(root, tablets_);
  const auto damaged = Snapshot(root);
  ToolResult before = Fsck(absl::StrCat("--fs_root ", root, " --format=json"));
  EXPECT_EQ(before.exit_code, 1);
  json doc = Parse(before);
  std::map<std::string, std::string> verdict;
  for (const json& t : doc["tablets"]) verdict[t["tablet_id"]] = t["verdict"];
  EXPECT_EQ(verdict[tablets_[0]], "NEEDS_REBUILD") << before.out;
  EXPECT_EQ(verdict[tablets_[1]], "REPAIRABLE_LOCALLY") << before.out;
  // The dry run changes nothing.
  ToolResult dry = Fsck(absl::StrCat("--fs_root ", root, " --repair"));
  EXPECT_EQ(Diff(Snapshot(root), damaged), "");
  EXPECT_TRUE(absl::StrContains(dry.out, "would mark tablet " + tablets_[0] + " FAILED"))
      << dry.out;

  const std::string backup = base_ + "/repair-backup";
  stdfs::remove_all(backup);
  ToolResult rep = Fsck(
      absl::StrCat("--fs_root ", root, " --repair --yes --backup_dir ", backup, " --format=json"));
  EXPECT_EQ(rep.exit_code, 1) << rep.out << rep.err;  // tablet 0 still needs a rebuild
  json after = Parse(rep);
  for (const json& t : after["tablets"]) verdict[t["tablet_id"]] = t["verdict"];
  EXPECT_EQ(verdict[tablets_[1]], "HEALTHY") << rep.out;

  ASSERT_TRUE(ts->Restart().ok());
  // The replica serves once it is up; the replayed ops are applied once its
  // leadership commits them.
  int64_t rows = -1;
  ExternalCluster::WaitFor(
      [&] {
        auto c = ReplicaChecksum(*cluster_, 0, tablets_[1]);
        rows = c.ok() ? c->row_count() : -1;
        return rows == kRowsPerTablet - lost;
      },
      seconds(30), "tablet 1 serving its rows")
      .IgnoreError();
  EXPECT_EQ(rows, kRowsPerTablet - lost) << "lost " << lost;
  EXPECT_FALSE(ReplicaChecksum(*cluster_, 0, tablets_[0]).ok()) << "a FAILED replica is not served";
  ASSERT_TRUE(ts->Shutdown().ok());

  // Undo after the server ran: the files fsck changed come back as they were
  // (the server itself wrote new segments since, which undo leaves alone).
  ToolResult undo = Fsck(absl::StrCat("undo --backup_dir ", backup, " --yes"));
  EXPECT_EQ(undo.exit_code, 0) << undo.out << undo.err;
  const auto now = Snapshot(root);
  auto m = json::parse(*io::ReadFileToString(backup + "/manifest.json"));
  for (const json& a : m["actions"]) {
    for (const json& b : a["backups"]) {
      const std::string rel = stdfs::relative(b["path"].get<std::string>(), root).string();
      if (b["kind"] == "file") {
        EXPECT_TRUE(now.at(rel) == damaged.at(rel)) << rel;
      }
    }
  }
}

TEST_F(FsckClusterTest, KilledRepairRerunEqualsUninterruptedAndUndoRestoresTheOriginal) {
  const std::string damaged = base_ + "/kill-damaged";
  CopyDir(golden_, damaged);
  Damage(damaged, tablets_);
  // A leftover temp file and a torn container metadata tail too.
  ASSERT_TRUE(io::WriteFileAtomically(damaged + "/tablet-meta/x.kudutmp.AbCdEf", "partial").ok());
  for (const auto& e : stdfs::directory_iterator(damaged + "/data")) {
    if (absl::EndsWith(e.path().string(), ".metadata")) {
      std::string b = *io::ReadFileToString(e.path().string());
      ASSERT_TRUE(io::WriteFileAtomically(e.path().string(), b + std::string("\x30\x00", 2)).ok());
      ::chmod(e.path().c_str(), 0644);
    }
  }
  const auto original = Snapshot(damaged);
  const std::string ts = "--timestamp_micros 1700000000000000";
  // Reference: uninterrupted.
  const std::string ref = base_ + "/kill-ref";
  CopyDir(damaged, ref);
  stdfs::remove_all(base_ + "/kill-ref-backup");
  auto t0 = std::chrono::steady_clock::now();
  ToolResult r = Fsck(absl::StrCat("--fs_root ", ref, " --repair --yes --backup_dir ", base_,
                                   "/kill-ref-backup ", ts));
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_EQ(r.exit_code, 1) << r.out << r.err;
  auto rel = [](std::map<std::string, std::string> m) { return m; };
  const auto repaired = rel(Snapshot(ref));
  ASSERT_NE(Diff(repaired, original), "");

  const std::string bin = RunfilePath("tools/kmend-fsck");
  std::mt19937_64 rng(99);
  int killed_mid_run = 0;
  for (int i = 0; i < g_kills; ++i) {
    const std::string dir = base_ + "/kill-trial";
    const std::string backup = base_ + "/kill-backup";
    CopyDir(damaged, dir);
    stdfs::remove_all(backup);
    const auto delay = std::chrono::microseconds(rng() % static_cast<uint64_t>(ms * 1000 + 1));
    pid_t pid = ::fork();
    if (pid == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::execl(bin.c_str(), bin.c_str(), "--fs_root", dir.c_str(), "--repair", "--yes",
              "--backup_dir", backup.c_str(), "--timestamp_micros", "1700000000000000", nullptr);
      ::_exit(127);
    }
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    killed_mid_run += WIFSIGNALED(status);
    ToolResult again =
        Fsck(absl::StrCat("--fs_root ", dir, " --repair --yes --backup_dir ", backup, " ", ts));
    ASSERT_EQ(again.exit_code, 1) << "trial " << i << ": " << again.out << again.err;
    EXPECT_EQ(Diff(Snapshot(dir), repaired), "")
        << "trial " << i << " (killed after " << delay.count()
        << " us) differs from the uninterrupted repair";
    ToolResult undo = Fsck(absl::StrCat("undo --backup_dir ", backup, " --yes"));
    ASSERT_EQ(undo.exit_code, 0) << undo.out << undo.err;
    auto restored = Snapshot(dir);
    // A kill during undo's own writes is not tested here; a kill during the
    // repair may leave a temp file of an atomic write, which is garbage.
    for (auto it = restored.begin(); it != restored.end();) {
      it = absl::StrContains(it->first, ".kudutmp.") && !original.count(it->first)
               ? restored.erase(it)
               : std::next(it);
    }
    EXPECT_EQ(Diff(restored, original), "") << "trial " << i << ": undo did not restore every byte";
  }
  std::cout << g_kills << " kill -9 trials (" << killed_mid_run
            << " killed before exiting; uninterrupted repair took " << ms << " ms)" << std::endl;
}

TEST_F(FsckClusterTest, LockedDirectoryIsRefusedNamingThePid) {
  ServerProcess* ts = cluster_->tserver(0);
  CopyDir(golden_, ts->fs_root());
  ASSERT_TRUE(ts->Restart().ok());
  ToolResult r = Fsck(absl::StrCat("--fs_root ", ts->fs_root()));
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, std::to_string(ts->pid()))) << r.err;
  ToolResult rep = Fsck(absl::StrCat("--fs_root ", ts->fs_root(), " --repair --yes --backup_dir ",
                                     base_, "/locked-backup"));
  EXPECT_EQ(rep.exit_code, 2);
  EXPECT_FALSE(stdfs::exists(base_ + "/locked-backup/manifest.json"));
  ASSERT_TRUE(ts->Shutdown().ok());
}

TEST_F(FsckClusterTest, UnreadableFileIsReportedAndTheRestIsChecked) {
  // Root reads any file whatever its mode: fsck runs as "nobody" here. That
  // needs root, setpriv, and a uid map that has 65534 (the linux-sandbox's
  // user namespace has not: the BUILD target is tagged no-sandbox).
  if (::geteuid() != 0 ||
      std::system("/usr/bin/setpriv --reuid=65534 --regid=65534 --clear-groups true "
                  ">/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "needs root and setpriv to run fsck as an unprivileged user";
  }
  // Outside TEST_TMPDIR, whose parents only root may enter.
  char tmpl[] = "/tmp/fsck_unreadable_XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string dir = std::string(tmpl) + "/ts";
  CopyDir(golden_, dir);
  ASSERT_EQ(
      std::system(
          absl::StrCat("chmod -R a+rX ", tmpl, " && chmod 666 ", dir, "/.kmend.lock").c_str()),
      0);
  const std::string wal0 = (*wal::ListSegmentFiles(fs::Layout(dir).WalDir(tablets_[0])))[0];
  ASSERT_EQ(::chmod(wal0.c_str(), 0), 0);
  const std::string out = std::string(tmpl) + "/out.json";
  const int rc = std::system(absl::StrCat("/usr/bin/setpriv --reuid=65534 --regid=65534 "
                                          "--clear-groups ",
                                          RunfilePath("tools/kmend-fsck"), " --fs_root ", dir,
                                          " --format=json >", out, " 2>&1")
                                 .c_str());
  EXPECT_EQ(WEXITSTATUS(rc), 1);
  json doc = json::parse(*io::ReadFileToString(out), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << *io::ReadFileToString(out);
  bool reported = false;
  for (const json& f : doc["files"]) {
    if (f["path"] == wal0) reported = f["status"] == "UNREADABLE";
  }
  EXPECT_TRUE(reported) << doc.dump(1);
  for (const json& t : doc["tablets"]) {
    EXPECT_EQ(t["verdict"], t["tablet_id"] == tablets_[0] ? "UNCHECKED" : "HEALTHY") << t.dump();
  }
  stdfs::remove_all(tmpl);
}

}  // namespace
}  // namespace kmend::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) kmend::testing::g_flips = std::atoi(argv[1]);
  if (argc > 2) kmend::testing::g_truncations = std::atoi(argv[2]);
  if (argc > 3) kmend::testing::g_kills = std::atoi(argv[3]);
  return RUN_ALL_TESTS();
}
