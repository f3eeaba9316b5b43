#include "lib/audit/audit_log.h"

#include <filesystem>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"

namespace kmend::audit {
namespace {

using ::testing::HasSubstr;

std::string FreshRoot(const std::string& name) {
  const std::string root = io::JoinPath(::testing::TempDir(), name);
  std::error_code ec;
  std::filesystem::remove_all(root, ec);
  EXPECT_TRUE(io::CreateDirs(root).ok());
  return root;
}

TEST(AuditLogTest, NoLogIsNotFound) {
  EXPECT_EQ(ReadAudit(FreshRoot("none")).status().code(), absl::StatusCode::kNotFound);
}

TEST(AuditLogTest, AppendedRecordsReadBackInOrderWithEveryField) {
  const std::string root = FreshRoot("roundtrip");
  AuditRecord a{"", "unsafe_change_config", "cert:admin", "kmend recover apply", "t1",
                "tablet_id: \"t1\"", "OK", "new_config { }"};
  AuditRecord b{"", "delete_tablet", "token:ops", "", "t2", "tablet_id: \"t2\"",
                "PERMISSION_DENIED: not authorized", ""};
  ASSERT_TRUE(AppendAudit(root, a).ok());
  ASSERT_TRUE(AppendAudit(root, b).ok());
  auto got = ReadAudit(root);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].action, "unsafe_change_config");
  EXPECT_EQ((*got)[0].identity, "cert:admin");
  EXPECT_EQ((*got)[0].caller, "kmend recover apply");
  EXPECT_EQ((*got)[0].request, "tablet_id: \"t1\"");
  EXPECT_EQ((*got)[0].outcome, "OK");
  EXPECT_FALSE((*got)[0].time.empty());
  EXPECT_EQ((*got)[1].identity, "token:ops");
  EXPECT_THAT((*got)[1].outcome, HasSubstr("PERMISSION_DENIED"));
  auto text = io::ReadFileToString(AuditLogPath(root));
  ASSERT_TRUE(text.ok());
  EXPECT_THAT(*text, HasSubstr("\"schema\":\"kmend.audit/1\""));
}

TEST(AuditLogTest, LegacyLogIsReadFirstAndGarbageIsKeptAsUnparsed) {
  const std::string root = FreshRoot("legacy");
  ASSERT_TRUE(io::CreateDirs(io::JoinPath(root, kAuditDirName)).ok());
  ASSERT_TRUE(io::WriteFileAtomically(
                  io::JoinPath(io::JoinPath(root, kAuditDirName), kLegacyAuditLogName),
                  "{\"time\":\"2026-01-01\",\"tablet_id\":\"t0\",\"action\":\"set_term\","
                  "\"caller\":\"old\",\"detail\":\"term 3 -> 9\"}\nnot json\n")
                  .ok());
  ASSERT_TRUE(AppendAudit(root, {"", "create_table", "cert:admin", "", "", "", "OK", ""}).ok());
  auto got = ReadAudit(root);
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].action, "set_term");
  EXPECT_EQ((*got)[0].caller, "old");
  EXPECT_EQ((*got)[1].action, "unparsed");
  EXPECT_EQ((*got)[1].detail, "not json");
  EXPECT_EQ((*got)[2].action, "create_table");
}

TEST(AuditLogTest, BinaryBytesInARequestDoNotBreakTheLine) {
  const std::string root = FreshRoot("binary");
  AuditRecord r{"", "create_tablet", "cert:x", "", "", std::string("\xff\xfe\n\"", 4), "OK", ""};
  ASSERT_TRUE(AppendAudit(root, r).ok());
  auto got = ReadAudit(root);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].action, "create_tablet");
}

TEST(AuditLogTest, MethodNamesBecomeSnakeCase) {
  EXPECT_EQ(SnakeCase("UnsafeChangeConfig"), "unsafe_change_config");
  EXPECT_EQ(SnakeCase("SetTServerMaintenance"), "set_tserver_maintenance");
  EXPECT_EQ(SnakeCase("DeleteTablet"), "delete_tablet");
}

}  // namespace
}  // namespace kmend::audit
