#include "lib/util/fnv1a.h"

#include "gtest/gtest.h"

namespace kmend {
namespace {

// Published FNV-1a 64-bit test vectors: the successor order depends on every
// server computing exactly these numbers.
TEST(Fnv1aTest, MatchesThePublishedVectors) {
  EXPECT_EQ(Fnv1aAdd(kFnv1aOffset, ""), 0xcbf29ce484222325ULL);
  EXPECT_EQ(Fnv1aAdd(kFnv1aOffset, "a"), 0xaf63dc4c8601ec8cULL);
  EXPECT_EQ(Fnv1aAdd(kFnv1aOffset, "foobar"), 0x85944171f73967e8ULL);
}

TEST(Fnv1aTest, AddingInPiecesEqualsAddingTheWhole) {
  EXPECT_EQ(Fnv1aAdd(Fnv1aAdd(kFnv1aOffset, "foo"), "bar"),
            Fnv1aAdd(kFnv1aOffset, "foobar"));
}

TEST(Fnv1aTest, BytesAboveSevenBitsHashAsUnsigned) {
  // A signed char would sign-extend 0xff into the xor and change the result.
  const uint64_t expected = (kFnv1aOffset ^ 0xffULL) * 1099511628211ULL;
  EXPECT_EQ(Fnv1aAdd(kFnv1aOffset, absl::string_view("\xff", 1)), expected);
}

}  // namespace
}  // namespace kmend
