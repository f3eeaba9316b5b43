#include "server/master/rereplication_policy.h"

#include "gtest/gtest.h"

namespace kmend::master {
namespace {

using consensus::RaftPeerPB;
using Action = RereplicationAction;

constexpr char kTablet[] = "t1";
constexpr int64_t kDelay = 1000;

class PolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* u : {"a", "b", "c", "d"}) {
      ServerView& v = servers_[u];
      v.address = std::string(u) + ":1";
      v.live = true;
      v.reported = true;
    }
    for (const char* u : {"a", "b", "c"}) {
      AddPeer(u, RaftPeerPB::VOTER, false);
      servers_[u].replicas[kTablet] = server::TABLET_DATA_READY;
    }
    config_.set_opid_index(7);
  }
  void AddPeer(const std::string& uuid, RaftPeerPB::MemberType type, bool promote) {
    RaftPeerPB* p = config_.add_peers();
    p->set_permanent_uuid(uuid);
    p->set_member_type(type);
    if (promote) p->mutable_attrs()->set_promote(true);
  }
  void Kill(const std::string& uuid, int64_t silent_ms) {
    servers_[uuid].live = false;
    servers_[uuid].millis_since_heartbeat = silent_ms;
  }
  Action Next(const std::string& leader = "a") {
    return NextRereplicationStep(kTablet, config_, leader, 3, servers_, load_, kDelay);
  }

  consensus::RaftConfigPB config_;
  std::map<std::string, ServerView> servers_;
  std::map<std::string, int64_t> load_;
};

TEST_F(PolicyTest, HealthyTabletNeedsNothing) {
  EXPECT_EQ(Next().type, Action::kNone);
}

TEST_F(PolicyTest, DeadForLessThanTheDelayIsLeftAlone) {
  Kill("c", kDelay - 1);
  EXPECT_EQ(Next().type, Action::kNone);
}

TEST_F(PolicyTest, NoLeaderOrDeadLeaderMeansNoStep) {
  Kill("c", kDelay);
  EXPECT_EQ(Next("").type, Action::kNone);
  Kill("a", kDelay);
  EXPECT_EQ(Next("a").type, Action::kNone);
}

TEST_F(PolicyTest, UnknownServerIsNeverJudgedDead) {
  servers_.erase("c");
  EXPECT_EQ(Next().type, Action::kNone);
}

TEST_F(PolicyTest, FullSequenceAddCopyPromoteRemove) {
  Kill("c", kDelay);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kAddNonVoter) << a.reason;
  EXPECT_EQ(a.peer_uuid, "d");
  EXPECT_EQ(a.peer_address, "d:1");
  EXPECT_EQ(a.leader_uuid, "a");
  EXPECT_EQ(a.leader_address, "a:1");
  EXPECT_EQ(a.cas_config_opid_index, 7);

  AddPeer("d", RaftPeerPB::NON_VOTER, true);
  config_.set_opid_index(8);
  a = Next();
  ASSERT_EQ(a.type, Action::kCopy) << a.reason;
  EXPECT_EQ(a.peer_uuid, "d");

  servers_["d"].replicas[kTablet] = server::TABLET_DATA_COPYING;
  EXPECT_EQ(Next().type, Action::kNone);

  servers_["d"].replicas[kTablet] = server::TABLET_DATA_READY;
  a = Next();
  ASSERT_EQ(a.type, Action::kPromote) << a.reason;
  EXPECT_EQ(a.peer_uuid, "d");
  EXPECT_EQ(a.cas_config_opid_index, 8);

  config_.mutable_peers(3)->set_member_type(RaftPeerPB::VOTER);
  config_.mutable_peers(3)->clear_attrs();
  config_.set_opid_index(9);
  a = Next();
  ASSERT_EQ(a.type, Action::kRemove) << a.reason;
  EXPECT_EQ(a.peer_uuid, "c");
  EXPECT_EQ(a.cas_config_opid_index, 9);

  config_.mutable_peers()->DeleteSubrange(2, 1);
  config_.set_opid_index(10);
  EXPECT_EQ(Next().type, Action::kNone);
}

TEST_F(PolicyTest, TargetIsLeastLoadedLiveServerOutsideTheConfig) {
  servers_["e"] = servers_["d"];
  servers_["e"].address = "e:1";
  load_["d"] = 5;
  load_["e"] = 1;
  Kill("b", kDelay);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kAddNonVoter);
  EXPECT_EQ(a.peer_uuid, "e");
  // A dead or unreported server is never a target.
  Kill("e", 10);
  EXPECT_EQ(Next().peer_uuid, "d");
  servers_["d"].reported = false;
  EXPECT_EQ(Next().type, Action::kNone);
}

TEST_F(PolicyTest, ServerWithALiveReplicaOfTheTabletIsNotATarget) {
  Kill("c", kDelay);
  servers_["d"].replicas[kTablet] = server::TABLET_DATA_READY;
  EXPECT_EQ(Next().type, Action::kNone);
  // A tombstoned leftover may be overwritten by the copy.
  servers_["d"].replicas[kTablet] = server::TABLET_DATA_TOMBSTONED;
  EXPECT_EQ(Next().type, Action::kAddNonVoter);
}

TEST_F(PolicyTest, NonVoterWhoseServerDiedIsRemovedFirst) {
  Kill("c", kDelay);
  AddPeer("d", RaftPeerPB::NON_VOTER, true);
  Kill("d", kDelay);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kRemove);
  EXPECT_EQ(a.peer_uuid, "d");
}

TEST_F(PolicyTest, NonVoterWhoseCopyFailedIsRemovedAndItsServerAvoided) {
  Kill("c", kDelay);
  AddPeer("d", RaftPeerPB::NON_VOTER, true);
  servers_["d"].replicas[kTablet] = server::TABLET_DATA_FAILED;
  Action a = Next();
  ASSERT_EQ(a.type, Action::kRemove) << a.reason;
  EXPECT_EQ(a.peer_uuid, "d");
  config_.mutable_peers()->DeleteSubrange(3, 1);
  // d still holds the FAILED replica: no other target, so no step.
  EXPECT_EQ(Next().type, Action::kNone);
}

TEST_F(PolicyTest, DeadVoterIsNotRemovedWhileOnlyRVoters) {
  // Removing it first would leave 2 voters; the replacement comes first.
  Kill("c", kDelay);
  EXPECT_NE(Next().type, Action::kRemove);
}

TEST_F(PolicyTest, NonVoterWithoutPromoteIsNotOurs) {
  AddPeer("d", RaftPeerPB::NON_VOTER, false);
  servers_["d"].replicas[kTablet] = server::TABLET_DATA_READY;
  EXPECT_EQ(Next().type, Action::kNone);
}

}  // namespace
}  // namespace kmend::master
