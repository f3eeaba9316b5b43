// The RPC edge of re-replication: each pass snapshots the registry and the
// catalog, asks rereplication_policy.h for every RUNNING tablet's next step,
// and carries it out (ConsensusService.ChangeConfig on the leader, or
// TabletServerService.CreateTablet with copy_from_address on the new
// replica's server). One step per tablet per pass; the next pass sees the
// result through heartbeats. docs/design/server.md, "Re-replication".
//
// Thread safety: RunOnce from one thread at a time (the master's monitor).
// Lifetime: the registry and catalog outlive the Rereplicator.
#ifndef KMEND_SERVER_MASTER_REREPLICATOR_H_
#define KMEND_SERVER_MASTER_REREPLICATOR_H_

#include <chrono>
#include <cstdint>

#include "server/master/catalog_manager.h"
#include "server/master/rereplication_policy.h"
#include "server/master/ts_registry.h"

namespace kmend::master {

class Rereplicator {
 public:
  // `delay_ms`: how long a server must be silent before its replicas are
  // replaced. `rpc_timeout`: deadline of each config change; a copy gets ten
  // times that.
  Rereplicator(TServerRegistry* registry, CatalogManager* catalog, int64_t delay_ms,
               std::chrono::milliseconds rpc_timeout);

  // One pass (see the file comment). Returns how many steps succeeded.
  int RunOnce();

 private:
  absl::Status Execute(const RereplicationAction& a);

  TServerRegistry* const registry_;
  CatalogManager* const catalog_;
  const int64_t delay_ms_;
  const std::chrono::milliseconds rpc_timeout_;
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_REREPLICATOR_H_
