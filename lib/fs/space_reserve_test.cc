#include "lib/fs/space_reserve.h"

#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kmend::fs {
namespace {

std::string TestDir() {
  const char* d = std::getenv("TEST_TMPDIR");
  return d != nullptr ? d : "/tmp";
}

TEST(SpaceReserveTest, FlagValueIsTheReserveAndMinusOneIsOnePercent) {
  EXPECT_EQ(ResolveReserve(0, 1'000'000), 0);
  EXPECT_EQ(ResolveReserve(4096, 1'000'000), 4096);
  EXPECT_EQ(ResolveReserve(kReserveOnePercent, 1'000'000), 10'000);
}

TEST(SpaceReserveTest, MeasuresTheDirectorysFilesystem) {
  absl::StatusOr<DataDirSpace> s = MeasureDataDirSpace(TestDir(), 0);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->dir, TestDir());
  EXPECT_GT(s->capacity_bytes, 0);
  EXPECT_LE(s->available_bytes, s->capacity_bytes);
  EXPECT_FALSE(s->full());
}

TEST(SpaceReserveTest, AReserveAboveTheFreeSpaceRefusesWithTheNumbers) {
  absl::StatusOr<DataDirSpace> s = MeasureDataDirSpace(TestDir(), 0);
  ASSERT_TRUE(s.ok()) << s.status();
  const int64_t reserve = s->capacity_bytes + 1;  // more than can ever be free
  absl::Status refused = CheckSpaceFor(TestDir(), reserve, "write to tablet t1");
  ASSERT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
  EXPECT_NE(refused.message().find("disk full on " + TestDir()), std::string::npos) << refused;
  EXPECT_NE(refused.message().find(absl::StrCat(reserve, " reserved")), std::string::npos)
      << refused;
  EXPECT_NE(refused.message().find("write to tablet t1 refused"), std::string::npos) << refused;
  EXPECT_TRUE(CheckSpaceFor(TestDir(), 0, "write").ok());
}

TEST(SpaceReserveTest, AMissingDirectoryIsAnErrorNamingItButNeverTakenAsFull) {
  absl::StatusOr<DataDirSpace> s = MeasureDataDirSpace("/nonexistent/kmend-dir", 0);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent/kmend-dir"), std::string::npos);
  EXPECT_TRUE(CheckSpaceFor("/nonexistent/kmend-dir", 1 << 30, "write").ok());
}

}  // namespace
}  // namespace kmend::fs
