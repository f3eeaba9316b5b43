// The flag rules every tool shares: duration values and dashed aliases.
#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"

namespace kmend::tools {
namespace {

using ::testing::HasSubstr;

TEST(ParseMillisecondsTest, BareNumberIsMilliseconds) {
  EXPECT_EQ(*ParseMilliseconds("3000"), 3000);
  EXPECT_EQ(*ParseMilliseconds(" 7 "), 7);
}

TEST(ParseMillisecondsTest, Units) {
  EXPECT_EQ(*ParseMilliseconds("500ms"), 500);
  EXPECT_EQ(*ParseMilliseconds("5s"), 5000);
  EXPECT_EQ(*ParseMilliseconds("2m"), 120000);
  EXPECT_EQ(*ParseMilliseconds("1h30m"), 5400000);
  EXPECT_EQ(*ParseMilliseconds("1.5s"), 1500);
}

TEST(ParseMillisecondsTest, Rejects) {
  for (const char* bad : {"", "abc", "5 s", "5x", "inf", "-inf", "s"}) {
    absl::StatusOr<int64_t> ms = ParseMilliseconds(bad);
    EXPECT_FALSE(ms.ok()) << "'" << bad << "' parsed as " << *ms;
  }
  EXPECT_THAT(ParseMilliseconds("1500us").status().message(), HasSubstr("1ms resolution"));
}

// Parses `args` (without argv[0]) into `app`; the CLI11 error text, or "".
std::string Parse(CLI::App& app, std::vector<std::string> args) {
  std::reverse(args.begin(), args.end());  // CLI11 takes a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

TEST(MillisecondsDurationTest, StoresMillisecondsAndKeepsRangeChecks) {
  CLI::App app;
  int64_t timeout_ms = 10000;
  app.add_option("--timeout", timeout_ms)
      ->transform(MillisecondsDuration())
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));
  EXPECT_EQ(Parse(app, {"--timeout", "5s"}), "");
  EXPECT_EQ(timeout_ms, 5000);
  EXPECT_EQ(Parse(app, {"--timeout", "3000"}), "");
  EXPECT_EQ(timeout_ms, 3000);
  EXPECT_EQ(Parse(app, {"--timeout=250ms"}), "");
  EXPECT_EQ(timeout_ms, 250);
  EXPECT_THAT(Parse(app, {"--timeout", "soon"}), HasSubstr("--timeout"));
  EXPECT_THAT(Parse(app, {"--timeout", "soon"}), HasSubstr("'soon' is not a duration"));
  EXPECT_THAT(Parse(app, {"--timeout", "2h"}), HasSubstr("--timeout"));  // out of range
  EXPECT_THAT(Parse(app, {"--timeout", "0s"}), HasSubstr("--timeout"));
}

TEST(FlagWithDashedAliasTest, BothSpellingsSetTheFlag) {
  EXPECT_EQ(FlagWithDashedAlias("backup_dir"), "--backup_dir,--backup-dir");
  for (const char* spelling : {"--backup_dir", "--backup-dir"}) {
    CLI::App app;
    std::string dir;
    app.add_option(FlagWithDashedAlias("backup_dir"), dir);
    EXPECT_EQ(Parse(app, {spelling, "/b"}), "") << spelling;
    EXPECT_EQ(dir, "/b") << spelling;
  }
  CLI::App app;
  bool on = false;
  app.add_flag(FlagWithDashedAlias("checksum_scan"), on);
  EXPECT_EQ(Parse(app, {"--checksum-scan"}), "");
  EXPECT_TRUE(on);
}

}  // namespace
}  // namespace kmend::tools
