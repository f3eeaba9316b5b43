// `recover verify`'s judgement: is every tablet of a plan HEALTHY at its
// table's replication factor (ksck's verdict: a leader, running voters >=
// max(config voters, RF), every running replica agreeing with the catalog)?
// Pure: the tool collects and polls.
#ifndef KMEND_LIB_RECOVER_VERIFY_H_
#define KMEND_LIB_RECOVER_VERIFY_H_

#include <string>
#include <vector>

#include "lib/check/cluster_snapshot.h"
#include "lib/check/results.h"
#include "lib/recover/plan.h"

namespace kmend::recover {

struct TabletVerdict {
  std::string tablet_id;
  std::string table_name;
  check::Health health = check::Health::kUnknown;
  std::string reason;  // ksck's; "not in the catalog" when the tablet is gone
};

struct VerifyResult {
  std::vector<TabletVerdict> tablets;  // the plan's entries, in plan order
  int healthy = 0;
  bool ok() const { return healthy == static_cast<int>(tablets.size()); }
};

VerifyResult VerifyPlan(const RecoveryPlan& plan, const check::ClusterSnapshot& now);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_VERIFY_H_
