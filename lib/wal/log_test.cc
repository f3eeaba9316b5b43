// The Log: append/read, group commit, roll and footers, recovery, truncation,
// garbage collection.
#include "lib/wal/log.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/fault_injection.h"
#include "lib/io/file.h"
#include "lib/wal/log_reader.h"
#include "lib/wal/segment_reader.h"
#include "lib/wal/wal_test_util.h"
#include "lib/util/thread_count.h"

namespace kmend::wal {
namespace {

using ::testing::HasSubstr;
using testing::BuildSegment;
using testing::BuiltSegment;
using testing::EntryIntact;
using testing::FreshDir;
using testing::ReplayIndexes;
using testing::MakeBatches;
using testing::MakeEntry;

LogOptions Small(uint64_t segment_size_bytes = 1u << 20) {
  LogOptions o;
  o.segment_size_bytes = segment_size_bytes;
  o.sync = false;  // durability is covered by wal_crash_test
  return o;
}

std::unique_ptr<Log> MustOpen(const std::string& dir, const LogOptions& options) {
  auto log = Log::Open(dir, options);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : nullptr;
}

// Appends entries first..last, `per_batch` per Append, term `term`.
void AppendRange(Log* log, int64_t first, int64_t last, int per_batch = 1, int64_t term = 1,
                 size_t payload = 100) {
  for (int64_t i = first; i <= last; i += per_batch) {
    std::vector<consensus::ReplicateMsg> batch;
    for (int64_t j = i; j <= last && j < i + per_batch; ++j) batch.push_back(MakeEntry(term, j, payload));
    ASSERT_TRUE(log->Append(batch).ok());
  }
}


// One AppendAsync of the entry at index (*next)++, enqueued under `order`
// (so indexes reach the log in order, as a Raft leader assigns them), then
// waits outside the lock for its callback and returns what it reported.
absl::Status AppendAsyncInOrder(Log* log, std::mutex* order, int64_t* next) {
  std::promise<absl::Status> done;
  {
    std::lock_guard l(*order);
    log->AppendAsync({MakeEntry(1, (*next)++, 200)},
                     [&done](const absl::Status& st) { done.set_value(st); });
  }
  return done.get_future().get();
}

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> v;
  for (int64_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

TEST(SegmentFileNameTest, ParsesOnlyWhatSegmentFileNameWrites) {
  EXPECT_EQ(ParseSegmentFileName(SegmentFileName(12)), 12u);
  EXPECT_EQ(ParseSegmentFileName("wal-000000001"), 1u);
  EXPECT_EQ(ParseSegmentFileName("wal-1"), std::nullopt);
  EXPECT_EQ(ParseSegmentFileName("wal-000000001.kudutmp.abc"), std::nullopt);
  EXPECT_EQ(ParseSegmentFileName("wal-00000000x"), std::nullopt);
  EXPECT_EQ(ParseSegmentFileName("index-000000001"), std::nullopt);
}

TEST(LogTest, AppendThenRead) {
  std::string dir = FreshDir("append_read");
  auto log = MustOpen(dir, Small());
  EXPECT_EQ(log->LastOpId().index(), 0);
  AppendRange(log.get(), 1, 30, 3);
  EXPECT_EQ(log->LastOpId().index(), 30);
  EXPECT_EQ(log->FirstIndex(), 1);
  auto entries = log->ReadEntries(5, 12);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 8u);
  for (size_t i = 0; i < entries->size(); ++i) {
    EXPECT_EQ((*entries)[i].id().index(), 5 + static_cast<int64_t>(i));
    EXPECT_TRUE(EntryIntact((*entries)[i]));
  }
  // max_bytes: at least one entry, then stops.
  auto one = log->ReadEntries(5, 30, 1);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  EXPECT_TRUE(absl::IsOutOfRange(log->ReadEntries(31, 40).status()));
  auto loc = log->Locate(7);
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->segment_sequence_number, 1u);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReplayIndexes(dir), Range(1, 30));
}

TEST(LogTest, RefusesOutOfOrderAppends) {
  std::string dir = FreshDir("out_of_order");
  auto log = MustOpen(dir, Small());
  AppendRange(log.get(), 10, 12, 1, /*term=*/2);  // an empty log may start anywhere
  absl::Status gap = log->Append({MakeEntry(2, 14)});
  EXPECT_TRUE(absl::IsFailedPrecondition(gap)) << gap;
  EXPECT_THAT(std::string(gap.message()), HasSubstr("must continue at index 13"));
  EXPECT_TRUE(absl::IsFailedPrecondition(log->Append({MakeEntry(1, 13)})));  // term went back
  EXPECT_TRUE(absl::IsFailedPrecondition(log->Append({MakeEntry(2, 13), MakeEntry(2, 15)})));
  EXPECT_TRUE(absl::IsInvalidArgument(log->Append({})));
  EXPECT_TRUE(log->Append({MakeEntry(3, 13)}).ok());
  ASSERT_TRUE(log->Close().ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(log->Append({MakeEntry(3, 14)})));
}

TEST(LogTest, RollsSegmentsWithFootersAndReopensAtNextNumber) {
  std::string dir = FreshDir("roll");
  auto log = MustOpen(dir, Small(16 * 1024));
  AppendRange(log.get(), 1, 200, 2, 1, 1000);
  EXPECT_GT(log->stats().segments_rolled, 5u);
  ASSERT_TRUE(log->Close().ok());

  auto files = ListSegmentFiles(dir);
  ASSERT_TRUE(files.ok());
  int64_t total = 0;
  for (const std::string& f : *files) {
    auto r = SegmentReader::Open(f);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE((*r)->has_footer()) << f;
    EXPECT_EQ((*r)->header().compression_codec(), kmend::ZSTD);
    EXPECT_EQ((*r)->header().tablet_id(), "roll");
    EXPECT_EQ(io::Basename(f), SegmentFileName((*r)->header().sequence_number()));
    total += (*r)->footer().num_entries();
    // No preallocated space is left behind a footer.
    EXPECT_LT((*r)->file_size(), 16u * 1024 + 4096);
  }
  EXPECT_EQ(total, 200);
  const size_t before = files->size();

  log = MustOpen(dir, Small(16 * 1024));
  EXPECT_FALSE(log->recovery().torn_tail);
  EXPECT_EQ(log->LastOpId().index(), 200);
  EXPECT_EQ(log->LastQueuedIndex(), 200);
  AppendRange(log.get(), 201, 210);
  auto loc = log->Locate(201);
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->segment_sequence_number, before + 1);  // Kudu: last + 1 on restart
  auto read = log->ReadEntries(1, 210);
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 210u);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReplayIndexes(dir), Range(1, 210));
}

TEST(LogTest, RecoveryCutsTornTailAndWritesFooter) {
  std::string dir = FreshDir("recover_torn");
  BuiltSegment seg = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 3, 2), /*footer=*/false);
  const std::string path = io::JoinPath(dir, "wal-000000001");
  // A crash in the middle of the third batch, inside preallocated space.
  std::string bytes = seg.bytes.substr(0, seg.batch_offsets[2] + 20);
  bytes.append(8192, '\0');
  testing::WriteFile(path, bytes);

  auto log = MustOpen(dir, Small());
  ASSERT_NE(log, nullptr);
  EXPECT_TRUE(log->recovery().torn_tail);
  EXPECT_EQ(log->recovery().torn_segment, path);
  EXPECT_EQ(log->recovery().torn_offset, seg.batch_offsets[2]);
  EXPECT_EQ(log->LastOpId().index(), 4);
  AppendRange(log.get(), 5, 8);
  ASSERT_TRUE(log->Close().ok());

  auto r = SegmentReader::Open(path);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE((*r)->has_footer());
  EXPECT_EQ((*r)->footer().num_entries(), 4);
  Batch b;
  while ((*r)->Next(&b).ok()) {
  }
  EXPECT_EQ((*r)->tail().kind, TailKind::kClean);
  EXPECT_EQ((*r)->tail().offset, seg.batch_offsets[2]);  // cut exactly at the torn batch

  log = MustOpen(dir, Small());
  EXPECT_FALSE(log->recovery().torn_tail);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReplayIndexes(dir), Range(1, 8));
}

TEST(LogTest, RecoveryRefusesCorruption) {
  std::string dir = FreshDir("recover_corrupt");
  BuiltSegment seg = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 3, 2), false);
  seg.bytes[seg.batch_offsets[1] + 20] ^= 0x40;
  testing::WriteFile(io::JoinPath(dir, "wal-000000001"), seg.bytes);
  auto log = Log::Open(dir, Small());
  ASSERT_TRUE(absl::IsDataLoss(log.status())) << log.status();
  EXPECT_THAT(std::string(log.status().message()),
              HasSubstr(absl::StrCat("offset ", seg.batch_offsets[1])));
}

TEST(LogTest, TruncateAfterAcrossSegmentsAndInsideABatch) {
  std::string dir = FreshDir("truncate");
  auto log = MustOpen(dir, Small(8 * 1024));
  AppendRange(log.get(), 1, 120, 3, 1, 500);
  ASSERT_GT(log->stats().segments_rolled, 3u);
  // Batches are [1,2,3], [4,5,6], ...: 38 cuts inside [37,38,39].
  ASSERT_TRUE(log->TruncateAfter(38).ok());
  EXPECT_EQ(log->LastOpId().index(), 38);
  EXPECT_EQ(log->LastQueuedIndex(), 38);
  EXPECT_TRUE(absl::IsOutOfRange(log->ReadEntries(39, 50).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(log->Append({MakeEntry(2, 40)})));
  AppendRange(log.get(), 39, 45, 1, /*term=*/2, 500);
  auto read = log->ReadEntries(36, 45);
  ASSERT_TRUE(read.ok()) << read.status();
  ASSERT_EQ(read->size(), 10u);
  EXPECT_EQ((*read)[2].id().term(), 1);  // 38 survived
  EXPECT_EQ((*read)[3].id().term(), 2);  // 39 is the new one
  ASSERT_TRUE(log->Close().ok());

  // Nothing after 38 of term 1 comes back, and segments are consecutive.
  std::vector<int64_t> terms;
  auto r = Replay(dir, 0, [&](const log::LogEntryPB& e) {
    terms.push_back(e.replicate().id().term());
    return absl::OkStatus();
  });
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(terms.size(), 45u);
  for (size_t i = 0; i < terms.size(); ++i) EXPECT_EQ(terms[i], i < 38 ? 1 : 2) << i;

  log = MustOpen(dir, Small(8 * 1024));
  EXPECT_EQ(log->LastOpId().index(), 45);
  EXPECT_EQ(log->LastOpId().term(), 2);
  ASSERT_TRUE(log->Close().ok());
}

TEST(LogTest, TruncateEverythingAndNoOps) {
  std::string dir = FreshDir("truncate_all");
  auto log = MustOpen(dir, Small(4 * 1024));
  AppendRange(log.get(), 5, 40, 1, 1, 300);
  ASSERT_TRUE(log->TruncateAfter(100).ok());  // past the end: nothing to do
  EXPECT_EQ(log->LastOpId().index(), 40);
  ASSERT_TRUE(log->TruncateAfter(40).ok());
  EXPECT_EQ(log->LastOpId().index(), 40);
  ASSERT_TRUE(log->TruncateAfter(2).ok());  // below the first entry: all gone
  EXPECT_EQ(log->LastOpId().index(), 0);
  EXPECT_EQ(log->LastQueuedIndex(), 2);
  EXPECT_EQ(log->FirstIndex(), 0);
  AppendRange(log.get(), 3, 6, 1, 3);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReplayIndexes(dir), Range(3, 6));
}

using util::ThreadsOfThisProcess;

// An idle replica's maintenance asks for GC every round: when nothing can
// be deleted, that must cost no control task and no writer thread (issue
// 15: thousands of lingering writer threads on an idle tablet server).
TEST(LogTest, GarbageCollectThatCanDeleteNothingStartsNoWriterThread) {
  std::string dir = FreshDir("gc_nothing");
  auto log = MustOpen(dir, Small(1 << 20));
  AppendRange(log.get(), 1, 20, 1, 1, 100);  // inline appends: one segment
  ASSERT_EQ(log->NumSegments(), 1);
  const int before = ThreadsOfThisProcess();
  for (int i = 0; i < 5; ++i) {
    auto deleted = log->GarbageCollect(15);
    ASSERT_TRUE(deleted.ok()) << deleted.status();
    EXPECT_EQ(*deleted, 0);
  }
  EXPECT_EQ(ThreadsOfThisProcess(), before);
  EXPECT_EQ(log->FirstIndex(), 1);
  ASSERT_TRUE(log->Close().ok());
}

TEST(LogTest, GarbageCollectDeletesWholeOldSegments) {
  std::string dir = FreshDir("gc");
  auto log = MustOpen(dir, Small(8 * 1024));
  AppendRange(log.get(), 1, 100, 1, 1, 500);
  const int segments = log->NumSegments();
  ASSERT_GE(segments, 2);
  auto deleted = log->GarbageCollect(50);
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_GT(*deleted, 0);
  EXPECT_EQ(log->NumSegments(), segments - *deleted);
  const int64_t first = log->FirstIndex();
  EXPECT_GT(first, 1);
  EXPECT_LE(first, 50);  // never deletes an entry at or above the retention index
  EXPECT_TRUE(absl::IsNotFound(log->ReadEntries(1, 10).status()));
  auto rest = log->ReadEntries(first, 100);
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), static_cast<size_t>(101 - first));
  // Everything is eligible, but the segment being written is kept.
  ASSERT_TRUE(log->GarbageCollect(1000).ok());
  EXPECT_TRUE(log->ReadEntries(100, 100).ok());
  AppendRange(log.get(), 101, 105, 1, 1, 500);
  ASSERT_TRUE(log->Close().ok());

  log = MustOpen(dir, Small(8 * 1024));
  EXPECT_EQ(log->LastOpId().index(), 105);
  ASSERT_TRUE(log->Close().ok());
}

// Issue 15 (restart of a server with thousands of replicas): opening a log
// writes no new segment; the first append starts it. An idle replica's
// restarts therefore leave its directory as it was.
TEST(LogTest, OpenStartsNoSegmentUntilTheFirstAppend) {
  std::string dir = FreshDir("lazy_start");
  auto log = MustOpen(dir, Small(16 * 1024));
  AppendRange(log.get(), 1, 5);
  ASSERT_TRUE(log->Close().ok());
  auto files = ListSegmentFiles(dir);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);

  for (int restart = 0; restart < 3; ++restart) {
    log = MustOpen(dir, Small(16 * 1024));
    EXPECT_EQ(log->LastOpId().index(), 5);
    // Reads and a GC that would take everything keep the only segment.
    ASSERT_TRUE(log->GarbageCollect(1000).ok());
    auto read = log->ReadEntries(1, 5);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(read->size(), 5u);
    ASSERT_TRUE(log->Close().ok());
    files = ListSegmentFiles(dir);
    ASSERT_TRUE(files.ok());
    EXPECT_EQ(files->size(), 1u) << "restart " << restart;
  }

  log = MustOpen(dir, Small(16 * 1024));
  AppendRange(log.get(), 6, 8);
  auto loc = log->Locate(6);
  ASSERT_TRUE(loc.ok());
  EXPECT_EQ(loc->segment_sequence_number, 2u);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReplayIndexes(dir), Range(1, 8));
}

// A log of entries 1..last in `dir` whose only segment is captured as a
// crash leaves it: read while the log is open (no footer yet; the
// preallocated tail reads as zeros). The log is closed afterwards, so the
// file on disk has its footer until a test rewrites it.
struct OpenSegment {
  std::string path;
  std::string bytes;         // the whole file, zero tail included
  size_t data_end = 0;       // where the zero tail starts
  EntryLocation last_entry;  // where entry `last` is
};
void CaptureOpenSegment(const std::string& dir, const LogOptions& options, int64_t last,
                        OpenSegment* out) {
  auto log = MustOpen(dir, options);
  ASSERT_NE(log, nullptr);
  AppendRange(log.get(), 1, last);
  auto loc = log->Locate(last);
  ASSERT_TRUE(loc.ok()) << loc.status();
  out->last_entry = *loc;
  auto files = ListSegmentFiles(dir);
  ASSERT_TRUE(files.ok());
  ASSERT_EQ(files->size(), 1u);
  out->path = files->front();
  auto bytes = io::ReadFileToString(out->path);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  out->bytes = *std::move(bytes);
  ASSERT_TRUE(log->Close().ok());
  out->data_end = out->bytes.size();
  while (out->data_end > 0 && out->bytes[out->data_end - 1] == 0) --out->data_end;
}

// A crash leaves the active segment preallocated and without a footer; its
// unwritten tail (a hole here) is skipped through SEEK_DATA, yet a batch
// written far into it, after a zero gap, is still found: recovery reports the
// damage instead of cutting the log at the gap.
TEST(LogTest, RecoveryOfAPreallocatedTailStillFindsDataAfterAZeroGap) {
  std::string dir = FreshDir("prealloc_gap");
  OpenSegment seg;
  ASSERT_NO_FATAL_FAILURE(CaptureOpenSegment(dir, Small(4u << 20), 3, &seg));
  const std::string& path = seg.path;
  const std::string written = seg.bytes.substr(0, seg.data_end);
  const std::string last_batch = written.substr(seg.last_entry.batch_offset);
  ASSERT_FALSE(last_batch.empty());

  auto rewrite = [&](bool plant) {
    int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::pwrite(fd, written.data(), written.size(), 0),
              static_cast<ssize_t>(written.size()));
    if (plant) {
      ASSERT_EQ(::pwrite(fd, last_batch.data(), last_batch.size(), 3u << 20),
                static_cast<ssize_t>(last_batch.size()));
    }
    ASSERT_EQ(::ftruncate(fd, 4u << 20), 0);  // the rest: a hole, read as zeros
    ::close(fd);
  };
  // Holes only after the batches: a clean preallocated tail.
  rewrite(/*plant=*/false);
  auto log = MustOpen(dir, Small(4u << 20));
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->LastOpId().index(), 3);
  ASSERT_TRUE(log->Close().ok());
  // A valid batch 3 MiB in, after a zero gap: found.
  rewrite(/*plant=*/true);
  auto reopened = Log::Open(dir, Small(4u << 20));
  EXPECT_FALSE(reopened.ok());
  EXPECT_THAT(std::string(reopened.status().message()), HasSubstr("zero-filled gap"));
}

// A tablet server's start-up syncs the footers WAL recovery writes once for
// all replicas (syncfs): with sync_recovered_footer off, Open writes the
// crashed segment's footer without syncing it; the log is whole either way.
TEST(LogTest, RecoveredFooterIsSyncedUnlessTheCallerSyncsTheFilesystem) {
  for (bool sync_footer : {true, false}) {
    SCOPED_TRACE(sync_footer ? "synced by Open" : "left to the caller");
    std::string dir = FreshDir(sync_footer ? "footer_synced" : "footer_deferred");
    LogOptions options = Small(1u << 20);
    options.sync = true;
    OpenSegment seg;
    ASSERT_NO_FATAL_FAILURE(CaptureOpenSegment(dir, options, 5, &seg));
    const std::string& path = seg.path;
    ASSERT_TRUE(io::WriteFileAtomically(path, seg.bytes).ok());

    options.sync_recovered_footer = sync_footer;
    int segment_syncs;
    std::unique_ptr<Log> log;
    {
      io::ScopedFaultInjector record;
      log = MustOpen(dir, options);
      ASSERT_NE(log, nullptr);
      segment_syncs = 0;
      for (const io::SeenCall& c : record.calls()) {
        segment_syncs += c.op == io::sys::Op::kSync && c.path == path;
      }
    }
    EXPECT_EQ(segment_syncs > 0, sync_footer) << segment_syncs;
    EXPECT_EQ(log->LastOpId().index(), 5);
    ASSERT_TRUE(log->Close().ok());
    EXPECT_EQ(ReplayIndexes(dir), Range(1, 5));
  }
}

// Pages of `path` in the page cache, from page `first_page` on.
int ResidentPagesFrom(const std::string& path, size_t first_page) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return -1;
  const off_t size = ::lseek(fd, 0, SEEK_END);
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (map == MAP_FAILED) return -1;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::vector<unsigned char> in_core((size + page - 1) / page);
  int n = -1;
  if (::mincore(map, size, in_core.data()) == 0) {
    n = 0;
    for (size_t i = first_page; i < in_core.size(); ++i) n += in_core[i] & 1;
  }
  ::munmap(map, size);
  return n;
}

// After a crash the last segment ends in preallocated, never written
// (unwritten) extents. ext4 calls such a range data once its zero pages are
// cached (readahead puts them there), so the recovery scan used to read every
// replica's whole 8 MiB tail, chasing its own reads a page at a time. It now
// reads only the data: the tail's pages stay out of the cache.
TEST(LogTest, RecoveryScanOfAPreallocatedTailReadsOnlyTheData) {
  std::string dir = FreshDir("prealloc_scan");
  OpenSegment seg;
  ASSERT_NO_FATAL_FAILURE(CaptureOpenSegment(dir, Small(4u << 20), 3, &seg));
  const std::string& path = seg.path;
  const size_t end = seg.data_end;
  // Rewrite it: the batches, then 4 MiB preallocated as a segment is.
  int fd = ::open(path.c_str(), O_RDWR | O_TRUNC);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::pwrite(fd, seg.bytes.data(), end, 0), static_cast<ssize_t>(end));
  if (::fallocate(fd, 0, 0, 4u << 20) != 0 || ::lseek(fd, 0, SEEK_HOLE) == (4 << 20)) {
    ::close(fd);
    GTEST_SKIP() << "no unwritten extents or SEEK_HOLE on this filesystem";
  }
  ASSERT_EQ(::fdatasync(fd), 0);
  // Read the whole tail once, as readahead would: its zero pages are cached.
  std::string tail((4u << 20) - end, '\0');
  ASSERT_EQ(::pread(fd, tail.data(), tail.size(), end), static_cast<ssize_t>(tail.size()));
  ::close(fd);
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t first_tail_page = (end + page - 1) / page + 1;
  ASSERT_GT(ResidentPagesFrom(path, first_tail_page), 500);

  // The reader recovery uses, to the end (Open would then cut the tail,
  // dropping its pages whatever the scan did).
  auto reader = SegmentReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  int batches = 0;
  for (Batch b; (*reader)->Next(&b).ok();) ++batches;
  EXPECT_EQ(batches, 3);
  EXPECT_EQ((*reader)->tail().offset, end);
  const int resident = ResidentPagesFrom(path, first_tail_page);
  EXPECT_LE(resident, 2) << "the scan read the preallocated tail";
  reader->reset();
  auto log = MustOpen(dir, Small(4u << 20));
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->LastOpId().index(), 3);
  ASSERT_TRUE(log->Close().ok());
}

TEST(LogTest, ConcurrentAppendersShareSyncs) {
  std::string dir = FreshDir("group_commit");
  LogOptions options = Small(256 * 1024);
  options.sync = true;
  auto log = MustOpen(dir, options);
  constexpr int kThreads = 8, kPerThread = 40;
  std::mutex order;  // assigns indexes in enqueue order, as a Raft leader does
  int64_t next = 1;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(AppendAsyncInOrder(log.get(), &order, &next).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  // A flood of asynchronous appends from one thread is grouped too.
  std::vector<std::promise<absl::Status>> flood(200);
  for (int i = 0; i < 200; ++i) {
    log->AppendAsync({MakeEntry(1, next++, 200)},
                     [&flood, i](const absl::Status& st) { flood[i].set_value(st); });
  }
  for (auto& p : flood) EXPECT_TRUE(p.get_future().get().ok());
  Log::Stats stats = log->stats();
  EXPECT_EQ(stats.batches_written, kThreads * kPerThread + 200u);
  EXPECT_LT(stats.groups_written, stats.batches_written);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReplayIndexes(dir), Range(1, kThreads * kPerThread + 200));
}

// Append writes inline when the writer is idle and queues otherwise; mixed
// with asynchronous appends from other threads, across segment rolls, every
// entry lands once, in index order, and Append fails once the log is closed.
TEST(LogTest, InlineAndQueuedAppendsKeepOrderAcrossRolls) {
  std::string dir = FreshDir("inline_append");
  LogOptions options = Small(4 * 1024);  // rolls every ~20 entries
  options.sync = true;
  auto log = MustOpen(dir, options);
  constexpr int kThreads = 4, kPerThread = 60;
  std::mutex order;
  int64_t next = 1;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        if (t % 2 == 0) {
          // Holding `order` across the whole Append keeps the index order;
          // the other threads' async appends queue behind it meanwhile.
          std::lock_guard l(order);
          EXPECT_TRUE(log->Append({MakeEntry(1, next++, 200)}).ok());
          continue;
        }
        EXPECT_TRUE(AppendAsyncInOrder(log.get(), &order, &next).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(log->LastOpId().index(), kThreads * kPerThread);
  EXPECT_EQ(log->stats().batches_written, static_cast<uint64_t>(kThreads * kPerThread));
  ASSERT_TRUE(log->Close().ok());
  absl::Status after = log->Append({MakeEntry(1, next, 200)});
  EXPECT_EQ(after.code(), absl::StatusCode::kFailedPrecondition) << after;
  EXPECT_EQ(ReplayIndexes(dir), Range(1, kThreads * kPerThread));
  std::vector<std::string> segments;
  for (const auto& e : std::filesystem::directory_iterator(dir)) segments.push_back(e.path());
  EXPECT_GT(segments.size(), 3u) << "the test should cross segment rolls";
}

TEST(LogTest, TwoPhaseAppendsEncodeInParallelAndKeepOrder) {
  std::string dir = FreshDir("two_phase");
  auto log = MustOpen(dir, Small(64 * 1024));
  constexpr int kThreads = 8, kPerThread = 50;
  std::mutex order;
  int64_t next = 1;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        std::vector<consensus::ReplicateMsg> batch;
        absl::StatusOr<Log::Reservation> r;
        {
          std::lock_guard l(order);
          batch = {MakeEntry(1, next), MakeEntry(1, next + 1)};
          next += 2;
          r = log->Reserve(batch);
        }
        ASSERT_TRUE(r.ok()) << r.status();
        std::promise<absl::Status> done;
        log->Fill(*std::move(r), batch, [&done](const absl::Status& st) { done.set_value(st); });
        EXPECT_TRUE(done.get_future().get().ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReplayIndexes(dir), Range(1, 2 * kThreads * kPerThread));
}

TEST(LogTest, LaterFillWaitsForEarlierReservation) {
  std::string dir = FreshDir("fill_order");
  auto log = MustOpen(dir, Small());
  auto r1 = log->Reserve({MakeEntry(1, 1)});
  auto r2 = log->Reserve({MakeEntry(1, 2)});
  ASSERT_TRUE(r1.ok() && r2.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(log->Reserve({MakeEntry(1, 2)}).status()));
  std::promise<absl::Status> d1, d2;
  log->Fill(*std::move(r2), {MakeEntry(1, 2)}, [&](const absl::Status& st) { d2.set_value(st); });
  log->Fill(*std::move(r1), {MakeEntry(1, 1)}, [&](const absl::Status& st) { d1.set_value(st); });
  EXPECT_TRUE(d1.get_future().get().ok());
  EXPECT_TRUE(d2.get_future().get().ok());
  EXPECT_EQ(log->LastOpId().index(), 2);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_EQ(ReplayIndexes(dir), Range(1, 2));
}

TEST(LogTest, AbandonedOrMisfilledReservationFailsTheLog) {
  for (bool misfill : {false, true}) {
    std::string dir = FreshDir("abandoned");
    auto log = MustOpen(dir, Small());
    AppendRange(log.get(), 1, 3);
    {
      auto r = log->Reserve({MakeEntry(1, 4)});
      ASSERT_TRUE(r.ok());
      if (misfill) {
        std::promise<absl::Status> d;
        log->Fill(*std::move(r), {MakeEntry(1, 5)}, [&](const absl::Status& st) { d.set_value(st); });
        EXPECT_TRUE(absl::IsFailedPrecondition(d.get_future().get()));
      }
    }  // destroyed unfilled (or already consumed by Fill)
    absl::Status next = log->Append({MakeEntry(1, 5)});
    EXPECT_FALSE(next.ok());
    EXPECT_FALSE(log->Close().ok());
    EXPECT_EQ(ReplayIndexes(dir), Range(1, 3));  // nothing after the hole
  }
}

TEST(LogTest, ReadsWhileAppending) {
  std::string dir = FreshDir("read_while_append");
  auto log = MustOpen(dir, Small(8 * 1024));
  std::thread writer([&] { AppendRange(log.get(), 1, 300, 1, 1, 300); });
  int64_t seen = 0;
  while (seen < 300) {
    int64_t last = log->LastOpId().index();
    if (last == 0) continue;
    auto read = log->ReadEntries(1, last);
    ASSERT_TRUE(read.ok()) << read.status();
    ASSERT_EQ(read->size(), static_cast<size_t>(last));
    for (const auto& m : *read) ASSERT_TRUE(EntryIntact(m));
    seen = last;
  }
  writer.join();
  ASSERT_TRUE(log->Close().ok());
}

TEST(LogTest, LeftoverTempAndUninitializedSegmentsAreRemoved) {
  std::string dir = FreshDir("leftovers");
  testing::WriteFile(io::JoinPath(dir, ".kudutmp.newsegmentABCDEF"), "junk");
  testing::WriteFile(io::JoinPath(dir, "wal-000000001"),
                     BuildSegment(1, kmend::LZ4, MakeBatches(1, 2, 2), true).bytes);
  testing::WriteFile(io::JoinPath(dir, "wal-000000002"), std::string(4096, '\0'));
  auto log = MustOpen(dir, Small());
  EXPECT_EQ(log->LastOpId().index(), 4);
  AppendRange(log.get(), 5, 6);
  auto read = log->ReadEntries(1, 6);  // LZ4 segment from "Kudu", ZSTD from us
  ASSERT_TRUE(read.ok()) << read.status();
  EXPECT_EQ(read->size(), 6u);
  ASSERT_TRUE(log->Close().ok());
  EXPECT_FALSE(io::FileExists(io::JoinPath(dir, ".kudutmp.newsegmentABCDEF")));
  EXPECT_EQ(ReplayIndexes(dir), Range(1, 6));
}

}  // namespace
}  // namespace kmend::wal
