#include "lib/drill/timeline.h"

#include <algorithm>

namespace kmend::drill {

TabletFigures AnalyzeTablet(const TabletTrace& tablet, const TrialTrace& trial,
                            const AnalyzeOptions& options) {
  TabletFigures f;
  f.tablet_id = tablet.tablet_id;
  f.leader_faulted = tablet.leader_faulted;
  f.measured_ms = std::max(0.0, trial.load_end_ms - trial.load_start_ms);

  // Acknowledgement times, in order (writes of one tablet are sequential,
  // but sort anyway: the invariant is cheap to restore).
  std::vector<double> acks;
  for (const WriteSample& w : tablet.writes) {
    if (w.acked) {
      ++f.writes_acked;
      acks.push_back(w.end_ms);
    } else {
      ++f.writes_failed;
    }
  }
  std::sort(acks.begin(), acks.end());

  // Unwritable time: gaps longer than the threshold, the load's start and
  // end counting as acknowledgements (a tablet that never acked within the
  // window was unwritable for all of it).
  double prev = trial.load_start_ms;
  for (double t : acks) {
    if (t - prev > options.unwritable_gap_ms) f.unavailable_ms += t - prev;
    prev = std::max(prev, t);
  }
  if (trial.load_end_ms - prev > options.unwritable_gap_ms) {
    f.unavailable_ms += trial.load_end_ms - prev;
  }
  f.unavailable_ms = std::min(f.unavailable_ms, f.measured_ms);
  f.availability = f.measured_ms > 0 ? 1.0 - f.unavailable_ms / f.measured_ms : 1.0;

  if (tablet.leader_faulted && tablet.election_seen_ms.has_value()) {
    f.t_check_ms = *tablet.election_seen_ms - trial.fault_ms;
    // The first acknowledgement after the election started: the old leader
    // is dead or stopped, so only the new one can have given it.
    auto first = std::upper_bound(acks.begin(), acks.end(), *tablet.election_seen_ms);
    if (first != acks.end()) {
      f.t_recover_ms = *first - *tablet.election_seen_ms;
      f.t_failover_ms = *first - trial.fault_ms;
    }
  }
  return f;
}

namespace {
void KeepMax(std::optional<double>* slot, const std::optional<double>& v) {
  if (v.has_value() && (!slot->has_value() || **slot < *v)) *slot = v;
}
}  // namespace

TrialFigures AnalyzeTrial(const TrialTrace& trial, const AnalyzeOptions& options) {
  TrialFigures f;
  f.trial = trial.trial;
  bool faulted_unrecovered = false;
  for (const TabletTrace& t : trial.tablets) {
    TabletFigures tf = AnalyzeTablet(t, trial, options);
    f.unavailable_ms += tf.unavailable_ms;
    f.measured_ms += tf.measured_ms;
    if (tf.leader_faulted) {
      KeepMax(&f.t_check_ms, tf.t_check_ms);
      KeepMax(&f.t_recover_ms, tf.t_recover_ms);
      KeepMax(&f.t_failover_ms, tf.t_failover_ms);
      faulted_unrecovered |= !tf.t_failover_ms.has_value();
    }
    f.tablets.push_back(std::move(tf));
  }
  // The slowest tablet defines the trial: if one never recovered, the
  // trial has no T_recover/T_failover rather than a flattering one.
  if (faulted_unrecovered) {
    f.t_recover_ms.reset();
    f.t_failover_ms.reset();
  }
  f.availability = f.measured_ms > 0 ? 1.0 - f.unavailable_ms / f.measured_ms : 1.0;
  return f;
}

Spread SpreadOf(std::vector<double> values) {
  Spread s;
  s.n = static_cast<int>(values.size());
  if (values.empty()) return s;
  std::sort(values.begin(), values.end());
  size_t n = values.size();
  s.median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  s.min = values.front();
  s.max = values.back();
  return s;
}

DrillSummary Summarize(const std::vector<TrialFigures>& trials) {
  std::vector<double> check, recover, failover, unavailable, availability;
  for (const TrialFigures& t : trials) {
    if (t.t_check_ms) check.push_back(*t.t_check_ms);
    if (t.t_recover_ms) recover.push_back(*t.t_recover_ms);
    if (t.t_failover_ms) failover.push_back(*t.t_failover_ms);
    unavailable.push_back(t.unavailable_ms);
    availability.push_back(t.availability);
  }
  DrillSummary s;
  s.t_check_ms = SpreadOf(check);
  s.t_recover_ms = SpreadOf(recover);
  s.t_failover_ms = SpreadOf(failover);
  s.unavailable_ms = SpreadOf(unavailable);
  s.availability = SpreadOf(availability);
  return s;
}

}  // namespace kmend::drill
