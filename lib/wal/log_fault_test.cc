// The WAL under every failure of every system call an append makes
// (open, write, fsync, fallocate, ftruncate, rename, unlink; EIO and ENOSPC):
// the failing append is never acknowledged, the log is fail-stop afterwards
// (a failed fsync is not retried and trusted: the kernel may have dropped the
// dirty pages), and the log reopened from disk holds every acknowledged
// entry, intact, as a prefix of what was appended.
#include <cerrno>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/io/fault_injection.h"
#include "lib/io/syscalls.h"
#include "lib/wal/log.h"
#include "lib/wal/log_reader.h"
#include "lib/wal/wal_test_util.h"

namespace kmend::wal {
namespace {

using io::ScopedFaultInjector;
using io::sys::Op;
using testing::EntryIntact;
using testing::FreshDir;
using testing::ReplayIndexes;
using testing::MakeEntry;

constexpr int64_t kBefore = 5;   // entries acknowledged before the faults start
constexpr int64_t kDuring = 12;  // entries appended while a fault is armed

LogOptions Options() {
  LogOptions o;
  o.segment_size_bytes = 2048;  // several rolls during the operation
  o.sync = true;
  o.preallocate = true;
  return o;
}

std::unique_ptr<Log> OpenWithAcknowledgedPrefix(const std::string& dir) {
  auto log = Log::Open(dir, Options());
  EXPECT_TRUE(log.ok()) << log.status();
  if (!log.ok()) return nullptr;
  for (int64_t i = 1; i <= kBefore; ++i) {
    std::vector<consensus::ReplicateMsg> batch{MakeEntry(1, i, 400)};
    EXPECT_TRUE((*log)->Append(batch).ok());
  }
  return *std::move(log);
}

// Appends kBefore+1 .. kBefore+kDuring one by one until one fails; returns the
// last acknowledged index and checks that the log refuses appends after a
// failure.
int64_t AppendUntilFailure(Log* log, bool* failed) {
  int64_t acked = kBefore;
  *failed = false;
  for (int64_t i = kBefore + 1; i <= kBefore + kDuring; ++i) {
    std::vector<consensus::ReplicateMsg> batch{MakeEntry(1, i, 400)};
    if (!log->Append(batch).ok()) {
      *failed = true;
      std::vector<consensus::ReplicateMsg> next{MakeEntry(1, i + 1, 400)};
      EXPECT_FALSE(log->Append(next).ok()) << "appends after a failed persist must fail";
      break;
    }
    acked = i;
  }
  return acked;
}


TEST(LogFaultTest, EveryFailureOfEveryAppendCallLosesNothingAcknowledged) {
  // The calls a clean run makes, from the point the faults would start.
  std::vector<io::SeenCall> calls;
  {
    const std::string dir = FreshDir("clean");
    std::unique_ptr<Log> log = OpenWithAcknowledgedPrefix(dir);
    ASSERT_NE(log, nullptr);
    ScopedFaultInjector record;
    bool failed = false;
    EXPECT_EQ(AppendUntilFailure(log.get(), &failed), kBefore + kDuring);
    EXPECT_FALSE(failed);
    ASSERT_TRUE(log->Close().ok());
    calls = record.calls();
  }
  const std::vector<Op> ops = {Op::kOpen, Op::kWrite, Op::kSync, Op::kAllocate,
                               Op::kTruncate, Op::kRename, Op::kUnlink};
  int cases = 0, fired = 0, failed_appends = 0;
  for (int err : {EIO, ENOSPC}) {
    for (const io::FaultRule& rule : io::RulesFailingEachCall(calls, ops, {err})) {
      SCOPED_TRACE(absl::StrCat(io::sys::OpName(rule.op), " #", rule.skip, " errno ", err));
      const std::string dir = FreshDir(absl::StrCat("case", cases++));
      std::unique_ptr<Log> log = OpenWithAcknowledgedPrefix(dir);
      ASSERT_NE(log, nullptr);
      int64_t acked;
      bool failed = false;
      {
        ScopedFaultInjector faults;
        faults.Add(rule);
        acked = AppendUntilFailure(log.get(), &failed);
        (void)log->Close();  // may fail too; the data on disk is what counts
        log.reset();
        fired += faults.faults_injected();
      }
      failed_appends += failed ? 1 : 0;
      // Reopened as after a crash: every acknowledged entry, intact, and
      // nothing but a prefix of what was appended.
      std::vector<int64_t> got = ReplayIndexes(dir);
      ASSERT_GE(static_cast<int64_t>(got.size()), acked);
      for (size_t k = 0; k < got.size(); ++k) ASSERT_EQ(got[k], static_cast<int64_t>(k + 1));
      EXPECT_LE(static_cast<int64_t>(got.size()), kBefore + kDuring);
      // And the log opens for appends again from where it is.
      auto reopened = Log::Open(dir, Options());
      ASSERT_TRUE(reopened.ok()) << reopened.status();
      std::vector<consensus::ReplicateMsg> next{MakeEntry(1, static_cast<int64_t>(got.size()) + 1)};
      EXPECT_TRUE((*reopened)->Append(next).ok());
    }
  }
  // The sweep exercised something: every armed fault fired, and most made an
  // append fail. The rest hit the creation of the next segment during a
  // roll, which is deferred rather than fatal (see the next test).
  EXPECT_GT(cases, 40);
  EXPECT_EQ(fired, cases);
  EXPECT_GE(failed_appends, cases * 2 / 3);
  std::cout << cases << " fault cases, " << failed_appends << " made an append fail\n";
}

// A disk too full to preallocate the next segment does not stop the log: the
// roll is put off, appends go on into the active segment (nothing is lost,
// nothing refused), and the roll happens once space returns. Before, the
// failed roll made the log fail-stop until the server restarted.
TEST(LogFaultTest, NoRoomForTheNextSegmentDefersTheRollInsteadOfFailing) {
  const std::string dir = FreshDir("deferred");
  std::unique_ptr<Log> log = OpenWithAcknowledgedPrefix(dir);
  ASSERT_NE(log, nullptr);
  const uint64_t rolled_before = log->stats().segments_rolled;
  {
    ScopedFaultInjector full;
    full.Add({Op::kAllocate, "", 0, -1, {ENOSPC}});  // every preallocation
    for (int64_t i = kBefore + 1; i <= kBefore + 10; ++i) {
      std::vector<consensus::ReplicateMsg> batch{MakeEntry(1, i, 400)};
      ASSERT_TRUE(log->Append(batch).ok()) << "entry " << i;
    }
    EXPECT_GT(full.faults_injected(), 1);  // retried after each group
    EXPECT_EQ(log->stats().segments_rolled, rolled_before);
    EXPECT_GT(log->stats().rolls_deferred, 1u);
  }
  // Space is back: the next group rolls.
  std::vector<consensus::ReplicateMsg> batch{MakeEntry(1, kBefore + 11, 400)};
  ASSERT_TRUE(log->Append(batch).ok());
  EXPECT_EQ(log->stats().segments_rolled, rolled_before + 1);
  ASSERT_TRUE(log->Close().ok());
  std::vector<int64_t> got = ReplayIndexes(dir);
  ASSERT_EQ(static_cast<int64_t>(got.size()), kBefore + 11);
}

int CountOps(const std::vector<io::SeenCall>& calls, Op op) {
  int n = 0;
  for (const io::SeenCall& c : calls) n += c.op == op ? 1 : 0;
  return n;
}

// Write + Sync (the round worker's halves of an Append): Write syncs nothing
// and shows nothing to readers; Sync makes it durable with one sync; three
// Writes share one Sync; a segment roll makes what was written durable too.
TEST(LogFaultTest, WriteSyncsNothingUntilSyncAndReadersSeeOnlyDurableEntries) {
  const std::string dir = FreshDir("write_sync");
  std::unique_ptr<Log> log = OpenWithAcknowledgedPrefix(dir);  // 1..5, small segments
  ASSERT_NE(log, nullptr);
  ScopedFaultInjector record;
  std::vector<consensus::ReplicateMsg> six{MakeEntry(1, 6, 100)};
  ASSERT_TRUE(log->Write(six).ok());
  EXPECT_EQ(CountOps(record.calls(), Op::kSync), 0);
  EXPECT_EQ(log->LastOpId().index(), kBefore);
  EXPECT_TRUE(absl::IsOutOfRange(log->ReadEntries(6, 6).status()));
  for (int64_t i = 7; i <= 8; ++i) {
    std::vector<consensus::ReplicateMsg> b{MakeEntry(1, i, 100)};
    ASSERT_TRUE(log->Write(b).ok());
  }
  EXPECT_EQ(CountOps(record.calls(), Op::kSync), 0);
  ASSERT_TRUE(log->Sync().ok());
  EXPECT_EQ(CountOps(record.calls(), Op::kSync), 1);
  EXPECT_EQ(log->LastOpId().index(), 8);
  auto got = log->ReadEntries(6, 8);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->size(), 3u);
  ASSERT_TRUE(log->Sync().ok());  // nothing written since: no sync
  EXPECT_EQ(CountOps(record.calls(), Op::kSync), 1);
  // Past the 2 KiB segment size: the roll finishes (syncs) the segment, so
  // what was written is durable without a Sync.
  const uint64_t rolled = log->stats().segments_rolled;
  int64_t i = 9;
  while (log->stats().segments_rolled == rolled) {
    std::vector<consensus::ReplicateMsg> b{MakeEntry(1, i++, 400)};
    ASSERT_TRUE(log->Write(b).ok());
    ASSERT_LT(i, 100);
  }
  EXPECT_EQ(log->LastOpId().index(), i - 1);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(static_cast<int64_t>(ReplayIndexes(dir).size()), i - 1);
}

// A Sync that fails is fail-stop as an Append's: it and every later append
// and sync report the error, and what reopens is a prefix with everything
// synced before it.
TEST(LogFaultTest, FailedSyncStopsTheLogAndKeepsWhatWasSyncedBefore) {
  const std::string dir = FreshDir("write_sync_fail");
  std::unique_ptr<Log> log = OpenWithAcknowledgedPrefix(dir);
  ASSERT_NE(log, nullptr);
  {
    ScopedFaultInjector faults;
    faults.Add(io::FaultRule{Op::kSync, "", 0, -1, io::sys::Fault{EIO, std::nullopt}});
    std::vector<consensus::ReplicateMsg> six{MakeEntry(1, 6, 100)};
    ASSERT_TRUE(log->Write(six).ok());
    absl::Status s = log->Sync();
    EXPECT_FALSE(s.ok());
    std::vector<consensus::ReplicateMsg> seven{MakeEntry(1, 7, 100)};
    EXPECT_FALSE(log->Write(seven).ok());
    EXPECT_FALSE(log->Sync().ok());
    EXPECT_EQ(log->LastOpId().index(), kBefore);
    (void)log->Close();
    log.reset();
  }
  std::vector<int64_t> got = ReplayIndexes(dir);
  ASSERT_GE(static_cast<int64_t>(got.size()), kBefore);
  ASSERT_LE(static_cast<int64_t>(got.size()), kBefore + 1);
  for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], static_cast<int64_t>(k + 1));
}

}  // namespace
}  // namespace kmend::wal
