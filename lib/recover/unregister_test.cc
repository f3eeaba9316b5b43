// JudgeUnregister: only a server that is gone, and never while it may hold
// the only copy of a tablet.
#include "lib/recover/unregister.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/recover/snapshot_builder.h"

namespace kmend::recover {
namespace {

using ::testing::HasSubstr;
using testing::SnapshotBuilder;

TEST(UnregisterTest, AGoneServerWhoseTabletsLiveElsewhereMayGo) {
  SnapshotBuilder b(5, 5);
  b.Kill(0);
  EXPECT_TRUE(JudgeUnregister(b.snapshot(), "s0").ok());
}

TEST(UnregisterTest, ALiveServerIsRefused) {
  SnapshotBuilder b(5, 5);
  absl::Status s = JudgeUnregister(b.snapshot(), "s1");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("only a server that is gone"));
  b.Unreachable(1);  // still heartbeats: not gone
  EXPECT_EQ(JudgeUnregister(b.snapshot(), "s1").code(), absl::StatusCode::kFailedPrecondition);
}

TEST(UnregisterTest, AnUnknownServerIsNotFound) {
  SnapshotBuilder b(3, 1);
  EXPECT_EQ(JudgeUnregister(b.snapshot(), "nope").code(), absl::StatusCode::kNotFound);
}

// Three servers, every tablet on all three: with all three gone each one may
// hold the only copy.
TEST(UnregisterTest, APossibleOnlyCopyIsRefusedNamingTheTablet) {
  SnapshotBuilder b(3, 2);
  b.Kill(0).Kill(1);
  EXPECT_TRUE(JudgeUnregister(b.snapshot(), "s0").ok());  // s2 still runs
  b.Kill(2);
  absl::Status s = JudgeUnregister(b.snapshot(), "s0");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), HasSubstr("only copy of 2 tablet(s): tablet00000 (t)"));
}

}  // namespace
}  // namespace kmend::recover
