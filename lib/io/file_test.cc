#include "lib/io/file.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kmend::io {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string t = absl::StrCat(base ? base : "/tmp", "/file_test.XXXXXX");
  EXPECT_NE(::mkdtemp(t.data()), nullptr);
  return t;
}

TEST(GetFilesystemSpaceTest, ReportsTheFilesystemHoldingThePath) {
  const std::string dir = TempDir();
  const std::string file = JoinPath(dir, "f");
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
  const std::string missing = JoinPath(TempDir(), "no-such-dir");
  auto space = GetFilesystemSpace(missing);
  EXPECT_EQ(space.status().code(), absl::StatusCode::kNotFound) << space.status();
  EXPECT_THAT(std::string(space.status().message()), HasSubstr(missing));
  EXPECT_THAT(std::string(space.status().message()), HasSubstr("statvfs"));
}

}  // namespace
}  // namespace kmend::io
