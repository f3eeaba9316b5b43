#include "lib/io/dir_lock.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"

namespace kmend::io {
namespace {

using ::testing::HasSubstr;

std::string TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string t = absl::StrCat(base ? base : "/tmp", "/dir_lock.XXXXXX");
  EXPECT_NE(::mkdtemp(t.data()), nullptr);
  return t;
}

TEST(DirLockTest, AcquireWritesPidAndReleases) {
  std::string dir = TempDir();
  {
    auto lock = DirLock::Acquire(dir);
    ASSERT_TRUE(lock.ok()) << lock.status();
    auto contents = ReadFileToString(JoinPath(dir, fs::kLockFileName));
    ASSERT_TRUE(contents.ok());
    EXPECT_EQ(*contents, absl::StrCat(::getpid(), "\n"));
    auto holder = DirLockHolder(dir);
    ASSERT_TRUE(holder.ok());
    EXPECT_EQ(holder->value_or(-1), ::getpid());
    // A second holder in the same process conflicts too (flock is per open file).
    auto second = DirLock::Acquire(dir);
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  }
  auto holder = DirLockHolder(dir);
  ASSERT_TRUE(holder.ok());
  EXPECT_FALSE(holder->has_value());
  EXPECT_EQ(*ReadFileToString(JoinPath(dir, fs::kLockFileName)), "");  // pid cleared
  EXPECT_TRUE(DirLock::Acquire(dir).ok());
}

TEST(DirLockTest, MissingDirectoryIsNotFound) {
  EXPECT_EQ(DirLock::Acquire("/nonexistent/kmend/dir").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(DirLockTest, AnotherProcessHoldingTheLockIsNamed) {
  std::string dir = TempDir();
  int ready[2], release[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(release), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Child: hold the lock until the parent writes to `release` or dies.
    ::close(ready[0]);
    ::close(release[1]);
    auto lock = DirLock::Acquire(dir);
    char ok = lock.ok() ? 'y' : 'n';
    if (::write(ready[1], &ok, 1) != 1) ::_exit(3);
    char c;
    while (::read(release[0], &c, 1) < 0) {
    }
    ::_exit(lock.ok() ? 0 : 1);
  }
  ::close(ready[1]);
  ::close(release[0]);
  char ok = 0;
  ASSERT_EQ(::read(ready[0], &ok, 1), 1);
  ASSERT_EQ(ok, 'y');

  auto lock = DirLock::Acquire(dir);
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(lock.status().message(), HasSubstr(dir));
  EXPECT_THAT(lock.status().message(), HasSubstr(absl::StrCat("pid ", child)));
  auto holder = DirLockHolder(dir);
  ASSERT_TRUE(holder.ok());
  EXPECT_EQ(holder->value_or(-1), child);

  ::close(release[1]);  // child's read returns 0: it exits and the lock goes
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(DirLock::Acquire(dir).ok());
}

}  // namespace
}  // namespace kmend::io
