// MatchPlan: a plan is refused, naming the difference, once the cluster moved
// away from what the planner saw; a tablet forced already is not compared.
#include "lib/recover/fingerprint.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/recover/planner.h"
#include "lib/recover/snapshot_builder.h"

namespace kmend::recover {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::SnapshotBuilder;

// Five servers, five tablets; s0 and s1 dead: tablet0 (survivor s2) and
// tablet4 (survivor s4) are planned.
class FingerprintTest : public ::testing::Test {
 protected:
  FingerprintTest() : b_(5, 5) {
    b_.Kill(0).Kill(1);
    plan_ = MakeRecoveryPlan(b_.snapshot());
  }
  SnapshotBuilder b_;
  RecoveryPlan plan_;
};

TEST_F(FingerprintTest, TheSnapshotItWasMadeFromMatches) {
  PlanMatch m = MatchPlan(plan_, b_.snapshot());
  EXPECT_TRUE(m.matches());
  EXPECT_TRUE(m.applied.empty());
}

TEST_F(FingerprintTest, ADeadServerThatAnswersAgainIsNamed) {
  b_.Server(1).reachable = true;
  b_.Server(1).live_per_master = true;
  PlanMatch m = MatchPlan(plan_, b_.snapshot());
  ASSERT_FALSE(m.matches());
  EXPECT_THAT(m.differences,
              ElementsAre("tablet server s1 (127.0.0.1:7101), taken as dead by the plan, answers "
                          "again"));
}

TEST_F(FingerprintTest, ADeadServerHeartbeatingAgainIsNamed) {
  b_.Server(0).live_per_master = true;
  PlanMatch m = MatchPlan(plan_, b_.snapshot());
  ASSERT_EQ(m.differences.size(), 1u);
  EXPECT_THAT(m.differences[0], HasSubstr("s0 (127.0.0.1:7100), taken as dead by the plan, "
                                          "heartbeats to the master again"));
}

TEST_F(FingerprintTest, ASurvivorThatMovedOnIsNamed) {
  b_.Replica(2, 0).last_logged = {2, 11};
  PlanMatch m = MatchPlan(plan_, b_.snapshot());
  ASSERT_EQ(m.differences.size(), 1u);
  EXPECT_EQ(m.differences[0],
            "tablet tablet00000: the replica on s2 (the survivor) moved on: last logged 2.10 "
            "when planned, 2.11 now");
}

TEST_F(FingerprintTest, ACatalogConfigChangeIsNamed) {
  b_.Tablet(4).master_config.set_opid_index(5);
  PlanMatch m = MatchPlan(plan_, b_.snapshot());
  ASSERT_EQ(m.differences.size(), 1u);
  EXPECT_EQ(m.differences[0],
            "tablet tablet00004: the catalog's config changed (1.1 when planned, 1.5 now)");
}

TEST_F(FingerprintTest, AVanishedSurvivorIsNamed) {
  b_.Replica(4, 4).data_state = check::DataState::kTombstoned;
  PlanMatch m = MatchPlan(plan_, b_.snapshot());
  ASSERT_EQ(m.differences.size(), 1u);
  EXPECT_THAT(m.differences[0], HasSubstr("the replica on s4 (the survivor) is TOMBSTONED now"));
}

// After a force the survivor's config is from a later term: that tablet is
// applied and no longer compared (its log and the catalog moved on, as they
// should). Once every tablet is applied, a returning dead server is no
// reason to refuse: there is nothing left to do.
TEST_F(FingerprintTest, AForcedTabletIsAppliedAndNotCompared) {
  auto force = [&](int server, int tablet) {
    check::ReplicaFacts& r = b_.Replica(server, tablet);
    consensus::RaftConfigPB c;
    auto* p = c.add_peers();
    p->set_permanent_uuid(SnapshotBuilder::Uuid(server));
    p->set_member_type(consensus::RaftPeerPB::VOTER);
    c.set_opid_term(3);
    c.set_opid_index(11);
    c.set_unsafe_config_change(true);
    r.committed_config = c;
    r.last_logged = {4, 12};
    r.term = 4;
  };
  force(2, 0);
  b_.Tablet(0).master_config.set_opid_index(11);
  PlanMatch m = MatchPlan(plan_, b_.snapshot());
  EXPECT_TRUE(m.matches()) << m.differences[0];
  EXPECT_THAT(m.applied, ElementsAre(SnapshotBuilder::TabletId(0)));

  force(4, 4);
  b_.Server(1).reachable = true;
  m = MatchPlan(plan_, b_.snapshot());
  EXPECT_TRUE(m.matches());
  EXPECT_EQ(m.applied.size(), 2u);
}

}  // namespace
}  // namespace kmend::recover
