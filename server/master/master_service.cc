#include "server/master/master_service.h"

#include <algorithm>
#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/tserver.grpc.pb.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"
#include "server/master/tablet_call_fanout.h"

namespace kmend::master {
namespace {

using server::FromGrpcStatus;
using server::ToGrpcStatus;

TabletCall CreateCall(const TableInfoPB& table, const SysTabletPB& t, const std::string& ts_uuid,
                      const std::string& address) {
  TabletCall c;
  c.ts_uuid = ts_uuid;
  c.address = address;
  auto& r = c.create;
  r.set_dest_uuid(ts_uuid);
  r.set_tablet_id(t.tablet_id());
  r.set_table_id(table.table_id());
  r.set_table_name(table.name());
  *r.mutable_schema() = table.schema();
  *r.mutable_partition_schema() = table.partition_schema();
  *r.mutable_partition() = t.partition();
  *r.mutable_initial_config() = t.config();
  return c;
}

// A server that filled up after its last heartbeat turns a CreateTablet down
// (RESOURCE_EXHAUSTED, having undone it). Before the table is announced no
// client can have written to its tablets, so such a tablet is placed anew
// (new id, a server with space in place of each refusing one), the replicas
// created for the old id are deleted, and the new one is created. Once:
// what fails again is logged and left to re-replication, as any missing
// replica. `calls` gets the new calls' results; `resp` the new tablet ids.
void MoveTabletsOffFullServers(CatalogManager* catalog, std::chrono::milliseconds timeout,
                               const TableInfoPB& table,
                               const std::map<std::string, HostPortPB>& live,
                               std::vector<TabletCall>* calls, CreateTableResponsePB* resp) {
  std::map<std::string, std::set<std::string>> refused;  // tablet -> servers
  for (const TabletCall& c : *calls) {
    if (c.is_create && c.result.code() == absl::StatusCode::kResourceExhausted) {
      refused[c.create.tablet_id()].insert(c.ts_uuid);
    }
  }
  if (refused.empty()) return;
  std::vector<TabletCall> moves;
  for (const auto& [tablet_id, servers] : refused) {
    absl::StatusOr<SysTabletPB> moved =
        catalog->ReplaceUnannouncedTablet(tablet_id, live, servers);
    if (!moved.ok()) {
      KLOG(WARNING) << "tablet " << tablet_id << " refused for lack of space by "
                    << absl::StrJoin(servers, ", ") << ", not moved: " << moved.status();
      continue;
    }
    KLOG(INFO) << "tablet " << tablet_id << " refused for lack of space by "
               << absl::StrJoin(servers, ", ") << ": placed anew as " << moved->tablet_id();
    for (TabletCall& c : *calls) {
      if (!c.is_create || c.create.tablet_id() != tablet_id || !c.result.ok()) continue;
      TabletCall del;
      del.is_create = false;
      del.ts_uuid = c.ts_uuid;
      del.address = c.address;
      del.del.set_dest_uuid(c.ts_uuid);
      del.del.set_tablet_id(tablet_id);
      del.del.set_tombstone(false);  // never announced, never written
      del.del.set_reason("placed anew: another replica's server was out of space");
      moves.push_back(std::move(del));
    }
    for (const auto& peer : moved->config().peers()) {
      moves.push_back(CreateCall(table, *moved, peer.permanent_uuid(),
                                 server::HostPortToString(peer.last_known_addr())));
    }
    for (std::string& id : *resp->mutable_tablet_ids()) {
      if (id == tablet_id) id = moved->tablet_id();
    }
    // The old calls' failures are settled by the move.
    calls->erase(std::remove_if(calls->begin(), calls->end(),
                                // By name: a lambda may not capture a structured
                                // binding before C++20 (clang refuses it).
                                [&refused_id = tablet_id](const TabletCall& c) {
                                  return c.is_create && c.create.tablet_id() == refused_id;
                                }),
                 calls->end());
  }
  FanOut(&moves, timeout);
  for (TabletCall& m : moves) calls->push_back(std::move(m));
}

}  // namespace

int MasterServiceImpl::RecreateMissingReplicas(int64_t min_table_age_us, int64_t now_wall_us) {
  absl::MutexLock pass(&recreate_mu_);
  const QuietInputs inputs = QuietInputs::Of(registry_->List(), *catalog_);
  if (recreate_quiet_ == inputs) return 0;
  recreate_quiet_.reset();
  bool skipped_young = false;
  std::vector<TabletCall> calls;
  for (const TableInfoPB& info : catalog_->ListTables("")) {
    if (now_wall_us - info.created_time_us() < min_table_age_us) {
      skipped_young = true;  // the clock will change this pass's outcome
      continue;
    }
    auto table = catalog_->GetTable("", info.table_id());
    if (!table.ok()) continue;
    for (const SysTabletPB& t : table->tablets) {
      // Only the initial config: once Raft has changed it, replacing a
      // replica is re-replication's job (add, copy, promote), not ours.
      if (t.config().opid_index() != -1) continue;
      for (const auto& peer : t.config().peers()) {
        auto ts = registry_->Get(peer.permanent_uuid());
        // Judge only live servers that have sent a report since registering.
        if (!ts.has_value() || !ts->live || !ts->reported) continue;
        if (ts->replicas->count(t.tablet_id()) > 0) continue;
        calls.push_back(CreateCall(table->table, t, peer.permanent_uuid(),
                                   server::HostPortToString(ts->registration.rpc_address())));
      }
    }
  }
  if (calls.empty()) {
    if (!skipped_young) recreate_quiet_ = inputs;
    return 0;
  }
  FanOut(&calls, tserver_rpc_timeout_);
  int created = 0;
  for (const TabletCall& c : calls) {
    if (c.result.ok()) {
      ++created;
      KLOG(INFO) << "re-sent CreateTablet " << c.create.tablet_id() << " to " << c.ts_uuid
                 << ": created";
    } else if (!absl::IsAlreadyExists(c.result)) {
      KLOG(WARNING) << c.result;
    }
  }
  return created;
}

MasterServiceImpl::MasterServiceImpl(std::string master_uuid, TServerRegistry* registry,
                                     CatalogManager* catalog,
                                     std::chrono::milliseconds tserver_rpc_timeout,
                                     LeaderCheck leader_check)
    : master_uuid_(std::move(master_uuid)),
      registry_(registry),
      catalog_(catalog),
      tserver_rpc_timeout_(tserver_rpc_timeout),
      leader_check_(std::move(leader_check)) {}

absl::Status MasterServiceImpl::CheckLeader() const {
  return leader_check_ ? leader_check_() : absl::OkStatus();
}

grpc::Status MasterServiceImpl::RegisterTServer(grpc::ServerContext*,
                                                const RegisterTServerRequestPB* req,
                                                RegisterTServerResponsePB* resp) {
  absl::Status s = registry_->Register(req->registration());
  if (!s.ok()) return ToGrpcStatus(s);
  KLOG(INFO) << "registered tablet server " << req->registration().permanent_uuid() << " at "
             << server::HostPortToString(req->registration().rpc_address());
  resp->set_master_uuid(master_uuid_);
  return grpc::Status::OK;
}

grpc::Status MasterServiceImpl::Heartbeat(grpc::ServerContext*, const HeartbeatRequestPB* req,
                                          HeartbeatResponsePB* resp) {
  resp->set_master_uuid(master_uuid_);
  ReportOutcome outcome = ReportOutcome::kNeedsFullReport;
  absl::Status s = registry_->Heartbeat(*req, &outcome);
  if (absl::IsFailedPrecondition(s)) {
    // Not an RPC failure: the answer is "register again".
    resp->set_needs_reregister(true);
    return grpc::Status::OK;
  }
  if (!s.ok()) return ToGrpcStatus(s);
  const bool leader = CheckLeader().ok();
  if (!leader) {
    absl::MutexLock lock(&judged_mu_);
    judged_clean_at_version_.clear();
  }
  if (outcome == ReportOutcome::kNeedsFullReport) {
    resp->set_needs_full_report(true);
    return grpc::Status::OK;
  }
  // A follower master keeps its registry current (a new leader knows the
  // live servers and their replicas at once) but neither writes the catalog
  // nor judges replicas by its possibly stale copy of it.
  if (leader) JudgeReport(*req, resp);
  return grpc::Status::OK;
}

void MasterServiceImpl::JudgeReport(const HeartbeatRequestPB& req, HeartbeatResponsePB* resp) {
  const std::string& uuid = req.permanent_uuid();
  const int64_t version = catalog_->version();
  bool full = req.is_full_report();
  if (!full) {
    absl::MutexLock lock(&judged_mu_);
    auto it = judged_clean_at_version_.find(uuid);
    full = it == judged_clean_at_version_.end() || it->second != version;
  }
  // The replicas to judge: the whole stored view, or just this report's.
  std::vector<const server::ReplicaStatusPB*> subject;
  std::shared_ptr<const ReplicaReports> stored;
  if (full) {
    std::optional<TServerSnapshot> ts = registry_->Get(uuid);
    if (ts.has_value()) stored = ts->replicas;
    if (stored != nullptr) {
      subject.reserve(stored->size());
      for (const auto& [id, r] : *stored) subject.push_back(r.get());
    }
  } else {
    for (const auto& r : req.replicas()) subject.push_back(&r);
  }
  std::map<std::string, consensus::RaftConfigPB> configs;
  for (const server::ReplicaStatusPB* r : subject) {
    if (r->data_state() == server::TABLET_DATA_READY && r->has_consensus_state()) {
      configs[r->tablet_id()] = r->consensus_state().committed_config();
    }
  }
  bool clean = true;
  auto updated = catalog_->UpdateConfigs(configs);
  if (!updated.ok()) {
    clean = false;
    KLOG(WARNING) << "heartbeat from " << uuid << ": " << updated.status();
  } else if (*updated > 0) {
    KLOG(INFO) << "catalog took " << *updated << " newer Raft config(s) reported by " << uuid;
  }
  std::map<std::string, raft::ConfigVersion> reported;
  for (const server::ReplicaStatusPB* r : subject) {
    if (r->data_state() == server::TABLET_DATA_TOMBSTONED ||
        r->data_state() == server::TABLET_DATA_DELETED) {
      continue;
    }
    reported[r->tablet_id()] = raft::ConfigVersionOf(r->consensus_state().committed_config());
  }
  for (const std::string& id : catalog_->TabletsToTombstone(uuid, reported)) {
    resp->add_tablets_to_tombstone(id);
    // Told again at the next heartbeat until the server reports it gone.
    clean = false;
  }
  absl::MutexLock lock(&judged_mu_);
  if (clean) {
    // `version` as read before judging: a catalog change made meanwhile (this
    // UpdateConfigs included) has the next heartbeat judged in full.
    judged_clean_at_version_[uuid] = version;
  } else {
    judged_clean_at_version_.erase(uuid);
  }
}

grpc::Status MasterServiceImpl::ListTabletServers(grpc::ServerContext*,
                                                  const ListTabletServersRequestPB*,
                                                  ListTabletServersResponsePB* resp) {
  auto counts = catalog_->ReplicaCounts();
  for (const TServerSnapshot& ts : registry_->List()) {
    TServerEntryPB* e = resp->add_servers();
    *e->mutable_registration() = ts.registration;
    e->set_live(ts.live);
    e->set_millis_since_heartbeat(ts.millis_since_heartbeat);
    e->set_num_assigned_replicas(static_cast<int32_t>(counts[ts.registration.permanent_uuid()]));
    e->set_num_reported_replicas(static_cast<int32_t>(ts.replicas->size()));
    e->set_in_maintenance(catalog_->InMaintenance(ts.registration.permanent_uuid()));
  }
  return grpc::Status::OK;
}

grpc::Status MasterServiceImpl::UnregisterTServer(grpc::ServerContext*,
                                                  const UnregisterTServerRequestPB* req,
                                                  UnregisterTServerResponsePB*) {
  absl::Status s = registry_->Unregister(req->permanent_uuid());
  if (s.ok()) {
    KLOG(WARNING) << "tablet server " << req->permanent_uuid() << " unregistered by request";
  }
  return ToGrpcStatus(s);
}

grpc::Status MasterServiceImpl::SetTServerMaintenance(grpc::ServerContext*,
                                                      const SetTServerMaintenanceRequestPB* req,
                                                      SetTServerMaintenanceResponsePB*) {
  // Through the catalog leader, persisted in the catalog: the mode must hold
  // across a master restart or failover during the planned restart it
  // covers. A uuid neither registered nor in maintenance is a typo: refused
  // both ways, so that `exit` never reports success for nothing.
  if (absl::Status leader = CheckLeader(); !leader.ok()) return ToGrpcStatus(leader);
  const std::string& uuid = req->permanent_uuid();
  if (!registry_->Get(uuid).has_value() && !(catalog_->InMaintenance(uuid) && !req->enter())) {
    return ToGrpcStatus(absl::NotFoundError(absl::StrCat(
        "tablet server ", uuid, " is not registered",
        req->enter() ? "" : " and not in maintenance mode")));
  }
  absl::Status s = catalog_->SetTServerMaintenance(uuid, req->enter());
  if (s.ok()) {
    KLOG(WARNING) << "tablet server " << req->permanent_uuid()
                  << (req->enter() ? " entered" : " left") << " maintenance mode by request";
  }
  return ToGrpcStatus(s);
}

grpc::Status MasterServiceImpl::CreateTable(grpc::ServerContext*, const CreateTableRequestPB* req,
                                            CreateTableResponsePB* resp) {
  if (absl::Status leader = CheckLeader(); !leader.ok()) return ToGrpcStatus(leader);
  std::map<std::string, HostPortPB> live;
  std::vector<std::string> full;
  for (const TServerSnapshot& ts : registry_->LiveServers()) {
    // A server whose data directory is below its reserve takes no new
    // replica (it would refuse the CreateTablet anyway).
    if (ts.disk_full()) {
      full.push_back(ts.registration.permanent_uuid());
      continue;
    }
    live[ts.registration.permanent_uuid()] = ts.registration.rpc_address();
  }
  auto created = catalog_->CreateTable(*req, live);
  if (!created.ok()) {
    absl::Status s = created.status();
    if (!full.empty()) {
      s = absl::Status(s.code(), absl::StrCat(s.message(), " (not counted, disk full: ",
                                              absl::StrJoin(full, ", "), ")"));
    }
    return ToGrpcStatus(s);
  }
  KLOG(INFO) << "created table '" << req->name() << "' id " << created->table.table_id()
             << " with " << created->tablets.size() << " tablets x "
             << req->num_replicas() << " replicas";

  std::vector<TabletCall> calls;
  for (const SysTabletPB& t : created->tablets) {
    resp->add_tablet_ids(t.tablet_id());
    for (const auto& peer : t.config().peers()) {
      calls.push_back(CreateCall(created->table, t, peer.permanent_uuid(),
                                 server::HostPortToString(peer.last_known_addr())));
    }
  }
  FanOut(&calls, tserver_rpc_timeout_);
  MoveTabletsOffFullServers(catalog_, tserver_rpc_timeout_, created->table, live, &calls, resp);
  // The table exists once the catalog says so; a replica that could not be
  // created (its server died meanwhile) shows as missing in ksck and is the
  // re-replication's job, so failures are logged, not returned.
  for (const TabletCall& c : calls) {
    if (!c.result.ok()) KLOG(WARNING) << c.result;
  }
  resp->set_table_id(created->table.table_id());
  return grpc::Status::OK;
}

grpc::Status MasterServiceImpl::ListTables(grpc::ServerContext*, const ListTablesRequestPB* req,
                                           ListTablesResponsePB* resp) {
  if (absl::Status leader = CheckLeader(); !leader.ok()) return ToGrpcStatus(leader);
  for (TableInfoPB& t : catalog_->ListTables(req->name_filter())) {
    *resp->add_tables() = std::move(t);
  }
  return grpc::Status::OK;
}

MasterServiceImpl::ServerMap MasterServiceImpl::Servers() const {
  ServerMap out;
  for (TServerSnapshot& ts : registry_->List()) {
    std::string uuid = ts.registration.permanent_uuid();
    out.emplace(std::move(uuid), std::move(ts));
  }
  return out;
}

TabletLocationsPB MasterServiceImpl::Locations(const SysTabletPB& tablet,
                                               const std::string& table_name,
                                               const ServerMap& servers) {
  TabletLocationsPB loc;
  loc.set_tablet_id(tablet.tablet_id());
  loc.set_table_id(tablet.table_id());
  loc.set_table_name(table_name);
  *loc.mutable_partition() = tablet.partition();
  *loc.mutable_config() = tablet.config();
  for (const auto& peer : tablet.config().peers()) {
    ReplicaLocationPB* r = loc.add_replicas();
    r->set_ts_uuid(peer.permanent_uuid());
    *r->mutable_rpc_address() = peer.last_known_addr();
    auto ts = servers.find(peer.permanent_uuid());
    if (ts == servers.end()) continue;
    *r->mutable_rpc_address() = ts->second.registration.rpc_address();
    r->set_ts_live(ts->second.live);
    auto rep = ts->second.replicas->find(tablet.tablet_id());
    if (rep == ts->second.replicas->end()) continue;
    r->set_role(rep->second->role());
    r->set_data_state(rep->second->data_state());
    if (rep->second->role() == consensus::RaftPeerPB::LEADER && ts->second.live) {
      loc.set_leader_uuid(peer.permanent_uuid());
    }
  }
  return loc;
}

grpc::Status MasterServiceImpl::DescribeTable(grpc::ServerContext*,
                                              const DescribeTableRequestPB* req,
                                              DescribeTableResponsePB* resp) {
  if (absl::Status leader = CheckLeader(); !leader.ok()) return ToGrpcStatus(leader);
  auto t = catalog_->GetTable(req->name(), req->table_id());
  if (!t.ok()) return ToGrpcStatus(t.status());
  *resp->mutable_table() = t->table;
  const ServerMap servers = Servers();
  resp->mutable_tablets()->Reserve(static_cast<int>(t->tablets.size()));
  for (const SysTabletPB& tablet : t->tablets) {
    *resp->add_tablets() = Locations(tablet, t->table.name(), servers);
  }
  return grpc::Status::OK;
}

grpc::Status MasterServiceImpl::DeleteTable(grpc::ServerContext*, const DeleteTableRequestPB* req,
                                            DeleteTableResponsePB* resp) {
  if (absl::Status leader = CheckLeader(); !leader.ok()) return ToGrpcStatus(leader);
  auto t = catalog_->DeleteTable(req->name(), req->table_id());
  if (!t.ok()) return ToGrpcStatus(t.status());
  KLOG(INFO) << "deleted table '" << t->table.name() << "' id " << t->table.table_id();
  resp->set_table_id(t->table.table_id());
  // Best effort now; a server that misses this call is told to tombstone in
  // its next heartbeat answer.
  std::vector<TabletCall> calls;
  for (const SysTabletPB& tablet : t->tablets) {
    for (const auto& peer : tablet.config().peers()) {
      auto ts = registry_->Get(peer.permanent_uuid());
      if (!ts.has_value() || !ts->live) continue;
      TabletCall c;
      c.is_create = false;
      c.ts_uuid = peer.permanent_uuid();
      c.address = server::HostPortToString(ts->registration.rpc_address());
      c.del.set_dest_uuid(peer.permanent_uuid());
      c.del.set_tablet_id(tablet.tablet_id());
      c.del.set_tombstone(true);
      c.del.set_reason(absl::StrCat("table '", t->table.name(), "' deleted"));
      calls.push_back(std::move(c));
    }
  }
  FanOut(&calls, tserver_rpc_timeout_);
  for (const TabletCall& c : calls) {
    if (!c.result.ok()) KLOG(WARNING) << c.result;
  }
  return grpc::Status::OK;
}

grpc::Status MasterServiceImpl::GetTabletLocations(grpc::ServerContext*,
                                                   const GetTabletLocationsRequestPB* req,
                                                   GetTabletLocationsResponsePB* resp) {
  if (absl::Status leader = CheckLeader(); !leader.ok()) return ToGrpcStatus(leader);
  const ServerMap servers = Servers();
  std::map<std::string, std::string> table_names;  // table id -> name
  for (const std::string& id : req->tablet_ids()) {
    auto tablet = catalog_->GetTablet(id);
    if (!tablet.ok()) {
      resp->add_unknown_tablet_ids(id);
      continue;
    }
    // One catalog lookup per table, not per tablet (GetTable copies the
    // table's tablets).
    auto name = table_names.find(tablet->table_id());
    if (name == table_names.end()) {
      auto table = catalog_->GetTable("", tablet->table_id());
      name = table_names.emplace(tablet->table_id(), table.ok() ? table->table.name() : "").first;
    }
    *resp->add_tablets() = Locations(*tablet, name->second, servers);
  }
  return grpc::Status::OK;
}

}  // namespace kmend::master
