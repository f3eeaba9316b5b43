#include "lib/rebuild/target_term.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kmend::rebuild {
namespace {

using ::testing::HasSubstr;

consensus::OpId Op(int64_t term, int64_t index) {
  consensus::OpId id;
  id.set_term(term);
  id.set_index(index);
  return id;
}

// A FAILED replica whose metadata is fine and whose WAL reads cleanly.
TargetFiles Failed() {
  TargetFiles t;
  t.superblock_state = "FAILED";
  t.cmeta_present = t.cmeta_readable = true;
  t.cmeta_term = 3;
  t.wal_present = t.wal_clean = true;
  t.wal_last_logged = Op(3, 40);
  return t;
}

TEST(JudgeTargetTermTest, TheWalGivesTheLastLoggedTermWhenTheConsensusMetadataIsUnreadable) {
  TargetFiles t = Failed();
  t.cmeta_readable = false;
  t.cmeta_error = "crc mismatch";
  TermJudgement j = JudgeTargetTerm(t, Op(3, 50), false);
  EXPECT_EQ(j.refusal, Refusal::kNone) << j.message;
  EXPECT_EQ(j.last_logged_from, "wal");
  EXPECT_EQ(j.term_floor, 3);
  ASSERT_EQ(j.warnings.size(), 1u);
  EXPECT_THAT(j.warnings[0], HasSubstr("without a vote"));
}

TEST(JudgeTargetTermTest, AWalAheadOfTheSourceIsRefusedUnlessForced) {
  TargetFiles t = Failed();
  t.cmeta_readable = false;
  t.wal_last_logged = Op(5, 41);
  TermJudgement j = JudgeTargetTerm(t, Op(4, 60), false);
  EXPECT_EQ(j.refusal, Refusal::kTargetTermAhead);
  EXPECT_THAT(j.message, HasSubstr("5.41 (from its wal)"));
  TermJudgement forced = JudgeTargetTerm(t, Op(4, 60), true);
  EXPECT_EQ(forced.refusal, Refusal::kNone);
  EXPECT_EQ(forced.term_floor, 5);
  EXPECT_THAT(forced.warnings.back(), HasSubstr("--force: "));
}

TEST(JudgeTargetTermTest, NeitherWalNorConsensusMetadataReadableIsTargetTermUnknown) {
  TargetFiles t = Failed();
  t.superblock_state = "UNREADABLE";
  t.cmeta_readable = false;
  t.cmeta_error = "crc mismatch";
  t.wal_clean = false;
  t.wal_error = "bad segment header";
  t.wal_last_logged.reset();
  TermJudgement j = JudgeTargetTerm(t, Op(3, 50), false);
  EXPECT_EQ(j.refusal, Refusal::kTargetTermUnknown);
  EXPECT_THAT(j.message, HasSubstr("bad segment header"));
  EXPECT_THAT(j.message, HasSubstr("crc mismatch"));
  EXPECT_EQ(JudgeTargetTerm(t, Op(3, 50), true).refusal, Refusal::kNone);
}

TEST(JudgeTargetTermTest, ADamagedWalFallsBackToTheConsensusMetadatasTermAsAnUpperBound) {
  TargetFiles t = Failed();
  t.wal_clean = false;
  t.wal_error = "crc mismatch at 4096";
  t.cmeta_term = 7;
  TermJudgement j = JudgeTargetTerm(t, Op(6, 50), false);
  EXPECT_EQ(j.refusal, Refusal::kTargetTermAhead);
  EXPECT_THAT(j.message, HasSubstr("at most 7"));
  t.cmeta_term = 6;
  EXPECT_EQ(JudgeTargetTerm(t, Op(6, 50), false).refusal, Refusal::kNone);
}

TEST(JudgeTargetTermTest, ADamagedWalShowingALaterTermRefusesEvenWithoutMetadata) {
  TargetFiles t = Failed();
  t.cmeta_readable = false;
  t.wal_clean = false;
  t.wal_error = "crc mismatch";
  t.wal_last_logged = Op(9, 3);
  EXPECT_EQ(JudgeTargetTerm(t, Op(8, 50), false).refusal, Refusal::kTargetTermAhead);
}

TEST(JudgeTargetTermTest, AReplicaThatNeverLoggedHasNothingToCompare) {
  TargetFiles t;  // no files at all
  EXPECT_EQ(JudgeTargetTerm(t, Op(1, 1), false).refusal, Refusal::kNone);
  t.superblock_state = "TOMBSTONED";
  t.cmeta_present = true;  // unreadable, but a tombstone has no log
  EXPECT_EQ(JudgeTargetTerm(t, Op(1, 1), false).refusal, Refusal::kNone);
  t.tombstone_last_logged = Op(4, 9);
  TermJudgement j = JudgeTargetTerm(t, Op(3, 20), false);
  EXPECT_EQ(j.refusal, Refusal::kTargetTermAhead);
  EXPECT_EQ(j.last_logged_from, "tombstone");
}

TEST(JudgeTargetTermTest, AMissingWalWhereOneShouldBeNeedsTheMetadata) {
  TargetFiles t = Failed();
  t.wal_present = t.wal_clean = false;
  t.wal_last_logged.reset();
  EXPECT_EQ(JudgeTargetTerm(t, Op(3, 1), false).refusal, Refusal::kNone);
  t.cmeta_readable = false;
  EXPECT_EQ(JudgeTargetTerm(t, Op(3, 1), false).refusal, Refusal::kTargetTermUnknown);
}

TEST(JudgeTargetTermTest, TheRunningDriverWins) {
  TargetFiles t = Failed();
  t.running_last_logged = Op(2, 8);
  TermJudgement j = JudgeTargetTerm(t, Op(3, 1), false);
  EXPECT_EQ(j.last_logged_from, "raft");
  EXPECT_EQ(j.refusal, Refusal::kNone);
}

TEST(RefusalNameTest, NamesRoundTrip) {
  EXPECT_EQ(RefusalFromName("target_term_unknown"), Refusal::kTargetTermUnknown);
  EXPECT_EQ(RefusalFromName("copy_running"), Refusal::kCopyRunning);
  EXPECT_EQ(RefusalFromName("no such"), Refusal::kNone);
}

}  // namespace
}  // namespace kmend::rebuild
