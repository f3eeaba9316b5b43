// JudgeSafety and MajorityLost on hand-made plans: when does the tool refuse?
#include "lib/recover/force_safety.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kmend::recover {
namespace {

// A plan for a committed config of `voters` voters, the first forced.
ForcePlan PlanOf(int voters) {
  ForcePlan plan;
  for (int i = 0; i < voters; ++i) {
    auto* p = plan.current.mutable_committed_config()->add_peers();
    p->set_permanent_uuid(std::string(1, static_cast<char>('A' + i)));
    p->set_member_type(consensus::RaftPeerPB::VOTER);
    VoterProbe probe;
    probe.uuid = p->permanent_uuid();
    probe.error = "connection refused";
    plan.voters.push_back(probe);
  }
  plan.server_uuid = "A";
  return plan;
}

void Running(ForcePlan* plan, int i, bool lease = false, const std::string& leader = "") {
  plan->voters[i].running = true;
  plan->voters[i].error.clear();
  plan->voters[i].leader_lease = lease;
  plan->voters[i].leader_uuid = leader;
  plan->voters[i].ms_since_leader_contact = lease ? 100 : 3000;
}

TEST(JudgeSafetyTest, AllowsWhenTheMajorityIsGoneAndNoLeaderIsHeard) {
  ForcePlan plan = PlanOf(3);
  Running(&plan, 0);
  EXPECT_TRUE(JudgeSafety(plan).ok());
  EXPECT_TRUE(MajorityLost(plan));
}

TEST(JudgeSafetyTest, RefusesWhileAMajorityRuns) {
  ForcePlan plan = PlanOf(3);
  Running(&plan, 0);
  Running(&plan, 2);
  absl::Status s = JudgeSafety(plan);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("2 of 3 voters are running (A, C)"));
  EXPECT_FALSE(MajorityLost(plan));
}

TEST(JudgeSafetyTest, RefusesWhileTheSurvivorHeardFromALeaderNamingIt) {
  ForcePlan plan = PlanOf(3);
  Running(&plan, 0, /*lease=*/true, "B");
  absl::Status s = JudgeSafety(plan);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("A heard from leader B 100 ms ago"));
  EXPECT_TRUE(MajorityLost(plan));  // the lease lapses by itself: the tool waits
}

TEST(JudgeSafetyTest, RefusesOnALeaderHoldingItsLease) {
  ForcePlan plan = PlanOf(5);
  Running(&plan, 0, /*lease=*/true, "A");
  Running(&plan, 1);
  absl::Status s = JudgeSafety(plan);
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("A is the leader"));
}

TEST(JudgeSafetyTest, RefusesOnALeaderWhoseLeaseLapsedButHasNotSteppedDown) {
  // The lease lapses two ticks before check-quorum steps the leader down;
  // the server refuses to force a leader, so the tool must wait too.
  ForcePlan plan = PlanOf(3);
  Running(&plan, 0, /*lease=*/false, "A");
  absl::Status s = JudgeSafety(plan);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(s.message()), testing::HasSubstr("A is the leader"));
  EXPECT_TRUE(MajorityLost(plan));  // check-quorum steps it down: the tool waits
}

TEST(JudgeSafetyTest, NonVotersDoNotCountTowardsTheMajority) {
  ForcePlan plan = PlanOf(3);
  auto* nv = plan.current.mutable_committed_config()->add_peers();
  nv->set_permanent_uuid("N");
  nv->set_member_type(consensus::RaftPeerPB::NON_VOTER);
  Running(&plan, 0);
  EXPECT_TRUE(JudgeSafety(plan).ok());
}

}  // namespace
}  // namespace kmend::recover
