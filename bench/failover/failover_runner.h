// Measures T_failover of a Raft-replicated store the same way for kmend and
// for etcd (bench/etcd): a writer loop of single writes runs, the current
// leader's process is killed with SIGKILL, and the runner records
//
//   detection   kill -> a survivor reports a term above the old leader's
//               (it started an election; with pre-vote, the real vote),
//   election    that -> a survivor names a leader other than the dead one
//               at that higher term,
//   total       kill -> the first write acknowledged after the kill (by the
//               new leader: the old one is dead), i.e. T_failover;
//   rediscovery total - detection - election (the client finding the new
//               leader; can be slightly negative when the client is told
//               before the 5 ms poller sees it).
//
// Survivors are polled every `poll_interval` on their own threads, one per
// survivor, through each store's status RPC.
//
// Thread safety: RunFailoverTrials drives the target from several threads
// at once (one writer, one poller per survivor, and the calling thread):
// WriteOne, ProbeMember and Kill must be safe to call concurrently with each
// other; Restart and FindLeader are called only while no other thread runs.
// Kill and Restart run on the calling thread, so processes a target spawns
// there live as long as that thread (PR_SET_PDEATHSIG).
#ifndef KMEND_BENCH_FAILOVER_FAILOVER_RUNNER_H_
#define KMEND_BENCH_FAILOVER_FAILOVER_RUNNER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kmend::bench {

class FailoverTarget {
 public:
  virtual ~FailoverTarget() = default;

  virtual std::string name() const = 0;
  virtual int num_members() const = 0;

  // What one member says about the replicated group right now.
  struct Probe {
    int64_t term = -1;
    std::string leader_id;  // empty: no leader known to this member
    std::string self_id;
  };
  virtual absl::StatusOr<Probe> ProbeMember(int member) = 0;

  // One write of a fresh key (`seq` is unique per run), retried against the
  // members as the store's client would, for at most one short attempt
  // round. OK only when acknowledged. `acked_term` gets the acknowledging
  // leader's term when the store says it (-1 otherwise).
  virtual absl::Status WriteOne(int64_t seq, int64_t* acked_term) = 0;

  // Index of the member that is the leader now (all members agree on it).
  virtual absl::StatusOr<int> FindLeader() = 0;
  // SIGKILL of member `i`'s process.
  virtual absl::Status Kill(int member) = 0;
  // Starts member `i` again on its data and waits until it follows the
  // current leader at the current term.
  virtual absl::Status Restart(int member) = 0;
};

struct FailoverOptions {
  int trials = 5;
  std::chrono::milliseconds poll_interval{5};
  // Writes must be flowing this long before the kill.
  std::chrono::milliseconds warmup{500};
  // A trial that has no acknowledged write this long after the kill fails.
  std::chrono::milliseconds give_up{20000};
  // Pause after a restart before the next trial (the restarted member gets
  // heartbeats; no election is under way).
  std::chrono::milliseconds settle{1500};
};

struct TrialResult {
  int killed = -1;
  int64_t old_term = -1;
  int64_t new_term = -1;
  double detection_ms = -1;
  double election_ms = -1;
  double total_ms = -1;  // T_failover
  double rediscovery_ms = -1;
  int64_t writes_before_kill = 0;
};

struct FailoverSummary {
  std::string target;
  std::vector<TrialResult> trials;
  // Median and max of each column over the trials.
  double detection_median_ms = 0, detection_max_ms = 0;
  double election_median_ms = 0, election_max_ms = 0;
  double total_median_ms = 0, total_max_ms = 0;
  double rediscovery_median_ms = 0, rediscovery_max_ms = 0;
};

// Runs `options.trials` kill/measure/restart trials. Fails on the first
// trial that cannot be measured (no leader, no write within give_up...).
absl::StatusOr<FailoverSummary> RunFailoverTrials(FailoverTarget* target,
                                                  const FailoverOptions& options);

// {"target":..., "trials":[...], "total_median_ms":..., ...}
std::string SummaryToJson(const FailoverSummary& summary);
// A few human lines.
std::string SummaryToText(const FailoverSummary& summary);

// Parses --trials=N and --out=FILE (JSON summary) from argv; unknown
// arguments are ignored (Google Benchmark/test runner flags).
struct FailoverFlags {
  int trials = 5;
  std::string out;
};
FailoverFlags ParseFailoverFlags(int argc, char** argv);

// The whole main() of a failover benchmark binary: parses FailoverFlags,
// calls `start` (which brings up `target`'s cluster on the calling thread,
// so its processes live as long as main's thread), runs the trials, prints
// SummaryToText to stdout and writes SummaryToJson to --out if given.
// Returns the exit code: 0, or 1 after "<prog>: <error>" on stderr.
int RunFailoverMain(const std::string& prog, int argc, char** argv, FailoverTarget* target,
                    const std::function<absl::Status()>& start);

}  // namespace kmend::bench

#endif  // KMEND_BENCH_FAILOVER_FAILOVER_RUNNER_H_
