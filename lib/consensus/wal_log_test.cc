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

}  // namespace
}  // namespace kmend::consensus_driver
