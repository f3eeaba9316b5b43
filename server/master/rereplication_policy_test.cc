#include "server/master/rereplication_policy.h"

#include "gtest/gtest.h"

namespace kmend::master {
namespace {

using consensus::RaftPeerPB;
using Action = RereplicationAction;

constexpr char kTablet[] = "t1";
constexpr int64_t kDelay = 1000;
constexpr int64_t kGrace = 500;
constexpr int64_t kLag = 5;

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
      Progress(u, 40, 40);
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
    RereplicationParams params;
    params.replication_factor = 3;
    params.delay_ms = kDelay;
    params.failed_grace_ms = kGrace;
    params.max_copies_per_server = 2;
    params.promote_max_lag_ops = kLag;
    return NextRereplicationStep(kTablet, config_, leader, servers_, load_, params);
  }
  // The leader's health report of peer `uuid` (in the config it reports).
  void Health(const std::string& uuid, consensus::HealthReportPB::HealthStatus h) {
    for (RaftPeerPB& p : *config_.mutable_peers()) {
      if (p.permanent_uuid() == uuid) p.mutable_health_report()->set_overall_health(h);
    }
  }
  // `uuid` reports the tablet FAILED, for `ms`.
  void Fail(const std::string& uuid, int64_t ms) {
    ReplicaView& r = servers_[uuid].replicas[kTablet];
    r.state = server::TABLET_DATA_FAILED;
    r.failed_for_ms = ms;
  }
  // `uuid`'s replica is READY, caught up (40/40) and reported HEALTHY by the
  // leader: what a finished copy looks like before its promotion.
  void CaughtUp(const std::string& uuid) {
    servers_[uuid].replicas[kTablet] = server::TABLET_DATA_READY;
    Progress(uuid, 40, 40);
    Health(uuid, consensus::HealthReportPB::HEALTHY);
  }
  // Next() is the delete of `uuid`'s FAILED replica, bounded by the config
  // at `opid`. Callers wrap it in ASSERT_NO_FATAL_FAILURE.
  void ExpectDeleteFailed(const std::string& uuid, int64_t opid) {
    Action a = Next();
    ASSERT_EQ(a.type, Action::kDeleteFailed) << a.reason;
    EXPECT_EQ(a.peer_uuid, uuid);
    EXPECT_EQ(a.peer_address, uuid + ":1");
    EXPECT_EQ(a.cas_config_opid_index, opid);
  }
  // Raft progress of `uuid`'s replica.
  void Progress(const std::string& uuid, int64_t logged, int64_t committed) {
    ReplicaView& r = servers_[uuid].replicas[kTablet];
    r.last_logged_index = logged;
    r.last_committed_index = committed;
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

TEST_F(PolicyTest, AServerInMaintenanceIsNeverDeadTooLongButAFailedReplicaStillIs) {
  Kill("c", 100 * kDelay);
  servers_["c"].in_maintenance = true;
  EXPECT_EQ(Next().type, Action::kNone);
  EXPECT_EQ(BadVoterReason(kTablet, "c", servers_, RereplicationParams{.delay_ms = kDelay}), "");
  servers_["c"].in_maintenance = false;
  EXPECT_EQ(Next().type, Action::kAddNonVoter);
  // Live but in maintenance, reporting the replica FAILED: replaced as usual.
  servers_["c"].live = true;
  servers_["c"].in_maintenance = true;
  Fail("c", kGrace);
  EXPECT_NE(Next().type, Action::kNone);
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

  CaughtUp("d");
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

TEST_F(PolicyTest, ServerWithAFullDataDirectoryIsNotATarget) {
  servers_["e"] = servers_["d"];
  servers_["e"].address = "e:1";
  load_["d"] = 1;
  load_["e"] = 9;
  servers_["d"].disk_full = true;  // the least loaded, but below its reserve
  Kill("b", kDelay);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kAddNonVoter) << a.reason;
  EXPECT_EQ(a.peer_uuid, "e");
  servers_["e"].disk_full = true;
  EXPECT_EQ(Next().type, Action::kNone);
  servers_["d"].disk_full = false;  // space freed
  EXPECT_EQ(Next().peer_uuid, "d");
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
  // d still holds the FAILED replica: it is deleted before d can be a
  // target again (the delete is bounded by the config it was judged by).
  ASSERT_NO_FATAL_FAILURE(ExpectDeleteFailed("d", 7));
  servers_["d"].replicas.erase(kTablet);
  EXPECT_EQ(Next().type, Action::kAddNonVoter);
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


// ---- Per-server copy limit.

TEST_F(PolicyTest, CopyWaitsForASlotOnItsServer) {
  Kill("c", kDelay);
  AddPeer("d", RaftPeerPB::NON_VOTER, true);
  servers_["d"].copies_running = 2;  // the limit
  Action a = Next();
  EXPECT_EQ(a.type, Action::kNone);
  EXPECT_NE(a.reason.find("copy slot"), std::string::npos) << a.reason;
  servers_["d"].copies_running = 1;
  EXPECT_EQ(Next().type, Action::kCopy);
}

TEST_F(PolicyTest, PlacementPrefersServersUnderTheCopyLimit) {
  servers_["e"] = servers_["d"];
  servers_["e"].address = "e:1";
  load_["d"] = 0;  // d is emptier, but busy with copies
  load_["e"] = 9;
  servers_["d"].copies_running = 1;
  servers_["d"].copies_waiting = 1;
  Kill("c", kDelay);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kAddNonVoter) << a.reason;
  EXPECT_EQ(a.peer_uuid, "e");
  // Every candidate at its limit: no placement; wait.
  servers_["e"].copies_waiting = 2;
  a = Next();
  EXPECT_EQ(a.type, Action::kNone);
  EXPECT_NE(a.reason.find("copy limit"), std::string::npos) << a.reason;
  EXPECT_FALSE(a.in_progress);  // no replacement under way yet
}

TEST_F(PolicyTest, ServerThatRecentlyFailedACopyOfTheTabletIsAvoided) {
  servers_["e"] = servers_["d"];
  servers_["e"].address = "e:1";
  load_["e"] = 9;
  servers_["d"].recent_copy_failures.insert(kTablet);
  Kill("c", kDelay);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kAddNonVoter) << a.reason;
  EXPECT_EQ(a.peer_uuid, "e");
  // Another tablet's failure does not count.
  servers_["e"].recent_copy_failures.insert("other");
  EXPECT_EQ(Next().peer_uuid, "e");
  // The only candidate backs off: wait, and say why.
  servers_.erase("e");
  a = Next();
  EXPECT_EQ(a.type, Action::kNone);
  EXPECT_NE(a.reason.find("failed a copy"), std::string::npos) << a.reason;
}

TEST_F(PolicyTest, RemovalOfAFailedReplacementIsMarkedAsACopyFailure) {
  Kill("c", kDelay);
  AddPeer("d", RaftPeerPB::NON_VOTER, true);
  servers_["d"].replicas[kTablet] = server::TABLET_DATA_FAILED;
  Action a = Next();
  ASSERT_EQ(a.type, Action::kRemove);
  EXPECT_TRUE(a.copy_failed);
  // A dead replacement's removal is not the copy's fault.
  servers_["d"].replicas.erase(kTablet);
  Kill("d", kDelay);
  a = Next();
  ASSERT_EQ(a.type, Action::kRemove);
  EXPECT_FALSE(a.copy_failed);
}

// ---- FAILED replicas on live servers.

TEST_F(PolicyTest, FailedVoterOnLiveServerIsReplacedAfterTheGrace) {
  Fail("c", kGrace - 1);
  EXPECT_EQ(Next().type, Action::kNone);  // within the grace
  Fail("c", kGrace);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kAddNonVoter) << a.reason;
  EXPECT_EQ(a.peer_uuid, "d");
  EXPECT_NE(a.reason.find("FAILED"), std::string::npos) << a.reason;
  // Long before the dead-server delay: the server is live and says so.
  EXPECT_LT(kGrace, kDelay);
}

TEST_F(PolicyTest, FailedVoterSequenceEndsWithItsDeletion) {
  Fail("c", kGrace);
  AddPeer("d", RaftPeerPB::NON_VOTER, true);
  config_.set_opid_index(8);
  CaughtUp("d");
  ASSERT_EQ(Next().type, Action::kPromote);
  config_.mutable_peers(3)->set_member_type(RaftPeerPB::VOTER);
  config_.mutable_peers(3)->clear_attrs();
  config_.set_opid_index(9);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kRemove) << a.reason;
  EXPECT_EQ(a.peer_uuid, "c");
  config_.mutable_peers()->DeleteSubrange(2, 1);
  config_.set_opid_index(10);
  ASSERT_NO_FATAL_FAILURE(ExpectDeleteFailed("c", 10));
  servers_["c"].replicas.erase(kTablet);
  EXPECT_EQ(Next().type, Action::kNone);
}

TEST_F(PolicyTest, FailedReplicaOnADeadServerWaitsForTheDeadDelay) {
  // Its last report said FAILED, but the server is gone: only the delay for
  // dead servers applies (it may come back repaired).
  Fail("c", kGrace * 10);
  Kill("c", kDelay - 1);
  EXPECT_EQ(Next().type, Action::kNone);
}

TEST_F(PolicyTest, LeaderIsNeverBad) {
  Fail("a", kGrace);  // an impossible report, but never act on it
  EXPECT_EQ(Next("a").type, Action::kNone);
}

// ---- Catch-up gate before promotion.

TEST_F(PolicyTest, PromotionWaitsUntilTheNonVoterCaughtUp) {
  Kill("c", kDelay);
  AddPeer("d", RaftPeerPB::NON_VOTER, true);
  config_.set_opid_index(8);
  servers_["d"].replicas[kTablet] = server::TABLET_DATA_READY;
  Health("d", consensus::HealthReportPB::HEALTHY);
  Progress("a", 100, 100);
  // Copied as of op 30: READY, but far behind the leader.
  Progress("d", 30, 30);
  Action a = Next();
  EXPECT_EQ(a.type, Action::kNone);
  EXPECT_NE(a.reason.find("catching up"), std::string::npos) << a.reason;
  EXPECT_TRUE(a.in_progress);
  // Within the lag, but it has not committed the config that added it yet.
  Progress("d", 100, 7);
  EXPECT_EQ(Next().type, Action::kNone);
  // Within the lag and following the leader.
  Progress("d", 100 - kLag, 90);
  EXPECT_EQ(Next().type, Action::kPromote);
  // One op more behind than allowed.
  Progress("d", 100 - kLag - 1, 90);
  EXPECT_EQ(Next().type, Action::kNone);
  // No committed index from the leader: no promotion.
  Progress("d", 100, 100);
  Progress("a", -1, -1);
  EXPECT_EQ(Next().type, Action::kNone);
}

TEST_F(PolicyTest, PromotionFollowsTheLeadersHealthReport) {
  Kill("c", kDelay);
  AddPeer("d", RaftPeerPB::NON_VOTER, true);
  config_.set_opid_index(8);
  servers_["d"].replicas[kTablet] = server::TABLET_DATA_READY;
  Progress("d", 40, 40);
  // Caught up by the indexes, but the leader has no (or a bad) word on it.
  Action a = Next();
  EXPECT_EQ(a.type, Action::kNone);
  EXPECT_TRUE(a.in_progress);
  Health("d", consensus::HealthReportPB::FAILED);
  EXPECT_EQ(Next().type, Action::kNone);
  Health("d", consensus::HealthReportPB::HEALTHY);
  EXPECT_EQ(Next().type, Action::kPromote);
  // The leader can no longer catch it up from its log: drop it (a new copy
  // follows), never promote it.
  Health("d", consensus::HealthReportPB::FAILED_UNRECOVERABLE);
  a = Next();
  ASSERT_EQ(a.type, Action::kRemove) << a.reason;
  EXPECT_EQ(a.peer_uuid, "d");
}

// ---- Evict-before-add, only when adding cannot make progress.

TEST_F(PolicyTest, DeadVoterIsNotEvictedEarlyWhenNoServerCanHostAReplacement) {
  servers_.erase("d");  // three servers, three voters
  Kill("c", kDelay);
  Action a = Next();
  EXPECT_EQ(a.type, Action::kNone);
  EXPECT_NE(a.reason.find("no live server"), std::string::npos) << a.reason;
}

TEST_F(PolicyTest, FailedVoterIsEvictedFirstWhenItsServerIsTheOnlyPlaceLeft) {
  servers_.erase("d");
  Fail("c", kGrace);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kRemove) << a.reason;
  EXPECT_EQ(a.peer_uuid, "c");
  config_.mutable_peers()->DeleteSubrange(2, 1);
  config_.set_opid_index(8);
  // Then: delete the leftover, after which c is a candidate again.
  ASSERT_EQ(Next().type, Action::kDeleteFailed);
  servers_["c"].replicas.erase(kTablet);
  // Two voters < 3: c, now clean, takes the replacement.
  a = Next();
  ASSERT_EQ(a.type, Action::kAddNonVoter) << a.reason;
  EXPECT_EQ(a.peer_uuid, "c");
}

TEST_F(PolicyTest, FailedVoterIsNotEvictedFirstWhileAnotherServerCanHostTheReplacement) {
  Fail("c", kGrace);
  EXPECT_EQ(Next().type, Action::kAddNonVoter);
}

// ---- A replacement that is no longer needed.

TEST_F(PolicyTest, ReplacementIsRemovedWhenEveryVoterIsHealthyAgain) {
  AddPeer("d", RaftPeerPB::NON_VOTER, true);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kRemove) << a.reason;
  EXPECT_EQ(a.peer_uuid, "d");
  // A voter whose server is merely unreachable for a moment is not healthy:
  // the replacement stays.
  servers_["c"].live = false;
  servers_["c"].millis_since_heartbeat = 10;
  EXPECT_EQ(Next().type, Action::kCopy);
  // Nor one the leader does not hear from (FAILED), whatever its server says.
  servers_["c"].live = true;
  servers_["c"].millis_since_heartbeat = 0;
  Health("c", consensus::HealthReportPB::FAILED);
  EXPECT_EQ(Next().type, Action::kCopy);
  Health("c", consensus::HealthReportPB::HEALTHY);
  EXPECT_EQ(Next().type, Action::kRemove);
}

// ---- A voter the leader can no longer catch up (needs GC'd ops).

TEST_F(PolicyTest, UnrecoverableVoterIsReplacedAddCopyPromoteThenEvicted) {
  for (const char* u : {"a", "b"}) Health(u, consensus::HealthReportPB::HEALTHY);
  Health("c", consensus::HealthReportPB::FAILED_UNRECOVERABLE);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kAddNonVoter) << a.reason;
  EXPECT_EQ(a.peer_uuid, "d");
  EXPECT_NE(a.reason.find("FAILED_UNRECOVERABLE"), std::string::npos) << a.reason;
  AddPeer("d", RaftPeerPB::NON_VOTER, true);
  config_.set_opid_index(8);
  // The bad voter keeps its replacement: the replica on c is READY on a
  // live server, but it is no help.
  ASSERT_EQ(Next().type, Action::kCopy);
  CaughtUp("d");
  a = Next();
  ASSERT_EQ(a.type, Action::kPromote) << a.reason;
  EXPECT_EQ(a.peer_uuid, "d");
  config_.mutable_peers(3)->set_member_type(RaftPeerPB::VOTER);
  config_.mutable_peers(3)->mutable_attrs()->set_promote(false);
  config_.set_opid_index(9);
  // Four voters > 3: the unrecoverable one goes.
  a = Next();
  ASSERT_EQ(a.type, Action::kRemove) << a.reason;
  EXPECT_EQ(a.peer_uuid, "c");
  EXPECT_FALSE(a.copy_failed);
  EXPECT_EQ(a.cas_config_opid_index, 9);
  config_.mutable_peers()->DeleteSubrange(2, 1);
  config_.set_opid_index(10);
  // c's READY leftover is the master's heartbeat answer's to tombstone, not
  // a DELETE of ours; nothing more to do.
  EXPECT_EQ(Next().type, Action::kNone);
}

TEST_F(PolicyTest, UnrecoverableVoterOnADeadServerWaitsForTheDeadDelay) {
  Health("c", consensus::HealthReportPB::FAILED_UNRECOVERABLE);
  Kill("c", kDelay - 1);
  EXPECT_EQ(Next().type, Action::kNone);
  servers_["c"].millis_since_heartbeat = kDelay;
  EXPECT_EQ(Next().type, Action::kAddNonVoter);
}

TEST_F(PolicyTest, OtherHealthStatesOfAVoterAreNotUnrecoverable) {
  for (auto h : {consensus::HealthReportPB::UNKNOWN, consensus::HealthReportPB::FAILED,
                 consensus::HealthReportPB::HEALTHY}) {
    Health("c", h);
    EXPECT_EQ(Next().type, Action::kNone) << consensus::HealthReportPB::HealthStatus_Name(h);
  }
}

TEST_F(PolicyTest, UnrecoverableVoterIsEvictedFirstWhenItsServerIsTheOnlyPlaceLeft) {
  servers_.erase("d");
  for (const char* u : {"a", "b"}) Health(u, consensus::HealthReportPB::HEALTHY);
  Health("c", consensus::HealthReportPB::FAILED_UNRECOVERABLE);
  Action a = Next();
  ASSERT_EQ(a.type, Action::kRemove) << a.reason;
  EXPECT_EQ(a.peer_uuid, "c");
  EXPECT_NE(a.reason.find("evicting first"), std::string::npos) << a.reason;
  config_.mutable_peers()->DeleteSubrange(2, 1);
  config_.set_opid_index(8);
  // While c still holds its READY (stale) replica, it is no target and
  // nothing is deleted by us (it is not FAILED).
  a = Next();
  EXPECT_EQ(a.type, Action::kNone) << a.reason;
  // Once tombstoned (the master's heartbeat answer), c takes the new copy.
  servers_["c"].replicas[kTablet] = server::TABLET_DATA_TOMBSTONED;
  a = Next();
  ASSERT_EQ(a.type, Action::kAddNonVoter) << a.reason;
  EXPECT_EQ(a.peer_uuid, "c");
}

TEST_F(PolicyTest, UnrecoverableVoterIsNotEvictedFirstWithoutAHealthyMajority) {
  servers_.erase("d");
  Health("c", consensus::HealthReportPB::FAILED_UNRECOVERABLE);
  // b is unreachable from the leader: only the leader would be left healthy,
  // short of a majority of 3 (the removal could not even commit) and of 2.
  Health("b", consensus::HealthReportPB::FAILED);
  Action a = Next();
  EXPECT_EQ(a.type, Action::kNone) << a.reason;
  EXPECT_NE(a.reason.find("short of a majority"), std::string::npos) << a.reason;
  // Same when b's server is down (not yet past the dead delay).
  Health("b", consensus::HealthReportPB::HEALTHY);
  Kill("b", 10);
  EXPECT_EQ(Next().type, Action::kNone);
  // With b healthy again, c goes.
  servers_["b"].live = true;
  servers_["b"].millis_since_heartbeat = 0;
  EXPECT_EQ(Next().type, Action::kRemove);
}

TEST_F(PolicyTest, TwoVotersOneUnrecoverableIsNotEvictedFirst) {
  servers_.erase("d");
  config_.mutable_peers()->DeleteSubrange(1, 1);  // voters a, c
  Health("c", consensus::HealthReportPB::FAILED_UNRECOVERABLE);
  // b holds a replica of another config: no target. Evicting c would leave
  // one voter of two, below a majority of the current config.
  Action a = Next();
  EXPECT_EQ(a.type, Action::kNone) << a.reason;
}

}  // namespace
}  // namespace kmend::master
