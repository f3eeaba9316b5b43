// WalLog over a real WAL directory: replay on open, append, reads from the
// cache and from the segments, truncation, and the rules it enforces.
#include "lib/consensus/wal_log.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/io/file.h"

namespace kmend::consensus_driver {
namespace {

consensus::ReplicateMsg Entry(int64_t term, int64_t index) {
  consensus::ReplicateMsg e;
  e.mutable_id()->set_term(term);
  e.mutable_id()->set_index(index);
  e.set_timestamp(index);
  e.set_op_type(consensus::NO_OP);
  e.mutable_noop_request()->set_payload_for_tests(std::string(100, 'a' + index % 26));
  return e;
}

std::string TempDir(const std::string& name) {
  const char* t = std::getenv("TEST_TMPDIR");
  return io::JoinPath(t ? t : "/tmp", name);
}

wal::LogOptions Options() {
  wal::LogOptions o;
  o.sync = false;
  o.preallocate = false;
  o.segment_size_bytes = 4096;  // several segments
  o.tablet_id = "t";
  return o;
}

TEST(WalLogTest, AppendReadTruncateAndReplay) {
  const std::string dir = TempDir("wal_log_basic");
  {
    auto wal = wal::Log::Open(dir, Options());
    ASSERT_TRUE(wal.ok()) << wal.status();
    // A tiny cache so that early entries come back from the segments.
    auto log = WalLog::Open(wal->get(), /*cache_bytes=*/2000);
    ASSERT_TRUE(log.ok()) << log.status();
    WalLog& l = **log;
    EXPECT_EQ(l.FirstIndex(), 1);
    EXPECT_EQ(l.LastIndex(), 0);
    EXPECT_EQ(*l.Term(0), 0);
    std::vector<consensus::ReplicateMsg> batch;
    for (int64_t i = 1; i <= 60; ++i) batch.push_back(Entry(i <= 30 ? 1 : 2, i));
    ASSERT_TRUE(l.Append(batch).ok());
    EXPECT_EQ(l.LastIndex(), 60);
    EXPECT_EQ(*l.Term(30), 1);
    EXPECT_EQ(*l.Term(31), 2);
    EXPECT_EQ(l.Term(61).status().code(), absl::StatusCode::kOutOfRange);
    std::vector<consensus::ReplicateMsg> out;
    ASSERT_TRUE(l.Entries(1, 61, INT64_MAX, &out).ok());
    ASSERT_EQ(out.size(), 60u);
    for (int64_t i = 1; i <= 60; ++i) {
      EXPECT_EQ(out[i - 1].SerializeAsString(), Entry(i <= 30 ? 1 : 2, i).SerializeAsString());
    }
    // A gap is refused before reaching the WAL.
    EXPECT_EQ(l.Append({Entry(2, 70)}).code(), absl::StatusCode::kFailedPrecondition);
    ASSERT_TRUE(l.TruncateAfter(45).ok());
    EXPECT_EQ(l.LastIndex(), 45);
    ASSERT_TRUE(l.Append({Entry(3, 46)}).ok());
    EXPECT_EQ(*l.Term(46), 3);
  }
  // Reopen: the terms come back from the segments.
  auto wal = wal::Log::Open(dir, Options());
  ASSERT_TRUE(wal.ok()) << wal.status();
  auto log = WalLog::Open(wal->get());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->LastIndex(), 46);
  EXPECT_EQ(*(*log)->Term(45), 2);
  EXPECT_EQ(*(*log)->Term(46), 3);
  std::vector<consensus::ReplicateMsg> out;
  ASSERT_TRUE((*log)->Entries(44, 47, INT64_MAX, &out).ok());
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].id().term(), 3);
}

TEST(WalLogTest, ByteLimitReturnsAtLeastOneEntry) {
  const std::string dir = TempDir("wal_log_limit");
  auto wal = wal::Log::Open(dir, Options());
  ASSERT_TRUE(wal.ok());
  auto log = WalLog::Open(wal->get());
  ASSERT_TRUE(log.ok());
  std::vector<consensus::ReplicateMsg> batch;
  for (int64_t i = 1; i <= 10; ++i) batch.push_back(Entry(1, i));
  ASSERT_TRUE((*log)->Append(batch).ok());
  std::vector<consensus::ReplicateMsg> out;
  ASSERT_TRUE((*log)->Entries(3, 11, 1, &out).ok());
  EXPECT_EQ(out.size(), 1u);
  out.clear();
  ASSERT_TRUE((*log)->Entries(3, 11, 300, &out).ok());
  EXPECT_GE(out.size(), 2u);
  EXPECT_LT(out.size(), 8u);
  EXPECT_EQ((*log)->Entries(0, 2, 100, &out).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*log)->Entries(5, 12, 100, &out).code(), absl::StatusCode::kOutOfRange);
}


// An entry whose payload does not compress (so that segments fill up).
consensus::ReplicateMsg BigEntry(int64_t term, int64_t index) {
  consensus::ReplicateMsg e = Entry(term, index);
  std::string payload;
  uint64_t h = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(index);
  for (int i = 0; i < 1000; ++i) {
    h ^= h >> 31;
    h *= 0x94d049bb133111ebull;
    payload.push_back(static_cast<char>(h >> 56));
  }
  e.mutable_noop_request()->set_payload_for_tests(payload);
  return e;
}

TEST(WalLogTest, GarbageCollectMovesFirstIndexAndKeepsTheBaseTerm) {
  const std::string dir = TempDir("wal_log_gc");
  int64_t first = 0;
  {
    auto wal = wal::Log::Open(dir, Options());
    ASSERT_TRUE(wal.ok()) << wal.status();
    auto log = WalLog::Open(wal->get(), /*cache_bytes=*/2000);
    ASSERT_TRUE(log.ok()) << log.status();
    WalLog& l = **log;
    for (int64_t i = 1; i <= 60; i += 3) {
      std::vector<consensus::ReplicateMsg> batch;
      for (int64_t j = i; j < i + 3; ++j) batch.push_back(BigEntry(j <= 30 ? 1 : 2, j));
      ASSERT_TRUE(l.Append(batch).ok());
    }
    ASSERT_GT((*wal)->stats().segments_rolled, 5u);
    auto deleted = l.GarbageCollect(40);
    ASSERT_TRUE(deleted.ok()) << deleted.status();
    EXPECT_GT(*deleted, 0);
    first = l.FirstIndex();
    EXPECT_EQ(first, (*wal)->FirstIndex());
    EXPECT_GT(first, 1);
    EXPECT_LE(first, 40);  // the segment holding 39 (below 40) may stay
    // The term of the new base is still known (from memory); below it, not.
    EXPECT_EQ(*l.Term(first - 1), first - 1 <= 30 ? 1 : 2);
    EXPECT_EQ(l.Term(first - 2).status().code(), absl::StatusCode::kNotFound);
    std::vector<consensus::ReplicateMsg> out;
    EXPECT_EQ(l.Entries(first - 1, first + 1, INT64_MAX, &out).code(),
              absl::StatusCode::kNotFound);
    out.clear();
    ASSERT_TRUE(l.Entries(first, 61, INT64_MAX, &out).ok());
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out.front().id().index(), first);
    // Nothing to delete the second time; appends continue.
    EXPECT_EQ(*l.GarbageCollect(40), 0);
    ASSERT_TRUE(l.Append({BigEntry(2, 61)}).ok());
    EXPECT_EQ(l.LastIndex(), 61);
  }
  // Replay starts at the first kept segment.
  auto wal = wal::Log::Open(dir, Options());
  ASSERT_TRUE(wal.ok()) << wal.status();
  auto log = WalLog::Open(wal->get());
  ASSERT_TRUE(log.ok()) << log.status();
  EXPECT_EQ((*log)->FirstIndex(), first);
  EXPECT_EQ((*log)->LastIndex(), 61);
}

}  // namespace
}  // namespace kmend::consensus_driver
