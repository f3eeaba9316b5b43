// Fault tests with real network partitions (issue 17): the reference
// cluster in network namespaces, a seeded fault schedule, concurrent
// writers and readers, and the checker (no acknowledged write lost, no
// phantom or stale read, one leader per tablet and term, ksck HEALTHY after
// healing). Needs root; without namespaces it FAILS, saying why.
//
// Default suite: one seed, NEMESIS_STEPS steps (every partition kind once,
// then mixed faults). Soak (nemesis_soak_test): NEMESIS_SEEDS seeds.
// Replay one seed: bazel test ... --test_env=KMEND_NEMESIS_SEED=<seed>.
#include <stdlib.h>

#include <iostream>

#include "absl/strings/numbers.h"
#include "gtest/gtest.h"
#include "testing/nemesis/runner.h"

#ifndef NEMESIS_SEEDS
#define NEMESIS_SEEDS 1
#endif
#ifndef NEMESIS_STEPS
#define NEMESIS_STEPS 6
#endif
#ifndef NEMESIS_FIRST_SEED
#define NEMESIS_FIRST_SEED 17
#endif

namespace kmend::nemesis {
namespace {

TEST(NemesisTest, PartitionsLoseNoAcknowledgedWriteAndElectOneLeader) {
  std::vector<uint64_t> seeds;
  uint64_t replay = 0;
  const char* env = getenv("KMEND_NEMESIS_SEED");
  if (env != nullptr && absl::SimpleAtoi(env, &replay)) {
    seeds.push_back(replay);
  } else {
    for (int i = 0; i < NEMESIS_SEEDS; ++i) seeds.push_back(NEMESIS_FIRST_SEED + i);
  }
  std::vector<std::string> summaries;
  for (uint64_t seed : seeds) {
    SCOPED_TRACE(testing::Message() << "seed " << seed);
    RunOptions options;
    options.seed = seed;
    options.steps = NEMESIS_STEPS;
    auto report = RunNemesis(options, std::cerr);
    ASSERT_TRUE(report.ok()) << "nemesis setup failed (seed " << seed << "): " << report.status();
    summaries.push_back(report->Summary());
    EXPECT_GT(report->check.acked_writes, 0) << "the workload made no progress";
    EXPECT_GT(report->check.reads, 0);
    EXPECT_GT(report->check.ack_lines, 0) << "no ack log lines: --ack_log_file not honoured?";
    EXPECT_TRUE(report->check.ok()) << report->check.anomalies.size() << " anomalies, first: "
                                    << report->check.anomalies[0];
    EXPECT_GE(report->heal_to_healthy_ms, 0) << "not HEALTHY within 60 s of healing:\n"
                                             << report->last_ksck;
    for (int64_t ms : report->failover_ms) {
      EXPECT_GE(ms, 0) << "a partitioned leader was not replaced on the majority side";
      // Failovers take 1-2 s (an election timeout of 1-2 s, then one round
      // of votes); a split vote or a dropped pre-vote adds a round, and from
      // the third the timeout doubles (2-4 s), so a correct one can take
      // 2 + 2 + 4 s plus a loaded machine's delays. The 10-25 s stalls the
      // soak once had (links waiting out TCP's backoff after a heal) fail
      // here; the 3-8 s backed-off timeouts are covered by core_test
      // (docs/design/nemesis.md).
      EXPECT_LT(ms, 10000) << "a partitioned leader took more than 10 s to replace";
    }
  }
  std::cerr << "nemesis: summary of " << seeds.size() << " seeds\n";
  for (const auto& s : summaries) std::cerr << "  " << s << "\n";
}

}  // namespace
}  // namespace kmend::nemesis
