// `recover plan`'s judgement: a RecoveryPlan from a ClusterSnapshot. Pure (no
// I/O, no clock: the caller stamps created_at), so every rule is tested on
// hand-built snapshots (planner_test.cc) and timed over a synthetic one
// (bench/recover).
//
// Rules, per tablet of the catalog, on ksck's verdicts (lib/check/checker.h):
//   - only UNAVAILABLE tablets whose running voters are below a majority are
//     planned; a tablet whose majority runs but has no leader is left alone
//     (an election settles it), and an UNKNOWN tablet is listed as unknown,
//     never forced on a guess;
//   - the survivor is ksck's: of the running replicas of the catalog's
//     config, voters and non-voters alike, the most up-to-date log (last
//     logged term, then index), ties to the smallest uuid (check::ChooseSurvivor);
//   - the new voters are every running replica of the catalog's config;
//   - no running replica: listed as unrecoverable, with the reason;
//   - warnings: a kept replica reports committed entries beyond the
//     survivor's log, or the catalog's config carries a term at or above the
//     force's (the master would keep its config: docs/design/raft.md,
//     section 4, "Not covered yet").
#ifndef KMEND_LIB_RECOVER_PLANNER_H_
#define KMEND_LIB_RECOVER_PLANNER_H_

#include "lib/check/cluster_snapshot.h"
#include "lib/recover/plan.h"

namespace kmend::recover {

RecoveryPlan MakeRecoveryPlan(const check::ClusterSnapshot& snapshot);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_PLANNER_H_
