#include "lib/tablet/partition.h"

#include <cstring>
#include <random>
#include <string>

#include "gtest/gtest.h"

namespace kmend::tablet {
namespace {

// Austin Appleby's reference MurmurHash64A (public domain), native-endian
// reads: on the little-endian hosts kmend supports it must equal Hash64.
uint64_t ReferenceMurmurHash64A(const void* key, int len, uint64_t seed) {
  const uint64_t m = 0xc6a4a7935bd1e995ULL;
  const int r = 47;
  uint64_t h = seed ^ (len * m);
  const unsigned char* data = static_cast<const unsigned char*>(key);
  const unsigned char* end = data + (len / 8) * 8;
  while (data != end) {
    uint64_t k;
    std::memcpy(&k, data, 8);
    data += 8;
    k *= m;
    k ^= k >> r;
    k *= m;
    h ^= k;
    h *= m;
  }
  switch (len & 7) {
    case 7: h ^= uint64_t(data[6]) << 48; [[fallthrough]];
    case 6: h ^= uint64_t(data[5]) << 40; [[fallthrough]];
    case 5: h ^= uint64_t(data[4]) << 32; [[fallthrough]];
    case 4: h ^= uint64_t(data[3]) << 24; [[fallthrough]];
    case 3: h ^= uint64_t(data[2]) << 16; [[fallthrough]];
    case 2: h ^= uint64_t(data[1]) << 8; [[fallthrough]];
    case 1: h ^= uint64_t(data[0]); h *= m;
  }
  h ^= h >> r;
  h *= m;
  h ^= h >> r;
  return h;
}

TEST(PartitionTest, MatchesReferenceMurmurHash64A) {
  std::mt19937_64 rng(42);
  for (int len = 0; len < 100; ++len) {
    std::string s(len, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xff);
    uint64_t seed = rng();
    EXPECT_EQ(Hash64(s, seed), ReferenceMurmurHash64A(s.data(), len, seed)) << "len " << len;
  }
}

// Pinned values: partitioning must never change between kmend versions (a
// changed hash would send rows to the wrong tablets). Computed once with this
// implementation, equal to the reference above.
TEST(PartitionTest, PinnedValues) {
  EXPECT_EQ(Hash64("", 0), ReferenceMurmurHash64A("", 0, 0));
  EXPECT_EQ(Hash64("", 0), 0u);
  EXPECT_EQ(Hash64("kmend", 0), ReferenceMurmurHash64A("kmend", 5, 0));
  EXPECT_EQ(Hash64("kmend", 0), 0x94e5804b77479bacULL);
  EXPECT_EQ(Hash64("hello, world", 0), 0x9659ad0699a8465fULL);
}

TEST(PartitionTest, BucketsAreInRangeAndSpread) {
  const int kBuckets = 7;
  int counts[kBuckets] = {};
  for (int i = 0; i < 7000; ++i) {
    std::string key = std::to_string(i);
    int b = HashBucket(key, kBuckets);
    ASSERT_GE(b, 0);
    ASSERT_LT(b, kBuckets);
    EXPECT_EQ(b, HashBucket(key, kBuckets));
    ++counts[b];
  }
  for (int c : counts) {
    EXPECT_GT(c, 800);
    EXPECT_LT(c, 1200);
  }
  EXPECT_EQ(HashBucket("x", 1), 0);
}

}  // namespace
}  // namespace kmend::tablet
