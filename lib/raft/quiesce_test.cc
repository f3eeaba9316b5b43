// Quiescence of idle groups (core_quiesce.cc, docs/design/scale.md), driven
// tick by tick over testing/raftsim's Cluster, whose TickAll also runs the
// per-server liveness exchange (every up node pings every other per tick;
// silences of Cluster::kSilentTicks are reported to the cores).
#include <map>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "lib/raft/core.h"
#include "testing/raftsim/cluster.h"

namespace kmend::raft {
namespace {

using consensus::RaftMessagePB;
using raftsim::Cluster;

CoreOptions QuiesceOptions() {
  CoreOptions o = Cluster::DefaultOptions();
  o.quiesce = true;
  return o;
}

void MakeLeader(Cluster& c, const std::string& uuid) {
  ASSERT_TRUE(c.core(uuid)->Campaign().ok());
  c.Stabilize();
  ASSERT_EQ(c.Leader(), uuid);
}

bool AllQuiesced(Cluster& c) {
  for (const auto* n : c.nodes()) {
    if (n->up() && !n->core()->quiesced()) return false;
  }
  return true;
}

// Ticks until every up node is quiesced; false if that takes over `max`.
bool TickUntilQuiesced(Cluster& c, int max = 20) {
  for (int i = 0; i < max; ++i) {
    if (AllQuiesced(c)) return true;
    c.TickAll();
  }
  return AllQuiesced(c);
}

// Crashes `uuid` and ticks until an up node leads (at most 100 ticks);
// returns the ticks taken.
int CrashAndTickUntilALeader(Cluster& c, const std::string& uuid) {
  c.Crash(uuid);
  int ticks = 0;
  while (c.Leader().empty() && ticks < 100) {
    c.TickAll();
    ++ticks;
  }
  return ticks;
}

// Raft messages the group sends over `ticks` ticks.
int64_t MessagesOver(Cluster& c, int ticks) {
  const int64_t before = c.messages_sent();
  for (int i = 0; i < ticks; ++i) c.TickAll();
  return c.messages_sent() - before;
}

TEST(QuiesceTest, OffByDefault) {
  Cluster c({"A", "B", "C"}, 3, 1);
  MakeLeader(c, "A");
  for (int i = 0; i < 20; ++i) c.TickAll();
  EXPECT_FALSE(c.core("A")->quiesced());
  EXPECT_GT(MessagesOver(c, 10), 0);
}

TEST(QuiesceTest, IdleGroupQuiescesAndThenSendsNothing) {
  Cluster c({"A", "B", "C"}, 3, 2, QuiesceOptions());
  MakeLeader(c, "A");
  ASSERT_TRUE(TickUntilQuiesced(c)) << c.core("A")->GetStatus().ToString();
  EXPECT_TRUE(c.core("A")->GetStatus().quiesced);
  EXPECT_EQ(c.core("B")->leader_uuid(), "A");
  // Long past any election timeout: no heartbeat, no campaign, same term.
  const int64_t term = c.core("A")->term();
  EXPECT_EQ(MessagesOver(c, 100), 0);
  EXPECT_EQ(c.Leader(), "A");
  EXPECT_EQ(c.core("B")->term(), term);
  EXPECT_TRUE(AllQuiesced(c));
}

TEST(QuiesceTest, ProposalWakesReplicatesAndTheGroupQuiescesAgain) {
  Cluster c({"A", "B", "C"}, 3, 3, QuiesceOptions());
  MakeLeader(c, "A");
  ASSERT_TRUE(TickUntilQuiesced(c));
  auto id = c.ProposeAt("A", "x");
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_FALSE(c.core("A")->quiesced());
  c.Stabilize();
  for (const char* u : {"A", "B", "C"}) {
    EXPECT_GE(c.core(u)->log().committed(), id->index()) << u;
  }
  ASSERT_TRUE(TickUntilQuiesced(c));
  for (const char* u : {"B", "C"}) EXPECT_EQ(c.core(u)->log().committed(), id->index()) << u;
}

TEST(QuiesceTest, NotQuiescedWhileAFollowerLags) {
  Cluster c({"A", "B", "C"}, 3, 4, QuiesceOptions());
  MakeLeader(c, "A");
  c.Isolate("C");
  ASSERT_TRUE(c.ProposeAt("A", "x").ok());
  for (int i = 0; i < 30; ++i) {
    c.TickAll();
    EXPECT_FALSE(c.core("A")->quiesced()) << "tick " << i;
  }
  c.HealNetwork();
  EXPECT_TRUE(TickUntilQuiesced(c, 30));
}

TEST(QuiesceTest, ReadWakesTheLeaderAndTheNextAcksRenewItsLease) {
  Cluster c({"A", "B", "C"}, 3, 5, QuiesceOptions());
  MakeLeader(c, "A");
  ASSERT_TRUE(TickUntilQuiesced(c));
  // Quiesced for longer than the lease: nobody acknowledged anything since.
  for (int i = 0; i < 3 * c.core("A")->lease_ticks(); ++i) c.TickAll();
  absl::Status read = c.core("A")->CheckLeaderRead();
  EXPECT_EQ(read.code(), absl::StatusCode::kUnavailable) << read;
  c.core("A")->Wake();  // the driver does this before a leader read
  EXPECT_FALSE(c.core("A")->quiesced());
  c.Stabilize();  // the wake-up heartbeat and its acks
  EXPECT_TRUE(c.core("A")->CheckLeaderRead().ok()) << c.core("A")->CheckLeaderRead();
}

TEST(QuiesceTest, DeadLeaderServerWakesTheFollowersWhichElectANewLeader) {
  Cluster c({"A", "B", "C"}, 3, 6, QuiesceOptions());
  MakeLeader(c, "A");
  ASSERT_TRUE(TickUntilQuiesced(c));
  const int64_t term = c.core("B")->term();
  const int ticks = CrashAndTickUntilALeader(c, "A");
  ASSERT_FALSE(c.Leader().empty());
  EXPECT_GT(c.core(c.Leader())->term(), term);
  // Silence noticed after kSilentTicks, the election timer counted from the
  // last liveness message: within the randomized timeout [10, 20) plus the
  // rounds of a pre-vote and a vote.
  EXPECT_LE(ticks, 2 * QuiesceOptions().election_ticks + 2);
}

// Tablet "tablet-<t>" (its own rendezvous order and random timers): A leads,
// the group quiesces and stays quiet `quiet_ticks` more, A crashes; who
// leads then, at which term, after how many ticks.
struct TabletFailover {
  int64_t old_term = 0;
  int64_t new_term = 0;
  std::string new_leader;
  int ticks = 0;
};
TabletFailover FailOverQuiescedTablet(int t, int quiet_ticks) {
  TabletFailover f;
  CoreOptions o = QuiesceOptions();
  o.tablet_id = "tablet-" + std::to_string(t);
  Cluster c({"A", "B", "C"}, 3, 100 + t, o);
  MakeLeader(c, "A");
  EXPECT_TRUE(TickUntilQuiesced(c));
  for (int i = 0; i < quiet_ticks; ++i) c.TickAll();
  f.old_term = c.core("B")->term();
  f.ticks = CrashAndTickUntilALeader(c, "A");
  f.new_leader = c.Leader();
  if (!f.new_leader.empty()) f.new_term = c.core(f.new_leader)->term();
  return f;
}

// Successor order (ReportSilentServer): the followers of a dead quiesced
// leader learn of its death in the same tick, and agree without a message on
// who campaigns first, so the vote is not split: over many tablets (each its
// own rendezvous order, each its own random timers) the first election wins,
// one term up, and the new leaders spread over both survivors.
TEST(QuiesceTest, DeadLeadersFollowersCampaignInSuccessorOrderWithoutSplittingTheVote) {
  std::map<std::string, int> new_leaders;
  for (int t = 0; t < 200; ++t) {
    // Quiet for two election timeouts (an idle group, not a pause between
    // writes): the order applies.
    const TabletFailover f = FailOverQuiescedTablet(t, 2 * QuiesceOptions().election_ticks);
    ASSERT_FALSE(f.new_leader.empty()) << "tablet " << t;
    EXPECT_EQ(f.new_term, f.old_term + 1) << "tablet " << t << ": a split vote";
    EXPECT_LE(f.ticks, QuiesceOptions().election_ticks * 3 / 2 + 2) << "tablet " << t;
    ++new_leaders[f.new_leader];
  }
  EXPECT_GT(new_leaders["B"], 50);
  EXPECT_GT(new_leaders["C"], 50);
}

// A group that quiesced a moment before its leader died (a pause between
// writes) keeps plain random timers: another follower may still be active
// and count from the last heartbeat, and deferring to it would only lose the
// earlier of two draws. Over the same tablets as the test above, the plain
// timers' split votes are back.
TEST(QuiesceTest, AGroupQuiescedAMomentBeforeItsLeaderDiedKeepsPlainTimers) {
  int split_or_second = 0;
  for (int t = 0; t < 200; ++t) {
    const TabletFailover f = FailOverQuiescedTablet(t, /*quiet_ticks=*/0);
    ASSERT_FALSE(f.new_leader.empty()) << "tablet " << t;
    if (f.new_term > f.old_term + 1) ++split_or_second;
  }
  // The plain timers' split votes are still there: the order was not used.
  EXPECT_GT(split_or_second, 0);
}

TEST(QuiesceTest, QuiescedFollowerKeepsWaitingWhileTheLeaderServerIsHeard) {
  // The leader replica is quiesced, its server keeps answering liveness:
  // the followers' election timers stay stopped however long it lasts.
  Cluster c({"A", "B", "C"}, 3, 7, QuiesceOptions());
  MakeLeader(c, "A");
  ASSERT_TRUE(TickUntilQuiesced(c));
  for (int i = 0; i < 500; ++i) c.TickAll();
  EXPECT_EQ(c.Leader(), "A");
  EXPECT_TRUE(c.core("B")->GetStatus().leader_lease);
  EXPECT_TRUE(AllQuiesced(c));
}

TEST(QuiesceTest, PartitionedQuiescedLeaderWakesAndStepsDown) {
  Cluster c({"A", "B", "C"}, 3, 8, QuiesceOptions());
  MakeLeader(c, "A");
  ASSERT_TRUE(TickUntilQuiesced(c));
  c.Isolate("A");
  for (int i = 0; i < 60; ++i) c.TickAll();
  // A heard nobody: it woke, and check-quorum deposed it; B or C leads.
  EXPECT_NE(c.core("A")->role(), Role::kLeader);
  EXPECT_FALSE(c.Leader().empty());
  EXPECT_NE(c.Leader(), "A");
}

TEST(QuiesceTest, FollowerThatMissedTheQuiesceHeartbeatWakesTheLeaderWithoutANewTerm) {
  Cluster c({"A", "B", "C"}, 3, 9, QuiesceOptions());
  MakeLeader(c, "A");
  // Let A quiesce but lose its quiesce heartbeat to C: what a tick sends is
  // held back one time unit, so it is still queued when A has quiesced.
  for (int i = 0; i < 20 && !c.core("A")->quiesced(); ++i) {
    c.faults.delay_min = c.faults.delay_max = 1;
    c.TickAll();
    c.faults.delay_min = c.faults.delay_max = 0;
    if (c.core("A")->quiesced()) {
      c.DropQueued([](const RaftMessagePB& m) {
        return m.to_uuid() == "C" && m.has_append_request() && m.append_request().quiesce();
      });
    }
    c.Stabilize();
  }
  ASSERT_TRUE(c.core("A")->quiesced());
  ASSERT_FALSE(c.core("C")->quiesced());
  const int64_t term = c.core("A")->term();
  // C's timer runs out; its pre-vote wakes A (and A's heartbeats reach C);
  // nobody changes term, and the group quiesces again.
  for (int i = 0; i < 60; ++i) c.TickAll();
  EXPECT_EQ(c.Leader(), "A");
  EXPECT_EQ(c.core("C")->term(), term);
  EXPECT_TRUE(TickUntilQuiesced(c));
}

TEST(QuiesceTest, ConfigChangeAndTransferAndStepDownWake) {
  Cluster c({"A", "B", "C", "D"}, 3, 10, QuiesceOptions());
  MakeLeader(c, "A");
  for (int i = 0; i < 20 && !c.core("A")->quiesced(); ++i) c.TickAll();
  ASSERT_TRUE(c.core("A")->quiesced());
  ConfigChange ch;
  ch.type = ChangeType::kAddNonVoter;
  ch.uuid = "D";
  ASSERT_TRUE(c.core("A")->ProposeConfigChange(ch).ok());
  EXPECT_FALSE(c.core("A")->quiesced());
  c.Stabilize();
  ASSERT_TRUE(TickUntilQuiesced(c, 40)) << c.core("A")->GetStatus().ToString();
  EXPECT_EQ(c.core("D")->leader_uuid(), "A");  // the non-voter quiesced too

  ASSERT_TRUE(c.core("A")->TransferLeadership("B").ok());
  c.Stabilize();
  EXPECT_EQ(c.Leader(), "B");
  ASSERT_TRUE(TickUntilQuiesced(c, 40));

  // A quiesced leader that steps down wakes its followers first, so their
  // election timers run and one of them takes over.
  ASSERT_TRUE(c.core("B")->StepDown().ok());
  for (int i = 0; i < 60 && c.Leader().empty(); ++i) c.TickAll();
  EXPECT_FALSE(c.Leader().empty());
}

TEST(QuiesceTest, QuiescedFollowerRefusesToHelpDeposeALiveLeader) {
  // A quiesced follower keeps its check-quorum lease while the leader's
  // server is heard: a disruptive candidate (here: C, cut off from A only)
  // cannot win B's vote.
  Cluster c({"A", "B", "C"}, 3, 11, QuiesceOptions());
  MakeLeader(c, "A");
  ASSERT_TRUE(TickUntilQuiesced(c));
  c.Cut("A", "C");
  for (int i = 0; i < 80; ++i) c.TickAll();
  // C noticed A's silence and campaigns; B (hearing A) refuses, and A stays.
  EXPECT_EQ(c.core("A")->role(), Role::kLeader);
  EXPECT_EQ(c.core("B")->leader_uuid(), "A");
  EXPECT_EQ(c.core("B")->term(), c.core("A")->term());
}

}  // namespace
}  // namespace kmend::raft
