// `kmend tserver unregister`: forget a tablet server that is gone for good,
// so that ksck stops reporting it once its replicas are replaced (Kudu's
// `tserver unregister`). JudgeUnregister is pure (tested on snapshots);
// UnregisterFromMasters sends the request to every master, each of which
// keeps its own registry (proto/master.proto, UnregisterTServer).
#ifndef KMEND_LIB_RECOVER_UNREGISTER_H_
#define KMEND_LIB_RECOVER_UNREGISTER_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/check/cluster_snapshot.h"

namespace kmend::recover {

// OK when the server may be forgotten. Otherwise:
//   NotFound            the master does not know it;
//   FailedPrecondition  it heartbeats or answers (it is not gone), or it may
//                       hold the only copy of a tablet: a tablet of the
//                       catalog whose config names it and no other replica of
//                       which is running (the message names them all).
absl::Status JudgeUnregister(const check::ClusterSnapshot& snapshot, const std::string& uuid);

struct MasterAnswer {
  std::string master;
  absl::Status status;
};

// Asks every master to forget `uuid`; one answer per master, in order.
std::vector<MasterAnswer> UnregisterFromMasters(const std::vector<std::string>& masters,
                                                const std::string& uuid,
                                                std::chrono::milliseconds timeout);

// `kmend tserver maintenance enter|exit`: asks every master to put `uuid`
// in (or take it out of) maintenance mode, in which re-replication leaves
// its replicas alone while it is down (a planned restart). The catalog
// leader records the mode in the replicated catalog (it survives master
// restarts and failovers); the other masters answer that they do not lead.
// One answer per master, in order.
std::vector<MasterAnswer> SetMaintenanceOnMasters(const std::vector<std::string>& masters,
                                                  const std::string& uuid, bool enter,
                                                  std::chrono::milliseconds timeout);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_UNREGISTER_H_
