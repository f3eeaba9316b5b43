#include "lib/io/file.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kmend::io {
namespace {

using ::testing::HasSubstr;

TEST(GetFilesystemSpaceTest, ReportsTheFilesystemHoldingThePath) {
  const std::string dir = ::testing::TempDir();  // $TEST_TMPDIR under Bazel
  const std::string file = JoinPath(dir, "filesystem_space_probe");
  ASSERT_TRUE(WriteFileAtomically(file, std::string(1 << 16, 'x')).ok());
  auto of_dir = GetFilesystemSpace(dir);
  auto of_file = GetFilesystemSpace(file);
  ASSERT_TRUE(of_dir.ok()) << of_dir.status();
  ASSERT_TRUE(of_file.ok()) << of_file.status();
  // The filesystem holds at least the file just written, and never has more
  // available than its size.
  EXPECT_GE(of_dir->capacity_bytes, uint64_t{1} << 16);
  EXPECT_LE(of_dir->available_bytes, of_dir->capacity_bytes);
  // A file and its directory are on one filesystem.
  EXPECT_EQ(of_file->capacity_bytes, of_dir->capacity_bytes);
}

TEST(GetFilesystemSpaceTest, MissingPathIsNotFoundNamingIt) {
  const std::string missing = JoinPath(::testing::TempDir(), "no-such-dir");
  auto space = GetFilesystemSpace(missing);
  EXPECT_EQ(space.status().code(), absl::StatusCode::kNotFound) << space.status();
  EXPECT_THAT(std::string(space.status().message()), HasSubstr(missing));
  EXPECT_THAT(std::string(space.status().message()), HasSubstr("statvfs"));
}

TEST(SyncFilesystemOfTest, SyncsAndNamesAMissingPath) {
  EXPECT_TRUE(SyncFilesystemOf(::testing::TempDir()).ok());
  const std::string missing = JoinPath(::testing::TempDir(), "no-such-dir");
  absl::Status s = SyncFilesystemOf(missing);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(std::string(s.message()).find(missing), std::string::npos) << s;
}

}  // namespace
}  // namespace kmend::io
