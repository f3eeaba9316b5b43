// Replica placement: which tablet servers get a new tablet's replicas.
//
// Policy: the `num_replicas` live servers with the fewest replicas assigned,
// ties broken by uuid so that a plan is reproducible. Placing several
// tablets in one call counts the replicas placed so far, so a table's
// tablets spread evenly. Pure functions; thread-safe.
#ifndef KMEND_SERVER_MASTER_PLACEMENT_H_
#define KMEND_SERVER_MASTER_PLACEMENT_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kmend::master {

// Live server uuid -> replicas it holds now.
using ServerLoad = std::map<std::string, int64_t>;

// For each of `num_tablets` tablets, the uuids of its `num_replicas`
// servers (distinct within a tablet). `load` is updated with the placed
// replicas. FailedPrecondition when fewer than num_replicas servers are live.
absl::StatusOr<std::vector<std::vector<std::string>>> PlaceReplicas(int num_tablets,
                                                                    int num_replicas,
                                                                    ServerLoad* load);

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_PLACEMENT_H_
