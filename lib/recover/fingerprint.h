// Does the cluster still match a recovery plan? `recover apply` collects a
// fresh snapshot and asks this before changing anything: forcing on a plan
// made against another state of the cluster can split a live group (a server
// the plan took as dead is back) or lose what a survivor logged since.
// Pure: tested on hand-built snapshots (fingerprint_test.cc).
//
// A tablet whose survivor already carries a config above the plan's
// forced_term_floor was forced already (by an earlier apply of this plan):
// it is reported as applied and not compared, which makes apply idempotent.
// Differences are looked for only while some entry is still pending.
#ifndef KMEND_LIB_RECOVER_FINGERPRINT_H_
#define KMEND_LIB_RECOVER_FINGERPRINT_H_

#include <set>
#include <string>
#include <vector>

#include "lib/check/cluster_snapshot.h"
#include "lib/recover/plan.h"

namespace kmend::recover {

struct PlanMatch {
  // One sentence per difference, naming the server or tablet, what the plan
  // recorded and what is seen now. Empty: the plan still holds.
  std::vector<std::string> differences;
  // Tablets of the plan forced already.
  std::set<std::string> applied;
  bool matches() const { return differences.empty(); }
};

PlanMatch MatchPlan(const RecoveryPlan& plan, const check::ClusterSnapshot& now);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_FINGERPRINT_H_
