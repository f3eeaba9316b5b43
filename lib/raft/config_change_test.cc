// Membership change and unsafe config change rules.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/raft/config.h"
#include "lib/raft/core.h"
#include "testing/raftsim/cluster.h"

namespace kmend::raft {
namespace {

using consensus::RaftConfigPB;
using consensus::RaftPeerPB;
using raftsim::Cluster;

// A leader "A" over voters A,B,C, plus D and E outside the config.
class ConfigChangeTest : public testing::Test {
 protected:
  ConfigChangeTest() : c_({"A", "B", "C", "D", "E"}, 3, 31) {}
  void SetUp() override {
    ASSERT_TRUE(c_.core("A")->Campaign().ok());
    Settle();
    ASSERT_EQ(c_.Leader(), "A");
  }
  void Settle() {
    c_.Stabilize();
    for (int i = 0; i < 4; ++i) c_.TickAll();
    c_.Stabilize();
  }
  ConfigChange Change(ChangeType type, const std::string& uuid,
                      int64_t cas = ConfigChange::kNoCas) {
    ConfigChange ch;
    ch.type = type;
    ch.uuid = uuid;
    ch.cas_config_opid_index = cas;
    return ch;
  }
  Cluster c_;
};

TEST_F(ConfigChangeTest, AddVoterTakesEffectOnAppendAndCommits) {
  auto id = c_.core("A")->ProposeConfigChange(Change(ChangeType::kAddVoter, "D"));
  ASSERT_TRUE(id.ok()) << id.status();
  // Active at once (pending), committed later.
  EXPECT_TRUE(IsVoter(c_.core("A")->active_config(), "D"));
  EXPECT_FALSE(IsMember(c_.core("A")->committed_config(), "D"));
  RaftStatus st = c_.core("A")->GetStatus();
  ASSERT_TRUE(st.pending_config.has_value());
  EXPECT_EQ(st.pending_config->opid_index(), id->index());
  Settle();
  const RaftConfigPB& committed = c_.core("A")->committed_config();
  EXPECT_TRUE(IsVoter(committed, "D"));
  EXPECT_EQ(committed.opid_index(), id->index());
  EXPECT_FALSE(c_.core("A")->has_pending_config());
  // D caught up from index 1 and knows the config; cmeta got persisted.
  EXPECT_EQ(c_.core("D")->log().LastIndex(), c_.core("A")->log().LastIndex());
  EXPECT_EQ(c_.node("D").cmeta_config().opid_index(), id->index());
  EXPECT_EQ(c_.node("B").cmeta_config().opid_index(), id->index());
  // Four voters now: commit needs three.
  c_.Isolate("B");
  c_.Isolate("C");
  ASSERT_TRUE(c_.ProposeAt("A", "x").ok());
  Settle();
  EXPECT_LT(c_.core("A")->log().committed(), c_.core("A")->log().LastIndex());
  EXPECT_TRUE(c_.checker().ok());
}

TEST_F(ConfigChangeTest, CompareAndSetOnCommittedConfigIndex) {
  auto bad = c_.core("A")->ProposeConfigChange(Change(ChangeType::kAddNonVoter, "D", 7));
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(bad.status().message()), testing::HasSubstr("CAS"));
  // The bootstrap config has opid_index -1.
  auto good = c_.core("A")->ProposeConfigChange(Change(ChangeType::kAddNonVoter, "D", -1));
  ASSERT_TRUE(good.ok()) << good.status();
  Settle();
  // -1 is stale now.
  auto stale = c_.core("A")->ProposeConfigChange(Change(ChangeType::kPromote, "D", -1));
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kFailedPrecondition);
  auto promote =
      c_.core("A")->ProposeConfigChange(Change(ChangeType::kPromote, "D", good->index()));
  EXPECT_TRUE(promote.ok()) << promote.status();
}

TEST_F(ConfigChangeTest, OneChangeAtATime) {
  ASSERT_TRUE(c_.core("A")->ProposeConfigChange(Change(ChangeType::kAddNonVoter, "D")).ok());
  auto second = c_.core("A")->ProposeConfigChange(Change(ChangeType::kAddNonVoter, "E"));
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(second.status().message()), testing::HasSubstr("pending"));
  Settle();
  EXPECT_TRUE(c_.core("A")->ProposeConfigChange(Change(ChangeType::kAddNonVoter, "E")).ok());
}

TEST_F(ConfigChangeTest, NonVoterReceivesEntriesButNeitherVotesNorCounts) {
  ASSERT_TRUE(c_.core("A")->ProposeConfigChange(Change(ChangeType::kAddNonVoter, "D")).ok());
  Settle();
  ASSERT_TRUE(IsMember(c_.core("A")->committed_config(), "D"));
  ASSERT_FALSE(IsVoter(c_.core("A")->committed_config(), "D"));
  ASSERT_TRUE(c_.ProposeAt("A", "x").ok());
  Settle();
  EXPECT_EQ(c_.core("D")->log().LastIndex(), c_.core("A")->log().LastIndex());
  // With B and C cut off, A + D are not a majority of {A,B,C}.
  c_.Isolate("B");
  c_.Isolate("C");
  const int64_t committed = c_.core("A")->log().committed();
  ASSERT_TRUE(c_.ProposeAt("A", "y").ok());
  Settle();
  EXPECT_EQ(c_.core("A")->log().committed(), committed);
  // D never campaigns, however long it waits.
  c_.Isolate("A");
  for (int i = 0; i < 100; ++i) c_.TickAll();
  EXPECT_EQ(c_.core("D")->role(), Role::kFollower);
  EXPECT_EQ(c_.core("D")->GetStatus().voted_for, "");
}

TEST_F(ConfigChangeTest, RemoveVoterAndLeaderCannotRemoveItself) {
  auto self = c_.core("A")->ProposeConfigChange(Change(ChangeType::kRemovePeer, "A"));
  EXPECT_EQ(self.status().code(), absl::StatusCode::kFailedPrecondition);
  auto missing = c_.core("A")->ProposeConfigChange(Change(ChangeType::kRemovePeer, "Q"));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  auto dup = c_.core("A")->ProposeConfigChange(Change(ChangeType::kAddVoter, "B"));
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kAlreadyExists);
  auto promote_voter = c_.core("A")->ProposeConfigChange(Change(ChangeType::kPromote, "B"));
  EXPECT_EQ(promote_voter.status().code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(c_.core("A")->ProposeConfigChange(Change(ChangeType::kRemovePeer, "C")).ok());
  Settle();
  EXPECT_FALSE(IsMember(c_.core("A")->committed_config(), "C"));
  // Two voters: A and B must both hold an entry for it to commit.
  c_.Isolate("C");
  ASSERT_TRUE(c_.ProposeAt("A", "x").ok());
  Settle();
  EXPECT_EQ(c_.core("A")->log().committed(), c_.core("A")->log().LastIndex());
  EXPECT_EQ(c_.core("A")->GetStatus().peers.size(), 2u);
}

TEST(ConfigChangeRuleTest, RefusedUntilLeaderCommittedItsTerm) {
  Cluster c({"A", "B", "C", "D"}, 3, 33);
  ASSERT_TRUE(c.core("A")->Campaign().ok());
  // Deliver the election but no appends: A's NO_OP stays uncommitted.
  for (int i = 0; i < 10 && c.core("A")->role() != Role::kLeader; ++i) {
    c.ProcessReadies();
    c.DropQueued([](const consensus::RaftMessagePB& m) {
      return m.type() == consensus::RaftMessagePB::APPEND_REQUEST;
    });
    c.DeliverDue(1);
  }
  ASSERT_EQ(c.core("A")->role(), Role::kLeader);
  c.ProcessReadies();
  c.DropQueued([](const consensus::RaftMessagePB&) { return true; });
  ConfigChange ch;
  ch.type = ChangeType::kAddNonVoter;
  ch.uuid = "D";
  auto r = c.core("A")->ProposeConfigChange(ch);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  for (int i = 0; i < 3; ++i) c.TickAll();
  c.Stabilize();
  ASSERT_EQ(c.core("A")->log().committed(), 1);
  EXPECT_TRUE(c.core("A")->ProposeConfigChange(ch).ok());
}

TEST_F(ConfigChangeTest, NotLeaderRefuses) {
  auto r = c_.core("B")->ProposeConfigChange(Change(ChangeType::kAddNonVoter, "D"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ConfigChangeTest, UncommittedConfigEntryIsRevertedWhenTruncated) {
  // A appends a config change that reaches nobody, then loses leadership.
  c_.Isolate("A");
  ASSERT_TRUE(c_.core("A")->ProposeConfigChange(Change(ChangeType::kAddVoter, "D")).ok());
  c_.Stabilize();
  EXPECT_TRUE(IsVoter(c_.core("A")->active_config(), "D"));
  for (int i = 0; i < 40; ++i) c_.TickAll();
  std::string leader = c_.Leader();
  ASSERT_FALSE(leader.empty());
  ASSERT_NE(leader, "A");
  ASSERT_TRUE(c_.ProposeAt(leader, "z").ok());
  c_.HealNetwork();
  for (int i = 0; i < 20; ++i) c_.TickAll();
  c_.Stabilize();
  // A's entry was overwritten: its active config is back to A,B,C.
  EXPECT_FALSE(IsMember(c_.core("A")->active_config(), "D"));
  EXPECT_FALSE(c_.core("A")->has_pending_config());
  EXPECT_EQ(c_.core("A")->log().LastIndex(), c_.core(leader)->log().LastIndex());
  EXPECT_TRUE(c_.checker().ok());
}

// --- Unsafe config change ---------------------------------------------------

TEST(UnsafeChangeConfigTest, Preconditions) {
  Cluster c({"A", "B", "C"}, 3, 41);
  // Not a subset of the committed config.
  auto r = c.core("A")->UnsafeChangeConfig(Cluster::MakeConfig({"A", "Z"}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(r.status().message()), testing::HasSubstr("subset"));
  // Without the local replica.
  r = c.core("A")->UnsafeChangeConfig(Cluster::MakeConfig({"B"}));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  // Local replica only as NON_VOTER.
  RaftConfigPB nv = Cluster::MakeConfig({"B"});
  auto* p = nv.add_peers();
  p->set_permanent_uuid("A");
  p->set_member_type(RaftPeerPB::NON_VOTER);
  r = c.core("A")->UnsafeChangeConfig(nv);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  // Empty.
  r = c.core("A")->UnsafeChangeConfig(RaftConfigPB());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  // Nothing changed.
  EXPECT_EQ(c.core("A")->term(), 0);
  EXPECT_EQ(c.core("A")->log().LastIndex(), 0);
}

TEST(UnsafeChangeConfigTest, SurvivorOfLostMajorityElectsItselfAndAcceptsWrites) {
  Cluster c({"A", "B", "C"}, 3, 43);
  ASSERT_TRUE(c.core("A")->Campaign().ok());
  c.Stabilize();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.ProposeAt("A", "w" + std::to_string(i)).ok());
  c.Stabilize();
  // B and C hold an entry C never... kill A and B: C survives alone.
  c.Crash("A");
  c.Crash("B");
  // C heard from A a moment ago: the change is refused until an election
  // timeout passed without a leader (the group might still be alive).
  auto refused = c.core("C")->UnsafeChangeConfig(Cluster::MakeConfig({"C"}));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(refused.status().message()), testing::HasSubstr("leader A"));
  for (int i = 0; i < 10; ++i) c.Tick("C");
  // C has an uncommitted tail too: entries it received but never saw commit.
  const int64_t term = c.core("C")->term();
  const int64_t last = c.core("C")->log().LastIndex();
  const int64_t last_term = c.core("C")->log().LastTerm();
  auto id = c.core("C")->UnsafeChangeConfig(Cluster::MakeConfig({"C"}));
  ASSERT_TRUE(id.ok()) << id.status();
  // At term + 1, right after the last logged op, nothing truncated.
  EXPECT_EQ(id->term(), term + 1);
  EXPECT_EQ(id->index(), last + 1);
  EXPECT_EQ(c.core("C")->term(), term + 1);
  EXPECT_EQ(c.core("C")->role(), Role::kFollower);
  EXPECT_EQ(c.core("C")->log().TermOrZero(last), last_term);
  RaftStatus st = c.core("C")->GetStatus();
  ASSERT_TRUE(st.pending_config.has_value());
  EXPECT_TRUE(st.pending_config->unsafe_config_change());
  EXPECT_EQ(st.pending_config->opid_index(), last + 1);
  raft::Ready rd = c.core("C")->GetReady();
  EXPECT_FALSE(rd.truncate_after.has_value());
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(rd.entries[0].op_type(), consensus::CHANGE_CONFIG_OP);
  EXPECT_TRUE(rd.entries[0].change_config_record().new_config().unsafe_config_change());
  EXPECT_EQ(rd.entries[0].change_config_record().old_config().peers_size(), 3);
  ASSERT_TRUE(c.node("C").mutable_storage()->Append(rd.entries).ok());
  ASSERT_TRUE(rd.hard_state.has_value());
  c.core("C")->Advance();
  // Elects itself on its own timeout and commits the new config and writes.
  for (int i = 0; i < 30 && c.Leader() != "C"; ++i) c.TickAll();
  ASSERT_EQ(c.Leader(), "C");
  EXPECT_EQ(c.core("C")->term(), term + 2);
  ASSERT_TRUE(c.ProposeAt("C", "after").ok());
  c.Stabilize();
  EXPECT_EQ(c.core("C")->log().committed(), c.core("C")->log().LastIndex());
  EXPECT_EQ(c.core("C")->committed_config().opid_index(), last + 1);
  EXPECT_TRUE(c.core("C")->committed_config().unsafe_config_change());
}

// A healthy group: the change is refused on a follower (it heard from the
// leader) and on the leader itself, and changes nothing; `force` overrides.
TEST(UnsafeChangeConfigTest, RefusedWhileTheGroupHasALiveLeader) {
  Cluster c({"A", "B", "C"}, 3, 47);
  ASSERT_TRUE(c.core("A")->Campaign().ok());
  c.Stabilize();
  for (int i = 0; i < 3; ++i) c.TickAll();
  const int64_t term = c.core("C")->term();
  const int64_t last = c.core("C")->log().LastIndex();
  auto on_follower = c.core("C")->UnsafeChangeConfig(Cluster::MakeConfig({"C"}));
  EXPECT_EQ(on_follower.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(on_follower.status().message()), testing::HasSubstr("leader A"));
  auto on_leader = c.core("A")->UnsafeChangeConfig(Cluster::MakeConfig({"A"}));
  EXPECT_EQ(on_leader.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(on_leader.status().message()), testing::HasSubstr("is the leader"));
  EXPECT_EQ(c.core("C")->term(), term);
  EXPECT_EQ(c.core("C")->log().LastIndex(), last);
  EXPECT_FALSE(c.core("C")->has_pending_config());
  EXPECT_EQ(c.Leader(), "A");
  ASSERT_TRUE(c.ProposeAt("A", "still-writable").ok());
  c.Stabilize();
  EXPECT_EQ(c.core("A")->log().committed(), c.core("A")->log().LastIndex());
  // The operator insists: forced, at term + 1.
  auto forced = c.core("C")->UnsafeChangeConfig(Cluster::MakeConfig({"C"}), /*force=*/true);
  ASSERT_TRUE(forced.ok()) << forced.status();
  EXPECT_EQ(forced->term(), term + 1);
  EXPECT_EQ(c.core("C")->GetStatus().pending_config->opid_term(), term + 1);
}

TEST(UnsafeChangeConfigTest, ForcedConfigMakesEveryKeptPeerAVoter) {
  RaftConfigPB committed = Cluster::MakeConfig({"A", "B", "C"});
  auto* nv = committed.add_peers();
  nv->set_permanent_uuid("D");
  nv->set_member_type(RaftPeerPB::NON_VOTER);
  nv->mutable_attrs()->set_promote(true);
  auto forced = MakeForcedConfig(committed, {"D", "C"});
  ASSERT_TRUE(forced.ok()) << forced.status();
  ASSERT_EQ(forced->peers_size(), 2);
  EXPECT_EQ(forced->peers(0).permanent_uuid(), "C");  // committed order
  EXPECT_EQ(forced->peers(1).permanent_uuid(), "D");
  EXPECT_EQ(forced->peers(1).member_type(), RaftPeerPB::VOTER);
  EXPECT_FALSE(forced->peers(1).has_attrs());
  auto bad = MakeForcedConfig(committed, {"C", "Z"});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), testing::HasSubstr("Z"));
}

// A caught-up NON_VOTER can be the survivor: forced to a config that makes
// it a voter, it elects itself and takes writes.
TEST(UnsafeChangeConfigTest, NonVoterSurvivorElectsItselfOnceForced) {
  Cluster c({"A", "B", "C", "D"}, 3, 49);
  ASSERT_TRUE(c.core("A")->Campaign().ok());
  c.Stabilize();
  ConfigChange add;
  add.type = ChangeType::kAddNonVoter;
  add.uuid = "D";
  ASSERT_TRUE(c.core("A")->ProposeConfigChange(add).ok());
  c.Stabilize();
  ASSERT_TRUE(c.ProposeAt("A", "w").ok());
  c.Stabilize();
  for (int i = 0; i < 3; ++i) c.TickAll();
  for (const char* u : {"A", "B", "C"}) c.Crash(u);
  for (int i = 0; i < 10; ++i) c.Tick("D");
  auto forced = MakeForcedConfig(c.core("D")->committed_config(), {"D"});
  ASSERT_TRUE(forced.ok()) << forced.status();
  auto id = c.core("D")->UnsafeChangeConfig(*forced);
  ASSERT_TRUE(id.ok()) << id.status();
  for (int i = 0; i < 40 && c.Leader() != "D"; ++i) c.Tick("D"), c.Stabilize();
  ASSERT_EQ(c.Leader(), "D");
  ASSERT_TRUE(c.ProposeAt("D", "after").ok());
  c.Stabilize();
  EXPECT_EQ(c.core("D")->log().committed(), c.core("D")->log().LastIndex());
}

TEST(UnsafeChangeConfigTest, ForcedPairCanElectWithoutTheLostPeer) {
  Cluster c({"A", "B", "C", "D", "E"}, 5, 45);
  ASSERT_TRUE(c.core("A")->Campaign().ok());
  c.Stabilize();
  ASSERT_TRUE(c.ProposeAt("A", "w").ok());
  c.Stabilize();
  for (const char* u : {"A", "B", "C"}) c.Crash(u);
  for (int i = 0; i < 10; ++i) c.TickAll();  // D and E stop hearing from A
  for (const char* u : {"D", "E"}) {
    auto id = c.core(u)->UnsafeChangeConfig(Cluster::MakeConfig({"D", "E"}));
    ASSERT_TRUE(id.ok()) << id.status();
  }
  for (int i = 0; i < 60 && c.Leader().empty(); ++i) c.TickAll();
  std::string leader = c.Leader();
  ASSERT_TRUE(leader == "D" || leader == "E") << leader;
  ASSERT_TRUE(c.ProposeAt(leader, "x").ok());
  c.Stabilize();
  EXPECT_EQ(c.core(leader)->log().committed(), c.core(leader)->log().LastIndex());
  EXPECT_TRUE(c.checker().ok()) << testing::PrintToString(c.checker().violations());
}

}  // namespace
}  // namespace kmend::raft
