// Runs a failover drill against a live test cluster: a steady write load
// per tablet, a fault on one tablet server per trial, the surviving
// replicas polled for the election, the fault undone, and ksck HEALTHY
// awaited before the next trial. The figures come from timeline.h.
//
// How detection is observed: one thread per surviving tablet server polls
// GetStatus (only the faulted tablets) every `poll_interval`; the first
// answer showing a term above the tablet's term at the fault is "election
// seen" (a candidate persists its new term before asking for votes, and
// with pre-vote only a real election raises it). The poll interval bounds
// the error of T_check (and symmetrically T_recover).
//
// Thread safety: RunDrill is a blocking call; it starts and joins its own
// threads (one writer per tablet, one poller per surviving server).
#ifndef KMEND_LIB_DRILL_RUNNER_H_
#define KMEND_LIB_DRILL_RUNNER_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/drill/report.h"
#include "lib/drill/timeline.h"

namespace kmend::drill {

enum class Fault {
  kKillLeader,   // SIGKILL the server hosting the first tablet's leader; restart it
  kKillTserver,  // SIGKILL a server chosen round-robin (trial i: i-th server); restart it
  kStopTserver,  // SIGSTOP the server hosting the first tablet's leader; SIGCONT it
};
const char* FaultName(Fault f);
bool ParseFault(const std::string& name, Fault* out);

struct DrillOptions {
  std::vector<std::string> masters;
  std::string table;
  Fault fault = Fault::kKillLeader;
  int trials = 5;
  double rows_per_s = 50;  // per tablet, one row per write
  // Must be set: the drill kills servers.
  bool confirmed_test_cluster = false;
  // Instead of local signals: shell commands run with /bin/sh -c, with %a
  // (host:port), %h, %p, %u (uuid), %i (pid), %r (fs_root) and %% replaced.
  std::string fault_cmd, restore_cmd;
  std::chrono::milliseconds warmup{1000};   // load before the fault
  std::chrono::milliseconds hold{1000};     // load after recovery, and after restore
  std::chrono::milliseconds give_up{20000}; // no recovery this long after the fault: stop
  std::chrono::milliseconds healthy_timeout{60000};
  std::chrono::milliseconds poll_interval{10};
  std::chrono::milliseconds write_timeout{500};
  std::chrono::milliseconds rpc_timeout{2000};
  AnalyzeOptions analyze;
  // Called with one line per step (may be empty: no progress).
  std::function<void(const std::string&)> progress;
};

// Errors (could not run at all): no master, unknown table, the cluster not
// HEALTHY before the first trial (FailedPrecondition), a pid that is not
// local. A trial that fails midway ends the drill with the trials so far
// and DrillReport::stopped_reason set.
absl::StatusOr<DrillReport> RunDrill(const DrillOptions& options);

// The substitutions of --fault_cmd / --restore_cmd. Pure.
struct FaultTarget {
  std::string uuid, address, host, fs_root;
  int port = 0;
  int64_t pid = 0;
};
std::string ExpandCommand(const std::string& tmpl, const FaultTarget& target);

}  // namespace kmend::drill

#endif  // KMEND_LIB_DRILL_RUNNER_H_
