// Reading single segments: torn tails at every byte, corruption at every byte.
#include "lib/wal/segment_reader.h"

#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "lib/wal/format.h"
#include "lib/wal/log_reader.h"
#include "lib/wal/wal_test_util.h"

namespace kmend::wal {
namespace {

using ::testing::HasSubstr;
using testing::BuildSegment;
using testing::BuiltSegment;
using testing::FreshDir;
using testing::MakeBatches;
using testing::WriteFile;

std::vector<int64_t> Replayed(const std::string& dir, absl::StatusOr<ReplayResult>* result) {
  std::vector<int64_t> indexes;
  *result = Replay(dir, 0, [&](const log::LogEntryPB& e) {
    EXPECT_TRUE(testing::EntryIntact(e.replicate()));
    indexes.push_back(e.replicate().id().index());
    return absl::OkStatus();
  });
  return indexes;
}

std::vector<int64_t> Range(int64_t first, int64_t last) {
  std::vector<int64_t> v;
  for (int64_t i = first; i <= last; ++i) v.push_back(i);
  return v;
}

class CodecTest : public ::testing::TestWithParam<kmend::CompressionType> {};

INSTANTIATE_TEST_SUITE_P(Codecs, CodecTest,
                         ::testing::Values(kmend::NO_COMPRESSION, kmend::LZ4, kmend::ZSTD),
                         [](const auto& info) { return kmend::CompressionType_Name(info.param); });

TEST_P(CodecTest, ReadsAllBatchesAndFooter) {
  std::string dir = FreshDir("reads_all");
  BuiltSegment seg = BuildSegment(1, GetParam(), MakeBatches(1, 4, 3), /*footer=*/true);
  WriteFile(io::JoinPath(dir, "wal-000000001"), seg.bytes);
  auto reader = SegmentReader::Open(io::JoinPath(dir, "wal-000000001"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE((*reader)->has_footer());
  EXPECT_EQ((*reader)->footer().num_entries(), 12);
  EXPECT_EQ((*reader)->footer().max_replicate_index(), 12);
  Batch b;
  int batches = 0;
  absl::Status st;
  while ((st = (*reader)->Next(&b)).ok()) {
    EXPECT_EQ(b.offset, seg.batch_offsets[batches]);
    ++batches;
  }
  EXPECT_TRUE(absl::IsOutOfRange(st)) << st;
  EXPECT_EQ(batches, 4);
  EXPECT_EQ((*reader)->tail().kind, TailKind::kClean);
  EXPECT_EQ((*reader)->rebuilt_footer().min_replicate_index(), 1);
}

// Cutting the final batch of the last (footerless) segment at every byte:
// replay returns exactly the complete batches and reports a torn tail.
TEST_P(CodecTest, TornTailAtEveryOffsetOfFinalBatch) {
  std::string dir = FreshDir("torn_every_offset");
  BuiltSegment seg = BuildSegment(1, GetParam(), MakeBatches(1, 3, 2), /*footer=*/false);
  const uint64_t start = seg.batch_offsets[2], end = seg.batch_ends[2];
  const std::string path = io::JoinPath(dir, "wal-000000001");
  for (uint64_t cut = start; cut <= end; ++cut) {
    for (bool zero_fill : {false, true}) {
      SCOPED_TRACE(absl::StrCat("cut at ", cut, zero_fill ? " + preallocated zeros" : ""));
      std::string bytes = seg.bytes.substr(0, cut);
      if (zero_fill) bytes.append(4096, '\0');
      WriteFile(path, bytes);
      absl::StatusOr<ReplayResult> result;
      std::vector<int64_t> got = Replayed(dir, &result);
      ASSERT_TRUE(result.ok()) << result.status();
      // Zero bytes written over preallocated zeros leave no trace: such a cut
      // is the same as one at the batch start.
      bool invisible = zero_fill && seg.bytes.find_first_not_of('\0', start) >= cut;
      if (cut == end) {
        EXPECT_EQ(got, Range(1, 6));
        EXPECT_FALSE(result->torn_tail);
      } else if (cut == start || invisible) {
        EXPECT_EQ(got, Range(1, 4));
        EXPECT_FALSE(result->torn_tail);  // a clean end at a batch boundary
      } else {
        EXPECT_EQ(got, Range(1, 4));
        EXPECT_TRUE(result->torn_tail);
        EXPECT_EQ(result->torn_offset, start);
        EXPECT_EQ(result->torn_segment, path);
      }
    }
  }
}

// Flipping any byte of a middle batch is corruption reported at that batch's
// offset, in footerless and closed segments alike; nothing is skipped
// silently, and a salvage read still finds the batches around it.
TEST_P(CodecTest, FlipEveryByteOfMiddleBatch) {
  std::string dir = FreshDir("flip_every_byte");
  const std::string path = io::JoinPath(dir, "wal-000000001");
  for (bool footer : {false, true}) {
    BuiltSegment seg = BuildSegment(1, GetParam(), MakeBatches(1, 3, 2), footer);
    const uint64_t start = seg.batch_offsets[1], end = seg.batch_ends[1];
    for (uint64_t p = start; p < end; ++p) {
      SCOPED_TRACE(absl::StrCat(footer ? "with" : "without", " footer, byte ", p));
      std::string bytes = seg.bytes;
      bytes[p] = static_cast<char>(bytes[p] ^ 0xFF);
      WriteFile(path, bytes);

      absl::StatusOr<ReplayResult> result;
      std::vector<int64_t> got = Replayed(dir, &result);
      ASSERT_FALSE(result.ok());
      EXPECT_TRUE(absl::IsDataLoss(result.status())) << result.status();
      EXPECT_THAT(std::string(result.status().message()),
                  HasSubstr(absl::StrCat(path, ": offset ", start)));
      EXPECT_EQ(got, Range(1, 2));  // replay stopped at the damage

      absl::StatusOr<LogSummary> summary =
          ReadLog(dir, ReadLogOptions{/*continue_after_problem=*/true}, nullptr);
      ASSERT_TRUE(summary.ok()) << summary.status();
      // The damage, the index gap it causes, and with a footer the entry
      // count that no longer matches.
      ASSERT_EQ(summary->problems.size(), footer ? 3u : 2u);
      EXPECT_EQ(summary->problems[0].kind, ProblemKind::kCorruption);
      EXPECT_EQ(summary->problems[0].offset, start);
      EXPECT_EQ(summary->problems[1].kind, ProblemKind::kSequence);
      if (footer) {
        EXPECT_THAT(std::string(summary->problems[2].status.message()),
                    HasSubstr("footer says 6 entries, segment holds 4"));
      }
      EXPECT_EQ(summary->entries, 4);  // batches 0 and 2 were still read
      EXPECT_FALSE(summary->torn_tail);
    }
  }
}

// The final batch of a footerless segment cannot be told from a torn write
// when damaged (Kudu's rule): it is a torn tail. With a footer it is
// corruption.
TEST(SegmentReaderTest, DamagedFinalBatch) {
  std::string dir = FreshDir("damaged_final");
  const std::string path = io::JoinPath(dir, "wal-000000001");
  for (bool footer : {false, true}) {
    BuiltSegment seg = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 3, 2), footer);
    std::string bytes = seg.bytes;
    bytes[seg.batch_ends[2] - 1] ^= 0x01;
    WriteFile(path, bytes);
    absl::StatusOr<ReplayResult> result;
    std::vector<int64_t> got = Replayed(dir, &result);
    if (footer) {
      ASSERT_TRUE(absl::IsDataLoss(result.status())) << result.status();
      EXPECT_THAT(std::string(result.status().message()), HasSubstr("payload crc mismatch"));
      EXPECT_THAT(std::string(result.status().message()), HasSubstr("has a footer"));
    } else {
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_TRUE(result->torn_tail);
      EXPECT_THAT(result->torn_reason, HasSubstr("payload crc mismatch"));
      EXPECT_EQ(got, Range(1, 4));
    }
  }
}

// Matching CRCs around an undecodable payload cannot come from a torn write:
// corruption even as the final batch of a footerless segment.
TEST(SegmentReaderTest, UndecodablePayloadWithGoodCrcsIsCorruption) {
  std::string dir = FreshDir("undecodable");
  for (bool parse_error : {false, true}) {
    BuiltSegment seg = BuildSegment(1, parse_error ? kmend::NO_COMPRESSION : kmend::ZSTD,
                                    MakeBatches(1, 2, 2), /*footer=*/false);
    std::string junk = "\xff\xff\xff\xff this is neither zstd nor a LogEntryBatchPB";
    AppendBatch(junk, static_cast<uint32_t>(junk.size()), &seg.bytes);
    WriteFile(io::JoinPath(dir, "wal-000000001"), seg.bytes);
    absl::StatusOr<ReplayResult> result;
    std::vector<int64_t> got = Replayed(dir, &result);
    ASSERT_TRUE(absl::IsDataLoss(result.status())) << result.status();
    EXPECT_THAT(std::string(result.status().message()),
                HasSubstr(parse_error ? "does not parse" : "zstd decompression failed"));
    EXPECT_THAT(std::string(result.status().message()),
                HasSubstr(absl::StrCat("offset ", seg.batch_ends[1])));
    EXPECT_EQ(got, Range(1, 4));
  }
}

TEST(SegmentReaderTest, FooterEntryCountMismatchIsCorruption) {
  std::string dir = FreshDir("footer_count");
  BuiltSegment seg = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 3, 2), /*footer=*/false);
  log::LogSegmentFooterPB footer;
  footer.set_num_entries(7);
  WriteFile(io::JoinPath(dir, "wal-000000001"), seg.bytes + EncodeFooter(footer));
  absl::StatusOr<ReplayResult> result;
  Replayed(dir, &result);
  ASSERT_TRUE(absl::IsDataLoss(result.status())) << result.status();
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("footer says 7 entries, segment holds 6"));
}

TEST(SegmentReaderTest, ZeroGapBeforeValidBatchIsCorruption) {
  std::string dir = FreshDir("zero_gap");
  BuiltSegment seg = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 3, 2), /*footer=*/false);
  std::string bytes = seg.bytes;
  for (uint64_t p = seg.batch_offsets[1]; p < seg.batch_ends[1]; ++p) bytes[p] = 0;
  WriteFile(io::JoinPath(dir, "wal-000000001"), bytes);
  absl::StatusOr<ReplayResult> result;
  Replayed(dir, &result);
  ASSERT_TRUE(absl::IsDataLoss(result.status())) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("zero-filled gap"));
}

TEST(SegmentWrittenLengthTest, APreallocatedTailOfZerosIsNotWritten) {
  BuiltSegment seg = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 3, 2), /*footer=*/false);
  const uint64_t written = seg.bytes.size();
  std::string preallocated = seg.bytes + std::string(1 << 20, '\0');
  EXPECT_EQ(SegmentWrittenLength(preallocated), written);
  EXPECT_EQ(SegmentWrittenLength(seg.bytes), written);
  // Trimmed, it still reads every batch.
  std::string dir = FreshDir("written_length");
  WriteFile(io::JoinPath(dir, "wal-000000001"), preallocated.substr(0, written));
  absl::StatusOr<ReplayResult> result;
  EXPECT_EQ(Replayed(dir, &result).size(), 6u);
  ASSERT_TRUE(result.ok()) << result.status();
}

TEST(SegmentWrittenLengthTest, AHeaderTornMidWriteIsKeptAndTheZerosAfterItDropped) {
  BuiltSegment seg = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 3, 2), /*footer=*/false);
  const uint64_t written = seg.bytes.size();
  std::string next;
  AppendBatch("payload", 7, &next);
  // Seven bytes of the next batch's header reached the disk.
  std::string torn = seg.bytes + next.substr(0, 7) + std::string(1 << 20, '\0');
  EXPECT_EQ(SegmentWrittenLength(torn), written + kBatchHeaderBytesV2);
  // The trimmed segment still reads every batch before the tear.
  std::string dir = FreshDir("written_length_torn_header");
  WriteFile(io::JoinPath(dir, "wal-000000001"), torn.substr(0, SegmentWrittenLength(torn)));
  absl::StatusOr<ReplayResult> result;
  EXPECT_EQ(Replayed(dir, &result).size(), 6u);
  ASSERT_TRUE(result.ok()) << result.status();
  // A bad header with data after it is not a tail: nothing is dropped.
  torn[written + 100] = 'x';
  EXPECT_EQ(SegmentWrittenLength(torn), torn.size());
}

TEST(SegmentWrittenLengthTest, ZerosBeforeMoreDataOrAFooterKeepTheWholeSegment) {
  BuiltSegment seg = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 3, 2), /*footer=*/false);
  std::string gap = seg.bytes;
  for (uint64_t p = seg.batch_offsets[1]; p < seg.batch_ends[1]; ++p) gap[p] = 0;
  EXPECT_EQ(SegmentWrittenLength(gap), gap.size());
  BuiltSegment closed = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 3, 2), /*footer=*/true);
  EXPECT_EQ(SegmentWrittenLength(closed.bytes), closed.bytes.size());
  EXPECT_EQ(SegmentWrittenLength("not a segment"), 13u);
}

// Random damage (byte changes, cuts, garbage lengths) never crashes a reader
// and is never silently skipped: either every entry comes back intact or a
// problem or torn tail is reported.
TEST(SegmentReaderTest, RandomDamageNeverCrashes) {
  std::string dir = FreshDir("random_damage");
  const std::string path = io::JoinPath(dir, "wal-000000001");
  std::mt19937_64 rng(42);
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE(absl::StrCat("round ", round));
    bool footer = rng() % 2 == 0;
    BuiltSegment seg = BuildSegment(1, static_cast<kmend::CompressionType>(
                                           std::vector<int>{1, 3, 100}[rng() % 3]),
                                    MakeBatches(1, 4, 2), footer);
    std::string bytes = seg.bytes;
    int changes = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < changes; ++i) {
      switch (rng() % 3) {
        case 0:
          bytes[rng() % bytes.size()] = static_cast<char>(rng());
          break;
        case 1:
          bytes.resize(rng() % bytes.size());
          break;
        case 2: {  // a large length where a batch header starts
          uint64_t at = seg.batch_offsets[rng() % seg.batch_offsets.size()];
          if (at + 4 <= bytes.size()) bytes.replace(at, 4, "\xff\xff\xff\x7f");
          break;
        }
      }
      if (bytes.empty()) bytes = "x";
    }
    WriteFile(path, bytes);
    auto summary = ReadLog(dir, ReadLogOptions{true}, nullptr);
    if (!summary.ok()) continue;  // e.g. a damaged segment header: an error, fine
    if (summary->problems.empty()) {
      // Whatever reads without a problem is a prefix of the log, intact
      // (Replay checks each entry via Replayed).
      absl::StatusOr<ReplayResult> result;
      std::vector<int64_t> got = Replayed(dir, &result);
      ASSERT_TRUE(result.ok()) << result.status();
      EXPECT_EQ(got, Range(1, static_cast<int64_t>(got.size())));
    }
    if (bytes == seg.bytes) {
      EXPECT_EQ(summary->entries, 8);
    }
  }
}

TEST(SegmentReaderTest, HeaderProblems) {
  std::string dir = FreshDir("header_problems");
  const std::string path = io::JoinPath(dir, "wal-000000001");
  BuiltSegment seg = BuildSegment(1, kmend::ZSTD, MakeBatches(1, 1, 1), false);

  std::string bad_magic = seg.bytes;
  bad_magic[0] = 'X';
  WriteFile(path, bad_magic);
  auto r = SegmentReader::Open(path);
  ASSERT_TRUE(absl::IsDataLoss(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("bad magic"));

  WriteFile(path, std::string(4096, '\0'));
  r = SegmentReader::Open(path);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE((*r)->uninitialized());

  WriteFile(path, "kuduenc" + std::string(100, '\1'));
  EXPECT_TRUE(absl::IsUnimplemented(SegmentReader::Open(path).status()));

  std::string huge_len = seg.bytes;
  huge_len[11] = 0x7f;
  WriteFile(path, huge_len);
  EXPECT_TRUE(absl::IsDataLoss(SegmentReader::Open(path).status()));

  WriteFile(path, seg.bytes.substr(0, 5));
  EXPECT_TRUE(absl::IsDataLoss(SegmentReader::Open(path).status()));
}

TEST(LogReaderTest, OpIndexGapAcrossSegments) {
  std::string dir = FreshDir("gap_across");
  WriteFile(io::JoinPath(dir, "wal-000000001"),
            BuildSegment(1, kmend::ZSTD, MakeBatches(1, 2, 2), true).bytes);
  WriteFile(io::JoinPath(dir, "wal-000000002"),
            BuildSegment(2, kmend::ZSTD, MakeBatches(6, 2, 2), false).bytes);
  absl::StatusOr<ReplayResult> result;
  std::vector<int64_t> got = Replayed(dir, &result);
  ASSERT_TRUE(absl::IsDataLoss(result.status())) << result.status();
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("op index gap: entry 1.6 follows index 4 (expected 5)"));
  EXPECT_EQ(got, Range(1, 4));
}

TEST(LogReaderTest, OpIndexRegressionAcrossSegments) {
  std::string dir = FreshDir("regression_across");
  WriteFile(io::JoinPath(dir, "wal-000000001"),
            BuildSegment(1, kmend::ZSTD, MakeBatches(1, 2, 2), true).bytes);
  WriteFile(io::JoinPath(dir, "wal-000000002"),
            BuildSegment(2, kmend::ZSTD, MakeBatches(3, 2, 2), false).bytes);
  auto summary = ReadLog(dir, ReadLogOptions{true}, nullptr);
  ASSERT_TRUE(summary.ok());
  ASSERT_EQ(summary->problems.size(), 1u);
  EXPECT_EQ(summary->problems[0].kind, ProblemKind::kSequence);
  EXPECT_THAT(std::string(summary->problems[0].status.message()), HasSubstr("regression"));
}

TEST(LogReaderTest, SegmentSequenceGap) {
  std::string dir = FreshDir("seq_gap");
  WriteFile(io::JoinPath(dir, "wal-000000001"),
            BuildSegment(1, kmend::ZSTD, MakeBatches(1, 2, 2), true).bytes);
  WriteFile(io::JoinPath(dir, "wal-000000003"),
            BuildSegment(3, kmend::ZSTD, MakeBatches(5, 2, 2), false).bytes);
  auto summary = ReadLog(dir, ReadLogOptions{true}, nullptr);
  ASSERT_TRUE(summary.ok());
  ASSERT_EQ(summary->problems.size(), 1u);
  EXPECT_EQ(summary->problems[0].kind, ProblemKind::kSequence);
  EXPECT_THAT(std::string(summary->problems[0].status.message()),
              HasSubstr("segment sequence number 3 follows 1"));
  EXPECT_EQ(summary->entries, 8);
}

TEST(LogReaderTest, ReplayAfterIndexAndOrderBySequenceNumber) {
  std::string dir = FreshDir("replay_after");
  // File names deliberately out of order: the header's number decides.
  WriteFile(io::JoinPath(dir, "wal-b"), BuildSegment(1, kmend::LZ4, MakeBatches(1, 2, 2), true).bytes);
  WriteFile(io::JoinPath(dir, "wal-a"), BuildSegment(2, kmend::ZSTD, MakeBatches(5, 2, 2), false).bytes);
  std::vector<int64_t> got;
  auto result = Replay(dir, 3, [&](const log::LogEntryPB& e) {
    got.push_back(e.replicate().id().index());
    return absl::OkStatus();
  });
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(got, Range(4, 8));
  EXPECT_EQ(result->entries_fed, 5);
  EXPECT_EQ(result->last_replicate.index(), 8);
  EXPECT_EQ(result->segments, 2);
}

TEST(LogReaderTest, CallbackErrorStopsReplay) {
  std::string dir = FreshDir("callback_error");
  WriteFile(io::JoinPath(dir, "wal-000000001"),
            BuildSegment(1, kmend::ZSTD, MakeBatches(1, 3, 1), true).bytes);
  int calls = 0;
  auto result = Replay(dir, 0, [&](const log::LogEntryPB&) {
    return ++calls == 2 ? absl::AbortedError("stop") : absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsAborted(result.status()));
  EXPECT_EQ(calls, 2);
}

}  // namespace
}  // namespace kmend::wal
