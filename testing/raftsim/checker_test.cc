// Tests that prove the SafetyChecker: sim_test's thousands of clean seeds
// mean something only if the checker reports a broken property. Each test
// plants one violation of one property with real cores (no fake state), by
// the hazard docs/design/raft.md describes: forcing a config with
// UnsafeChangeConfig on replicas that hold different histories, and checks
// that the checker names it.
//
// How they were verified to fail: each of the four checks in checker.cc was
// deleted in turn (election safety in CheckLeaders; log matching, state
// machine safety and leader completeness in AfterReady); with a check gone,
// its test failed (no such violation, or a different one) and the others
// still passed.
//
// Figure8NoCommitOfEarlierTermEntryByCounting drives the Raft paper's
// figure 8 by hand. Verified to fail by letting RaftCore::MaybeCommit commit
// by counting regardless of the entry's term: the old leader commits and
// applies the earlier-term entry in (c), and in (d) the checker reports that
// E lacks it (leader completeness) and that E, B and D apply E's entry at
// its index (state machine safety).
#include "testing/raftsim/checker.h"

#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/raft/core.h"
#include "testing/raftsim/cluster.h"

namespace kmend::raftsim {
namespace {

using consensus::RaftMessagePB;
using testing::ElementsAre;
using testing::HasSubstr;
using testing::PrintToString;
using testing::StartsWith;

// Forces `uuid` alone into its config, as an operator running
// unsafe_change_config on one survivor would. `force`: it heard from a leader
// recently (every test here cuts links without waiting for timeouts).
void ForceSoleVoter(Cluster& c, const std::string& uuid) {
  absl::StatusOr<consensus::OpId> id =
      c.core(uuid)->UnsafeChangeConfig(Cluster::MakeConfig({uuid}), /*force=*/true);
  ASSERT_TRUE(id.ok()) << id.status();
}

void CampaignAsSoleVoter(Cluster& c, const std::string& uuid) {
  ASSERT_TRUE(c.core(uuid)->Campaign().ok());
  ASSERT_EQ(c.core(uuid)->role(), raft::Role::kLeader) << uuid;
}

// A, B, C with A the leader of term 1; entry 1.1 (A's NO_OP) is everywhere,
// entry 1.2 ("a") is committed and applied by A with C's ack while B was cut
// off from A. Then every link is cut. Histories at the end:
//   A: 1.1 1.2 (leader, term 1)   B: 1.1   C: 1.1 1.2
// The checker is clean here: whatever a test reports afterwards comes from
// what the test planted.
class ForcedHistoriesTest : public testing::Test {
 protected:
  ForcedHistoriesTest() : c_({"A", "B", "C"}, 3, /*seed=*/7) {}

  void SetUp() override {
    ASSERT_TRUE(c_.core("A")->Campaign().ok());
    c_.Stabilize();
    ASSERT_EQ(c_.Leader(), "A");
    c_.Cut("A", "B");
    absl::StatusOr<consensus::OpId> id = c_.ProposeAt("A", "a");
    ASSERT_TRUE(id.ok()) << id.status();
    c_.Stabilize();
    ASSERT_EQ(c_.core("A")->log().committed(), 2);
    ASSERT_EQ(c_.checker().applied().count(2), 1u);
    ASSERT_EQ(c_.node("B").storage().LastIndex(), 1);
    ASSERT_EQ(c_.node("C").storage().LastIndex(), 2);
    for (const char* u : {"A", "B", "C"}) c_.Isolate(u);
    ASSERT_TRUE(c_.checker().ok()) << PrintToString(c_.checker().violations());
  }

  Cluster c_;
};

TEST_F(ForcedHistoriesTest, ReportsTwoLeadersInOneTerm) {
  // B forces its config at 2.2, C at 2.3: no two entries share an op id, so
  // log matching holds; both then lead term 3.
  ForceSoleVoter(c_, "B");
  ForceSoleVoter(c_, "C");
  c_.ProcessReadies();
  ASSERT_TRUE(c_.checker().ok()) << PrintToString(c_.checker().violations());
  CampaignAsSoleVoter(c_, "B");
  CampaignAsSoleVoter(c_, "C");
  ASSERT_EQ(c_.core("B")->term(), c_.core("C")->term());
  // Checked before their Readies, which bring the other violations
  // (B lacks the applied 1.2).
  c_.checker().CheckLeaders();
  EXPECT_THAT(c_.checker().violations(),
              ElementsAre(StartsWith("election safety: term 3 has two leaders: B and C")));
}

TEST_F(ForcedHistoriesTest, ReportsTwoEntriesWithOneOpId) {
  // A and C hold the same log; forced independently, each appends its own
  // config entry as 2.3: the hazard of forcing more than one survivor.
  ForceSoleVoter(c_, "A");
  ForceSoleVoter(c_, "C");
  c_.ProcessReadies();
  EXPECT_THAT(c_.checker().violations(),
              ElementsAre(StartsWith("log matching: C and A have entry 2.3 but their logs "
                                     "differ at index 3")));
}

TEST_F(ForcedHistoriesTest, ReportsADifferentEntryAppliedAtAnAppliedIndex) {
  // B, forced at 2.2 and leading term 3, commits and applies its config
  // entry at index 2, where A applied 1.2. Leader completeness (B lacks 1.2)
  // is off, as in the simulation's unsafe scenario, so that only the state
  // machine check can report this.
  c_.checker().set_check_leader_completeness(false);
  ForceSoleVoter(c_, "B");
  CampaignAsSoleVoter(c_, "B");
  c_.ProcessReadies();
  ASSERT_GE(c_.core("B")->log().committed(), 2);
  EXPECT_THAT(c_.checker().violations(),
              ElementsAre(StartsWith("state machine safety: B applied a different entry (2.2) "
                                     "at index 2")));
}

TEST_F(ForcedHistoriesTest, ReportsANewLeaderMissingAnAppliedEntry) {
  // B's log never held 1.2, applied by A; B's election at term 3 (higher
  // than any term when 1.2 was applied) must be reported at once, before B
  // applies anything.
  ForceSoleVoter(c_, "B");
  CampaignAsSoleVoter(c_, "B");
  c_.ProcessReadies();
  ASSERT_THAT(c_.checker().violations(), testing::Not(testing::IsEmpty()));
  EXPECT_THAT(c_.checker().violations()[0],
              StartsWith("leader completeness: new leader B at term 3 lacks applied entry 1.2"));
}

// --- Figure 8 of the Raft paper -------------------------------------------

// Delivers everything except what `drop` matches, until the cluster is quiet.
void StabilizeDropping(Cluster& c, const std::function<bool(const RaftMessagePB&)>& drop) {
  for (int i = 0; i < 1000; ++i) {
    c.ProcessReadies();
    c.DropQueued(drop);
    if (c.Queued().empty()) return;
    c.DeliverDue(1);
  }
  FAIL() << "cluster did not settle";
}

// Campaigns until `uuid` leads (a candidate may first lose to voters that
// already voted in its term, then retry at the next one), letting the
// election's messages through but none that `drop` matches.
void ElectDropping(Cluster& c, const std::string& uuid,
                   const std::function<bool(const RaftMessagePB&)>& drop) {
  for (int attempt = 0; attempt < 5 && c.core(uuid)->role() != raft::Role::kLeader; ++attempt) {
    ASSERT_TRUE(c.core(uuid)->Campaign().ok());
    StabilizeDropping(c, drop);
  }
  ASSERT_EQ(c.core(uuid)->role(), raft::Role::kLeader) << c.core(uuid)->GetStatus().ToString();
}

// Delivers everything until the cluster is quiet, but strips every entry of
// term `term` from the appends `from` sends: they still probe and carry the
// entries of earlier terms.
void StabilizeWithoutEntriesOfTerm(Cluster& c, const std::string& from, int64_t term) {
  for (int i = 0; i < 1000; ++i) {
    c.ProcessReadies();
    c.MutateQueued([&](RaftMessagePB* m) {
      if (m->from_uuid() != from || m->type() != RaftMessagePB::APPEND_REQUEST) return;
      auto* entries = m->mutable_append_request()->mutable_entries();
      for (int j = entries->size() - 1; j >= 0; --j) {
        if (entries->Get(j).id().term() == term) entries->DeleteSubrange(j, 1);
      }
    });
    if (c.Queued().empty()) return;
    c.DeliverDue(1);
  }
  FAIL() << "cluster did not settle";
}

// Paper, figure 8, with S1..S5 = A..E. Here leaders append a NO_OP when
// elected, so the terms differ from the figure's; the shape is the same:
//  (a) A leads term 1 and replicates its entry at index 2 to B only.
//  (b) A crashes; E wins term 2 with C and D and appends its NO_OP as 2.2,
//      which reaches nobody; E crashes.
//  (c) A restarts and wins term 3 with B and C, and replicates 1.2 to C:
//      1.2 is now on A, B, C, a majority, but A's own-term entry (its NO_OP
//      at 3.3) is held by nobody else. Counting must not commit 1.2.
//  (d) A crashes; E restarts and wins (its last entry 2.2 is newer than
//      B's, C's and D's), overwriting 1.2 with 2.2 everywhere. Had A
//      committed and applied 1.2 in (c), this would be a state machine
//      safety violation.
TEST(Figure8Test, NoCommitOfEarlierTermEntryByCounting) {
  // The paper's Raft: no pre-vote, no check-quorum lease (which would make
  // voters that heard from A ignore E). Elections are manual (Campaign);
  // the only ticks are A's, for heartbeats in (c).
  raft::CoreOptions options = Cluster::DefaultOptions();
  options.pre_vote = false;
  options.check_quorum = false;
  Cluster c({"A", "B", "C", "D", "E"}, 5, /*seed=*/8, options);
  auto drop_nothing = [](const RaftMessagePB&) { return false; };

  // (a)
  ElectDropping(c, "A", drop_nothing);
  ASSERT_EQ(c.core("A")->term(), 1);
  for (const char* u : {"C", "D", "E"}) c.Cut("A", u);
  ASSERT_TRUE(c.ProposeAt("A", "figure-8").ok());
  c.Stabilize();
  ASSERT_EQ(c.node("B").storage().LastIndex(), 2);
  ASSERT_EQ(c.core("A")->log().committed(), 1);
  c.Crash("A");
  c.HealNetwork();

  // (b) E's NO_OP must reach nobody.
  ElectDropping(c, "E", [](const RaftMessagePB& m) {
    return m.from_uuid() == "E" && m.type() == RaftMessagePB::APPEND_REQUEST;
  });
  const int64_t e_term = c.core("E")->term();
  ASSERT_EQ(c.node("E").storage().LastIndex(), 2);
  ASSERT_EQ(c.node("E").storage().At(2).id().term(), e_term);
  c.Crash("E");

  // (c) A's appends go to B and C only (D is cut, E down) and never carry
  // an entry of A's new term: B, C hold 1.2 at the end, nobody but A 3.3.
  // The election's own appends carry A's NO_OP: they are dropped.
  c.Restart("A");
  c.Cut("A", "D");
  ElectDropping(c, "A", [](const RaftMessagePB& m) {
    return m.from_uuid() == "A" && m.type() == RaftMessagePB::APPEND_REQUEST;
  });
  const int64_t a_term = c.core("A")->term();
  ASSERT_GT(a_term, e_term);
  // A heartbeat restarts the probing the dropped appends left unanswered.
  c.Tick("A");
  c.Tick("A");
  StabilizeWithoutEntriesOfTerm(c, "A", a_term);
  for (const char* u : {"B", "C"}) {
    const raft::MemoryLogStorage& log = c.node(u).storage();
    ASSERT_EQ(log.LastIndex(), 2) << u;
    EXPECT_EQ(log.At(2).id().term(), 1) << u;
  }
  ASSERT_EQ(c.node("A").storage().LastIndex(), 3);
  EXPECT_EQ(c.node("A").storage().At(2).id().term(), 1);
  EXPECT_EQ(c.node("A").storage().At(3).id().term(), a_term);
  // 1.2 on three of five, yet not committed: its term is not A's.
  EXPECT_LT(c.core("A")->log().committed(), 2);
  EXPECT_TRUE(c.checker().ok()) << PrintToString(c.checker().violations());

  // (d)
  c.Crash("A");
  c.HealNetwork();
  c.Restart("E");
  ElectDropping(c, "E", drop_nothing);
  c.Stabilize();
  for (const char* u : {"B", "C", "D"}) {
    const raft::MemoryLogStorage& log = c.node(u).storage();
    ASSERT_GE(log.LastIndex(), 2) << u;
    EXPECT_EQ(log.At(2).id().term(), e_term) << u;
  }
  EXPECT_GE(c.core("E")->log().committed(), 2);
  EXPECT_THAT(c.checker().applied().at(2), testing::Not(HasSubstr("figure-8")));
  EXPECT_TRUE(c.checker().ok()) << PrintToString(c.checker().violations());
}

}  // namespace
}  // namespace kmend::raftsim
