// The fault layer itself: a scripted fault reaches the caller as the errno it
// names, short transfers are looped over by WriteFully, and nothing is
// injected once the injector is gone.
#include "lib/io/fault_injection.h"

#include <fcntl.h>

#include <cerrno>

#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"

namespace kmend::io {
namespace {

std::string TestPath(const std::string& name) {
  return JoinPath(::testing::TempDir(), name);
}

TEST(FaultInjectionTest, FailsTheChosenCallOnlyWithTheChosenErrno) {
  const std::string path = TestPath("victim");
  ScopedFaultInjector faults;
  faults.Add({sys::Op::kSync, "victim", /*skip=*/1, /*times=*/1, {ENOSPC}});
  ASSERT_TRUE(WriteFileAtomically(path, "one").ok());  // first sync passes
  absl::Status s = WriteFileAtomically(path, "two");    // second fails
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_NE(std::string(s.message()).find("victim"), std::string::npos) << s;
  EXPECT_EQ(*ReadFileToString(path), "one");  // the old contents stand
  ASSERT_TRUE(WriteFileAtomically(path, "three").ok());  // times=1: spent
  EXPECT_EQ(*ReadFileToString(path), "three");
  EXPECT_EQ(faults.faults_injected(), 1);
  // The failed attempt left no temp file behind.
  absl::StatusOr<std::vector<std::string>> names = ListDir(::testing::TempDir());
  ASSERT_TRUE(names.ok()) << names.status();
  for (const std::string& name : *names) {
    EXPECT_FALSE(IsTempFileName(name)) << name;
  }
}

TEST(FaultInjectionTest, ShortWritesAreCompletedByTheCaller) {
  const std::string path = TestPath("short");
  ScopedFaultInjector faults;
  sys::Fault one_byte;
  one_byte.short_bytes = 1;
  faults.Add({sys::Op::kWrite, "short", 0, -1, one_byte});
  ASSERT_TRUE(WriteFileAtomically(path, "abcdef").ok());
  EXPECT_EQ(*ReadFileToString(path), "abcdef");
  int writes = 0;
  for (const SeenCall& c : faults.calls()) writes += c.op == sys::Op::kWrite ? 1 : 0;
  EXPECT_EQ(writes, 6);
}

TEST(FaultInjectionTest, RecordsCallsWithTheirPathsAndStopsWhenRemoved) {
  const std::string path = TestPath("recorded");
  {
    ScopedFaultInjector faults;
    ASSERT_TRUE(WriteFileAtomically(path, "x").ok());
    std::vector<SeenCall> calls = faults.calls();
    ASSERT_FALSE(calls.empty());
    bool saw_rename = false, saw_write_to_temp = false;
    for (const SeenCall& c : calls) {
      saw_rename |= c.op == sys::Op::kRename && c.path == path;
      saw_write_to_temp |= c.op == sys::Op::kWrite && IsTempFileName(Basename(c.path));
    }
    EXPECT_TRUE(saw_rename);
    EXPECT_TRUE(saw_write_to_temp);
    faults.Add({sys::Op::kOpen, "", 0, -1, {EIO}});
    EXPECT_FALSE(ReadFileToString(path).ok());
  }
  EXPECT_TRUE(ReadFileToString(path).ok());  // removed with its scope
}

}  // namespace
}  // namespace kmend::io
