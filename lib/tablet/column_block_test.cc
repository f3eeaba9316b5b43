#include "lib/tablet/column_block.h"

#include <cstring>
#include <random>

#include "lib/format/crc32c.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kmend::tablet {
namespace {

using ::testing::HasSubstr;

std::vector<Value> SampleValues(kmend::DataType type, int n, bool with_nulls) {
  std::mt19937_64 rng(static_cast<uint64_t>(type) * 1000 + n);
  std::vector<Value> out;
  for (int i = 0; i < n; ++i) {
    if (with_nulls && i % 3 == 1) {
      out.emplace_back();
      continue;
    }
    switch (type) {
      case kmend::INT64:
        out.emplace_back(static_cast<int64_t>(rng()));
        break;
      case kmend::DOUBLE:
        out.emplace_back(static_cast<double>(static_cast<int64_t>(rng() % 100000)) / 7.0);
        break;
      case kmend::STRING:
        out.emplace_back(std::string(rng() % 20, static_cast<char>('a' + i % 26)));
        break;
      case kmend::BOOL:
        out.emplace_back(rng() % 2 == 0);
        break;
      default:
        break;
    }
  }
  return out;
}

class ColumnBlockRoundTrip
    : public ::testing::TestWithParam<std::tuple<kmend::DataType, bool, kmend::CompressionType>> {};

TEST_P(ColumnBlockRoundTrip, DecodesWhatWasEncoded) {
  auto [type, nulls, codec] = GetParam();
  for (int n : {0, 1, 7, 8, 9, 1000}) {
    std::vector<Value> values = SampleValues(type, n, nulls);
    ColumnBlockOptions opts;
    opts.codec = codec;
    auto block = EncodeColumnBlock(type, values, opts);
    ASSERT_TRUE(block.ok()) << block.status();
    auto decoded = DecodeColumnBlock(42, *block);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(decoded->values, values);
    EXPECT_EQ(decoded->header.row_count, static_cast<uint32_t>(n));
    EXPECT_EQ(decoded->header.type, type);
    EXPECT_EQ(decoded->header.codec, codec);
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, ColumnBlockRoundTrip,
    ::testing::Combine(::testing::Values(kmend::INT64, kmend::DOUBLE, kmend::STRING, kmend::BOOL),
                       ::testing::Bool(),
                       ::testing::Values(kmend::ZSTD, kmend::NO_COMPRESSION)));

TEST(ColumnBlockTest, HeaderLayoutIsAsDocumented) {
  auto block = EncodeColumnBlock(kmend::INT64, {Value(int64_t{1}), Value()},
                                 {kmend::NO_COMPRESSION, 1});
  ASSERT_TRUE(block.ok());
  // Worked example of docs/formats/column_block.md: 28-byte header,
  // 1-byte bitmap + 2 x 8 value bytes, 4-byte CRC.
  ASSERT_EQ(block->size(), 28u + 17u + 4u);
  EXPECT_EQ(block->substr(0, 8), "kmcolblk");
  EXPECT_EQ((*block)[8], 1);     // version
  EXPECT_EQ((*block)[10], 7);    // INT64
  EXPECT_EQ((*block)[11], 1);    // NO_COMPRESSION
  EXPECT_EQ((*block)[12], 2);    // row_count
  EXPECT_EQ((*block)[16], 1);    // flags: has nulls
  EXPECT_EQ((*block)[20], 17);   // uncompressed_len
  EXPECT_EQ((*block)[24], 17);   // payload_len
  EXPECT_EQ((*block)[28], 2);    // bitmap: row 1 is NULL
}

// Every single corrupted byte of a stored block is detected, with DataLoss
// naming the block id; no byte can be changed without notice.
TEST(ColumnBlockTest, EveryCorruptedByteIsDetected) {
  for (kmend::CompressionType codec : {kmend::ZSTD, kmend::NO_COMPRESSION}) {
    auto block = EncodeColumnBlock(kmend::STRING, SampleValues(kmend::STRING, 50, true),
                                   {codec, 1});
    ASSERT_TRUE(block.ok());
    for (size_t i = 0; i < block->size(); ++i) {
      for (int bit : {0, 7}) {
        std::string bad = *block;
        bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
        auto r = DecodeColumnBlock(0x1234, bad);
        ASSERT_FALSE(r.ok()) << "byte " << i << " bit " << bit;
        EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
        EXPECT_THAT(std::string(r.status().message()), HasSubstr("block 0000000000001234"));
        EXPECT_FALSE(VerifyColumnBlockChecksum(0x1234, bad).ok());
      }
    }
  }
}

TEST(ColumnBlockTest, TruncationAndExtensionAreDetected) {
  auto block = EncodeColumnBlock(kmend::INT64, SampleValues(kmend::INT64, 20, false));
  ASSERT_TRUE(block.ok());
  for (size_t len = 0; len < block->size(); ++len) {
    auto r = DecodeColumnBlock(1, block->substr(0, len));
    ASSERT_FALSE(r.ok()) << len;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  }
  auto r = DecodeColumnBlock(1, *block + std::string(4, '\0'));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(DecodeColumnBlock(1, "short").status().message()),
              HasSubstr("too short: 5 bytes"));
}

TEST(ColumnBlockTest, CrcMismatchMessageShowsStoredAndComputed) {
  auto block = EncodeColumnBlock(kmend::BOOL, SampleValues(kmend::BOOL, 10, false));
  ASSERT_TRUE(block.ok());
  std::string bad = *block;
  bad[30] ^= 1;
  auto r = DecodeColumnBlock(7, bad);
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("block 0000000000000007: column block: crc mismatch"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("stored 0x"));
}

TEST(ColumnBlockTest, RejectsMistypedValuesAndBadOptions) {
  EXPECT_EQ(EncodeColumnBlock(kmend::INT64, {Value(1.5)}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeColumnBlock(kmend::INT32, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeColumnBlock(kmend::INT64, {}, {kmend::LZ4, 1}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ColumnBlockTest, ZstdCompressesRepetitiveColumns) {
  std::vector<Value> values(10000, Value(std::string("same value")));
  auto block = EncodeColumnBlock(kmend::STRING, values);
  ASSERT_TRUE(block.ok());
  EXPECT_LT(block->size(), 2000u);
}

// Bad input never crashes: blocks whose CRC is right but whose header and
// body are random (as a buggy or foreign writer could produce) decode to an
// error or to exactly row_count values.
TEST(ColumnBlockTest, RandomContentWithValidCrcNeverCrashes) {
  std::mt19937_64 rng(99);
  auto le32 = [](std::string* s, size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) (*s)[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  const kmend::DataType types[] = {kmend::INT64, kmend::DOUBLE, kmend::STRING, kmend::BOOL};
  int decoded_ok = 0;
  for (int iter = 0; iter < 20000; ++iter) {
    const size_t payload_len = rng() % 64;
    std::string b(kColumnBlockHeaderBytes + payload_len + 4, '\0');
    std::memcpy(b.data(), kColumnBlockMagic, 8);
    b[8] = 1;
    b[10] = static_cast<char>(types[rng() % 4]);
    b[11] = static_cast<char>(rng() % 2 ? kmend::NO_COMPRESSION : kmend::ZSTD);
    le32(&b, 12, static_cast<uint32_t>(rng() % 3 == 0 ? rng() : rng() % 20));
    le32(&b, 16, static_cast<uint32_t>(rng() % 4 == 0 ? 1 : 0));
    const uint32_t ulen = rng() % 4 == 0 ? static_cast<uint32_t>(rng() % 100)
                                         : static_cast<uint32_t>(payload_len);
    le32(&b, 20, ulen);
    le32(&b, 24, static_cast<uint32_t>(payload_len));
    for (size_t i = 0; i < payload_len; ++i) {
      b[kColumnBlockHeaderBytes + i] = static_cast<char>(rng() % 4 == 0 ? rng() : rng() % 3);
    }
    le32(&b, b.size() - 4, crc32c::Value(b.data(), b.size() - 4));
    auto r = DecodeColumnBlock(iter, b);
    if (r.ok()) {
      ++decoded_ok;
      EXPECT_EQ(r->values.size(), r->header.row_count);
    } else {
      EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
    }
  }
  EXPECT_GT(decoded_ok, 0);  // the generator does reach the value decoder
}

}  // namespace
}  // namespace kmend::tablet
