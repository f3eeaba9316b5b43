#include "lib/tablet/schema.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kmend::tablet {
namespace {

using ::testing::HasSubstr;

ColumnSchema Col(std::string name, kmend::DataType t, bool key = false, bool nullable = false,
                 uint32_t id = 0) {
  ColumnSchema c;
  c.name = std::move(name);
  c.type = t;
  c.is_key = key;
  c.is_nullable = nullable;
  c.id = id;
  return c;
}

TEST(SchemaTest, RoundTripsThroughPB) {
  auto s = Schema::FromColumns({Col("k1", kmend::INT64, true, false, 0),
                                Col("k2", kmend::STRING, true, false, 1),
                                Col("v", kmend::DOUBLE, false, true, 2),
                                Col("b", kmend::BOOL, false, false, 3)});
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->num_key_columns(), 2u);
  auto back = Schema::FromPB(s->ToPB());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == *s);
  EXPECT_EQ(s->FindColumn("v"), 2u);
  EXPECT_FALSE(s->FindColumn("nope").has_value());
  EXPECT_EQ(s->ToString(), "(k1 INT64 KEY, k2 STRING KEY, v DOUBLE NULLABLE, b BOOL)");
}

TEST(SchemaTest, ColumnIdsDefaultToPosition) {
  kmend::SchemaPB pb;
  auto* c = pb.add_columns();
  c->set_name("a");
  c->set_type(kmend::INT64);
  c->set_is_key(true);
  c = pb.add_columns();
  c->set_name("b");
  c->set_type(kmend::STRING);
  auto s = Schema::FromPB(pb);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->column(1).id, 1u);
}

TEST(SchemaTest, RejectsBadSchemas) {
  auto expect_bad = [](std::vector<ColumnSchema> cols, const std::string& what) {
    auto s = Schema::FromColumns(std::move(cols));
    ASSERT_FALSE(s.ok()) << what;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(what));
  };
  expect_bad({}, "no columns");
  expect_bad({Col("v", kmend::INT64)}, "no primary key");
  expect_bad({Col("k", kmend::INT64, true), Col("k", kmend::INT64, false, false, 1)},
             "duplicate name");
  expect_bad({Col("k", kmend::INT64, true), Col("v", kmend::INT64, false, false, 0)},
             "duplicate column id");
  expect_bad({Col("k", kmend::INT32, true)}, "not supported");
  expect_bad({Col("k", kmend::INT64, true, true)}, "nullable");
  expect_bad({Col("v", kmend::INT64, false), Col("k", kmend::INT64, true, false, 1)},
             "keys must lead");
  expect_bad({Col("", kmend::INT64, true)}, "empty name");
}

}  // namespace
}  // namespace kmend::tablet
