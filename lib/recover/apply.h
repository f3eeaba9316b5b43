// `recover apply`: the plan's forces, on a cluster that still matches it.
//
// ApplyPlan first compares the plan with a fresh snapshot (fingerprint.h)
// and changes nothing when they differ. Otherwise, for every entry not yet
// applied, up to `concurrency` at a time: probe every voter of the tablet
// and refuse while its group looks alive, waiting a few seconds for a
// survivor's lease to lapse (force_config.h: the server would refuse a
// replica inside a live leader's lease anyway, and recover never overrides
// that); check the survivor has not logged anything since the plan; write a
// backup of its consensus state; force. Entries with warnings are skipped
// unless options.accept_warnings.
//
// Thread safety: ApplyPlan runs its own worker threads and returns when
// they are done; `on_done` is called from them, one call at a time.
#ifndef KMEND_LIB_RECOVER_APPLY_H_
#define KMEND_LIB_RECOVER_APPLY_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "lib/check/cluster_snapshot.h"
#include "lib/recover/fingerprint.h"
#include "lib/recover/plan.h"

namespace kmend::recover {

struct ApplyOptions {
  bool yes = false;               // false: report what would be done
  bool accept_warnings = false;   // apply entries that carry warnings too
  int concurrency = 8;            // tablets forced at once
  std::string backup_dir = ".";   // cstate-<tablet>-<micros>.json per force
  std::chrono::milliseconds timeout{10000};      // per RPC to a survivor
  std::chrono::milliseconds peer_timeout{3000};  // per probe of another voter
  std::chrono::milliseconds lease_wait{6000};
  std::string caller_id = "kmend recover apply";
};

enum class Outcome {
  kWouldApply,      // dry run: would force
  kApplied,         // forced now
  kAlreadyApplied,  // forced before (idempotent re-run)
  kSkipped,         // has warnings and !accept_warnings
  kRefused,         // the tablet's group looks alive, or the survivor moved on
  kFailed,          // an RPC failed
};
const char* OutcomeName(Outcome o);

struct EntryResult {
  std::string tablet_id;
  std::string table_name;
  std::string survivor_uuid;
  Outcome outcome = Outcome::kFailed;
  std::string message;  // why refused/failed/skipped; the new config when applied
  std::string backup;   // path of the backup written before the force
  int64_t elapsed_ms = 0;
};

struct ApplyReport {
  PlanMatch match;                    // !match.matches(): nothing was done
  std::vector<EntryResult> entries;   // plan order
  // 0 every entry applied (now or before) or would be; 1 some entry was
  // skipped, refused or failed; 2 the plan no longer matches the cluster.
  int ExitCode() const;
};

ApplyReport ApplyPlan(const RecoveryPlan& plan, const check::ClusterSnapshot& now,
                      const ApplyOptions& options,
                      const std::function<void(const EntryResult&)>& on_done = {});

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_APPLY_H_
