#include "lib/fs/safe_name.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kmend::fs {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  std::string tmpl = std::string(::testing::TempDir()) + "/safe_nameXXXXXX";
  char* d = ::mkdtemp(tmpl.data());
  EXPECT_NE(d, nullptr);
  return tmpl;
}

TEST(ValidateIdTest, AcceptsCanonicalAndRefusesTraversal) {
  EXPECT_TRUE(ValidateId("0123456789abcdef0123456789abcdef", "tablet_id").ok());
  for (const char* bad : {"", "../../../../etc/passwd", "/etc/passwd", "..",
                          "0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcde/",
                          "0123456789abcdef0123456789abcdef/.."}) {
    absl::Status s = ValidateId(bad, "tablet_id");
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_THAT(s.message(), HasSubstr("tablet_id: expected 32 lowercase hex")) << bad;
  }
}

TEST(ValidateIdTest, QuotesHostileBytesEscapedAndCut) {
  std::string evil(1000, 'x');
  evil[3] = '\n';
  absl::Status s = ValidateId(evil, "uuid");
  EXPECT_THAT(s.message(), HasSubstr("xxx\\nxx"));
  EXPECT_LT(s.message().size(), 200u);
}

TEST(ValidateFileNameTest, RefusesEverythingButAPlainComponent) {
  EXPECT_TRUE(ValidateFileName("wal-000000001", "item").ok());
  EXPECT_THAT(ValidateFileName("", "item").message(), HasSubstr("is empty"));
  EXPECT_THAT(ValidateFileName("a/b", "item").message(), HasSubstr("contains '/'"));
  EXPECT_THAT(ValidateFileName("..", "item").message(), HasSubstr("directory reference"));
  EXPECT_THAT(ValidateFileName(".kmend.lock", "item").message(), HasSubstr("starts with '.'"));
  EXPECT_THAT(ValidateFileName(std::string("a\0b", 3), "item").message(), HasSubstr("NUL"));
  EXPECT_THAT(ValidateFileName(std::string(256, 'a'), "item").message(), HasSubstr("255"));
}

TEST(ResolveUnderTest, JoinsPlainRelativePaths) {
  const std::string root = TempDir();
  std::filesystem::create_directories(root + "/wals");
  auto p = ResolveUnder(root, "wals/0123456789abcdef0123456789abcdef", "wal dir");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, root + "/wals/0123456789abcdef0123456789abcdef");
}

TEST(ResolveUnderTest, RefusesAbsoluteAndDotDot) {
  const std::string root = TempDir();
  EXPECT_EQ(ResolveUnder(root, "/etc/passwd", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveUnder(root, "a/../../etc", "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ResolveUnder(root, "./a", "x").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ResolveUnderTest, RefusesSymlinkEscape) {
  const std::string root = TempDir();
  const std::string outside = TempDir();
  std::ofstream(outside + "/secret") << "x";
  std::filesystem::create_directories(root + "/wals");
  std::filesystem::create_directory_symlink(outside, root + "/wals/link");
  auto p = ResolveUnder(root, "wals/link/secret", "wal dir");
  EXPECT_EQ(p.status().code(), absl::StatusCode::kPermissionDenied) << p.status();
  EXPECT_THAT(p.status().message(), HasSubstr("outside"));
  // Not yet existing below an escaping symlink: the ancestor is checked.
  EXPECT_EQ(ResolveUnder(root, "wals/link/new/file", "x").status().code(),
            absl::StatusCode::kPermissionDenied);
  // A symlink that stays inside is fine.
  std::filesystem::create_directories(root + "/data");
  std::filesystem::create_directory_symlink(root + "/data", root + "/wals/inside");
  EXPECT_TRUE(ResolveUnder(root, "wals/inside", "x").ok());
}

}  // namespace
}  // namespace kmend::fs
