#include "lib/format/crc32c.h"

#include <cstring>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace kmend::crc32c {
namespace {

// Bit-at-a-time reference: the definition of CRC-32C, slow and obviously right.
uint32_t Reference(const unsigned char* p, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1u)));
  }
  return ~crc;
}

TEST(Crc32cTest, PublishedVectors) {
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
  EXPECT_EQ(Value("abcdefgh"), 0x0A9421B7u);
  EXPECT_EQ(Value(std::string(4, '\0')), 0x48674BC7u);
  EXPECT_EQ(Value(""), 0u);
  // RFC 3720 B.4: 32 bytes of zeros, of 0xFF, and an ascending sequence.
  EXPECT_EQ(Value(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Value(std::string(32, '\xff')), 0x62A8AB43u);
  std::string ascending;
  for (int i = 0; i < 32; ++i) ascending.push_back(static_cast<char>(i));
  EXPECT_EQ(Value(ascending), 0x46DD794Eu);
}

TEST(Crc32cTest, ExtendOverSplitBuffersEqualsWhole) {
  std::string s = "The quick brown fox jumps over the lazy dog, twice over.";
  uint32_t whole = Value(s);
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    uint32_t first = Value(s.data(), cut);
    EXPECT_EQ(Extend(first, s.data() + cut, s.size() - cut), whole) << "cut at " << cut;
  }
}

TEST(Crc32cTest, MatchesReferenceOnRandomBuffersOfEveryLengthAndAlignment) {
  std::mt19937_64 rng(42);
  std::string buf(4096 + 16, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  for (size_t len = 0; len <= 4096; ++len) {
    size_t start = len % 16;  // misaligned starts
    auto* p = reinterpret_cast<const unsigned char*>(buf.data() + start);
    ASSERT_EQ(Value(p, len), Reference(p, len)) << "len " << len << " start " << start;
  }
}

}  // namespace
}  // namespace kmend::crc32c
