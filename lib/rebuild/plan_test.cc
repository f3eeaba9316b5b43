#include "lib/rebuild/plan.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kmend::rebuild {
namespace {

using ::testing::HasSubstr;

consensus::RaftConfigPB Config(const std::vector<std::string>& voters) {
  consensus::RaftConfigPB c;
  for (const std::string& v : voters) {
    auto* p = c.add_peers();
    p->set_permanent_uuid(v);
    p->set_member_type(consensus::RaftPeerPB::VOTER);
  }
  return c;
}

// A running replica: READY, Raft running, `role`, last logged/committed.
PeerFacts Running(const std::string& uuid, check::Role role, check::OpId logged,
                  check::OpId committed, const consensus::RaftConfigPB& config) {
  PeerFacts p;
  p.uuid = uuid;
  p.address = "127.0.0.1:" + uuid.substr(1);
  p.in_config = p.voter = p.reachable = p.running = true;
  check::ReplicaFacts r;
  r.data_state = check::DataState::kReady;
  r.role = role;
  r.term = logged.term;
  r.last_logged = logged;
  r.last_committed = committed;
  r.committed_config = config;
  r.on_disk_bytes = 1000;
  p.replica = r;
  return p;
}

PeerFacts Failed(const std::string& uuid) {
  PeerFacts p;
  p.uuid = uuid;
  p.address = "127.0.0.1:" + uuid.substr(1);
  p.in_config = p.voter = p.reachable = true;
  check::ReplicaFacts r;
  r.data_state = check::DataState::kFailed;
  p.replica = r;
  return p;
}

// t1 leads at term 3, t2 follows, t3's replica is FAILED.
TabletFacts ThreeWithOneFailed() {
  TabletFacts f;
  f.tablet_id = "tab";
  f.config = Config({"t1", "t2", "t3"});
  f.config_from = "master";
  f.peers.push_back(Running("t1", check::Role::kLeader, {3, 50}, {3, 50}, f.config));
  f.peers.push_back(Running("t2", check::Role::kFollower, {3, 50}, {3, 50}, f.config));
  f.peers.push_back(Failed("t3"));
  return f;
}

TEST(PlanTest, SourceDefaultsToTheLeader) {
  auto plan = MakePlan(ThreeWithOneFailed(), {"t3", "", false});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->source.uuid, "t1");
  EXPECT_EQ(plan->source_reason, "the leader");
  EXPECT_EQ(plan->target.uuid, "t3");
  EXPECT_EQ(plan->replaced_state, "FAILED");
  EXPECT_FALSE(plan->replaced_last_logged.has_value());
  EXPECT_EQ(plan->estimated_bytes, 1000);
}

TEST(PlanTest, TargetAndSourceMayBeNamedByAddress) {
  auto plan = MakePlan(ThreeWithOneFailed(), {"127.0.0.1:3", "127.0.0.1:2", false});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->target.uuid, "t3");
  EXPECT_EQ(plan->source.uuid, "t2");
  EXPECT_EQ(plan->source_reason, "given");
}

TEST(PlanTest, WithoutALeaderTheVoterWithTheHighestLastLoggedOpIdIsTheSource) {
  TabletFacts f = ThreeWithOneFailed();
  f.peers[0].replica->role = check::Role::kFollower;
  f.peers[0].replica->last_logged = {3, 48};
  f.peers[1].replica->last_logged = {3, 50};
  auto plan = MakePlan(f, {"t3", "", false});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->source.uuid, "t2");
  EXPECT_EQ(plan->source_reason, "the voter with the highest last logged op id");
}

TEST(PlanTest, EqualLogsWithoutALeaderGoToTheSmallestUuid) {
  TabletFacts f = ThreeWithOneFailed();
  f.peers[0].replica->role = check::Role::kFollower;
  std::swap(f.peers[0], f.peers[1]);  // order of the facts does not matter
  auto plan = MakePlan(f, {"t3", "", false});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->source.uuid, "t1");
}

TEST(PlanTest, AGivenSourceThatIsNotRunningIsRefused) {
  TabletFacts f = ThreeWithOneFailed();
  f.peers.push_back(Failed("t4"));
  f.config = Config({"t1", "t2", "t3", "t4"});
  Refusal why;
  auto plan = MakePlan(f, {"t3", "t4", false}, &why);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(why, Refusal::kSourceNotRunning);
  EXPECT_THAT(plan.status().message(), HasSubstr("not RUNNING (FAILED)"));
}

TEST(PlanTest, AnUnreachableSourceIsRefusedWithItsError) {
  TabletFacts f = ThreeWithOneFailed();
  f.peers[1].reachable = f.peers[1].running = false;
  f.peers[1].replica.reset();
  f.peers[1].error = "deadline exceeded";
  Refusal why;
  auto plan = MakePlan(f, {"t3", "t2", false}, &why);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(why, Refusal::kSourceNotRunning);
  EXPECT_THAT(plan.status().message(), HasSubstr("deadline exceeded"));
}

TEST(PlanTest, ASourceBehindTheLeadersCommitIsRefused) {
  TabletFacts f = ThreeWithOneFailed();
  f.peers[1].replica->last_logged = {3, 40};
  Refusal why;
  auto plan = MakePlan(f, {"t3", "t2", false}, &why);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(why, Refusal::kSourceBehind);
  EXPECT_THAT(plan.status().message(), HasSubstr("committed 3.50"));
}

TEST(PlanTest, WithoutALeaderASourceBehindAnotherVoterIsRefused) {
  TabletFacts f = ThreeWithOneFailed();
  f.peers[0].replica->role = check::Role::kFollower;
  f.peers[1].replica->last_logged = {3, 45};
  Refusal why;
  auto plan = MakePlan(f, {"t3", "t2", false}, &why);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(why, Refusal::kSourceBehind);
}

TEST(PlanTest, TheTargetHoldingTheOnlyReadableCopyIsRefusedEvenWithForce) {
  TabletFacts f = ThreeWithOneFailed();
  f.peers[2] = Running("t3", check::Role::kFollower, {3, 50}, {3, 50}, f.config);
  f.peers[0] = Failed("t1");
  f.peers[1] = Failed("t2");
  Refusal why;
  auto plan = MakePlan(f, {"t3", "", true}, &why);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(why, Refusal::kOnlyReadableCopy);
}

TEST(PlanTest, NothingRunningAnywhereIsNoSource) {
  TabletFacts f = ThreeWithOneFailed();
  f.peers[0] = Failed("t1");
  f.peers[1] = Failed("t2");
  Refusal why;
  ASSERT_FALSE(MakePlan(f, {"t3", "", true}, &why).ok());
  EXPECT_EQ(why, Refusal::kNoSource);
}

TEST(PlanTest, TargetWithALaterLastLoggedTermIsRefusedUnlessForced) {
  TabletFacts f = ThreeWithOneFailed();
  // t3 runs a diverged history at term 4 (its config lacks t1).
  f.peers[2] = Running("t3", check::Role::kFollower, {4, 12}, {3, 10}, Config({"t2", "t3"}));
  Refusal why;
  auto plan = MakePlan(f, {"t3", "", false}, &why);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(why, Refusal::kTargetTermAhead);
  EXPECT_THAT(plan.status().message(), HasSubstr("4.12"));

  auto forced = MakePlan(f, {"t3", "", true}, &why);
  ASSERT_TRUE(forced.ok()) << forced.status();
  ASSERT_EQ(forced->warnings.size(), 1u);
  EXPECT_THAT(forced->warnings[0], HasSubstr("--force"));
  EXPECT_EQ(forced->replaced_last_logged->term, 4);
}

TEST(PlanTest, AHealthyTargetIsRefusedUnlessForced) {
  TabletFacts f = ThreeWithOneFailed();
  Refusal why;
  auto plan = MakePlan(f, {"t2", "", false}, &why);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(why, Refusal::kTargetHealthy);
  EXPECT_THAT(plan.status().message(), HasSubstr("looks healthy"));
  EXPECT_TRUE(MakePlan(f, {"t2", "", true}).ok());
}

TEST(PlanTest, ALaggingButDivergedConfigTargetIsRebuiltWithoutForce) {
  TabletFacts f = ThreeWithOneFailed();
  f.peers[2] = Running("t3", check::Role::kFollower, {3, 20}, {3, 20}, Config({"t3", "t9"}));
  auto plan = MakePlan(f, {"t3", "", false});
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_EQ(plan->replaced_state, "READY");
  EXPECT_EQ(plan->replaced_last_logged->index, 20);
}

TEST(PlanTest, TheLeaderAsTargetIsRefusedUnlessForced) {
  TabletFacts f = ThreeWithOneFailed();
  Refusal why;
  auto plan = MakePlan(f, {"t1", "t2", false}, &why);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(why, Refusal::kTargetHealthy);
  EXPECT_THAT(plan.status().message(), HasSubstr("is the leader"));
}

TEST(PlanTest, ATargetOutsideTheConfigIsRefused) {
  TabletFacts f = ThreeWithOneFailed();
  Refusal why;
  auto plan = MakePlan(f, {"t7", "", true}, &why);
  ASSERT_FALSE(plan.ok());
  EXPECT_EQ(why, Refusal::kTargetUnknown);
  EXPECT_THAT(plan.status().message(), HasSubstr("not a member"));
}

TEST(PlanTest, AnUnreachableTargetIsRefused) {
  TabletFacts f = ThreeWithOneFailed();
  f.peers[2].reachable = false;
  f.peers[2].replica.reset();
  f.peers[2].error = "connection refused";
  Refusal why;
  ASSERT_FALSE(MakePlan(f, {"t3", "", false}, &why).ok());
  EXPECT_EQ(why, Refusal::kTargetUnreachable);
}

TEST(PlanTest, SourceAndTargetTheSameIsRefused) {
  TabletFacts f = ThreeWithOneFailed();
  Refusal why;
  ASSERT_FALSE(MakePlan(f, {"t3", "t3", false}, &why).ok());
  EXPECT_EQ(why, Refusal::kSourceIsTarget);
}

}  // namespace
}  // namespace kmend::rebuild
