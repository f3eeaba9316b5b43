// QuietInputs: what the master's periodic passes over every tablet (the
// re-replication pass, RecreateMissingReplicas) decide from, reduced to a
// cheaply compared value, so that a pass whose inputs did not change since a
// pass that found nothing to do can be skipped (issue 15: at 2,000 tablets
// the two scans every second were most of an idle master's CPU).
//
// Equal values mean: the same catalog (version), the same tablet servers
// with the same liveness, report state, full disks and maintenance flags,
// and the very same replica report maps (the registry keeps a server's map,
// the same pointer, across heartbeats that change nothing). A pass is
// skipped only when, besides, it depends on no clock: the caller decides
// that (no server dead, nothing waiting, nothing in flight).
#ifndef KMEND_SERVER_MASTER_QUIET_INPUTS_H_
#define KMEND_SERVER_MASTER_QUIET_INPUTS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "server/master/catalog_manager.h"
#include "server/master/ts_registry.h"

namespace kmend::master {

struct QuietInputs {
  struct Server {
    std::string uuid;
    bool live = false;
    bool reported = false;
    bool disk_full = false;
    bool in_maintenance = false;
    const void* replicas = nullptr;  // identity of the report map
    bool operator==(const Server& o) const {
      return uuid == o.uuid && live == o.live && reported == o.reported &&
             disk_full == o.disk_full && in_maintenance == o.in_maintenance &&
             replicas == o.replicas;
    }
  };
  int64_t catalog_version = -1;
  std::vector<Server> servers;  // in the registry's order
  bool all_live = true;

  bool operator==(const QuietInputs& o) const {
    return catalog_version == o.catalog_version && servers == o.servers;
  }
  bool operator!=(const QuietInputs& o) const { return !(*this == o); }

  static QuietInputs Of(const std::vector<TServerSnapshot>& all, const CatalogManager& catalog) {
    QuietInputs in;
    in.catalog_version = catalog.version();
    for (const TServerSnapshot& ts : all) {
      const std::string& uuid = ts.registration.permanent_uuid();
      in.servers.push_back(Server{uuid, ts.live, ts.reported, ts.disk_full(),
                                  catalog.InMaintenance(uuid), ts.replicas.get()});
      in.all_live = in.all_live && ts.live;
    }
    return in;
  }
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_QUIET_INPUTS_H_
