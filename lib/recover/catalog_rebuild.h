// `kmend master rebuild`: a master catalog rebuilt from what the tablet
// servers hold, for when every master's data is gone (Kudu's `master
// unsafe_rebuild`). Each tablet server reports, per replica, the facts of
// its superblock and consensus metadata (GetStatus with include_schemas):
// table id and name, schema, partition schema, replication factor,
// partition, data state, committed Raft config.
//
// Rules (BuildCatalog, pure; catalog_rebuild_test.cc):
//  - Only READY replicas count (TOMBSTONED and FAILED ones are ignored; a
//    FAILED replica is named in the report).
//  - A tablet's config is the newest committed config any of its replicas
//    reports (Raft's order: opid term, then index; raft::ConfigVersionOf).
//  - A table is rebuilt only when every hash bucket of its partition schema
//    has a tablet; otherwise it is listed as not recoverable with the
//    missing buckets, and its surviving replicas are left alone (the master
//    ignores replicas of tablets it does not know).
//  - Replicas of one table disagreeing on schema, partition schema or
//    replication factor: the table is not rebuilt (listed, with the fields).
//  - Two or more table ids with one name (a table deleted, or dropped and
//    created again, while a server holding its replicas was down, so they
//    were never tombstoned): none of them is rebuilt, each is listed naming
//    the others; the operator names the stale ones in `exclude_table_ids`
//    and rebuilds again. Which one is current cannot be told from replicas.
//  - A table in `exclude_table_ids` is listed as not recovered (excluded).
// A deleted table whose replicas were not all tombstoned (a server down at
// the deletion) COMES BACK when every bucket survives and no live table has
// its name: replicas do not record the deletion. Delete it again after the
// rebuild, or exclude it. Not recoverable at all: tables whose replicas are
// all gone, tables' creation times (set to the rebuild time), the catalog's
// version history, the tablet server registry (rebuilt from heartbeats).
//
// WriteRebuiltCatalog formats an empty master data directory (lib/fs, a new
// master uuid) and writes the catalog as `<fs_root>/master-catalog` without
// an applied index: a master started alone on it takes it as its state
// before the first sys-catalog entry (docs/design/server.md, "Replicated
// catalog", upgrade). The directory lock is held while writing; a directory
// that is not empty is refused.
#ifndef KMEND_LIB_RECOVER_CATALOG_REBUILD_H_
#define KMEND_LIB_RECOVER_CATALOG_REBUILD_H_

#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/master.pb.h"
#include "proto/status.pb.h"

namespace kmend::recover {

struct ServerReport {
  std::string address;
  std::string uuid;    // empty: it did not answer
  std::string error;   // why it did not answer
  std::vector<server::ReplicaStatusPB> replicas;
};

// GetStatus(include_replicas, include_schemas) on every address.
std::vector<ServerReport> CollectServerReports(const std::vector<std::string>& addresses,
                                               std::chrono::milliseconds timeout);

struct RebuiltTable {
  std::string table_id;
  std::string name;
  int num_tablets = 0;
  int num_replicas = 0;
};

struct LostTable {
  std::string table_id;
  std::string name;
  std::string reason;
};

struct RebuildResult {
  master::SysCatalogPB catalog;  // version 1, RUNNING tables and tablets
  std::vector<RebuiltTable> tables;
  std::vector<LostTable> lost;        // tables not rebuilt, with the reason
  std::vector<std::string> warnings;  // servers that did not answer, FAILED replicas
};

// `now_us`: the tables' creation time.
RebuildResult BuildCatalog(const std::vector<ServerReport>& reports, int64_t now_us,
                           const std::set<std::string>& exclude_table_ids = {});

// Formats `fs_root` (created if missing; must be empty) and writes
// result.catalog with master_uuid set to the new master's. Returns the uuid.
absl::StatusOr<std::string> WriteRebuiltCatalog(const std::string& fs_root,
                                                master::SysCatalogPB catalog);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_CATALOG_REBUILD_H_
