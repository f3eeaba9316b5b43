// MakeRecoveryPlan on hand-built snapshots: which tablets are planned, who
// survives, what may be lost, and what is never forced.
#include "lib/recover/planner.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/recover/snapshot_builder.h"

namespace kmend::recover {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::SnapshotBuilder;

// Five servers, five tablets on s(k), s(k+1), s(k+2). Killing s0 and s1 takes
// the majority of tablet0 (s0 s1 s2) and tablet4 (s4 s0 s1); tablet3 (s3 s4
// s0) only lost one replica.
TEST(PlannerTest, OnlyTabletsThatLostTheirMajorityArePlanned) {
  SnapshotBuilder b(5, 5);
  b.Kill(0).Kill(1);
  RecoveryPlan plan = MakeRecoveryPlan(b.snapshot());
  ASSERT_EQ(plan.entries.size(), 2u);
  EXPECT_EQ(plan.tablets_checked, 5);
  EXPECT_EQ(plan.entries[0].tablet_id, SnapshotBuilder::TabletId(0));
  EXPECT_EQ(plan.entries[0].survivor_uuid, "s2");
  EXPECT_THAT(plan.entries[0].new_voters, ElementsAre("s2"));
  EXPECT_THAT(plan.entries[0].dropped, ElementsAre("s0", "s1"));
  EXPECT_EQ(plan.entries[0].survivor_address, "127.0.0.1:7102");
  EXPECT_EQ(plan.entries[0].replication_factor, 3);
  EXPECT_EQ(plan.entries[1].tablet_id, SnapshotBuilder::TabletId(4));
  EXPECT_EQ(plan.entries[1].survivor_uuid, "s4");
  ASSERT_EQ(plan.dead_servers.size(), 2u);
  EXPECT_EQ(plan.dead_servers[0].uuid, "s0");
  EXPECT_EQ(plan.dead_servers[1].uuid, "s1");
  EXPECT_TRUE(plan.unrecoverable.empty());
  EXPECT_TRUE(plan.unknown.empty());
}

TEST(PlannerTest, NothingIsPlannedOnAHealthyCluster) {
  SnapshotBuilder b(5, 5);
  RecoveryPlan plan = MakeRecoveryPlan(b.snapshot());
  EXPECT_TRUE(plan.entries.empty());
  EXPECT_TRUE(plan.dead_servers.empty());
}

// RF 5 on five servers, three dead: two survivors; the most up-to-date log
// wins by term first, whatever the index.
TEST(PlannerTest, SurvivorHasTheLatestLogByTermThenIndex) {
  SnapshotBuilder b(5, 1, 5);
  b.Kill(0).Kill(1).Kill(2);
  b.Replica(3, 0).last_logged = {2, 14};
  b.Replica(4, 0).last_logged = {3, 11};
  RecoveryPlan plan = MakeRecoveryPlan(b.snapshot());
  ASSERT_EQ(plan.entries.size(), 1u);
  EXPECT_EQ(plan.entries[0].survivor_uuid, "s4");
  EXPECT_THAT(plan.entries[0].new_voters, ElementsAre("s3", "s4"));
  EXPECT_EQ(plan.entries[0].forced_term_floor, 3);
  // s3 logged indexes s4 lacks: reported as what may be lost.
  EXPECT_EQ(plan.entries[0].highest_known.index, 14);
  EXPECT_THAT(plan.entries[0].may_lose, HasSubstr("indexes 12..14"));
}

TEST(PlannerTest, SurvivorTiesGoToTheSmallestUuid) {
  SnapshotBuilder b(5, 1, 5);
  b.Kill(0).Kill(1).Kill(2);
  RecoveryPlan plan = MakeRecoveryPlan(b.snapshot());
  ASSERT_EQ(plan.entries.size(), 1u);
  EXPECT_EQ(plan.entries[0].survivor_uuid, "s3");
  EXPECT_THAT(plan.entries[0].may_lose, HasSubstr("how many is not known"));
  EXPECT_TRUE(plan.entries[0].warnings.empty());
}

TEST(PlannerTest, ATabletWithNoRunningReplicaIsUnrecoverable) {
  SnapshotBuilder b(3, 1);
  b.Kill(0).Kill(1).Kill(2);
  RecoveryPlan plan = MakeRecoveryPlan(b.snapshot());
  EXPECT_TRUE(plan.entries.empty());
  ASSERT_EQ(plan.unrecoverable.size(), 1u);
  EXPECT_THAT(plan.unrecoverable[0].reason, HasSubstr("nothing survives to force"));
}

// ksck could not reach s1 although it heartbeats: the tablet may or may not
// have lost its majority. Never forced on a guess.
TEST(PlannerTest, AnUnknownTabletIsListedNeverPlanned) {
  SnapshotBuilder b(3, 1);
  b.Kill(0).Unreachable(1);
  RecoveryPlan plan = MakeRecoveryPlan(b.snapshot());
  EXPECT_TRUE(plan.entries.empty());
  ASSERT_EQ(plan.unknown.size(), 1u);
  EXPECT_EQ(plan.unknown[0].tablet_id, SnapshotBuilder::TabletId(0));
}

TEST(PlannerTest, ACatalogConfigFromALaterTermIsAWarning) {
  SnapshotBuilder b(3, 1);
  b.Kill(0).Kill(1);
  b.Tablet(0).master_config.set_opid_term(7);
  b.Tablet(0).master_config.set_opid_index(30);
  RecoveryPlan plan = MakeRecoveryPlan(b.snapshot());
  ASSERT_EQ(plan.entries.size(), 1u);
  ASSERT_EQ(plan.entries[0].warnings.size(), 1u);
  EXPECT_THAT(plan.entries[0].warnings[0], HasSubstr("the master would keep its config"));
  EXPECT_THAT(plan.entries[0].may_lose, HasSubstr("the catalog's config reports 7.30"));
}

TEST(PlannerTest, AKeptReplicaCommittedBeyondTheSurvivorsLogIsAWarning) {
  SnapshotBuilder b(5, 1, 5);
  b.Kill(0).Kill(1).Kill(2);
  b.Replica(3, 0).last_logged = {3, 11};
  b.Replica(4, 0).last_logged = {2, 14};
  b.Replica(4, 0).last_committed = {2, 13};
  RecoveryPlan plan = MakeRecoveryPlan(b.snapshot());
  ASSERT_EQ(plan.entries.size(), 1u);
  EXPECT_EQ(plan.entries[0].survivor_uuid, "s3");
  ASSERT_FALSE(plan.entries[0].warnings.empty());
  EXPECT_THAT(plan.entries[0].warnings[0], HasSubstr("s4 reports index 13 committed"));
}

}  // namespace
}  // namespace kmend::recover
