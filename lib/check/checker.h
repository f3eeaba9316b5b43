// ksck's judgement: turns a ClusterSnapshot into KsckResults. Pure: no I/O,
// so every rule is tested on hand-built snapshots (checker_test.cc).
//
// Tablet verdicts, decided in this order (docs/cli.md#ksck):
//   RECOVERING          a replica of the config is being copied
//   UNAVAILABLE         running voters below a majority, or not exactly one
//                       leader among the running replicas at the highest term
//   UNDER_REPLICATED    running voters below the config's voter count or the
//                       table's replication factor
//   CONSENSUS_MISMATCH  a running replica's active config (pending, else
//                       committed) differs from the master's
//   HEALTHY
// A replica ksck could not reach while the master still sees its server
// heartbeating is UNKNOWN. The verdict is then computed twice, once taking
// every unknown replica as down and once as running; when the two differ the
// tablet is UNKNOWN ("at best X, at worst Y"), never a guess either way.
#ifndef KMEND_LIB_CHECK_CHECKER_H_
#define KMEND_LIB_CHECK_CHECKER_H_

#include "lib/check/cluster_snapshot.h"
#include "lib/check/results.h"

namespace kmend::check {

KsckResults Check(const ClusterSnapshot& snapshot);

// Of the given replicas, the one to force with unsafe-change-config when a
// majority is lost: the most up-to-date log by Raft's rule (highest last
// logged term, then highest index), ties broken by the smallest uuid so the
// answer is stable. Member type plays no part: ksck passes the running
// voters and non-voters alike. Returns nullptr when `candidates` is empty.
const ReplicaResult* ChooseSurvivor(const std::vector<const ReplicaResult*>& candidates);

}  // namespace kmend::check

#endif  // KMEND_LIB_CHECK_CHECKER_H_
