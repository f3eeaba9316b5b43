// CSV parsing and generated rows (the parts of the writer that need no
// cluster; routing and acknowledgement are covered by write_scan_tool_test).
#include "lib/client/table_writer.h"

#include "gtest/gtest.h"

namespace kmend::client {
namespace {

tablet::Schema TestSchema() {
  return *tablet::Schema::FromColumns({{"id", kmend::INT64, true, false, 0},
                                       {"name", kmend::STRING, false, true, 1},
                                       {"v", kmend::DOUBLE, false, true, 2},
                                       {"b", kmend::BOOL, false, false, 3}});
}

TEST(ParseCsvRowTest, ValuesQuotesAndNulls) {
  auto row = ParseCsvRow(TestSchema(), "7,\"a, \"\"b\"\"\",,true", 1);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(std::get<int64_t>((*row)[0]), 7);
  EXPECT_EQ(std::get<std::string>((*row)[1]), "a, \"b\"");
  EXPECT_TRUE(tablet::IsNull((*row)[2]));
  EXPECT_TRUE(std::get<bool>((*row)[3]));

  // A quoted empty field is an empty string, not NULL.
  row = ParseCsvRow(TestSchema(), "8,\"\",1.5,false\r", 2);
  ASSERT_TRUE(row.ok()) << row.status();
  EXPECT_EQ(std::get<std::string>((*row)[1]), "");
  EXPECT_EQ(std::get<double>((*row)[2]), 1.5);
}

TEST(ParseCsvRowTest, ErrorsNameLineAndColumn) {
  auto row = ParseCsvRow(TestSchema(), "x,a,1,true", 3);
  ASSERT_FALSE(row.ok());
  EXPECT_NE(row.status().message().find("line 3, column id"), std::string::npos)
      << row.status();
  row = ParseCsvRow(TestSchema(), "1,a,1", 4);
  EXPECT_NE(row.status().message().find("expected 4 fields, found 3"), std::string::npos)
      << row.status();
  row = ParseCsvRow(TestSchema(), "1,a,1,", 5);  // b is not nullable
  EXPECT_NE(row.status().message().find("column b"), std::string::npos) << row.status();
  row = ParseCsvRow(TestSchema(), "1,\"a,1,true", 6);
  EXPECT_NE(row.status().message().find("unterminated quote"), std::string::npos)
      << row.status();
}

TEST(GeneratedRowTest, DeterministicFromKey) {
  tablet::Row row = GeneratedRow(TestSchema(), 41, 10);
  ASSERT_TRUE(tablet::ValidateRow(TestSchema(), row).ok());
  EXPECT_EQ(std::get<int64_t>(row[0]), 41);
  EXPECT_EQ(std::get<std::string>(row[1]), "r41-------");
  EXPECT_EQ(std::get<double>(row[2]), 20.5);
  EXPECT_FALSE(std::get<bool>(row[3]));
  EXPECT_EQ(GeneratedRow(TestSchema(), 41, 10), row);
}

}  // namespace
}  // namespace kmend::client
