#include "testing/cluster/cluster_test_util.h"

#include <chrono>
#include <cstdint>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "lib/rpc/tls.h"
#include "lib/tablet/test_spec.h"
#include "server/common/grpc_util.h"

namespace kmend::testing {

ClusterOptions TlsRolesClusterOptions() {
  ClusterOptions o;
  o.num_tservers = 1;
  o.tls = true;
  o.tls_roles = kTestRoles;
  return o;
}

std::shared_ptr<grpc::ChannelCredentials> UserCredentials(const ExternalCluster& cluster,
                                                          const std::string& name) {
  rpc::TlsOptions o;
  o.cert_file = cluster.CertPath("user-" + name + ".crt");
  o.key_file = cluster.CertPath("user-" + name + ".key");
  o.ca_file = cluster.CertPath("ca.crt");
  return rpc::ChannelCredentials(*rpc::LoadTls(o));
}

grpc::Status UnsafeChangeConfigOfNoTabletAs(ExternalCluster& cluster, const std::string& user,
                                            const std::string& caller_id) {
  auto stub = tserver::ConsensusService::NewStub(
      grpc::CreateChannel(cluster.tserver(0)->address(), UserCredentials(cluster, user)));
  tserver::UnsafeChangeConfigRequestPB req;
  req.set_tablet_id(std::string(32, 'a'));
  if (!caller_id.empty()) req.set_caller_id(caller_id);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  tserver::UnsafeChangeConfigResponsePB resp;
  return stub->UnsafeChangeConfig(&ctx, req, &resp);
}

using std::chrono::seconds;

absl::StatusOr<int> WaitForLeaderMaster(const ExternalCluster& cluster) {
  int leader = -1;
  absl::Status s = ExternalCluster::WaitFor(
      [&] {
        auto l = cluster.LeaderMasterIndex();
        if (l.ok()) leader = *l;
        return l.ok();
      },
      seconds(30), "a master serving the catalog");
  if (!s.ok()) return s;
  return leader;
}

absl::StatusOr<TServerUuids> GetTServerUuids(const ExternalCluster& cluster) {
  TServerUuids out;
  for (int i = 0; i < cluster.num_tservers(); ++i) {
    absl::StatusOr<std::string> u = cluster.TServerUuid(i);
    if (!u.ok()) return u.status();
    out[i] = *u;
  }
  return out;
}

ReplicasByTablet LiveReplicas(ExternalCluster& cluster, const TServerUuids& uuids,
                              const std::set<int>& down) {
  ReplicasByTablet out;
  for (int i = 0; i < cluster.num_tservers(); ++i) {
    if (down.count(i)) continue;
    auto st = cluster.GetStatus(cluster.tserver(i), seconds(2));
    if (!st.ok()) continue;
    auto uuid = uuids.find(i);
    if (uuid == uuids.end()) continue;
    for (const auto& r : st->replicas()) out[r.tablet_id()][uuid->second] = r;
  }
  return out;
}

int TServerIndexOf(const TServerUuids& uuids, const std::string& uuid) {
  for (const auto& [i, u] : uuids) {
    if (u == uuid) return i;
  }
  return -1;
}

int LeaderIndex(const ReplicasByUuid& replicas, const TServerUuids& uuids) {
  int best = -1;
  int64_t term = -1;
  for (const auto& [uuid, r] : replicas) {
    if (r.role() == consensus::RaftPeerPB::LEADER && r.consensus_state().current_term() > term) {
      term = r.consensus_state().current_term();
      best = TServerIndexOf(uuids, uuid);
    }
  }
  return best;
}

grpc::Status RequestLeaderTransfer(const std::string& address, const std::string& tablet_id,
                                   const std::string& new_leader_uuid) {
  auto stub = tserver::ConsensusService::NewStub(server::NewChannel(address));
  tserver::StepDownRequestPB req;
  req.set_tablet_id(tablet_id);
  req.set_new_leader_uuid(new_leader_uuid);
  tserver::StepDownResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, std::chrono::seconds(2));
  return stub->StepDown(&ctx, req, &resp);
}

absl::StatusOr<tserver::ChecksumResponsePB> ReplicaChecksum(const ExternalCluster& cluster, int ts,
                                                            const std::string& tablet_id) {
  tserver::ChecksumRequestPB req;
  req.set_tablet_id(tablet_id);
  tserver::ChecksumResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, seconds(5));
  absl::Status s = server::FromGrpcStatus(cluster.TServerStub(ts)->Checksum(&ctx, req, &resp));
  if (!s.ok()) return s;
  return resp;
}

master::CreateTableRequestPB KeyValueTableRequest(const std::string& name,
                                                  const std::string& value_column,
                                                  int num_tablets, int num_replicas) {
  master::CreateTableRequestPB req;
  req.set_name(name);
  *req.mutable_schema() = tablet::KeyValueTestSchema(value_column);
  req.set_num_tablets(num_tablets);
  req.set_num_replicas(num_replicas);
  return req;
}

master::CreateTableRequestPB KeyOnlyTableRequest(const std::string& name) {
  master::CreateTableRequestPB req;
  req.set_name(name);
  auto* col = req.mutable_schema()->add_columns();
  col->set_name("id");
  col->set_type(INT64);
  col->set_is_key(true);
  req.set_num_tablets(1);
  req.set_num_replicas(1);
  return req;
}

absl::StatusOr<std::vector<std::string>> CreateTable(const ExternalCluster& cluster,
                                                     const master::CreateTableRequestPB& req) {
  master::CreateTableResponsePB created;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, seconds(30));
  absl::Status s = server::FromGrpcStatus(cluster.MasterStub()->CreateTable(&ctx, req, &created));
  if (!s.ok()) return s;
  return std::vector<std::string>(created.tablet_ids().begin(), created.tablet_ids().end());
}

absl::Status UpsertRows(tserver::TabletServerService::Stub* stub, const std::string& tablet_id,
                        int first, int n, const std::function<std::string(int)>& value_of) {
  tserver::WriteRequestPB req;
  req.set_tablet_id(tablet_id);
  for (int i = first; i < first + n; ++i) {
    RowOpPB* op = req.mutable_ops()->add_ops();
    op->set_type(RowOpPB::UPSERT);
    op->add_cells()->set_int64_value(i);
    op->add_cells()->set_string_value(value_of(i));
  }
  tserver::WriteResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, seconds(10));
  return server::FromGrpcStatus(stub->Write(&ctx, req, &resp));
}

absl::Status UpsertHashedRows(tserver::TabletServerService::Stub* stub,
                              const std::string& tablet_id, int first, int n) {
  return UpsertRows(stub, tablet_id, first, n,
                    [](int i) { return tablet::IncompressibleTestValue(i); });
}

}  // namespace kmend::testing
