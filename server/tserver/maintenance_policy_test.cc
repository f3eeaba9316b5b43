// The maintenance decisions (maintenance_policy.h), one rule per test.
#include "server/tserver/maintenance_policy.h"

#include <map>

#include "gtest/gtest.h"

namespace kmend::tserver {
namespace {

FlushFacts Unflushed() {
  FlushFacts f;
  f.applied_index = 10;
  f.last_flushed_index = 5;
  f.memstore_bytes = 100;
  f.memstore_entries = 5;
  f.since_last_flush = absl::Seconds(1);
  return f;
}

TEST(ShouldFlushTest, NothingUnflushedIsNeverFlushedEvenWhenForced) {
  FlushFacts f = Unflushed();
  f.last_flushed_index = f.applied_index;
  f.forced = true;
  f.memstore_bytes = 1u << 30;
  EXPECT_FALSE(ShouldFlush(f, FlushPolicy{}));
}

TEST(ShouldFlushTest, SmallRecentMemstoreWaits) {
  EXPECT_FALSE(ShouldFlush(Unflushed(), FlushPolicy{}));
}

TEST(ShouldFlushTest, EachTriggerAloneFlushes) {
  FlushPolicy p;
  p.threshold_bytes = 1000;
  p.threshold_rows = 50;
  p.interval = absl::Seconds(30);
  FlushFacts forced = Unflushed();
  forced.forced = true;
  EXPECT_TRUE(ShouldFlush(forced, p));
  FlushFacts bytes = Unflushed();
  bytes.memstore_bytes = 1000;
  EXPECT_TRUE(ShouldFlush(bytes, p));
  FlushFacts rows = Unflushed();
  rows.memstore_entries = 50;
  EXPECT_TRUE(ShouldFlush(rows, p));
  FlushFacts old = Unflushed();
  old.since_last_flush = absl::Seconds(30);
  EXPECT_TRUE(ShouldFlush(old, p));
}

TEST(ShouldFlushTest, EmptyMemstoreInOneSegmentWaitsForMoreThanTheInterval) {
  FlushPolicy p;
  p.interval = absl::Seconds(30);
  FlushFacts noops = Unflushed();  // e.g. an election's NO_OP, no rows
  noops.memstore_bytes = 0;
  noops.memstore_entries = 0;
  noops.since_last_flush = absl::Hours(1);
  noops.wal_has_older_segments = false;
  EXPECT_FALSE(ShouldFlush(noops, p));
  // Once GC could delete a segment, or rows are waiting, or when forced.
  FlushFacts gc = noops;
  gc.wal_has_older_segments = true;
  EXPECT_TRUE(ShouldFlush(gc, p));
  FlushFacts rows = noops;
  rows.memstore_entries = 1;
  rows.memstore_bytes = 10;
  EXPECT_TRUE(ShouldFlush(rows, p));
  FlushFacts forced = noops;
  forced.forced = true;
  EXPECT_TRUE(ShouldFlush(forced, p));
}

// A log of ten segments of ten ops each: segment s holds ops 10s-9..10s.
RetentionFacts Log(int64_t flushed) {
  RetentionFacts f;
  f.flushed_index = flushed;
  f.wal_first_index = 1;
  f.wal_last_index = 100;
  f.segment_of = [](int64_t index) -> std::optional<uint64_t> {
    if (index < 1 || index > 100) return std::nullopt;
    return static_cast<uint64_t>((index + 9) / 10);
  };
  return f;
}

TEST(WalRetentionIndexTest, NothingFlushedKeepsEverything) {
  EXPECT_EQ(WalRetentionIndex(Log(0), 16), std::nullopt);
}

TEST(WalRetentionIndexTest, AFollowerOrLoneLeaderKeepsFromTheFlushedOp) {
  EXPECT_EQ(WalRetentionIndex(Log(55), 16), 55);
}

TEST(WalRetentionIndexTest, NothingWhollyBelowTheBoundIsNothingToDo) {
  RetentionFacts f = Log(55);
  f.wal_first_index = 55;
  EXPECT_EQ(WalRetentionIndex(f, 16), std::nullopt);
}

TEST(WalRetentionIndexTest, ALaggingPeerHoldsTheLogBack) {
  RetentionFacts f = Log(55);
  f.peers = {{80, false}, {30, false}};
  EXPECT_EQ(WalRetentionIndex(f, 16), 30);
}

TEST(WalRetentionIndexTest, APeerWithUnknownProgressNeedsEverythingTheLogHolds) {
  RetentionFacts f = Log(55);
  f.wal_first_index = 11;
  f.peers = {{0, false}};
  EXPECT_EQ(WalRetentionIndex(f, 16), std::nullopt);  // bound = first index: nothing below
}

TEST(WalRetentionIndexTest, APeerThatNeedsATabletCopyIsIgnored) {
  RetentionFacts f = Log(55);
  f.peers = {{3, true}};
  EXPECT_EQ(WalRetentionIndex(f, 16), 55);
}

TEST(WalRetentionIndexTest, ALaggingPeerKeepsAtMostMaxSegmentsBeforeTheFlushedOne) {
  RetentionFacts f = Log(55);  // op 55 is in segment 6
  f.peers = {{12, false}};
  // Two segments kept before segment 6: the bound is segment 4's first op.
  EXPECT_EQ(WalRetentionIndex(f, 2), 31);
  EXPECT_EQ(WalRetentionIndex(f, 16), 12);
}

TEST(WalRetentionIndexTest, NeverPastTheLastLoggedOp) {
  RetentionFacts f = Log(120);  // flushed past the log's end (a copy without anchor)
  f.wal_last_index = 100;
  EXPECT_EQ(WalRetentionIndex(f, 16), 100);
}

}  // namespace
}  // namespace kmend::tserver
