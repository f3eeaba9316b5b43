#include "lib/recover/verify.h"

#include <map>

#include "lib/check/checker.h"

namespace kmend::recover {

VerifyResult VerifyPlan(const RecoveryPlan& plan, const check::ClusterSnapshot& now) {
  const check::KsckResults results = check::Check(now);
  std::map<std::string, const check::TabletResult*> by_id;
  for (const check::TabletResult& t : results.tablets) by_id[t.tablet_id] = &t;
  VerifyResult out;
  for (const PlanEntry& e : plan.entries) {
    TabletVerdict v{e.tablet_id, e.table_name, check::Health::kUnknown, "not in the catalog"};
    auto it = by_id.find(e.tablet_id);
    if (it != by_id.end()) {
      v.health = it->second->health;
      v.reason = it->second->reason;
    }
    out.healthy += v.health == check::Health::kHealthy ? 1 : 0;
    out.tablets.push_back(std::move(v));
  }
  return out;
}

}  // namespace kmend::recover
