// One nemesis run: start the cluster in namespaces, create the table, run
// the workload while a seeded fault schedule plays, heal, wait for ksck
// HEALTHY, read everything back and check (checker.h). Prints the seed and
// each step (with the targets resolved) to `log` as it goes.
#ifndef KMEND_TESTING_NEMESIS_RUNNER_H_
#define KMEND_TESTING_NEMESIS_RUNNER_H_

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "testing/nemesis/checker.h"
#include "testing/nemesis/workload.h"

namespace kmend::nemesis {

struct RunOptions {
  uint64_t seed = 1;
  int steps = 4;
  int num_tservers = 4;
  int num_tablets = 2;
  WorkloadOptions workload;
};

struct RunReport {
  uint64_t seed = 0;
  std::vector<std::string> steps;  // as run, targets resolved
  CheckResult check;
  int bad_ack_lines = 0;
  // Partition of the leader (isolate-leader, split-leader|followers) to a
  // new leader on the majority side, ms; -1 where none came within 20 s.
  std::vector<int64_t> failover_ms;
  // Final heal to `kmend ksck` exit 0, ms (-1: not within 60 s).
  int64_t heal_to_healthy_ms = -1;
  std::string last_ksck;  // ksck's output when it never became healthy
  std::string Summary() const;
};

// Errors are setup failures (no namespaces, cluster did not start); the
// report carries what the run found.
absl::StatusOr<RunReport> RunNemesis(const RunOptions& options, std::ostream& log);

}  // namespace kmend::nemesis

#endif  // KMEND_TESTING_NEMESIS_RUNNER_H_
