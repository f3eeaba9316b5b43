// A drill trial as a timeline of real events, and the figures read off it.
//
// The runner (runner.h) records, on one monotonic clock whose zero is the
// start of the trial's load: every write of the steady load (start, end,
// acknowledged or not) per tablet, the fault, and what the surviving
// replicas reported when polled (the first status answer showing a term
// above the one the tablet had at the fault = an election started; the
// first naming a new leader). Everything below is pure arithmetic on that
// record, so it is unit-tested without a cluster.
//
//   T_check    fault -> a surviving replica reports a higher term (its
//              election started: with pre-vote, the real vote after it);
//   T_recover  that -> the first write acknowledged after it (necessarily by
//              the new leader: the old one is dead or stopped);
//   T_failover T_check + T_recover = fault -> that first acknowledged write;
//   unavailable the time a tablet was unwritable: the sum of the gaps
//              between consecutive acknowledged writes (and from the load's
//              start / to its end) longer than `unwritable_gap`;
//   A          1 - unavailable / measured, measured = the load's duration
//              (per tablet; a trial's A is over all the table's tablets).
#ifndef KMEND_LIB_DRILL_TIMELINE_H_
#define KMEND_LIB_DRILL_TIMELINE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace kmend::drill {

// One write of the steady load. Times in ms since the trial's zero.
struct WriteSample {
  double start_ms = 0;
  double end_ms = 0;
  bool acked = false;
};

// What happened to one tablet of the table during a trial.
struct TabletTrace {
  std::string tablet_id;
  // Whether the fault hit this tablet's leader (only those tablets elect;
  // T_check/T_recover are measured on them).
  bool leader_faulted = false;
  int64_t term_at_fault = -1;
  // First poll showing a surviving replica at a term above term_at_fault.
  std::optional<double> election_seen_ms;
  // First poll showing a surviving replica that names a leader other than
  // the faulted one at such a term.
  std::optional<double> new_leader_seen_ms;
  std::vector<WriteSample> writes;  // in start order
};

struct TrialTrace {
  int trial = 0;
  std::string fault;          // "kill-leader", ...
  std::string target_uuid;    // the tablet server faulted
  std::string target_address;
  double load_start_ms = 0;   // 0 by construction; kept for clarity in JSON
  double fault_ms = 0;
  double restore_ms = 0;      // when the fault was undone (restart, SIGCONT)
  double load_end_ms = 0;
  double healthy_ms = 0;      // ksck HEALTHY again (after load_end_ms)
  std::vector<TabletTrace> tablets;
};

struct TabletFigures {
  std::string tablet_id;
  bool leader_faulted = false;
  std::optional<double> t_check_ms;
  std::optional<double> t_recover_ms;
  std::optional<double> t_failover_ms;
  double unavailable_ms = 0;
  double measured_ms = 0;
  double availability = 1;
  int64_t writes_acked = 0;
  int64_t writes_failed = 0;
};

struct TrialFigures {
  int trial = 0;
  std::vector<TabletFigures> tablets;
  // Over the tablets whose leader was faulted: the slowest (what an
  // operator waits for). Unset when no leader was faulted or none recovered.
  std::optional<double> t_check_ms;
  std::optional<double> t_recover_ms;
  std::optional<double> t_failover_ms;
  double unavailable_ms = 0;  // summed over tablets
  double measured_ms = 0;     // summed over tablets
  double availability = 1;    // 1 - unavailable / measured
};

struct AnalyzeOptions {
  // A gap between acknowledged writes longer than this is unwritable time.
  double unwritable_gap_ms = 250;
};

TabletFigures AnalyzeTablet(const TabletTrace& tablet, const TrialTrace& trial,
                            const AnalyzeOptions& options);
TrialFigures AnalyzeTrial(const TrialTrace& trial, const AnalyzeOptions& options);

// Median, smallest and largest of a column over the trials that have it.
struct Spread {
  int n = 0;
  double median = 0, min = 0, max = 0;
};
Spread SpreadOf(std::vector<double> values);

struct DrillSummary {
  Spread t_check_ms, t_recover_ms, t_failover_ms, unavailable_ms, availability;
};
DrillSummary Summarize(const std::vector<TrialFigures>& trials);

}  // namespace kmend::drill

#endif  // KMEND_LIB_DRILL_TIMELINE_H_
