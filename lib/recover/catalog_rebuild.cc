#include "lib/recover/catalog_rebuild.h"

#include <map>
#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/format/pb_container.h"
#include "lib/fs/fs_manager.h"
#include "lib/io/dir_lock.h"
#include "lib/io/file.h"
#include "lib/raft/config.h"
#include "lib/rpc/grpc_util.h"
#include "lib/util/status_macros.h"
#include "proto/status.grpc.pb.h"

namespace kmend::recover {

// The file the master loads its catalog snapshot from
// (server/master/catalog_store.h, kCatalogFileName).
constexpr char kMasterCatalogFile[] = "master-catalog";

std::vector<ServerReport> CollectServerReports(const std::vector<std::string>& addresses,
                                               std::chrono::milliseconds timeout) {
  std::vector<ServerReport> out;
  for (const std::string& address : addresses) {
    ServerReport r;
    r.address = address;
    auto stub = server::StatusService::NewStub(rpc::NewChannel(address));
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, timeout);
    server::GetStatusRequestPB req;
    req.set_include_replicas(true);
    req.set_include_schemas(true);
    server::GetStatusResponsePB resp;
    absl::Status s = rpc::FromGrpcStatus(stub->GetStatus(&ctx, req, &resp),
                                         absl::StrCat(address, ": GetStatus"));
    if (s.ok() && resp.server().role() != server::TABLET_SERVER) {
      s = absl::InvalidArgumentError(absl::StrCat(address, " is not a tablet server"));
    }
    if (!s.ok()) {
      r.error = std::string(s.message());
    } else {
      r.uuid = resp.server().uuid();
      r.replicas.assign(resp.replicas().begin(), resp.replicas().end());
    }
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

struct TabletFacts {
  std::string table_id;
  PartitionPB partition;
  consensus::RaftConfigPB config;
  bool has_config = false;
};

struct TableFacts {
  std::string name;
  SchemaPB schema;
  PartitionSchemaPB partition_schema;
  int num_replicas = 0;
  std::vector<std::string> conflicts;
  std::map<int, std::string> tablet_by_bucket;
  std::vector<std::string> unbucketed;  // tablets without a hash bucket
};

int NumBuckets(const PartitionSchemaPB& ps) {
  return ps.hash_schema_size() > 0 ? ps.hash_schema(0).num_buckets() : 1;
}

}  // namespace

RebuildResult BuildCatalog(const std::vector<ServerReport>& reports, int64_t now_us,
                           const std::set<std::string>& exclude_table_ids) {
  RebuildResult out;
  std::map<std::string, TabletFacts> tablets;
  std::map<std::string, TableFacts> tables;
  for (const ServerReport& s : reports) {
    if (s.uuid.empty()) {
      out.warnings.push_back(absl::StrCat("tablet server ", s.address, " did not answer (",
                                          s.error, "): its replicas are not counted"));
      continue;
    }
    for (const server::ReplicaStatusPB& r : s.replicas) {
      if (r.data_state() == server::TABLET_DATA_FAILED) {
        out.warnings.push_back(absl::StrCat("replica of tablet ", r.tablet_id(), " on ", s.uuid,
                                            " is FAILED (", r.data_state_reason(),
                                            "): not counted"));
        continue;
      }
      if (r.data_state() != server::TABLET_DATA_READY || !r.has_schema()) continue;
      auto [tit, new_table] = tables.try_emplace(r.table_id());
      TableFacts& t = tit->second;
      if (new_table) {
        t.name = r.table_name();
        t.schema = r.schema();
        t.partition_schema = r.partition_schema();
        t.num_replicas = r.num_replicas();
      } else {
        auto conflict = [&](const char* field) {
          t.conflicts.push_back(absl::StrCat(field, " differs on ", s.uuid, " (tablet ",
                                             r.tablet_id(), ")"));
        };
        if (r.table_name() != t.name) conflict("name");
        // Partial: a malformed schema is compared, not a reason to abort.
        if (r.schema().SerializePartialAsString() != t.schema.SerializePartialAsString()) {
          conflict("schema");
        }
        if (r.partition_schema().SerializePartialAsString() !=
            t.partition_schema.SerializePartialAsString()) {
          conflict("partition schema");
        }
        if (r.num_replicas() != t.num_replicas) conflict("replication factor");
      }
      TabletFacts& f = tablets[r.tablet_id()];
      f.table_id = r.table_id();
      f.partition = r.partition();
      const consensus::RaftConfigPB& c = r.consensus_state().committed_config();
      if (r.has_consensus_state() &&
          (!f.has_config || raft::ConfigVersionOf(f.config) < raft::ConfigVersionOf(c))) {
        f.config = c;
        f.has_config = true;
      }
    }
  }
  for (const auto& [id, f] : tablets) {
    TableFacts& t = tables[f.table_id];
    if (f.partition.hash_buckets_size() > 0) {
      t.tablet_by_bucket[f.partition.hash_buckets(0)] = id;
    } else if (NumBuckets(t.partition_schema) == 1) {
      t.tablet_by_bucket[0] = id;
    } else {
      t.unbucketed.push_back(id);
    }
  }
  // Table ids per name, excluded ones left out: a name shared by two ids
  // means one of them was deleted (or dropped and re-created) while a server
  // holding its replicas was down.
  std::map<std::string, std::vector<std::string>> ids_by_name;
  for (const auto& [table_id, t] : tables) {
    if (!exclude_table_ids.count(table_id)) ids_by_name[t.name].push_back(table_id);
  }
  master::SysCatalogPB& catalog = out.catalog;
  catalog.set_version(1);
  for (const auto& [table_id, t] : tables) {
    if (exclude_table_ids.count(table_id)) {
      out.lost.push_back({table_id, t.name, "excluded by --exclude_table_ids"});
      continue;
    }
    if (const std::vector<std::string>& same = ids_by_name.at(t.name); same.size() > 1) {
      std::vector<std::string> others;
      for (const std::string& id : same) {
        if (id != table_id) others.push_back(id);
      }
      out.lost.push_back(
          {table_id, t.name,
           absl::StrCat("table id(s) ", absl::StrJoin(others, ", "), " have the same name: one was "
                        "deleted or re-created while a server holding its replicas was down; "
                        "rebuild again with the stale id(s) in --exclude_table_ids")});
      continue;
    }
    const int buckets = NumBuckets(t.partition_schema);
    std::vector<int> missing;
    for (int b = 0; b < buckets; ++b) {
      if (!t.tablet_by_bucket.count(b)) missing.push_back(b);
    }
    std::string reason;
    if (!t.conflicts.empty()) {
      reason = absl::StrCat("its replicas disagree: ", absl::StrJoin(t.conflicts, "; "));
    } else if (!missing.empty()) {
      reason = absl::StrCat("no surviving replica of hash bucket(s) ", absl::StrJoin(missing, ","),
                            " of ", buckets, ": its surviving tablets are left untouched");
    } else if (!t.unbucketed.empty()) {
      reason = absl::StrCat("tablet(s) without a hash bucket: ", absl::StrJoin(t.unbucketed, ","));
    }
    if (!reason.empty()) {
      out.lost.push_back({table_id, t.name, reason});
      continue;
    }
    master::SysTableInfoPB* st = catalog.add_tables();
    master::TableInfoPB* info = st->mutable_info();
    info->set_table_id(table_id);
    info->set_name(t.name);
    *info->mutable_schema() = t.schema;
    *info->mutable_partition_schema() = t.partition_schema;
    info->set_num_tablets(buckets);
    info->set_num_replicas(t.num_replicas);
    info->set_state(master::RUNNING);
    info->set_created_time_us(now_us);
    for (const auto& [bucket, tablet_id] : t.tablet_by_bucket) {
      const TabletFacts& f = tablets.at(tablet_id);
      st->add_tablet_ids(tablet_id);
      master::SysTabletPB* sys = catalog.add_tablets();
      sys->set_tablet_id(tablet_id);
      sys->set_table_id(table_id);
      *sys->mutable_partition() = f.partition;
      *sys->mutable_config() = f.config;
      sys->set_state(master::RUNNING);
    }
    out.tables.push_back({table_id, t.name, buckets, t.num_replicas});
  }
  return out;
}

absl::StatusOr<std::string> WriteRebuiltCatalog(const std::string& fs_root,
                                                master::SysCatalogPB catalog) {
  RETURN_IF_ERROR(io::CreateDirs(fs_root));
  ASSIGN_OR_RETURN(std::unique_ptr<io::DirLock> lock, io::DirLock::Acquire(fs_root));
  const std::string path = io::JoinPath(fs_root, kMasterCatalogFile);
  if (io::FileExists(path)) {
    return absl::AlreadyExistsError(absl::StrCat(
        path, " exists: `master rebuild` writes only into an empty directory (move it away)"));
  }
  absl::StatusOr<fs::InstanceInfo> info = fs::Format(fs_root);
  if (!info.ok()) {
    return Annotate(info.status(), absl::StrCat("formatting ", fs_root,
                                                " (it must be empty: the rebuilt master starts "
                                                "on a new data directory)"));
  }
  catalog.set_master_uuid(info->uuid);
  RETURN_IF_ERROR(Annotate(pbc::WriteSingleMessageFile(path, catalog),
                           absl::StrCat("writing ", path)));
  return info->uuid;
}

}  // namespace kmend::recover
