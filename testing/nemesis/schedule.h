// Fault schedules derived from a seed, so that a failing seed replays the
// same sequence of faults (targets named by role, e.g. "the leader of
// tablet 0", are resolved when the step runs and printed then).
//
// Nodes: 0 is the master, 1..N the tablet servers.
#ifndef KMEND_TESTING_NEMESIS_SCHEDULE_H_
#define KMEND_TESTING_NEMESIS_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kmend::nemesis {

enum class FaultKind {
  kIsolateLeader,       // cut the tablet leader off from every other node
  kIsolateNode,         // cut `node` off
  kSplitLeader,         // {leader} | {its followers}; master stays with the followers
  kSplitMasterMinority, // {master, one tserver} | {the other tservers}
  kSplitMasterMajority, // {two tservers} | {master, the other tservers}
  kOneWay,              // packets from `node` to `node2` dropped
  kLoss,                // `percent` of `node`'s packets to other nodes dropped
  kSlow,                // `node`'s link at 256 kbit/s
  kKill9,               // kill -9 `node`, restart it at heal
  kStopCont,            // SIGSTOP `node`, SIGCONT at heal
  kRestart,             // kill -9 and restart `node` at once
};

const char* FaultName(FaultKind k);

struct FaultStep {
  FaultKind kind = FaultKind::kIsolateLeader;
  int node = 0;
  int node2 = 0;
  int percent = 0;
  int64_t hold_ms = 0;  // how long the fault lasts
  int64_t rest_ms = 0;  // healthy time after healing, before the next step
  std::string ToString() const;
};

// `steps` faults for a cluster of one master and `num_tservers` tablet
// servers; the first steps cycle through the partition kinds so that even a
// short schedule has each of them, the rest are drawn from the seed.
std::vector<FaultStep> MakeSchedule(uint64_t seed, int steps, int num_tservers);

}  // namespace kmend::nemesis

#endif  // KMEND_TESTING_NEMESIS_SCHEDULE_H_
