// The master's catalog: tables -> hash-partitioned tablets -> replica
// assignments (each tablet's Raft config), persisted through a CatalogStore
// after every change and before the change is visible to readers.
//
// Invariants:
//   - every table in the catalog has exactly num_tablets tablets, in bucket
//     order, each with num_replicas VOTER peers on distinct servers;
//   - among RUNNING tables, names are unique;
//   - a DELETED table and its tablets stay in the catalog (state DELETED) so
//     the master can tell servers still hosting them to tombstone them.
//
// Thread safety: all methods are thread-safe (one mutex; Save() runs under it
// so that changes are persisted in the order they are made). Lifetime:
// `clock` outlives the manager.
#ifndef KMEND_SERVER_MASTER_CATALOG_MANAGER_H_
#define KMEND_SERVER_MASTER_CATALOG_MANAGER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/common.pb.h"
#include "lib/raft/config.h"
#include "proto/master.pb.h"
#include "server/master/placement.h"
#include "server/common/clock.h"
#include "server/master/catalog_store.h"

namespace kmend::master {

// A table with its tablets, in bucket order.
struct TableWithTablets {
  TableInfoPB table;
  std::vector<SysTabletPB> tablets;
};

class CatalogManager {
 public:
  CatalogManager(std::unique_ptr<CatalogStore> store, const server::Clock* clock);

  // Reads the stored catalog. Must be called once before anything else;
  // called again it replaces the in-memory catalog with the stored one (a
  // master that just became the replicated catalog's leader).
  absl::Status Load();

  // Validates the request (name, schema per lib/tablet's rules, counts),
  // places replicas on `live_servers` (uuid -> address) by least load, and
  // persists the new table. InvalidArgument for a bad request, AlreadyExists
  // for a taken name, FailedPrecondition when too few servers are live.
  absl::StatusOr<TableWithTablets> CreateTable(
      const CreateTableRequestPB& req, const std::map<std::string, HostPortPB>& live_servers);

  // Moves tablet `tablet_id` of a table whose creation is still being
  // answered off the servers in `refused` (they turned its CreateTablet down
  // for lack of space): the tablet gets a new id and, in place of each
  // refused server, the least loaded of `live_servers` not already in its
  // config, in one catalog change. A new id, because the replicas created on
  // the other servers hold the old config: they are deleted, never reused.
  // Safe only before the table is announced (no client can have written).
  // FailedPrecondition when no server can replace one; NotFound for an
  // unknown tablet.
  absl::StatusOr<SysTabletPB> ReplaceUnannouncedTablet(
      const std::string& tablet_id, const std::map<std::string, HostPortPB>& live_servers,
      const std::set<std::string>& refused);

  // RUNNING tables whose name contains `name_filter`, ordered by name.
  std::vector<TableInfoPB> ListTables(const std::string& name_filter) const;

  // A RUNNING table by name, or any table by id. NotFound otherwise.
  absl::StatusOr<TableWithTablets> GetTable(const std::string& name,
                                            const std::string& table_id) const;

  // Marks the table and its tablets DELETED and persists; returns them (so
  // the caller can tombstone the replicas). NotFound for an unknown table.
  absl::StatusOr<TableWithTablets> DeleteTable(const std::string& name,
                                               const std::string& table_id);

  // NotFound for an unknown tablet id.
  absl::StatusOr<SysTabletPB> GetTablet(const std::string& tablet_id) const;

  // Replicas of RUNNING tablets per server uuid.
  std::map<std::string, int64_t> ReplicaCounts() const;

  // Of the replicas a server reports (tablet id -> version of the replica's
  // committed config, raft::ConfigVersion), those it should not host:
  // replicas of DELETED tablets, and replicas of RUNNING tablets whose
  // catalog config leaves the server out and is at least as new as the
  // replica's own (a replica whose config is newer than the catalog's view is
  // never judged by the stale view). A replica dropped by an unsafe config
  // change reports a higher index at a lower term than the forced config: it
  // is tombstoned. Unknown tablet ids are left alone.
  std::vector<std::string> TabletsToTombstone(
      const std::string& ts_uuid,
      const std::map<std::string, raft::ConfigVersion>& reported) const;

  // Follows Raft: for each reported (tablet id, committed config) of a
  // RUNNING tablet that is newer than the catalog's in Raft's order (term of
  // the config's entry, then index: raft::ConfigVersion), the catalog takes
  // that config. An unsafe config change (a higher term, maybe a lower index)
  // is adopted by the same rule. Persists once if anything changed; returns
  // how many tablets changed. Unknown tablets are ignored.
  absl::StatusOr<int> UpdateConfigs(
      const std::map<std::string, consensus::RaftConfigPB>& reported);

  // Maintenance mode of a tablet server on or off, persisted (a no-op that
  // changes nothing is not persisted). The caller checks the uuid names a
  // server it knows.
  absl::Status SetTServerMaintenance(const std::string& uuid, bool enter);
  bool InMaintenance(const std::string& uuid) const;

  int64_t num_tables() const;   // RUNNING
  int64_t num_tablets() const;  // of RUNNING tables
  int64_t version() const;

 private:
  // Persists `next` and, only if that succeeded, makes it current.
  absl::Status CommitLocked(SysCatalogPB next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds to each server already in `load` the RUNNING tablets' replicas it
  // holds (placement counts only the candidates it was given).
  void CountReplicasLocked(ServerLoad* load) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void RebuildIndexLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  TableWithTablets CollectLocked(int table_index) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  int FindTableLocked(const std::string& name, const std::string& table_id) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const std::unique_ptr<CatalogStore> store_;
  const server::Clock* const clock_;
  mutable absl::Mutex mu_;
  SysCatalogPB catalog_ ABSL_GUARDED_BY(mu_);
  // tablet id -> index into catalog_.tablets().
  std::map<std::string, int> tablet_index_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_CATALOG_MANAGER_H_
