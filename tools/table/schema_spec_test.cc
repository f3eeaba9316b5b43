#include "tools/table/schema_spec.h"

#include "gtest/gtest.h"

namespace kmend::tools {
namespace {

TEST(SchemaSpecTest, ParsesTheDocumentedExample) {
  auto s = ParseSchemaSpec("id:int64:key, name:string ,v:DOUBLE:not_null,ok:bool");
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_EQ(s->columns_size(), 4);
  EXPECT_EQ(s->columns(0).name(), "id");
  EXPECT_EQ(s->columns(0).type(), INT64);
  EXPECT_TRUE(s->columns(0).is_key());
  EXPECT_FALSE(s->columns(0).is_nullable());
  EXPECT_EQ(s->columns(1).type(), STRING);
  EXPECT_TRUE(s->columns(1).is_nullable());
  EXPECT_EQ(s->columns(2).type(), DOUBLE);
  EXPECT_FALSE(s->columns(2).is_nullable());
  EXPECT_EQ(s->columns(3).type(), BOOL);
  EXPECT_EQ(SchemaSpecString(*s), "id:int64:key,name:string,v:double:not_null,ok:bool");
}

TEST(SchemaSpecTest, ErrorsNameTheColumn) {
  struct Case {
    const char* spec;
    const char* expect;
  } cases[] = {
      {"", "empty"},
      {"id", "column 1 'id'"},
      {"id:int64:key,v:float", "column 2 'v:float': type 'float'"},
      {"id:int64:primary", "attribute 'primary'"},
      {"id:int64:key:nullable", "cannot be nullable"},
      {":int64", "column 1"},
      {"a:int64:nullable:not_null", "both"},
  };
  for (const auto& c : cases) {
    auto s = ParseSchemaSpec(c.spec);
    ASSERT_FALSE(s.ok()) << c.spec;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(s.status().message().find(c.expect), std::string::npos) << s.status();
  }
}

}  // namespace
}  // namespace kmend::tools
