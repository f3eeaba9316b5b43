// A recovery plan: for every tablet that lost the majority of its voters,
// which surviving replica to force, to which voters, and what may be lost;
// plus a fingerprint of what the planner saw, so that `recover apply` can
// refuse a plan the cluster no longer matches (docs/cli/recover.md).
//
// Plain data. Made from a ClusterSnapshot by planner.h, stored as JSON by
// plan_json.h, checked against a later snapshot by fingerprint.h.
//
// Invariants of a plan made by MakeRecoveryPlan:
//   - every entry's survivor is one of its new_voters, and new_voters is a
//     subset of the catalog's config of the tablet (sorted, unique);
//   - dropped = the catalog config's members not in new_voters (sorted);
//   - forced_term_floor = max(survivor's term, survivor's last logged term):
//     the force appends its entry at forced_term_floor + 1, so a survivor
//     whose active config carries an opid_term above forced_term_floor has
//     been forced already (idempotent apply);
//   - entries, unrecoverable and unknown are each in tablet id order.
#ifndef KMEND_LIB_RECOVER_PLAN_H_
#define KMEND_LIB_RECOVER_PLAN_H_

#include <cstdint>
#include <string>
#include <vector>

#include "lib/check/cluster_snapshot.h"

namespace kmend::recover {

// The JSON document's identity (docs/cli/recover.md). Bump the number on an
// incompatible change; adding fields is compatible.
inline constexpr char kPlanSchema[] = "kmend.recover.plan/1";
inline constexpr int kPlanSchemaVersion = 1;

// One replica's position when the plan was made.
struct ReplicaPrint {
  std::string uuid;
  check::OpId last_logged;
};

// What apply compares, per tablet.
struct TabletFingerprint {
  // The catalog's config of the tablet: Raft orders configs by (term, index).
  int64_t config_opid_term = 0;
  int64_t config_opid_index = -1;
  // Every running replica of the catalog's config (uuid order).
  std::vector<ReplicaPrint> replicas;
};

struct PlanEntry {
  std::string tablet_id;
  std::string table_name;
  int replication_factor = 0;
  std::string survivor_uuid;
  std::string survivor_address;  // host:port, as the master registered it
  std::vector<std::string> new_voters;
  std::vector<std::string> dropped;
  check::OpId survivor_last_logged;
  int64_t forced_term_floor = 0;
  // The highest op id (by index, then term) any running replica reported,
  // logged or committed, or the catalog's config position when higher: what the survivor may
  // lack is (survivor_last_logged, highest_known]. When equal to the
  // survivor's, only entries the dead replicas alone had may be lost, and
  // how many is not known.
  check::OpId highest_known;
  // One sentence for people: what may be lost.
  std::string may_lose;
  // Reasons this force is riskier than usual; apply skips such an entry
  // unless told --force.
  std::vector<std::string> warnings;
  TabletFingerprint fingerprint;
};

// A tablet the plan cannot mend (no replica survives), or one it cannot judge
// (a replica could not be reached although its server heartbeats).
struct TabletNote {
  std::string tablet_id;
  std::string table_name;
  std::string reason;
};

struct DeadServer {
  std::string uuid;
  std::string address;
  std::string reason;  // why the planner took it as dead
};

struct RecoveryPlan {
  std::string created_at;  // RFC 3339, UTC
  std::vector<std::string> masters;
  // Every tablet server taken as dead: unreachable and missing heartbeats.
  // Apply refuses the plan when one of them answers or heartbeats again.
  std::vector<DeadServer> dead_servers;
  std::vector<PlanEntry> entries;
  std::vector<TabletNote> unrecoverable;
  std::vector<TabletNote> unknown;
  int tablets_checked = 0;
};

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_PLAN_H_
