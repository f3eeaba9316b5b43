// MasterService (proto/master.proto) over the registry and the catalog: the
// gRPC edge of the master. Request validation and state live in
// TServerRegistry and CatalogManager; this file translates, fans out
// CreateTablet/DeleteTablet calls to tablet servers, and assembles
// locations.
//
// Thread safety: gRPC calls methods concurrently; everything it touches is
// thread-safe. Lifetime: registry and catalog outlive the service.
#ifndef KMEND_SERVER_MASTER_MASTER_SERVICE_H_
#define KMEND_SERVER_MASTER_MASTER_SERVICE_H_

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"

#include "proto/master.grpc.pb.h"
#include "server/master/catalog_manager.h"
#include "server/master/quiet_inputs.h"
#include "server/master/ts_registry.h"

namespace kmend::master {

class MasterServiceImpl final : public MasterService::Service {
 public:
  // OK when this master may serve catalog requests (it leads the replicated
  // catalog); otherwise the error to return, naming the leader.
  using LeaderCheck = std::function<absl::Status()>;

  // `leader_check` empty: this master always leads (tests). Followers serve
  // RegisterTServer, Heartbeat (registry only) and ListTabletServers, and
  // answer every catalog call with leader_check's error (UNAVAILABLE, so
  // clients try the next master).
  MasterServiceImpl(std::string master_uuid, TServerRegistry* registry, CatalogManager* catalog,
                    std::chrono::milliseconds tserver_rpc_timeout,
                    LeaderCheck leader_check = nullptr);

  // Sends CreateTablet again for replicas of tablets still on their initial
  // config (opid_index -1) whose live server has reported since registering
  // but does not list them: a server that was unreachable when CreateTable
  // ran gets its replica when it comes back. Tables younger than
  // `min_table_age_us` are skipped (their first fan-out may still run).
  // Returns how many replicas were created. Called by the master's monitor
  // (one thread). Skipped while its inputs equal those of a pass that found
  // nothing and skipped no table for its age (quiet_inputs.h).
  int RecreateMissingReplicas(int64_t min_table_age_us, int64_t now_wall_us);

  grpc::Status RegisterTServer(grpc::ServerContext* ctx, const RegisterTServerRequestPB* req,
                               RegisterTServerResponsePB* resp) override;
  grpc::Status Heartbeat(grpc::ServerContext* ctx, const HeartbeatRequestPB* req,
                         HeartbeatResponsePB* resp) override;
  grpc::Status ListTabletServers(grpc::ServerContext* ctx, const ListTabletServersRequestPB* req,
                                 ListTabletServersResponsePB* resp) override;
  grpc::Status UnregisterTServer(grpc::ServerContext* ctx, const UnregisterTServerRequestPB* req,
                                 UnregisterTServerResponsePB* resp) override;
  grpc::Status SetTServerMaintenance(grpc::ServerContext* ctx,
                                     const SetTServerMaintenanceRequestPB* req,
                                     SetTServerMaintenanceResponsePB* resp) override;
  grpc::Status CreateTable(grpc::ServerContext* ctx, const CreateTableRequestPB* req,
                           CreateTableResponsePB* resp) override;
  grpc::Status ListTables(grpc::ServerContext* ctx, const ListTablesRequestPB* req,
                          ListTablesResponsePB* resp) override;
  grpc::Status DescribeTable(grpc::ServerContext* ctx, const DescribeTableRequestPB* req,
                             DescribeTableResponsePB* resp) override;
  grpc::Status DeleteTable(grpc::ServerContext* ctx, const DeleteTableRequestPB* req,
                           DeleteTableResponsePB* resp) override;
  grpc::Status GetTabletLocations(grpc::ServerContext* ctx,
                                  const GetTabletLocationsRequestPB* req,
                                  GetTabletLocationsResponsePB* resp) override;

 private:
  // Every registered server by uuid, from one registry snapshot: the reports
  // are shared, not copied, so a table of thousands of tablets is described
  // from memory in one pass.
  using ServerMap = std::map<std::string, TServerSnapshot>;
  ServerMap Servers() const;
  // The catalog's tablet joined with what `servers` knows about each
  // replica's server and report.
  static TabletLocationsPB Locations(const SysTabletPB& tablet, const std::string& table_name,
                                     const ServerMap& servers);
  absl::Status CheckLeader() const;
  // Leader only: judges a heartbeat's replicas against the catalog (newer
  // Raft configs taken, replicas to tombstone into `resp`). Judges every
  // replica the registry holds for the server when the report is full, when
  // the catalog changed since the server was last judged, when this master
  // did not judge it as leader before, or when the last judgement left work
  // (tombstones told, a catalog update that failed); otherwise only the
  // replicas this incremental report carries, since nothing else changed.
  void JudgeReport(const HeartbeatRequestPB& req, HeartbeatResponsePB* resp);

  const std::string master_uuid_;
  TServerRegistry* const registry_;
  absl::Mutex recreate_mu_;  // RecreateMissingReplicas: one pass at a time
  std::optional<QuietInputs> recreate_quiet_ ABSL_GUARDED_BY(recreate_mu_);
  CatalogManager* const catalog_;
  const std::chrono::milliseconds tserver_rpc_timeout_;
  const LeaderCheck leader_check_;
  // Per server uuid: the catalog version its replicas were last judged
  // against, when that judgement left nothing to redo. Cleared whenever this
  // master is not the leader, so a new leader judges every report in full.
  absl::Mutex judged_mu_;
  std::map<std::string, int64_t> judged_clean_at_version_ ABSL_GUARDED_BY(judged_mu_);
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_MASTER_SERVICE_H_
