#include "lib/tablet/row.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kmend::tablet {
namespace {

Schema MakeSchema(std::vector<std::pair<std::string, kmend::DataType>> keys,
                  std::vector<std::pair<std::string, kmend::DataType>> values = {}) {
  std::vector<ColumnSchema> cols;
  uint32_t id = 0;
  for (auto& [n, t] : keys) cols.push_back({n, t, true, false, id++});
  for (auto& [n, t] : values) cols.push_back({n, t, false, true, id++});
  return *Schema::FromColumns(cols);
}

int Sign(int x) { return (x > 0) - (x < 0); }

TEST(RowTest, Int64KeysSortLikeIntegers) {
  Schema s = MakeSchema({{"k", kmend::INT64}});
  std::vector<int64_t> v = {std::numeric_limits<int64_t>::min(), -1000, -1, 0, 1, 255, 256,
                            std::numeric_limits<int64_t>::max()};
  for (size_t i = 0; i < v.size(); ++i) {
    for (size_t j = 0; j < v.size(); ++j) {
      std::string a = *EncodeKey(s, {Value(v[i])});
      std::string b = *EncodeKey(s, {Value(v[j])});
      EXPECT_EQ(Sign(a.compare(b)), Sign(i < j ? -1 : i > j ? 1 : 0)) << v[i] << " vs " << v[j];
    }
  }
}

TEST(RowTest, DoubleKeysSortLikeDoubles) {
  Schema s = MakeSchema({{"k", kmend::DOUBLE}});
  std::vector<double> v = {-std::numeric_limits<double>::infinity(), -1e300, -2.5, -1e-300, 0.0,
                           1e-300, 1.0, 2.5, 1e300, std::numeric_limits<double>::infinity()};
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    EXPECT_LT(*EncodeKey(s, {Value(v[i])}), *EncodeKey(s, {Value(v[i + 1])})) << v[i];
  }
  EXPECT_EQ(*EncodeKey(s, {Value(-0.0)}), *EncodeKey(s, {Value(0.0)}));
  auto back = DecodeKey(s, *EncodeKey(s, {Value(-2.5)}));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(std::get<double>((*back)[0]), -2.5);
}

// Random composite keys (int64, string, string, bool): memcmp order of the
// encodings equals tuple order, and every encoding decodes back.
TEST(RowTest, CompositeKeysSortLikeTuples) {
  Schema s = MakeSchema(
      {{"a", kmend::INT64}, {"b", kmend::STRING}, {"c", kmend::STRING}, {"d", kmend::BOOL}});
  std::mt19937_64 rng(7);
  auto rand_string = [&] {
    std::string out(rng() % 4, '\0');
    // A tiny alphabet with 0x00 and 0x01 so that escapes and prefixes matter.
    for (char& ch : out) ch = "\x00\x01\x02\xff"[rng() % 4];
    return out;
  };
  using Tuple = std::tuple<int64_t, std::string, std::string, bool>;
  std::vector<Tuple> tuples;
  for (int i = 0; i < 400; ++i) {
    tuples.emplace_back(static_cast<int64_t>(rng() % 5) - 2, rand_string(), rand_string(),
                        rng() % 2 == 0);
  }
  for (const Tuple& x : tuples) {
    Row rx = {std::get<0>(x), std::get<1>(x), std::get<2>(x), std::get<3>(x)};
    std::string ex = *EncodeKey(s, rx);
    auto decoded = DecodeKey(s, ex);
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, rx);
    for (const Tuple& y : tuples) {
      Row ry = {std::get<0>(y), std::get<1>(y), std::get<2>(y), std::get<3>(y)};
      std::string ey = *EncodeKey(s, ry);
      int expected = x < y ? -1 : (y < x ? 1 : 0);
      ASSERT_EQ(Sign(ex.compare(ey)), expected) << RowToString(rx) << " vs " << RowToString(ry);
    }
  }
}

TEST(RowTest, EncodeKeyRejectsNullAndMistypedKeys) {
  Schema s = MakeSchema({{"k", kmend::INT64}});
  EXPECT_EQ(EncodeKey(s, {Value()}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeKey(s, {Value(std::string("x"))}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(EncodeKey(s, {}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RowTest, DecodeKeyRejectsMalformedBytes) {
  Schema s = MakeSchema({{"a", kmend::STRING}, {"b", kmend::INT64}});
  EXPECT_EQ(DecodeKey(s, "abc").status().code(), absl::StatusCode::kDataLoss);  // no terminator
  EXPECT_EQ(DecodeKey(s, std::string("a\0\x05", 3)).status().code(),
            absl::StatusCode::kDataLoss);  // bad escape
  std::string good = *EncodeKey(s, {Value(std::string("a")), Value(int64_t{1})});
  EXPECT_TRUE(DecodeKey(s, good).ok());
  EXPECT_EQ(DecodeKey(s, good + "x").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodeKey(s, good.substr(0, good.size() - 1)).status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(RowTest, RowFromCellsChecksTypesAndNulls) {
  Schema s = MakeSchema({{"k", kmend::INT64}}, {{"v", kmend::STRING}});
  kmend::RowOpPB op;
  op.add_cells()->set_int64_value(5);
  op.add_cells();  // NULL: fine, v is nullable
  auto row = RowFromCells(s, op.cells());
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(RowToString(*row), "(5, NULL)");

  op.mutable_cells(1)->set_bool_value(true);
  EXPECT_THAT(std::string(RowFromCells(s, op.cells()).status().message()),
              ::testing::HasSubstr("column \"v\": expected STRING"));

  kmend::RowOpPB null_key;
  null_key.add_cells();
  null_key.add_cells();
  EXPECT_THAT(std::string(RowFromCells(s, null_key.cells()).status().message()),
              ::testing::HasSubstr("NULL for a non-nullable"));

  kmend::RowOpPB del;
  del.add_cells()->set_int64_value(9);
  auto key = KeyFromCells(s, del.cells());
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(std::get<int64_t>((*key)[0]), 9);
  EXPECT_FALSE(RowFromCells(s, del.cells()).ok());
}

TEST(RowTest, ChecksumEncodingSeparatesNullsAndStrings) {
  Schema s = MakeSchema({{"k", kmend::INT64}}, {{"a", kmend::STRING}, {"b", kmend::STRING}});
  Row r1 = {int64_t{1}, std::string("ab"), std::string("")};
  Row r2 = {int64_t{1}, std::string("a"), std::string("b")};
  Row r3 = {int64_t{1}, std::string(""), Value()};
  Row r4 = {int64_t{1}, Value(), std::string("")};
  std::vector<std::string> enc = {EncodeRowForChecksum(s, r1), EncodeRowForChecksum(s, r2),
                                  EncodeRowForChecksum(s, r3), EncodeRowForChecksum(s, r4)};
  for (size_t i = 0; i < enc.size(); ++i) {
    for (size_t j = i + 1; j < enc.size(); ++j) EXPECT_NE(enc[i], enc[j]) << i << " " << j;
  }
}

TEST(RowTest, ValueCellRoundTrip) {
  for (const Value& v : {Value(), Value(int64_t{-3}), Value(1.25), Value(std::string("x")),
                         Value(true)}) {
    kmend::CellPB c = CellFromValue(v);
    ColumnSchema col{"c", kmend::INT64, false, true, 0};
    if (std::holds_alternative<double>(v)) col.type = kmend::DOUBLE;
    if (std::holds_alternative<std::string>(v)) col.type = kmend::STRING;
    if (std::holds_alternative<bool>(v)) col.type = kmend::BOOL;
    auto back = ValueFromCell(c, col);
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, v);
  }
}

}  // namespace
}  // namespace kmend::tablet
