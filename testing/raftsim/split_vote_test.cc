// Split votes after a leader's crash when messages are slow (a saturated
// server: a restart of thousands of replicas, docs/benchmarks.md). The two
// survivors heard the leader's last heartbeat at the same tick, and pre-vote
// adds two message delays before either's vote request reaches the other:
// with delays near the spread of the election timeouts (election_ticks =
// 10, timeouts in [10, 20) ticks) both often campaign in one term and
// refuse each other. Counted over many seeds with the Raft events
// (Ready::events) the survivors report; the bounds are today's counts plus
// a margin, so a change that makes splits likelier fails here, and the
// figures are the baseline for one that makes them rarer.
//
// Two such changes were measured on 2026-12-07 and reverted: a replica that
// grants a pre-vote defers to that pre-candidate (follower: timer restarted
// and leader forgotten; pre-candidate: the higher uuid yields) split 0 / 5
// / 250 votes instead of 268 / 826 / 1283, and the pre-candidate rule alone
// 0 / 48 / 305; but 2 of 2 scale restarts with the first took 26-28 s and 1
// of 2 with the second became an election storm (docs/benchmarks.md), where
// the build without either had none in 3. Fewer split votes in isolation
// is not enough: the storm's engine is check-quorum under load.
#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "testing/raftsim/cluster.h"

namespace kmend::raftsim {
namespace {

struct Outcome {
  int elections = 0;        // "starting election" (real elections) after the crash
  int split = 0;            // "election for term N lost"
  int ticks_to_leader = -1;
};

Outcome CrashLeaderOnce(uint64_t seed, int max_delay) {
  Cluster c({"A", "B", "C"}, 3, seed);
  c.faults.delay_min = 1;
  c.faults.delay_max = max_delay;
  std::string leader;
  for (int i = 0; i < 2000 && leader.empty(); ++i) {
    c.TickAll();
    leader = c.Leader();
  }
  Outcome out;
  if (leader.empty()) return out;
  // Settled: every follower knows the leader (a slow network may have
  // replaced the first one meanwhile).
  for (int i = 0; i < 30 || (c.Leader().empty() && i < 2000); ++i) c.TickAll();
  leader = c.Leader();
  if (leader.empty()) return out;
  for (SimNode* n : c.nodes()) (void)n->TakeEvents();
  c.Crash(leader);
  for (int t = 1; t <= 2000; ++t) {
    c.TickAll();
    const std::string now = c.Leader();
    if (!now.empty() && now != leader) {
      out.ticks_to_leader = t;
      break;
    }
  }
  for (SimNode* n : c.nodes()) {
    for (const std::string& e : n->TakeEvents()) {
      if (absl::StartsWith(e, "starting election")) ++out.elections;
      if (absl::StartsWith(e, "election for term")) ++out.split;
    }
  }
  return out;
}

TEST(SplitVoteTest, SplitVotesAfterALeaderCrashStayWithinTodaysCounts) {
  constexpr int kSeeds = 1000;
  // Split votes allowed per 1000 crashes, by the delay bound: today 268,
  // 826 and 1283 (p90 to a new leader 32, 57 and 91 ticks).
  struct Case {
    int max_delay;
    int max_split;
  };
  for (const Case& k : {Case{1, 350}, Case{5, 1000}, Case{9, 1500}}) {
    const int max_delay = k.max_delay;
    int elections = 0, split = 0, failed = 0;
    std::vector<int> ticks;
    for (uint64_t seed = 1; seed <= kSeeds; ++seed) {
      Outcome o = CrashLeaderOnce(seed, max_delay);
      if (o.ticks_to_leader < 0) {
        ++failed;
        continue;
      }
      elections += o.elections;
      split += o.split;
      ticks.push_back(o.ticks_to_leader);
    }
    std::sort(ticks.begin(), ticks.end());
    const int median = ticks.empty() ? -1 : ticks[ticks.size() / 2];
    const int p90 = ticks.empty() ? -1 : ticks[ticks.size() * 9 / 10];
    const int worst = ticks.empty() ? -1 : ticks.back();
    std::cerr << "SPLIT_VOTE_FIGURE delay 1.." << max_delay << " ticks, " << kSeeds
              << " crashes: " << elections << " elections, " << split
              << " split; ticks to a new leader median " << median << ", p90 " << p90
              << ", max " << worst << "; no leader in 2000 ticks: " << failed << "\n";
    EXPECT_EQ(failed, 0);
    // A split costs a timeout (10-19 ticks, more with the backoff). Every
    // crash must end with a new leader (no_leader == 0 above).
    EXPECT_LE(split, k.max_split) << "delay up to " << max_delay;
  }
}

}  // namespace
}  // namespace kmend::raftsim
