// lib/fsck on data directories built with the server's own libraries
// (test_data_dir.h): one planted fault per test, the report must name it,
// the verdict must follow, the repair must fix exactly it and undo must put
// every byte back.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/fs/layout.h"
#include "lib/fsck/manifest.h"
#include "lib/fsck/render.h"
#include "lib/fsck/repair.h"
#include "lib/fsck/scan.h"
#include "lib/fsck/test_data_dir.h"
#include "lib/fsck/verdict.h"
#include "lib/io/file.h"
#include "lib/tablet/superblock.h"
#include "lib/wal/log_reader.h"

namespace kmend::fsck {
namespace {

using ::testing::HasSubstr;
namespace stdfs = std::filesystem;

// Every regular file under `dir` (but the lock file) -> its bytes.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : stdfs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().filename() == ".kmend.lock") continue;
    out[stdfs::relative(e.path(), dir).string()] = *io::ReadFileToString(e.path().string());
  }
  return out;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::string bytes = *io::ReadFileToString(path);
  ASSERT_LT(offset, bytes.size()) << path;
  bytes[offset] = static_cast<char>(bytes[offset] ^ 0x5a);
  ASSERT_TRUE(io::WriteFileAtomically(path, bytes).ok());
}

class FsckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("TEST_TMPDIR");
    dir_ = absl::StrCat(base ? base : "/tmp", "/fsck_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    stdfs::remove_all(dir_);
    stdfs::create_directories(dir_);
    root_ = dir_ + "/ts";
    auto d = MakeTestDataDir(root_, options_);
    ASSERT_TRUE(d.ok()) << d.status();
    data_ = *d;
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  // Defined with the resume tests below.
  void CheckResumedRepair(bool leftover_temp);

  ScanResult Check(Checks checks = Checks::kChecksums) {
    ScanOptions o;
    o.checks = checks;
    auto r = Scan(root_, o);
    EXPECT_TRUE(r.ok()) << r.status();
    Judge(&r->report);
    return *r;
  }
  const TabletReport& TabletOf(const ScanResult& r, const std::string& id) {
    for (const TabletReport& t : r.report.tablets) {
      if (t.tablet_id == id) return t;
    }
    ADD_FAILURE() << "no tablet " << id;
    return r.report.tablets.at(0);
  }
  const FileReport* FileOf(const ScanResult& r, const std::string& path) {
    for (const FileReport& f : r.report.files) {
      if (f.path == path) return &f;
    }
    return nullptr;
  }
  std::vector<std::string> Segments(const std::string& tablet) {
    return *wal::ListSegmentFiles(fs::Layout(root_).WalDir(tablet));
  }
  // The segment holding the tablet's last entry (a segment opened after it
  // may hold nothing).
  std::string LastSegmentWithEntries(const std::string& tablet) {
    std::string out;
    for (const std::string& s : Segments(tablet)) {
      auto summary = wal::ReadLog(s, {}, nullptr);
      if (summary.ok() && summary->entries > 0) out = s;
    }
    return out;
  }
  std::string DataFile() {
    for (const auto& e : stdfs::directory_iterator(root_ + "/data")) {
      if (absl::EndsWith(e.path().string(), ".data")) return e.path().string();
    }
    return "";
  }
  // Repairs with a backup, checks the result is clean of what was fixed, then
  // undoes and checks every byte is back.
  ScanResult RepairAndUndo(const ScanResult& before) {
    const auto original = Snapshot(root_);
    auto plan = PlanRepair(before, 1234567);
    EXPECT_TRUE(plan.ok()) << plan.status();
    auto done = ExecuteRepair(*plan, dir_ + "/backup");
    EXPECT_TRUE(done.ok()) << done.status();
    ScanResult after = Check();
    auto undo = Undo(dir_ + "/backup", /*apply=*/true);
    EXPECT_TRUE(undo.ok()) << undo.status();
    EXPECT_EQ(Snapshot(root_), original) << "undo did not restore every byte";
    return after;
  }

  TestDataDirOptions options_;
  std::string dir_, root_;
  TestDataDir data_;
};

TEST_F(FsckTest, CleanDirectoryIsHealthyAndBootstraps) {
  for (Checks c : {Checks::kFraming, Checks::kChecksums, Checks::kDecode}) {
    ScanResult r = Check(c);
    EXPECT_TRUE(r.report.clean()) << ReportText(r.report, nullptr, true);
    ASSERT_EQ(r.report.tablets.size(), 2u);
    for (const TabletReport& t : r.report.tablets) {
      EXPECT_EQ(t.verdict, Verdict::kHealthy);
      EXPECT_TRUE(t.bootstrap.ok) << t.bootstrap.reason;
      EXPECT_EQ(t.bootstrap.last_flushed_op_index, 6);
      EXPECT_EQ(t.bootstrap.wal_last_index, 12);
      if (c == Checks::kDecode) {
        EXPECT_EQ(t.rows, 300);
      }
    }
    EXPECT_EQ(r.report.blocks_checked, c == Checks::kFraming ? 0 : 4);
  }
}

TEST_F(FsckTest, FlippedBlockByteIsCorruptWithStoredAndComputedCrcAndNeedsRebuild) {
  const std::string data = DataFile();
  FlipByte(data, 100);  // inside the first block
  for (Checks c : {Checks::kChecksums, Checks::kDecode}) {
    ScanResult r = Check(c);
    const FileReport* f = FileOf(r, data);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->status, FileStatus::kCorrupt);
    ASSERT_EQ(r.report.blocks.size(), 1u);
    const BlockReport& b = r.report.blocks[0];
    EXPECT_EQ(b.status, BlockStatus::kCorrupt);
    EXPECT_EQ(b.offset, 0);
    if (c == Checks::kChecksums) {
      EXPECT_TRUE(b.problem.has_crc);
      EXPECT_NE(b.problem.stored_crc, b.problem.computed_crc);
    }
    const TabletReport& t = TabletOf(r, b.tablet_id);
    EXPECT_EQ(t.verdict, Verdict::kNeedsRebuild);
    EXPECT_EQ(t.fix_command, absl::StrCat("kmend rebuild-replica --fs_root ", root_, " --tablet ",
                                          b.tablet_id, " --source 127.0.0.1:7051 --yes"));
  }
  // Framing alone does not read block bytes.
  EXPECT_TRUE(Check(Checks::kFraming).report.clean());
}

TEST_F(FsckTest, RepairMarksNeedsRebuildTabletFailedAndTouchesNothingElse) {
  FlipByte(DataFile(), 100);
  ScanResult before = Check();
  const std::string bad = before.report.blocks.at(0).tablet_id;
  ScanResult after = RepairAndUndo(before);
  const TabletReport& t = TabletOf(after, bad);
  EXPECT_EQ(t.data_state, "FAILED");
  EXPECT_EQ(t.verdict, Verdict::kNeedsRebuild);
  for (const TabletReport& o : after.report.tablets) {
    if (o.tablet_id != bad) {
      EXPECT_EQ(o.verdict, Verdict::kHealthy);
    }
  }
}

TEST_F(FsckTest, TornWalTailIsRepairableAndRepairClosesTheSegmentAsRecoveryWould) {
  const std::string tablet = data_.tablet_ids[0];
  const std::string last = LastSegmentWithEntries(tablet);
  const uint64_t size = *io::FileSize(last);
  // Cut the footer and half of the last batch: a crash mid-append.
  ASSERT_EQ(::truncate(last.c_str(), static_cast<off_t>(size - 200)), 0);
  ScanResult r = Check();
  const FileReport* f = FileOf(r, last);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->status, FileStatus::kTornTail);
  const TabletReport& t = TabletOf(r, tablet);
  EXPECT_EQ(t.verdict, Verdict::kRepairableLocally);
  EXPECT_TRUE(t.bootstrap.ok) << t.bootstrap.reason;
  EXPECT_EQ(t.bootstrap.wal_last_index, 11);
  ScanResult after = RepairAndUndo(r);
  EXPECT_TRUE(after.report.clean()) << ReportText(after.report, nullptr, true);
}

TEST_F(FsckTest, MidLogCorruptionAndMissingSegmentNeedRebuild) {
  const std::string tablet = data_.tablet_ids[1];
  auto segs = Segments(tablet);
  ASSERT_GE(segs.size(), 3u);
  FlipByte(segs[0], 200);
  ScanResult r = Check();
  EXPECT_EQ(FileOf(r, segs[0])->status, FileStatus::kCorrupt);
  EXPECT_EQ(TabletOf(r, tablet).verdict, Verdict::kNeedsRebuild);
  EXPECT_FALSE(TabletOf(r, tablet).bootstrap.ok);

  stdfs::remove(segs[1]);
  r = Check();
  bool sequence = false;
  for (const FileReport& f : r.report.files) {
    for (const Problem& p : f.problems) sequence |= absl::StrContains(p.what, "sequence");
  }
  EXPECT_TRUE(sequence) << ReportText(r.report, nullptr, true);
  EXPECT_EQ(TabletOf(r, tablet).verdict, Verdict::kNeedsRebuild);
}

TEST_F(FsckTest, WalStartingPastTheFlushedOpCannotBootstrap) {
  // Ops 1..6 are flushed; deleting the segments holding op 7 and before
  // leaves 7 nowhere.
  const std::string tablet = data_.tablet_ids[0];
  for (const std::string& s : Segments(tablet)) {
    auto summary = wal::ReadLog(s, {}, nullptr);
    ASSERT_TRUE(summary.ok());
    const int64_t min = summary->segments[0].min_replicate_index;
    if (min >= 0 && min <= 7) stdfs::remove(s);
  }
  ScanResult r = Check();
  const TabletReport& t = TabletOf(r, tablet);
  EXPECT_FALSE(t.bootstrap.ok);
  EXPECT_THAT(t.bootstrap.reason, HasSubstr("ops 7.."));
  EXPECT_EQ(t.verdict, Verdict::kNeedsRebuild);
}

TEST_F(FsckTest, OrphanedBlocksAreDeletedTheWayTheBlockManagerDoes) {
  auto ids = AddOrphanedBlocks(root_, 3);
  ASSERT_TRUE(ids.ok()) << ids.status();
  ScanResult r = Check();
  int orphans = 0;
  for (const BlockReport& b : r.report.blocks) orphans += b.status == BlockStatus::kOrphaned;
  EXPECT_EQ(orphans, 3);
  for (const TabletReport& t : r.report.tablets) EXPECT_EQ(t.verdict, Verdict::kHealthy);
  ScanResult after = RepairAndUndo(r);
  EXPECT_TRUE(after.report.clean()) << ReportText(after.report, nullptr, true);
}

TEST_F(FsckTest, OrphanedBlocksAreKeptWhenASuperblockDoesNotLoad) {
  ASSERT_TRUE(AddOrphanedBlocks(root_, 2).ok());
  FlipByte(fs::Layout(root_).TabletMetaPath(data_.tablet_ids[0]), 40);
  ScanResult r = Check();
  EXPECT_EQ(TabletOf(r, data_.tablet_ids[0]).verdict, Verdict::kNeedsRebuild);
  auto plan = PlanRepair(r, 1);
  ASSERT_TRUE(plan.ok());
  for (const RepairAction& a : plan->actions) {
    EXPECT_NE(a.kind, RepairAction::Kind::kDeleteOrphanedBlocks) << a.description;
  }
}

TEST_F(FsckTest, TornContainerMetadataIsTruncated) {
  std::string md = DataFile();
  md.replace(md.size() - 5, 5, ".metadata");
  std::string bytes = *io::ReadFileToString(md);
  bytes += std::string("\x20\x00\x00\x00", 4);  // half a record header
  ASSERT_TRUE(io::WriteFileAtomically(md, bytes).ok());
  ScanResult r = Check();
  EXPECT_EQ(FileOf(r, md)->status, FileStatus::kTornTail);
  EXPECT_FALSE(r.report.server_problems.empty());
  ScanResult after = RepairAndUndo(r);
  EXPECT_TRUE(after.report.clean()) << ReportText(after.report, nullptr, true);
}

// A repair killed mid-way and run again ends where an uninterrupted one does,
// and its undo restores the original. The kill is faked: the repair is run
// to its end, then its manifest is rewritten as a killed run leaves it (in
// progress; the actions from the first one (all) or the last one
// (leftover_temp) on only backed up, their changes on disk: a resumed run
// redoes them). With leftover_temp the killed run had also written a
// superblock's temp file without renaming it, which the resumed run must
// delete and undo must not bring back; the resume then starts from a new
// scan, as `kmend fsck --repair` does.
void FsckTest::CheckResumedRepair(bool leftover_temp) {
  const std::string& root = root_;
  const std::string& dir = dir_;
  const std::string& tablet = data_.tablet_ids[0];
  const std::string wal_segment = LastSegmentWithEntries(tablet);
  ASSERT_EQ(::truncate(wal_segment.c_str(), static_cast<off_t>(*io::FileSize(wal_segment) - 100)),
            0);
  const auto original = Snapshot(root);
  auto plan = PlanRepair(Check(), 42);
  ASSERT_TRUE(plan.ok());
  ASSERT_TRUE(ExecuteRepair(*plan, dir + "/b1").ok());
  const auto uninterrupted = Snapshot(root);
  ASSERT_TRUE(Undo(dir + "/b1", true).ok());
  ASSERT_EQ(Snapshot(root), original);
  ASSERT_TRUE(ExecuteRepair(*plan, dir + "/b2").ok());
  auto m = ReadManifest(dir + "/b2");
  ASSERT_TRUE(m.ok());
  m->state = Manifest::State::kInProgress;
  for (size_t i = leftover_temp ? m->actions.size() - 1 : 0; i < m->actions.size(); ++i) {
    m->actions[i].state = ManifestAction::State::kBackedUp;
  }
  ASSERT_TRUE(WriteManifest(dir + "/b2", *m).ok());
  const std::string temp = fs::Layout(root).TabletMetaPath(tablet) + ".kudutmp.Kill9x";
  if (leftover_temp) {
    ASSERT_TRUE(io::WriteFileAtomically(temp, "half a superblock").ok());
    plan = PlanRepair(Check(), 43);
    ASSERT_TRUE(plan.ok());
  }
  auto resumed = ExecuteRepair(*plan, dir + "/b2");
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_TRUE(resumed->resumed);
  EXPECT_FALSE(io::FileExists(temp));
  EXPECT_EQ(Snapshot(root), uninterrupted);
  ASSERT_TRUE(Undo(dir + "/b2", true).ok());
  EXPECT_EQ(Snapshot(root), original);
}

TEST_F(FsckTest, ResumedRepairEqualsUninterruptedOne) {
  ASSERT_TRUE(AddOrphanedBlocks(root_, 2).ok());
  CheckResumedRepair(/*leftover_temp=*/false);
}

TEST_F(FsckTest, ResumedRepairDeletesTheInterruptedRunsOwnTempFiles) {
  CheckResumedRepair(/*leftover_temp=*/true);
}

// Every action kind is written to the manifest by a name ReadManifest
// knows: a repair killed mid-way must be resumable and undoable whatever it
// was doing (truncate_data had no name and came back "unknown").
TEST_F(FsckTest, EveryActionKindSurvivesTheManifest) {
  Manifest m;
  m.fs_root = root_;
  for (auto kind : {RepairAction::Kind::kCloseWalSegment, RepairAction::Kind::kTruncateMetadata,
                    RepairAction::Kind::kTruncateData, RepairAction::Kind::kDeleteOrphanedBlocks,
                    RepairAction::Kind::kDeleteFile, RepairAction::Kind::kMarkFailed}) {
    EXPECT_STRNE(RepairActionKindName(kind), "unknown");
    ManifestAction a;
    a.action.kind = kind;
    a.action.path = root_ + "/x";
    m.actions.push_back(a);
  }
  stdfs::create_directories(dir_ + "/kinds");
  ASSERT_TRUE(WriteManifest(dir_ + "/kinds", m).ok());
  auto read = ReadManifest(dir_ + "/kinds");
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->actions.size(), m.actions.size());
  for (size_t i = 0; i < m.actions.size(); ++i) {
    EXPECT_EQ(read->actions[i].action.kind, m.actions[i].action.kind) << i;
  }
}

TEST_F(FsckTest, BackupDirInsideDataDirOrReusedIsRefused) {
  ASSERT_TRUE(AddOrphanedBlocks(root_, 1).ok());
  auto plan = PlanRepair(Check(), 1);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(ExecuteRepair(*plan, root_ + "/backup").status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(ExecuteRepair(*plan, dir_ + "/b").ok());
  EXPECT_EQ(ExecuteRepair(*plan, dir_ + "/b").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(FsckTest, DamagedBackupIsRefusedBeforeAnythingIsRestored) {
  FlipByte(DataFile(), 100);
  auto plan = PlanRepair(Check(), 1);
  ASSERT_TRUE(plan.ok());
  ASSERT_TRUE(ExecuteRepair(*plan, dir_ + "/b").ok());
  const auto repaired = Snapshot(root_);
  auto m = ReadManifest(dir_ + "/b");
  ASSERT_TRUE(m.ok());
  FlipByte(dir_ + "/b/" + m->actions.back().backups.at(0).backup, 10);
  auto undo = Undo(dir_ + "/b", true);
  EXPECT_EQ(undo.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(Snapshot(root_), repaired);
}

// The judge alone, on hand-made reports.
TEST(VerdictTest, UnreadableFileMakesTheTabletUncheckedNotRebuilt) {
  FsckReport r;
  r.fs_root = "/d";
  r.tablets.push_back({});
  r.tablets[0].tablet_id = "t";
  r.tablets[0].data_state = "READY";
  FileReport f;
  f.path = "/d/wals/t/wal-000000001";
  f.kind = FileKind::kWalSegment;
  f.tablet_id = "t";
  f.status = FileStatus::kUnreadable;
  r.files.push_back(f);
  r.tablets[0].bootstrap.checked = true;
  r.tablets[0].bootstrap.reason = "the WAL cannot be read";
  Judge(&r);
  EXPECT_EQ(r.tablets[0].verdict, Verdict::kUnchecked);
  EXPECT_TRUE(r.tablets[0].fix_command.empty());
}

TEST(VerdictTest, RebuildSourceIsAPeerOtherThanThisServer) {
  FsckReport r;
  r.fs_root = "/d";
  r.server_uuid = "me";
  TabletReport t;
  t.tablet_id = "t";
  t.data_state = "FAILED";
  t.peers = {"me@127.0.0.1:1", "other@10.0.0.2:7050"};
  r.tablets.push_back(t);
  Judge(&r);
  EXPECT_EQ(r.tablets[0].verdict, Verdict::kNeedsRebuild);
  EXPECT_EQ(r.tablets[0].fix_command,
            "kmend rebuild-replica --fs_root /d --tablet t --source 10.0.0.2:7050 --yes");
}

}  // namespace
}  // namespace kmend::fsck
