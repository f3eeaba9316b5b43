// One seeded simulation run (TigerBeetle's VOPR in miniature): every option
// (cluster size, fault rates, membership churn) derives from the seed, so a
// failing seed replays exactly. A safety phase with message loss,
// duplication, reordering, delay, partitions, crash-restarts (also right
// after persisting a Ready) and proposals/membership changes, checked at
// every step by SafetyChecker; then a liveness phase: the network heals,
// every node restarts, and a leader must commit a new entry that every
// member of its config applies.
#ifndef KMEND_TESTING_RAFTSIM_SIMULATION_H_
#define KMEND_TESTING_RAFTSIM_SIMULATION_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kmend::raftsim {

enum class Scenario {
  kFaults,      // safety with faults, then liveness after healing
  kUnsafe,      // faults, then a majority dies and survivors force a config
  // One voter and non-voters (the state right after an unsafe config change
  // while replacements are added): the voter elects itself inside one Ready,
  // with crashes around persistence and core-made entries (NO_OPs) that
  // differ on every incarnation, so a message sent before its term was
  // durable shows up as two different entries at one op id.
  kOneVoter,
};

struct SimResult {
  bool ok = true;
  std::string description;  // the options the seed chose
  std::vector<std::string> failures;
  // Figures for the summary.
  int64_t steps = 0;
  int64_t applied_entries = 0;
  int64_t max_term = 0;
  int64_t crashes = 0;
  int64_t config_changes = 0;
  int64_t tablet_copies = 0;
  int64_t transfers = 0;  // leadership transfers attempted
  int64_t quiesced_steps = 0;  // steps that ended with a quiesced leader
  // Leaders that stepped down after check-quorum's second window (with
  // quiesce on: a first failed window forgiven because the voters' servers
  // were heard), so the checker has judged runs through that window.
  int64_t forgiven_step_downs = 0;
};

const char* ScenarioName(Scenario scenario);
SimResult RunSimulation(uint64_t seed, Scenario scenario);

// Failover of one idle 3-voter group: elect, let it idle 50 ticks (with
// `quiesce`, until it quiesced), crash the leader, count the ticks until
// another leader is elected. No message faults; the seed picks the election
// timeouts and the phase of the crash. docs/design/scale.md, "Quiescence".
struct FailoverResult {
  bool ok = false;               // a leader was elected before and after
  bool quiesced_before = false;  // the group was quiesced at the crash
  int64_t ticks = 0;             // crash to new leader
};
FailoverResult MeasureFailover(uint64_t seed, bool quiesce);
// The leader crashes in the tick it quiesced, after one follower got its
// quiesce heartbeat and the other did not: a group caught in the pause
// between two writes, one follower quiesced and one still counting from the
// last heartbeat (RaftCore::ReportSilentServer's successor order must not
// make it wait).
FailoverResult MeasureFailoverJustQuiesced(uint64_t seed);

}  // namespace kmend::raftsim

#endif  // KMEND_TESTING_RAFTSIM_SIMULATION_H_
