// WAL batch headers claiming absurd lengths (a 4 GiB payload, a 200 MiB
// "uncompressed" size from a few stored bytes) are refused before anything
// of that size is allocated.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/format/crc32c.h"
#include "lib/io/file.h"
#include "lib/util/alloc_probe.h"
#include "lib/wal/format.h"
#include "lib/wal/log_reader.h"
#include "lib/wal/wal_test_util.h"

namespace kmend::wal {
namespace {

using ::testing::HasSubstr;

constexpr size_t kSmallBytes = 1 << 20;

void PutU32(uint32_t v, char* p) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

// A v2 batch header with correct header CRC claiming `stored_len`.
std::string ForgedHeader(uint32_t stored_len, uint32_t uncompressed_len, uint32_t payload_crc) {
  char h[kBatchHeaderBytesV2];
  PutU32(stored_len, h);
  PutU32(uncompressed_len, h + 4);
  PutU32(payload_crc, h + 8);
  PutU32(crc32c::Value(h, 12), h + 12);
  return std::string(h, sizeof(h));
}

TEST(WalHostileLengthTest, FourGiBBatchClaimIsRefusedWithoutAllocating) {
  const std::string dir = testing::FreshDir("hostile_4g");
  testing::BuiltSegment seg =
      testing::BuildSegment(1, kmend::NO_COMPRESSION, testing::MakeBatches(1, 2, 2), false);
  std::string bytes = seg.bytes + ForgedHeader(0xFFFFFFFFu, 0xFFFFFFFFu, 0) + std::string(64, 'x');
  testing::WriteFile(io::JoinPath(dir, "wal-000000001"), bytes);
  alloc_probe::Reset();
  std::vector<int64_t> replayed;
  absl::StatusOr<ReplayResult> r = Replay(dir, 0, [&](const log::LogEntryPB& e) {
    replayed.push_back(e.replicate().id().index());
    return absl::OkStatus();
  });
  // The batches before the lie replay. In a footerless final segment the
  // reader's policy ends the log there (a torn tail, reason kept); either
  // way nothing past the lie is read and nothing of its size allocated.
  ASSERT_TRUE(r.ok() ? r->torn_tail : absl::IsDataLoss(r.status())) << r.status();
  const std::string why = r.ok() ? r->torn_reason : std::string(r.status().message());
  EXPECT_THAT(why, HasSubstr("4294967295"));
  EXPECT_THAT(why, HasSubstr("exceeds the limit"));
  EXPECT_EQ(replayed.size(), 4u);
  EXPECT_LT(alloc_probe::LargestAllocationBytes(), kSmallBytes);
}

TEST(WalHostileLengthTest, DecompressionBombClaimIsRefusedWithoutAllocating) {
  std::string small(100, 'a');
  for (kmend::CompressionType codec : {kmend::LZ4, kmend::ZSTD}) {
    std::string stored;
    ASSERT_TRUE(Compress(codec, 1, small, &stored).ok());
    std::string out;
    alloc_probe::Reset();
    absl::Status s = Decompress(codec, stored, 200u << 20, &out);
    EXPECT_TRUE(absl::IsDataLoss(s)) << kmend::CompressionType_Name(codec) << ": " << s;
    EXPECT_LT(alloc_probe::LargestAllocationBytes(), kSmallBytes)
        << kmend::CompressionType_Name(codec);
    // The truthful claim still decompresses.
    ASSERT_TRUE(Decompress(codec, stored, small.size(), &out).ok());
    EXPECT_EQ(out, small);
  }
}

}  // namespace
}  // namespace kmend::wal
