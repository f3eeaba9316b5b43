// The pure rules behind `kmend master unsafe-change-config` and `kmend
// master add`, on hand-made probes.
#include "lib/recover/master_probe.h"

#include "gtest/gtest.h"
#include "lib/recover/master_membership.h"

namespace kmend::recover {
namespace {

consensus::RaftConfigPB Config(std::vector<std::pair<std::string, bool>> peers) {
  consensus::RaftConfigPB c;
  c.set_opid_index(7);
  for (const auto& [uuid, voter] : peers) {
    auto* p = c.add_peers();
    p->set_permanent_uuid(uuid);
    p->set_member_type(voter ? consensus::RaftPeerPB::VOTER : consensus::RaftPeerPB::NON_VOTER);
  }
  return c;
}

MasterProbe Open(const std::string& uuid, int64_t term, int64_t index,
                 const consensus::RaftConfigPB& config, const std::string& leader = "") {
  MasterProbe p;
  p.address = uuid + ":1";
  p.uuid = uuid;
  p.catalog_open = true;
  p.cstate.set_current_term(term);
  p.cstate.set_leader_uuid(leader);
  *p.cstate.mutable_committed_config() = config;
  p.last_logged.set_term(term);
  p.last_logged.set_index(index);
  return p;
}

MasterProbe Dead(const std::string& address) {
  MasterProbe p;
  p.address = address;
  p.error = "connection refused";
  return p;
}

TEST(ChooseCatalogSurvivor, OneSurvivorOfThreeIsForcedAlone) {
  auto c = Config({{"a", true}, {"b", true}, {"c", true}});
  auto choice = ChooseCatalogSurvivor({Dead("x:1"), Open("b", 4, 20, c), Dead("y:1")});
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->survivor_uuid, "b");
  EXPECT_EQ(choice->survivor_address, "b:1");
  EXPECT_EQ(choice->keep_uuids, std::vector<std::string>({"b"}));
}

TEST(ChooseCatalogSurvivor, LongestLogWinsThenSmallerUuid) {
  auto c = Config({{"a", true}, {"b", true}, {"c", true}, {"d", true}, {"e", true}});
  auto choice = ChooseCatalogSurvivor({Open("c", 4, 20, c), Open("b", 4, 21, c), Dead("x:1")});
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->survivor_uuid, "b");
  EXPECT_EQ(choice->keep_uuids, std::vector<std::string>({"b", "c"}));
  choice = ChooseCatalogSurvivor({Open("c", 5, 20, c), Open("b", 4, 21, c)});
  EXPECT_EQ(choice->survivor_uuid, "c");
  choice = ChooseCatalogSurvivor({Open("c", 4, 21, c), Open("b", 4, 21, c)});
  EXPECT_EQ(choice->survivor_uuid, "b");
}

TEST(ChooseCatalogSurvivor, NonVotersAreKeptNonMembersAreNot) {
  auto c = Config({{"a", true}, {"b", true}, {"n", false}});
  auto choice = ChooseCatalogSurvivor({Open("a", 3, 9, c), Open("n", 3, 9, c), Open("z", 0, 0, c)});
  ASSERT_TRUE(choice.ok());
  EXPECT_EQ(choice->survivor_uuid, "a");
  EXPECT_EQ(choice->keep_uuids, std::vector<std::string>({"a", "n"}));
}

TEST(ChooseCatalogSurvivor, ANonVoterWithTheLongestLogIsTheSurvivor) {
  // A caught-up non-voter ahead of the surviving voter: forcing the voter
  // would lose entries the dead majority committed; the non-voter is forced
  // and becomes a voter, keeping the voter.
  auto c = Config({{"a", true}, {"b", true}, {"c", true}, {"n", false}});
  auto choice = ChooseCatalogSurvivor({Open("a", 3, 9, c), Open("n", 3, 12, c), Dead("x:1")});
  ASSERT_TRUE(choice.ok()) << choice.status();
  EXPECT_EQ(choice->survivor_uuid, "n");
  EXPECT_EQ(choice->keep_uuids, std::vector<std::string>({"a", "n"}));
  // One that never became a member cannot be forced.
  auto outsider = ChooseCatalogSurvivor({Open("a", 3, 9, c), Open("z", 3, 12, c)});
  ASSERT_FALSE(outsider.ok());
  EXPECT_EQ(outsider.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(ChooseCatalogSurvivor, NothingAnswersIsRefusedPointingAtRebuild) {
  auto choice = ChooseCatalogSurvivor({Dead("x:1"), Dead("y:1")});
  ASSERT_FALSE(choice.ok());
  EXPECT_EQ(choice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(choice.status().message().find("master rebuild"), std::string::npos);
}

TEST(CheckDropsNoRunningMaster, ARunningVoterLeftOutOfMastersIsNotDropped) {
  // Five masters, three dead; --masters named only "a": "b" runs but would
  // be dropped.
  ForcePlan plan;
  plan.dropped = {"b", "c", "d", "e"};
  for (const char* u : {"a", "b", "c", "d", "e"}) {
    VoterProbe v;
    v.uuid = u;
    v.address = std::string(u) + ":1";
    v.running = std::string(u) == "a" || std::string(u) == "b";
    plan.voters.push_back(v);
  }
  absl::Status s = CheckDropsNoRunningMaster(plan);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("b at b:1"), std::string::npos) << s;
  plan.dropped = {"c", "d", "e"};
  EXPECT_TRUE(CheckDropsNoRunningMaster(plan).ok());
}

TEST(AnsweringMasters, EveryAddressWhereAMasterAnswered) {
  auto c = Config({{"a", true}});
  MasterProbe not_open = Dead("b:1");
  not_open.uuid = "b";  // answered GetStatus, catalog not open yet
  EXPECT_EQ(AnsweringMasters({Dead("x:1"), Open("a", 1, 1, c), not_open}),
            (std::vector<std::string>{"a:1 (a)", "b:1 (b)"}));
  EXPECT_TRUE(AnsweringMasters({Dead("x:1")}).empty());
}

TEST(CatalogMajorityLost, OneOfThreeIsLostTwoOfThreeIsNot) {
  auto c = Config({{"a", true}, {"b", true}, {"c", true}});
  EXPECT_TRUE(CatalogMajorityLost({Open("a", 3, 9, c), Dead("x:1"), Dead("y:1")}));
  EXPECT_FALSE(CatalogMajorityLost({Open("a", 3, 9, c), Open("b", 3, 9, c), Dead("y:1")}));
  EXPECT_FALSE(CatalogMajorityLost({Dead("x:1"), Dead("y:1")}));
  // The survivor's forced one-voter config is the newest: not lost.
  auto forced = Config({{"a", true}});
  forced.set_opid_term(4);
  EXPECT_FALSE(CatalogMajorityLost({Open("a", 4, 10, forced), Dead("x:1"), Dead("y:1")}));
}

TEST(FindCatalogLeader, TheMasterNamingItselfAtTheNewestTerm) {
  auto c = Config({{"a", true}, {"b", true}});
  EXPECT_FALSE(FindCatalogLeader({Open("a", 3, 9, c, "b"), Dead("x:1")}).ok());
  auto l = FindCatalogLeader({Open("a", 3, 9, c, "a"), Open("b", 4, 9, c, "b")});
  ASSERT_TRUE(l.ok());
  EXPECT_EQ(l->uuid, "b");
}

TEST(JudgeAddMaster, EmptyNewcomerIsAddedThenPromoted) {
  auto leader = Open("a", 5, 30, Config({{"a", true}}), "a");
  MasterProbe fresh;
  fresh.address = "n:1";
  fresh.uuid = "n";
  fresh.catalog_open = true;  // a joiner: open at term 0, nothing applied
  auto step = JudgeAddMaster(leader, fresh);
  ASSERT_TRUE(step.ok()) << step.status();
  EXPECT_EQ(*step, AddMasterStep::kAddAndPromote);
}

TEST(JudgeAddMaster, HalfDoneAndDoneAreResumedOrNoOps) {
  MasterProbe n;
  n.address = "n:1";
  n.uuid = "n";
  EXPECT_EQ(*JudgeAddMaster(Open("a", 5, 30, Config({{"a", true}, {"n", false}}), "a"), n),
            AddMasterStep::kPromote);
  EXPECT_EQ(*JudgeAddMaster(Open("a", 5, 30, Config({{"a", true}, {"n", true}}), "a"), n),
            AddMasterStep::kNothing);
}

TEST(JudgeAddMaster, ANewcomerWithACatalogOfItsOwnIsRefused) {
  auto leader = Open("a", 5, 30, Config({{"a", true}}), "a");
  // Restarted on its old data: it ran elections in the old config.
  auto stale = Open("n", 4, 28, Config({{"a", true}, {"n", true}, {"m", true}}));
  auto step = JudgeAddMaster(leader, stale);
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(step.status().message().find("empty its --fs_root"), std::string::npos);
  MasterProbe dead;
  dead.address = "n:1";
  dead.error = "refused";
  EXPECT_EQ(JudgeAddMaster(leader, dead).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(JudgeAddMaster(leader, leader).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(JudgeRemoveMaster, OnlyAGoneNonLeaderMember) {
  auto leader = Open("a", 5, 30, Config({{"a", true}, {"b", true}, {"c", true}}), "a");
  EXPECT_TRUE(JudgeRemoveMaster(leader, "c", /*answering=*/false).ok());
  EXPECT_EQ(JudgeRemoveMaster(leader, "c", true).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(JudgeRemoveMaster(leader, "a", false).code(), absl::StatusCode::kFailedPrecondition);
  // Not a member: JudgeRemoveMaster says so; PlanRemoveMaster turns it into
  // `already_removed` (idempotent re-run), tested in master_recover_test.
  EXPECT_EQ(JudgeRemoveMaster(leader, "z", false).code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace kmend::recover
