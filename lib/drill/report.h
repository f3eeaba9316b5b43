// Renders a drill's result: JSON (schema "kmend.drill/1", also
// "schema_version": 1 like the other tools), a plain table for people, and
// an SVG timeline per trial. Pure: no I/O.
#ifndef KMEND_LIB_DRILL_REPORT_H_
#define KMEND_LIB_DRILL_REPORT_H_

#include <string>
#include <vector>

#include "lib/drill/timeline.h"
#include "nlohmann/json.hpp"

namespace kmend::drill {

inline constexpr int kDrillSchemaVersion = 1;

struct DrillReport {
  std::string table;
  int replication_factor = 0;  // from the master's catalog
  int num_tablets = 0;
  std::string fault;
  int trials_requested = 0;
  double rows_per_s = 0;  // per tablet
  double unwritable_gap_ms = 0;
  std::vector<TrialTrace> traces;
  std::vector<TrialFigures> figures;  // same order as traces
  DrillSummary summary;
  // Why the drill stopped early (a trial could not be measured or the
  // cluster did not become HEALTHY again); empty when all trials ran.
  std::string stopped_reason;
};

nlohmann::json RenderJson(const DrillReport& report, bool include_writes);
std::string RenderPlain(const DrillReport& report);
// One panel per trial: write latency over time since the fault (acked
// writes as dots, failed ones as red ticks on the axis), the fault, the
// first election seen and the first acknowledged write after it marked.
std::string RenderSvg(const DrillReport& report);

}  // namespace kmend::drill

#endif  // KMEND_LIB_DRILL_REPORT_H_
