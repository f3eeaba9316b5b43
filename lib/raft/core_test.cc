// Unit tests of the core, one rule per test, driven message by message over
// testing/raftsim's Cluster (no clocks, no threads).
#include "lib/raft/core.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "testing/raftsim/cluster.h"

namespace kmend::raft {
namespace {

using consensus::RaftMessagePB;
using consensus::ReplicateMsg;
using raftsim::Cluster;

std::vector<std::string> Uuids(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(std::string(1, static_cast<char>('A' + i)));
  return out;
}

// Ticks until some node is leader and the cluster is quiet.
std::string ElectLeader(Cluster& c) {
  for (int i = 0; i < 200 && c.Leader().empty(); ++i) c.TickAll();
  c.Stabilize();
  return c.Leader();
}

// Makes `uuid` leader by an immediate campaign.
void MakeLeader(Cluster& c, const std::string& uuid) {
  ASSERT_TRUE(c.core(uuid)->Campaign().ok());
  c.Stabilize();
  ASSERT_EQ(c.Leader(), uuid);
}

ReplicateMsg Entry(int64_t term, int64_t index, const std::string& payload = "") {
  ReplicateMsg e;
  e.mutable_id()->set_term(term);
  e.mutable_id()->set_index(index);
  e.set_timestamp(0);
  e.set_op_type(consensus::NO_OP);
  e.mutable_noop_request()->set_payload_for_tests(payload);
  return e;
}

InitialState Initial(const std::vector<std::string>& voters, int64_t term) {
  InitialState init;
  init.hard_state.term = term;
  init.committed_config = Cluster::MakeConfig(voters);
  return init;
}

CoreOptions Options(const std::string& self) {
  CoreOptions o = Cluster::DefaultOptions();
  o.self_uuid = self;
  return o;
}

RaftMessagePB VoteRequest(const std::string& from, const std::string& to, int64_t term,
                          int64_t last_term, int64_t last_index, bool pre_vote = false) {
  RaftMessagePB m;
  m.set_type(RaftMessagePB::VOTE_REQUEST);
  m.set_tablet_id("tablet");
  m.set_from_uuid(from);
  m.set_to_uuid(to);
  m.set_term(term);
  m.mutable_vote_request()->set_pre_vote(pre_vote);
  m.mutable_vote_request()->mutable_last_logged_op_id()->set_term(last_term);
  m.mutable_vote_request()->mutable_last_logged_op_id()->set_index(last_index);
  return m;
}

const RaftMessagePB* FindMessage(const Ready& rd, RaftMessagePB::MessageType type) {
  for (const auto& m : rd.messages) {
    if (m.type() == type) return &m;
  }
  return nullptr;
}

TEST(ElectionTest, ThreeNodesElectOneLeaderWhichCommitsItsNoOp) {
  Cluster c(Uuids(3), 3, /*seed=*/1);
  std::string leader = ElectLeader(c);
  ASSERT_FALSE(leader.empty());
  const int64_t term = c.core(leader)->term();
  EXPECT_GE(term, 1);
  // Followers learn the commit index from the next heartbeat.
  for (int i = 0; i < 3; ++i) c.TickAll();
  c.Stabilize();
  for (auto* n : c.nodes()) {
    EXPECT_EQ(n->core()->term(), term) << n->uuid();
    EXPECT_EQ(n->core()->leader_uuid(), leader) << n->uuid();
    // The NO_OP at index 1 is committed and applied everywhere.
    ASSERT_EQ(n->applied().size(), 1u) << n->core()->GetStatus().ToString();
    EXPECT_EQ(n->applied()[0].op_type(), consensus::NO_OP);
    EXPECT_EQ(n->applied()[0].id().term(), term);
    EXPECT_EQ(n->hard_state().term, term);
  }
  EXPECT_TRUE(c.checker().ok()) << testing::PrintToString(c.checker().violations());
}

TEST(ElectionTest, SingleVoterElectsItselfAtOnce) {
  Cluster c(Uuids(1), 1, 3);
  ASSERT_TRUE(c.core("A")->Campaign().ok());
  c.Stabilize();
  EXPECT_EQ(c.core("A")->role(), Role::kLeader);
  EXPECT_EQ(c.core("A")->log().committed(), 1);
}

TEST(ElectionTest, VoteRejectedForStaleLog) {
  MemoryLogStorage storage;
  ASSERT_TRUE(storage.Append({Entry(1, 1), Entry(2, 2)}).ok());
  auto core = RaftCore::Create(Options("A"), Initial({"A", "B", "C"}, 2), &storage);
  ASSERT_TRUE(core.ok()) << core.status();
  // B's last op 1.5 is older than our 2.2 (lower last term, though longer).
  ASSERT_TRUE((*core)->Step(VoteRequest("B", "A", 3, 1, 5)).ok());
  Ready rd = (*core)->GetReady();
  const RaftMessagePB* r = FindMessage(rd, RaftMessagePB::VOTE_RESPONSE);
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->vote_response().granted());
  // The higher term was adopted all the same, with no vote.
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, 3);
  EXPECT_EQ(rd.hard_state->voted_for, "");
  (*core)->Advance();

  // Same last term but shorter log: rejected too.
  ASSERT_TRUE((*core)->Step(VoteRequest("C", "A", 3, 2, 1)).ok());
  rd = (*core)->GetReady();
  r = FindMessage(rd, RaftMessagePB::VOTE_RESPONSE);
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->vote_response().granted());
  (*core)->Advance();

  // An up-to-date candidate gets the vote, persisted before the response.
  ASSERT_TRUE((*core)->Step(VoteRequest("C", "A", 3, 2, 2)).ok());
  rd = (*core)->GetReady();
  r = FindMessage(rd, RaftMessagePB::VOTE_RESPONSE);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->vote_response().granted());
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->voted_for, "C");
  (*core)->Advance();

  // One vote per term: B is refused even with a better log.
  ASSERT_TRUE((*core)->Step(VoteRequest("B", "A", 3, 3, 9)).ok());
  rd = (*core)->GetReady();
  r = FindMessage(rd, RaftMessagePB::VOTE_RESPONSE);
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->vote_response().granted());
}

TEST(ElectionTest, HigherTermMakesLeaderStepDown) {
  Cluster c(Uuids(3), 3, 5);
  MakeLeader(c, "A");
  const int64_t term = c.core("A")->term();
  RaftMessagePB m;
  m.set_type(RaftMessagePB::APPEND_RESPONSE);
  m.set_tablet_id("tablet");
  m.set_from_uuid("B");
  m.set_to_uuid("A");
  m.set_term(term + 5);
  m.mutable_append_response()->set_success(false);
  ASSERT_TRUE(c.core("A")->Step(m).ok());
  EXPECT_EQ(c.core("A")->role(), Role::kFollower);
  EXPECT_EQ(c.core("A")->term(), term + 5);
  Ready rd = c.core("A")->GetReady();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->term, term + 5);
}

// The events a server logs (Ready::events, core_events.cc) tell an election
// step by step: who campaigned and why, how each round ended, who won, who
// stepped down and why, whom the others follow.
TEST(EventsTest, ElectionsAndStepDownsAreToldStepByStep) {
  using ::testing::AllOf;
  using ::testing::Contains;
  using ::testing::HasSubstr;
  Cluster c(Uuids(3), 3, 11);
  MakeLeader(c, "A");
  EXPECT_THAT(c.node("A").TakeEvents(),
              AllOf(Contains(AllOf(HasSubstr("starting pre-election for term 1"),
                                   HasSubstr("asked to campaign"))),
                    Contains(AllOf(HasSubstr("starting election for term 1"),
                                   HasSubstr("won the pre-election: granted by"))),
                    Contains(HasSubstr("won the election for term 1"))));
  EXPECT_THAT(c.node("B").TakeEvents(), Contains(HasSubstr("following leader A in term 1")));

  // A is cut off: it steps down (check-quorum), campaigns alone and loses;
  // B or C wins term 2 after an election timeout.
  c.Isolate("A");
  for (int i = 0; i < 400 && (c.Leader().empty() || c.Leader() == "A"); ++i) c.TickAll();
  for (int i = 0; i < 100; ++i) c.TickAll();
  const std::string winner = c.Leader();
  ASSERT_TRUE(winner == "B" || winner == "C") << winner;
  std::vector<std::string> a = c.node("A").TakeEvents();
  EXPECT_THAT(a, Contains(HasSubstr("stepping down as leader of term 1: no answer from a "
                                    "majority of voters within an election timeout")));
  EXPECT_THAT(a, Contains(AllOf(HasSubstr("pre-election for term 2 lost"),
                                HasSubstr("no answer from B, C"))));
  EXPECT_THAT(c.node(winner).TakeEvents(),
              AllOf(Contains(AllOf(HasSubstr("starting pre-election for term 2"),
                                   HasSubstr("no leader for an election timeout of"))),
                    Contains(HasSubstr("won the election for term 2"))));
  const std::string other = winner == "B" ? "C" : "B";
  EXPECT_THAT(c.node(other).TakeEvents(),
              Contains(HasSubstr("following leader " + winner + " in term 2")));
}

TEST(ElectionTest, PreVoteDoesNotBumpTermsOfAnIsolatedNode) {
  Cluster c(Uuids(3), 3, 7);
  MakeLeader(c, "A");
  const int64_t term = c.core("A")->term();
  c.Isolate("C");
  for (int i = 0; i < 100; ++i) c.TickAll();
  // C campaigned many times but only with pre-votes: its term never moved.
  EXPECT_EQ(c.core("C")->term(), term);
  EXPECT_NE(c.core("C")->role(), Role::kLeader);
  c.HealNetwork();
  for (int i = 0; i < 50; ++i) c.TickAll();
  // Rejoining didn't disrupt the leader.
  EXPECT_EQ(c.Leader(), "A");
  EXPECT_EQ(c.core("A")->term(), term);
  EXPECT_EQ(c.core("C")->leader_uuid(), "A");
}

// Ticks `uuid` alone (nothing delivered to or from it) and returns the
// ticks between its first `n` campaigns (vote requests sent); the first
// counts from the call.
std::vector<int> CampaignGaps(Cluster& c, const std::string& uuid, size_t n) {
  RaftCore* core = c.core(uuid);
  std::vector<int> gaps;
  int since = 0;
  for (int t = 0; t < 100000 && gaps.size() < n; ++t) {
    core->Tick();
    ++since;
    if (!core->HasReady()) continue;
    Ready rd = core->GetReady();
    if (FindMessage(rd, RaftMessagePB::VOTE_REQUEST) != nullptr) {
      gaps.push_back(since);
      since = 0;
    }
    core->Advance();
  }
  return gaps;
}

TEST(ElectionTest, ElectionTimeoutBacksOffWhileNoLeaderIsFoundAndResetsOnceOneIs) {
  Cluster c(Uuids(3), 3, 7);
  MakeLeader(c, "A");
  const int e = Options("C").election_ticks;
  const int cap = Options("C").max_election_backoff;
  ASSERT_EQ(cap, 4);
  // C hears nothing: after its first campaign, the next two timeouts are
  // plain [E, 2E); then [2E, 4E), then [4E, 8E) and no further.
  std::vector<int> gaps = CampaignGaps(c, "C", 7);
  ASSERT_EQ(gaps.size(), 7u);
  for (size_t i : {1, 2}) {
    EXPECT_GE(gaps[i], e) << i;
    EXPECT_LT(gaps[i], 2 * e) << i;
  }
  EXPECT_GE(gaps[3], 2 * e);
  EXPECT_LT(gaps[3], 4 * e);
  for (size_t i : {4, 5, 6}) {
    EXPECT_GE(gaps[i], 4 * e) << i;
    EXPECT_LT(gaps[i], 8 * e) << i;
  }
  // Back in touch with the leader: C knows it again, and the backoff is gone,
  // also from the timeout C drew on learning of the leader (the first gap:
  // C is the follower that must replace A if A is cut off now). It once kept
  // a backed-off timeout drawn then, and the nemesis soak saw failovers of
  // 3-15 s whenever the up-to-date follower had been cut off a step before.
  for (int i = 0; i < 100; ++i) c.TickAll();
  c.Stabilize();
  ASSERT_EQ(c.core("C")->leader_uuid(), "A");
  gaps = CampaignGaps(c, "C", 3);
  ASSERT_EQ(gaps.size(), 3u);
  EXPECT_LT(gaps[0], 2 * e);
  EXPECT_LT(gaps[1], 2 * e);
  EXPECT_LT(gaps[2], 2 * e);
}

// Without pre-vote, a candidate with a stale log campaigns again every
// timeout. The replica holding the newest log moves to each new term but
// keeps its election timer (it restarts only on a leader's append or a
// granted vote), so it campaigns in time and wins; restarting the timer on
// every term bump kept it from ever campaigning (raftsim seeds 2811, 100507).
TEST(ElectionTest, RejectedVoteRequestsDoNotRestartTheElectionTimer) {
  MemoryLogStorage storage;
  ASSERT_TRUE(storage.Append({Entry(1, 1, "a"), Entry(1, 2, "b")}).ok());
  CoreOptions o = Options("B");
  o.pre_vote = false;
  auto core = RaftCore::Create(o, Initial({"A", "B", "C"}, 1), &storage);
  ASSERT_TRUE(core.ok());
  RaftCore& b = **core;
  int64_t term = 1;
  bool campaigned = false;
  // A stale candidate (log 1.1) asks every election_ticks - 1 ticks.
  for (int t = 1; t <= 8 * o.election_ticks * o.max_election_backoff && !campaigned; ++t) {
    b.Tick();
    (void)b.GetReady();
    b.Advance();
    if (b.role() == Role::kCandidate) campaigned = true;
    if (t % (o.election_ticks - 1) == 0 && !campaigned) {
      ASSERT_TRUE(b.Step(VoteRequest("C", "B", ++term, 1, 1)).ok());
      Ready rd = b.GetReady();
      const RaftMessagePB* r = FindMessage(rd, RaftMessagePB::VOTE_RESPONSE);
      ASSERT_NE(r, nullptr);
      EXPECT_FALSE(r->vote_response().granted());
      b.Advance();
    }
  }
  EXPECT_TRUE(campaigned) << "B never campaigned";
}

TEST(ElectionTest, PreVoteRequestLeavesReceiverTermAlone) {
  MemoryLogStorage storage;
  auto core = RaftCore::Create(Options("A"), Initial({"A", "B", "C"}, 4), &storage);
  ASSERT_TRUE(core.ok());
  ASSERT_TRUE((*core)->Step(VoteRequest("B", "A", 5, 0, 0, /*pre_vote=*/true)).ok());
  EXPECT_EQ((*core)->term(), 4);
  Ready rd = (*core)->GetReady();
  EXPECT_FALSE(rd.hard_state.has_value());
  const RaftMessagePB* r = FindMessage(rd, RaftMessagePB::VOTE_RESPONSE);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->vote_response().pre_vote());
  EXPECT_TRUE(r->vote_response().granted());
  EXPECT_EQ(r->term(), 5);
}

TEST(ElectionTest, LeaderLeaseIgnoresDisruptiveVoteRequests) {
  Cluster c(Uuids(3), 3, 9);
  MakeLeader(c, "A");
  const int64_t term = c.core("A")->term();
  // B heard from A just now: a vote request at a higher term is ignored.
  ASSERT_TRUE(c.core("B")->Step(VoteRequest("C", "B", term + 1, term, 100)).ok());
  EXPECT_EQ(c.core("B")->term(), term);
  EXPECT_EQ(c.core("B")->leader_uuid(), "A");
}

TEST(ReplicationTest, TruncatesConflictingSuffix) {
  // A follower with entries 1.1, 1.2, 1.3 (2 and 3 uncommitted) receives
  // from a term-2 leader entry 2.2 after 1.1.
  MemoryLogStorage storage;
  ASSERT_TRUE(storage.Append({Entry(1, 1, "a"), Entry(1, 2, "b"), Entry(1, 3, "c")}).ok());
  auto core = RaftCore::Create(Options("B"), Initial({"A", "B", "C"}, 1), &storage);
  ASSERT_TRUE(core.ok());
  RaftMessagePB m;
  m.set_type(RaftMessagePB::APPEND_REQUEST);
  m.set_tablet_id("tablet");
  m.set_from_uuid("A");
  m.set_to_uuid("B");
  m.set_term(2);
  auto* req = m.mutable_append_request();
  req->mutable_preceding_op_id()->set_term(1);
  req->mutable_preceding_op_id()->set_index(1);
  *req->add_entries() = Entry(2, 2, "x");
  req->set_committed_index(1);
  ASSERT_TRUE((*core)->Step(m).ok());
  Ready rd = (*core)->GetReady();
  ASSERT_TRUE(rd.truncate_after.has_value());
  EXPECT_EQ(*rd.truncate_after, 1);
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(rd.entries[0].id().term(), 2);
  EXPECT_EQ(rd.entries[0].id().index(), 2);
  const RaftMessagePB* r = FindMessage(rd, RaftMessagePB::APPEND_RESPONSE);
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->append_response().success());
  EXPECT_EQ(r->append_response().last_index(), 2);
  // Apply the Ready as a driver would.
  ASSERT_TRUE(storage.TruncateAfter(*rd.truncate_after).ok());
  ASSERT_TRUE(storage.Append(rd.entries).ok());
  (*core)->Advance();
  EXPECT_EQ(storage.LastIndex(), 2);
  EXPECT_EQ((*core)->log().LastIndex(), 2);
  EXPECT_FALSE((*core)->log().PendingTruncation().has_value());

  // A duplicate of the same request must not truncate anything again.
  ASSERT_TRUE((*core)->Step(m).ok());
  rd = (*core)->GetReady();
  EXPECT_FALSE(rd.truncate_after.has_value());
  EXPECT_TRUE(rd.entries.empty());
}

// The leader tells caught-up followers a new commit index at once (not at
// the next heartbeat), and they do not answer it: the answer would say
// nothing new and cost a message per follower per write. A follower that
// cannot accept it still answers (a rejection the leader must see).
TEST(ReplicationTest, CommitAnnouncementIsSentAtOnceAndNotAnswered) {
  Cluster c(Uuids(3), 3, /*seed=*/5);
  const std::string leader = ElectLeader(c);
  ASSERT_FALSE(leader.empty());
  for (int i = 0; i < 3; ++i) c.TickAll();
  c.Stabilize();
  ASSERT_TRUE(c.Queued().empty());

  auto op = c.ProposeAt(leader, "x");
  ASSERT_TRUE(op.ok()) << op.status();
  c.ProcessReadies();
  std::vector<RaftMessagePB> q = c.Queued();
  ASSERT_EQ(q.size(), 2u);  // the appends
  for (const auto& m : q) {
    EXPECT_EQ(m.append_request().entries_size(), 1);
    EXPECT_FALSE(m.append_request().no_ack());
  }
  c.DeliverDue(1);  // followers persist and acknowledge
  q = c.Queued();
  ASSERT_EQ(q.size(), 2u);
  for (const auto& m : q) EXPECT_EQ(m.type(), RaftMessagePB::APPEND_RESPONSE);
  c.DeliverDue(1);  // the leader commits and announces it
  EXPECT_EQ(c.core(leader)->log().committed(), op->index());
  q = c.Queued();
  ASSERT_EQ(q.size(), 2u);
  for (const auto& m : q) {
    EXPECT_EQ(m.type(), RaftMessagePB::APPEND_REQUEST);
    EXPECT_EQ(m.append_request().entries_size(), 0);
    EXPECT_EQ(m.append_request().committed_index(), op->index());
    EXPECT_TRUE(m.append_request().no_ack());
  }
  c.DeliverDue(1);
  EXPECT_TRUE(c.Queued().empty()) << "a follower answered a commit announcement";
  for (auto* n : c.nodes()) {
    EXPECT_EQ(n->core()->log().committed(), op->index()) << n->uuid();
  }

  // Another write; this time one follower's announcement does not match its
  // log (as if the follower had lost what it acknowledged): it must answer.
  auto op2 = c.ProposeAt(leader, "y");
  ASSERT_TRUE(op2.ok());
  c.ProcessReadies();
  c.DeliverDue(1);
  c.DeliverDue(1);
  q = c.Queued();
  ASSERT_EQ(q.size(), 2u);
  const std::string victim = q[0].to_uuid();
  c.MutateQueued([&](RaftMessagePB* m) {
    if (m->to_uuid() == victim) m->mutable_append_request()->mutable_preceding_op_id()->set_term(99);
  });
  c.DeliverDue(1);
  q = c.Queued();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].type(), RaftMessagePB::APPEND_RESPONSE);
  EXPECT_EQ(q[0].from_uuid(), victim);
  EXPECT_FALSE(q[0].append_response().success());
  c.Stabilize();
  EXPECT_TRUE(c.checker().ok()) << testing::PrintToString(c.checker().violations());
}

TEST(ReplicationTest, RejectionCarriesConflictHint) {
  MemoryLogStorage storage;
  ASSERT_TRUE(storage.Append({Entry(1, 1), Entry(1, 2), Entry(3, 3), Entry(3, 4)}).ok());
  auto core = RaftCore::Create(Options("B"), Initial({"A", "B", "C"}, 3), &storage);
  ASSERT_TRUE(core.ok());
  RaftMessagePB m;
  m.set_type(RaftMessagePB::APPEND_REQUEST);
  m.set_tablet_id("tablet");
  m.set_from_uuid("A");
  m.set_term(4);
  m.mutable_append_request()->mutable_preceding_op_id()->set_term(2);
  m.mutable_append_request()->mutable_preceding_op_id()->set_index(6);
  ASSERT_TRUE((*core)->Step(m).ok());
  Ready rd = (*core)->GetReady();
  const RaftMessagePB* r = FindMessage(rd, RaftMessagePB::APPEND_RESPONSE);
  ASSERT_NE(r, nullptr);
  EXPECT_FALSE(r->append_response().success());
  EXPECT_EQ(r->append_response().rejected_index(), 6);
  // Largest index <= 6 whose term <= 2: index 2 (term 1).
  EXPECT_EQ(r->append_response().hint_index(), 2);
  EXPECT_EQ(r->append_response().hint_term(), 1);
}

TEST(ReplicationTest, NoCommitOfPreviousTermEntriesByCounting) {
  // A has an uncommitted entry from term 1 at index 2; it becomes leader at
  // term 2 and appends its NO_OP at 3.
  Cluster c(Uuids(3), 3, 11);
  ASSERT_TRUE(c.node("A").mutable_storage()->Append({Entry(1, 1), Entry(1, 2)}).ok());
  c.Crash("A");
  c.Restart("A");
  ASSERT_TRUE(c.core("A")->Campaign().ok());
  // Deliver only the election, not the appends.
  for (int i = 0; i < 10 && c.core("A")->role() != Role::kLeader; ++i) {
    c.ProcessReadies();
    c.DropQueued([](const RaftMessagePB& m) { return m.type() == RaftMessagePB::APPEND_REQUEST; });
    c.DeliverDue(1);
  }
  ASSERT_EQ(c.core("A")->role(), Role::kLeader);
  const int64_t term = c.core("A")->term();
  c.ProcessReadies();
  c.DropQueued([](const RaftMessagePB&) { return true; });
  ASSERT_EQ(c.core("A")->log().LastIndex(), 3);
  ASSERT_EQ(c.core("A")->log().TermOrZero(2), 1);
  const int64_t commit_before = c.core("A")->log().committed();
  // B acknowledges index 2 (the term-1 entry): a majority holds it, but it
  // is not of the current term, so nothing commits.
  RaftMessagePB ack;
  ack.set_type(RaftMessagePB::APPEND_RESPONSE);
  ack.set_tablet_id("tablet");
  ack.set_from_uuid("B");
  ack.set_to_uuid("A");
  ack.set_term(term);
  ack.mutable_append_response()->set_success(true);
  ack.mutable_append_response()->set_last_index(2);
  ASSERT_TRUE(c.core("A")->Step(ack).ok());
  EXPECT_EQ(c.core("A")->log().committed(), commit_before);
  EXPECT_LT(c.core("A")->log().committed(), 2);
  // Once B holds the NO_OP of term `term`, everything through 3 commits.
  ack.mutable_append_response()->set_last_index(3);
  ASSERT_TRUE(c.core("A")->Step(ack).ok());
  EXPECT_EQ(c.core("A")->log().committed(), 3);
}

TEST(ReplicationTest, LaggingFollowerCatchesUpFromAnyPoint) {
  Cluster c(Uuids(3), 3, 13);
  MakeLeader(c, "A");
  c.Crash("C");
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(c.ProposeAt("A", "p" + std::to_string(i)).ok());
    if (i % 7 == 0) c.Stabilize();
  }
  c.Stabilize();
  c.Restart("C");
  for (int i = 0; i < 30; ++i) c.TickAll();
  c.Stabilize();
  const int64_t last = c.core("A")->log().LastIndex();
  EXPECT_EQ(c.core("C")->log().LastIndex(), last);
  EXPECT_EQ(c.core("C")->log().committed(), c.core("A")->log().committed());
  EXPECT_EQ(c.node("C").applied().size(), static_cast<size_t>(last));
  EXPECT_TRUE(c.checker().ok()) << testing::PrintToString(c.checker().violations());
}

TEST(ReplicationTest, SignalsTabletCopyWhenLogNoLongerHasWhatFollowerNeeds) {
  Cluster c(Uuids(3), 3, 15);
  MakeLeader(c, "A");
  c.Crash("C");
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(c.ProposeAt("A", "p" + std::to_string(i)).ok());
  c.Stabilize();
  // GC the leader's log past what C has.
  ASSERT_TRUE(c.node("A").CompactThrough(15).ok());
  c.Restart("C");
  for (int i = 0; i < 10; ++i) c.TickAll();
  ASSERT_THAT(c.node("A").tablet_copy_requests(), testing::Contains("C"));
  RaftStatus st = c.core("A")->GetStatus();
  bool found = false;
  for (const PeerStatus& p : st.peers) {
    if (p.uuid == "C") {
      found = true;
      EXPECT_EQ(p.state, PeerStatus::State::kNeedsTabletCopy);
      EXPECT_EQ(p.health, consensus::HealthReportPB::FAILED_UNRECOVERABLE);
    }
  }
  EXPECT_TRUE(found);
  // The caller does the tablet copy; replication then resumes.
  c.Crash("C");
  c.node("C").InstallTabletCopy(c.node("A"));
  c.Restart("C");
  ASSERT_TRUE(c.ProposeAt("A", "after-copy").ok());
  for (int i = 0; i < 20; ++i) c.TickAll();
  c.Stabilize();
  EXPECT_EQ(c.core("C")->log().LastIndex(), c.core("A")->log().LastIndex());
  EXPECT_EQ(c.core("C")->log().committed(), c.core("A")->log().committed());
  EXPECT_TRUE(c.checker().ok()) << testing::PrintToString(c.checker().violations());
}

TEST(ReplicationTest, CheckQuorumStepsDownAnIsolatedLeader) {
  Cluster c(Uuids(3), 3, 17);
  MakeLeader(c, "A");
  c.Isolate("A");
  for (int i = 0; i < 25; ++i) c.TickAll();
  EXPECT_NE(c.core("A")->role(), Role::kLeader);
  EXPECT_FALSE(c.Leader().empty());
  EXPECT_NE(c.Leader(), "A");
  EXPECT_TRUE(c.ProposeAt("A", "x").status().code() == absl::StatusCode::kFailedPrecondition);
}

// Ticks of an isolated leader until it steps down, with `servers_heard`
// standing in for the caller's per-server liveness (nullptr: none).
int TicksUntilStepDown(const std::function<bool(const std::string&)>& servers_heard) {
  raft::CoreOptions o = Cluster::DefaultOptions();
  o.server_heard_recently = servers_heard;
  Cluster c(Uuids(3), 3, 29, o);
  MakeLeader(c, "A");
  c.Isolate("A");
  for (int i = 1; i <= 60; ++i) {
    c.core("A")->Tick();
    if (c.core("A")->role() != Role::kLeader) return i;
  }
  return -1;
}

// Check-quorum's second window: a leader whose group goes unanswered while a
// majority of its voters' servers are still heard (a busy server after a
// peer's restart, not a partition) steps down one election timeout later;
// one cut off from the servers too steps down as before.
TEST(ReplicationTest, CheckQuorumGivesASecondWindowWhenTheVotersServersAreHeard) {
  const int plain = TicksUntilStepDown(nullptr);
  ASSERT_GT(plain, 0);
  ASSERT_LE(plain, 20);
  EXPECT_EQ(TicksUntilStepDown([](const std::string&) { return false; }), plain);
  EXPECT_EQ(TicksUntilStepDown([](const std::string&) { return true; }), plain + 10);
  // One heard server (of two peers) and self make a majority of three.
  EXPECT_EQ(TicksUntilStepDown([](const std::string& u) { return u == "B"; }), plain + 10);
}

// The grace is one window per failure, not one per term: a window that
// passes in between earns it again, and two failed windows in a row end it.
TEST(ReplicationTest, CheckQuorumGraceIsOneWindowAndComesBackAfterAPassingOne) {
  auto heard = [](const std::string&) { return true; };
  // Same seed and set-up as TicksUntilStepDown: the grace is used `grace`
  // ticks into the isolation, and the leader steps down 10 ticks later.
  const int grace = TicksUntilStepDown(heard) - 10;
  ASSERT_GT(grace, 0);
  raft::CoreOptions o = Cluster::DefaultOptions();
  o.server_heard_recently = heard;
  Cluster c(Uuids(3), 3, 29, o);
  MakeLeader(c, "A");
  for (int round = 0; round < 3; ++round) {
    // Cut off past its first failed window: forgiven.
    c.Isolate("A");
    for (int i = 0; i < grace + 5; ++i) c.Tick("A");
    ASSERT_EQ(c.core("A")->role(), Role::kLeader) << "round " << round;
    // Answered again before the next window ends; healed long enough to come
    // back to the same phase, so the next isolation fails the same windows.
    c.HealNetwork();
    for (int i = 0; i < 30 - (grace + 5) % 10; ++i) c.TickAll();
    ASSERT_EQ(c.Leader(), "A") << "round " << round;
  }
  c.Isolate("A");
  for (int i = 0; i < grace + 10; ++i) c.Tick("A");
  EXPECT_NE(c.core("A")->role(), Role::kLeader) << "two failed windows in a row must depose it";
}

// After a stall the driver hands a leader every tick it missed, in one
// burst with no message handled in between. Check-quorum judges only at real
// ticks: a burst of three election timeouts does not depose a leader whose
// followers answered before the stall, while real ticks without answers do.
TEST(ReplicationTest, ReplayedTicksDoNotDeposeALeaderWhoseFollowersAnswered) {
  Cluster c(Uuids(3), 3, 23);
  MakeLeader(c, "A");
  for (int i = 0; i < 3; ++i) c.TickAll();  // B and C answer heartbeats
  RaftCore* a = c.core("A");
  for (int i = 0; i < 3 * 10; ++i) a->ReplayTick();
  EXPECT_EQ(a->role(), Role::kLeader) << "deposed by ticks no answer could have met";
  EXPECT_FALSE(a->CheckLeaderRead().ok()) << "the lease must lapse with the replayed time";
  a->Tick();  // judges the window with the answers from before the stall
  EXPECT_EQ(a->role(), Role::kLeader);
  c.DropQueued([](const RaftMessagePB&) { return true; });
  c.Isolate("A");
  for (int i = 0; i < 25 && a->role() == Role::kLeader; ++i) a->Tick();
  EXPECT_NE(a->role(), Role::kLeader) << "real ticks without answers must depose it";
}

TEST(ReplicationTest, RestartFromPersistedStateReappliesTheSameEntries) {
  Cluster c(Uuids(3), 3, 19);
  MakeLeader(c, "B");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(c.ProposeAt("B", "p" + std::to_string(i)).ok());
  c.Stabilize();
  for (int i = 0; i < 3; ++i) c.TickAll();
  std::vector<std::string> before;
  for (const auto& e : c.node("A").applied()) before.push_back(raftsim::EntryKey(e));
  for (const char* u : {"A", "B", "C"}) c.Crash(u);
  for (const char* u : {"A", "B", "C"}) c.Restart(u);
  std::string leader = ElectLeader(c);
  ASSERT_FALSE(leader.empty());
  for (int i = 0; i < 5; ++i) c.TickAll();
  const auto& after = c.node("A").applied();
  ASSERT_GE(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(raftsim::EntryKey(after[i]), before[i]);
  EXPECT_TRUE(c.checker().ok()) << testing::PrintToString(c.checker().violations());
}

TEST(LeadershipTransferTest, TransfersToCaughtUpVoter) {
  Cluster c(Uuids(3), 3, 21);
  MakeLeader(c, "A");
  const int64_t term = c.core("A")->term();
  ASSERT_TRUE(c.core("A")->TransferLeadership("C").ok());
  // Proposals are refused while the transfer is in flight.
  EXPECT_EQ(c.ProposeAt("A", "x").status().code(), absl::StatusCode::kUnavailable);
  c.Stabilize();
  EXPECT_EQ(c.Leader(), "C");
  EXPECT_EQ(c.core("C")->term(), term + 1);
  EXPECT_EQ(c.core("A")->role(), Role::kFollower);
}

TEST(LeadershipTransferTest, RejectsNonVoterAndSelf) {
  Cluster c(Uuids(3), 3, 23);
  MakeLeader(c, "A");
  EXPECT_EQ(c.core("A")->TransferLeadership("A").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.core("A")->TransferLeadership("Z").code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(c.core("B")->TransferLeadership("C").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(LeadershipTest, StepDownLeavesTermAndLetsSomeoneLead) {
  Cluster c(Uuids(3), 3, 25);
  MakeLeader(c, "A");
  const int64_t term = c.core("A")->term();
  ASSERT_TRUE(c.core("A")->StepDown().ok());
  EXPECT_EQ(c.core("A")->role(), Role::kFollower);
  EXPECT_EQ(c.core("A")->term(), term);
  EXPECT_FALSE(ElectLeader(c).empty());
  // Who leads is read before A is asked to step down: the two sides of one
  // EXPECT_EQ run in an unspecified order (clang and gcc differ).
  const bool a_leads = c.Leader() == "A";
  EXPECT_EQ(c.core("A")->StepDown().code() == absl::StatusCode::kFailedPrecondition, !a_leads);
}

TEST(MessageValidationTest, MalformedMessagesAreRejectedNotFatal) {
  MemoryLogStorage storage;
  auto core = RaftCore::Create(Options("A"), Initial({"A", "B", "C"}, 1), &storage);
  ASSERT_TRUE(core.ok());
  RaftMessagePB m;
  EXPECT_EQ((*core)->Step(m).code(), absl::StatusCode::kInvalidArgument);
  m.set_type(RaftMessagePB::APPEND_REQUEST);
  m.set_term(1);
  m.set_from_uuid("B");
  EXPECT_EQ((*core)->Step(m).code(), absl::StatusCode::kInvalidArgument);  // no body
  m.mutable_append_request()->mutable_preceding_op_id()->set_index(0);
  m.mutable_append_request()->mutable_preceding_op_id()->set_term(0);
  *m.mutable_append_request()->add_entries() = Entry(1, 5);  // not consecutive
  EXPECT_EQ((*core)->Step(m).code(), absl::StatusCode::kInvalidArgument);
  m.set_to_uuid("Q");
  EXPECT_EQ((*core)->Step(m).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ((*core)->log().LastIndex(), 0);
}

TEST(CreateTest, RejectsInconsistentPersistedState) {
  MemoryLogStorage storage;
  ASSERT_TRUE(storage.Append({Entry(1, 1)}).ok());
  InitialState init = Initial({"A", "B", "C"}, 1);
  init.committed_config.set_opid_index(5);
  EXPECT_EQ(RaftCore::Create(Options("A"), init, &storage).status().code(),
            absl::StatusCode::kFailedPrecondition);
  init = Initial({"A", "B", "C"}, 1);
  init.applied_index = 2;
  EXPECT_EQ(RaftCore::Create(Options("A"), init, &storage).status().code(),
            absl::StatusCode::kFailedPrecondition);
  CoreOptions bad = Options("A");
  bad.heartbeat_ticks = 10;
  EXPECT_EQ(RaftCore::Create(bad, Initial({"A"}, 1), &storage).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = Options("A");
  bad.max_election_backoff = 0;
  EXPECT_EQ(RaftCore::Create(bad, Initial({"A"}, 1), &storage).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(StatusTest, ReportsRoleTermLogAndPeerProgress) {
  Cluster c(Uuids(3), 3, 27);
  MakeLeader(c, "A");
  ASSERT_TRUE(c.ProposeAt("A", "x").ok());
  c.Stabilize();
  RaftStatus st = c.core("A")->GetStatus();
  EXPECT_EQ(st.role, Role::kLeader);
  EXPECT_EQ(st.leader_uuid, "A");
  EXPECT_EQ(st.last_logged.index(), 2);
  EXPECT_EQ(st.committed.index(), 2);
  EXPECT_EQ(st.applied_index, 2);
  ASSERT_EQ(st.peers.size(), 3u);
  for (const PeerStatus& p : st.peers) {
    EXPECT_EQ(p.match_index, 2) << p.uuid;
    EXPECT_TRUE(p.voter);
    EXPECT_EQ(p.health, consensus::HealthReportPB::HEALTHY);
  }
  EXPECT_FALSE(st.pending_config.has_value());
  EXPECT_THAT(st.ToString(), testing::HasSubstr("LEADER"));
  consensus::ConsensusStatePB pb = st.ToConsensusStatePB();
  EXPECT_EQ(pb.leader_uuid(), "A");
  EXPECT_EQ(pb.committed_config().peers(0).health_report().overall_health(),
            consensus::HealthReportPB::HEALTHY);
  RaftStatus fst = c.core("B")->GetStatus();
  EXPECT_EQ(fst.role, Role::kFollower);
  EXPECT_TRUE(fst.peers.empty());
}

}  // namespace
}  // namespace kmend::raft
