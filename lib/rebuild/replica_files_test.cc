// InspectReplicaFiles on real files, and the term rule on what it finds: a
// WAL torn at its tail (what a crash mid-append leaves) reads as the log up
// to the tear; damage before the end is reported as such; an unreadable
// consensus metadata is recorded as unreadable, never as term 0.
#include "lib/rebuild/replica_files.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/rebuild/target_term.h"
#include "lib/wal/format.h"
#include "lib/wal/wal_test_util.h"

namespace kmend::rebuild {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using wal::testing::BuildSegment;
using wal::testing::BuiltSegment;
using wal::testing::MakeBatches;

constexpr char kTablet[] = "0123456789abcdef0123456789abcdef";

consensus::OpId Op(int64_t term, int64_t index) {
  consensus::OpId id;
  id.set_term(term);
  id.set_index(index);
  return id;
}

class ReplicaFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    layout_ = fs::Layout(wal::testing::FreshDir(
        ::testing::UnitTest::GetInstance()->current_test_info()->name()));
    ASSERT_TRUE(io::CreateDirs(layout_.WalDir(kTablet)).ok());
    ASSERT_TRUE(io::CreateDirs(layout_.ConsensusMetaDir()).ok());
  }

  // One open segment (no footer) of 4 batches x 5 entries, term 1, ops
  // 1.1-1.20, then `tail` and 64 KiB of preallocated zeros.
  void WriteWal(const std::string& tail, BuiltSegment* seg_out = nullptr) {
    BuiltSegment seg = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 4, 5), /*footer=*/false);
    wal::testing::WriteFile(SegmentPath(), seg.bytes + tail + std::string(64 << 10, '\0'));
    if (seg_out != nullptr) *seg_out = seg;
  }
  void WriteCmeta(int64_t term) {
    consensus::ConsensusMetadataPB c;
    c.set_current_term(term);
    ASSERT_TRUE(meta::StoreConsensusMeta(layout_.ConsensusMetaPath(kTablet), c).ok());
  }
  static void FlipByte(const std::string& path, uint64_t offset) {
    std::string bytes = wal::testing::ReadFile(path);
    ASSERT_LT(offset, bytes.size());
    bytes[offset] ^= 0x5a;
    wal::testing::WriteFile(path, bytes);
  }
  std::string SegmentPath() const {
    return io::JoinPath(layout_.WalDir(kTablet), wal::SegmentFileName(1));
  }

  fs::Layout layout_{""};
};

// A batch whose header made it to disk but only half its payload.
std::string TornBatch() {
  std::string batch;
  wal::AppendBatch(std::string(4000, 'x'), 4000, &batch);
  return batch.substr(0, wal::kBatchHeaderBytesV2 + 2000);
}

TEST_F(ReplicaFilesTest, AWalTornAtItsTailReadsAsTheLogUpToTheTear) {
  WriteWal(TornBatch());
  WriteCmeta(1);
  TargetFiles t = InspectReplicaFiles(layout_, kTablet);
  EXPECT_TRUE(t.wal_present);
  EXPECT_TRUE(t.wal_clean) << t.wal_error;
  ASSERT_TRUE(t.wal_last_logged.has_value());
  EXPECT_EQ(t.wal_last_logged->index(), 20);
  EXPECT_EQ(t.wal_last_logged->term(), 1);
  TermJudgement j = JudgeTargetTerm(t, Op(1, 25), false);
  EXPECT_EQ(j.refusal, Refusal::kNone) << j.message;
  EXPECT_EQ(j.last_logged_from, "wal");
  EXPECT_TRUE(j.warnings.empty());
}

TEST_F(ReplicaFilesTest, AWalTornMidHeaderReadsAsTheLogUpToTheTear) {
  WriteWal(TornBatch().substr(0, 7));
  TargetFiles t = InspectReplicaFiles(layout_, kTablet);
  EXPECT_TRUE(t.wal_clean) << t.wal_error;
  ASSERT_TRUE(t.wal_last_logged.has_value());
  EXPECT_EQ(t.wal_last_logged->index(), 20);
}

TEST_F(ReplicaFilesTest, DamageBeforeTheEndIsNotATornTail) {
  BuiltSegment seg;
  WriteWal("", &seg);
  WriteCmeta(4);
  // A payload byte of the second batch: valid batches follow, so this is
  // corruption, not a crash's tear.
  FlipByte(SegmentPath(), seg.batch_offsets[1] + wal::kBatchHeaderBytesV2 + 3);
  TargetFiles t = InspectReplicaFiles(layout_, kTablet);
  EXPECT_TRUE(t.wal_present);
  EXPECT_FALSE(t.wal_clean);
  EXPECT_FALSE(t.wal_error.empty());
  // The consensus metadata's term bounds the log: 4 is ahead of the source's 3.
  TermJudgement j = JudgeTargetTerm(t, Op(3, 30), false);
  EXPECT_EQ(j.refusal, Refusal::kTargetTermAhead);
  EXPECT_EQ(j.last_logged_from, "cmeta term");
  EXPECT_THAT(j.message, HasSubstr("at most 4"));
}

TEST_F(ReplicaFilesTest, AnUnreadableConsensusMetadataIsSaidUnreadableNotTermZero) {
  WriteWal("");
  WriteCmeta(9);
  const std::string cmeta = layout_.ConsensusMetaPath(kTablet);
  FlipByte(cmeta, io::ReadFileToString(cmeta)->size() / 2);
  TargetFiles t = InspectReplicaFiles(layout_, kTablet);
  EXPECT_TRUE(t.cmeta_present);
  EXPECT_FALSE(t.cmeta_readable);
  EXPECT_FALSE(t.cmeta_error.empty());
  // The WAL still gives the last logged op: the rebuild can proceed, and
  // says the metadata is replaced.
  TermJudgement j = JudgeTargetTerm(t, Op(1, 30), false);
  EXPECT_EQ(j.refusal, Refusal::kNone) << j.message;
  EXPECT_EQ(j.last_logged_from, "wal");
  EXPECT_EQ(j.term_floor, 1);
  ASSERT_EQ(j.warnings.size(), 1u);
  EXPECT_THAT(j.warnings[0], HasSubstr("consensus metadata cannot be read"));

  // With the WAL gone too, nothing tells the term: refused, naming both.
  wal::testing::WriteFile(SegmentPath(), "XXXXXXXXnot a segment");
  t = InspectReplicaFiles(layout_, kTablet);
  j = JudgeTargetTerm(t, Op(1, 30), false);
  EXPECT_EQ(j.refusal, Refusal::kTargetTermUnknown);
  EXPECT_THAT(j.message, HasSubstr("cannot be read"));
  EXPECT_THAT(j.message, Not(HasSubstr("term 0")));
  EXPECT_FALSE(j.last_logged.has_value());
}

TEST_F(ReplicaFilesTest, NoFilesAtAllIsAReplicaThatNeverLogged) {
  TargetFiles t = InspectReplicaFiles(layout_, kTablet);
  EXPECT_EQ(t.superblock_state, "NONE");
  EXPECT_FALSE(t.cmeta_present);
  EXPECT_FALSE(t.wal_present);
  EXPECT_EQ(JudgeTargetTerm(t, Op(1, 1), false).refusal, Refusal::kNone);
}

}  // namespace
}  // namespace kmend::rebuild
