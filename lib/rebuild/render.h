// kmend rebuild-replica's output: the plan (dry run or before acting) for
// people and as JSON, and the JSON lines that follow a copy. Schema
// "kmend.rebuild-replica/1" (docs/cli/rebuild_replica.md): every object
// carries "schema", "schema_version" and "event" (plan, refused, progress, result).
#ifndef KMEND_LIB_REBUILD_RENDER_H_
#define KMEND_LIB_REBUILD_RENDER_H_

#include <optional>
#include <string>
#include <vector>

#include "lib/rebuild/plan.h"
#include "lib/rebuild/progress.h"
#include "nlohmann/json.hpp"

namespace kmend::rebuild {

inline constexpr char kSchema[] = "kmend.rebuild-replica/1";
// The same version as an integer, the field every kmend tool's JSON has.
inline constexpr int kSchemaVersion = 1;

// "What will happen" for people, several lines ending in a newline.
std::string RenderPlanPlain(const std::string& tablet_id, const Plan& plan, bool applying);
nlohmann::json PlanJson(const std::string& tablet_id, const Plan& plan, bool applying);

// One refusal as the target server named it (RebuildRefusalPB).
struct RefusalFact {
  std::string name;
  std::string reason;
};

// `by`: who refused, "tool" (the planner, on the cluster's reports) or
// "target" (the target server's own checks, its check-only StartTabletCopy;
// `all` then lists every refusal it named, `refusal` being the first).
nlohmann::json RefusedJson(const std::string& tablet_id, Refusal refusal,
                           const std::string& reason, const std::string& by = "tool",
                           const std::vector<RefusalFact>& all = {});

struct ProgressEvent {
  Verdict verdict;
  int64_t bytes_done = 0;
  int64_t bytes_total = 0;
  int64_t bytes_reused = 0;
  double bytes_per_second = 0;
  std::optional<double> eta_seconds;
  double elapsed_seconds = 0;
  // The server's own count of the copy's duration (-1: not reported).
  int64_t copy_elapsed_ms = -1;
  // The server's split of it, once each step ended (-1: not reported): the
  // tombstone of the replaced replica, the copier, and opening the copied
  // replica (blocks verified, WAL replayed).
  int64_t tombstone_ms = -1;
  int64_t fetch_ms = -1;
  int64_t replica_start_ms = -1;
  // Resuming an interrupted copy: what was kept, or why it starts over.
  std::string resume_note;
};
nlohmann::json ProgressJson(const std::string& tablet_id, const ProgressEvent& e);

// "copy 5460 ms, replica start 12000 ms, tombstone 300 ms" from what the
// server reported ("" when nothing).
std::string TimingText(const ProgressEvent& e);

// outcome: "done", "failed", "timeout".
nlohmann::json ResultJson(const std::string& tablet_id, const std::string& outcome,
                          const std::string& detail, const ProgressEvent& last);

}  // namespace kmend::rebuild

#endif  // KMEND_LIB_REBUILD_RENDER_H_
