// Helpers shared by the integration tests in testing/cluster: the master
// serving the catalog, the tablet server uuids of a cluster, the replicas
// the live servers report, the leader among them and a request to move it,
// a replica's row checksum, a two-column table created through the master
// and the incompressible rows the flush tests write.
//
// Thread-safety: the functions keep no state; those taking an ExternalCluster
// only read it (the cluster must outlive the call; LiveReplicas takes it
// non-const only for ExternalCluster::tserver()). UpsertHashedRows touches
// only the stub it is given, so test threads may call it concurrently.
#ifndef KMEND_TESTING_CLUSTER_CLUSTER_TEST_UTIL_H_
#define KMEND_TESTING_CLUSTER_CLUSTER_TEST_UTIL_H_

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/security/credentials.h"
#include "proto/master.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::testing {

// The roles file of the TLS tests (lib/rpc/authz.h): the servers' own
// certificate replicates, "admin" may do everything, "reader" only read.
inline constexpr char kTestRoles[] = "kmend-server service\nadmin admin\nreader read\n";

// One master and one tablet server, TLS everywhere, kTestRoles.
ClusterOptions TlsRolesClusterOptions();

// Channel credentials of test user `name` of a TLS cluster (its
// user-NAME certificate, written by the cluster with the others).
std::shared_ptr<grpc::ChannelCredentials> UserCredentials(const ExternalCluster& cluster,
                                                          const std::string& name);

// UnsafeChangeConfig for a tablet no server has, sent to tablet server 0 as
// test user `user` (5 s deadline): what the role check lets through answers
// NOT_FOUND. `caller_id` is set when not empty (it lands in the audit log).
grpc::Status UnsafeChangeConfigOfNoTabletAs(ExternalCluster& cluster, const std::string& user,
                                            const std::string& caller_id = "");

// The index of the master serving the catalog, waiting up to 30 s for one.
absl::StatusOr<int> WaitForLeaderMaster(const ExternalCluster& cluster);

// Tablet server index -> its permanent uuid.
using TServerUuids = std::map<int, std::string>;
// Server uuid -> that server's replica of one tablet.
using ReplicasByUuid = std::map<std::string, server::ReplicaStatusPB>;
// Tablet id -> server uuid -> replica.
using ReplicasByTablet = std::map<std::string, ReplicasByUuid>;

// The uuid of every tablet server of a started cluster.
absl::StatusOr<TServerUuids> GetTServerUuids(const ExternalCluster& cluster);

// Every replica reported by the servers not in `down`; a server that does
// not answer within 2 s is skipped (it may be dying or restarting).
ReplicasByTablet LiveReplicas(ExternalCluster& cluster, const TServerUuids& uuids,
                              const std::set<int>& down);

// The index of the server with `uuid`, or -1.
int TServerIndexOf(const TServerUuids& uuids, const std::string& uuid);

// The index of the leader replica with the highest term, or -1: a deposed
// leader may still report LEADER for a while, the higher term is the real one.
int LeaderIndex(const ReplicasByUuid& replicas, const TServerUuids& uuids);

// Asks the replica of `tablet_id` at `address` to hand its leadership to
// `new_leader_uuid` (ConsensusService.StepDown, 2 s deadline). Only a leader
// accepts; callers that do not know the leader ask every replica.
grpc::Status RequestLeaderTransfer(const std::string& address, const std::string& tablet_id,
                                   const std::string& new_leader_uuid);

// Server `ts`'s row checksum of its replica of `tablet_id` (5 s deadline).
absl::StatusOr<tserver::ChecksumResponsePB> ReplicaChecksum(const ExternalCluster& cluster, int ts,
                                                            const std::string& tablet_id);

// A table `name` (INT64 key "id", nullable STRING `value_column`) of
// `num_tablets` x `num_replicas`.
master::CreateTableRequestPB KeyValueTableRequest(const std::string& name,
                                                  const std::string& value_column,
                                                  int num_tablets, int num_replicas);

// A table `name` of one INT64 key column "id", one tablet, one replica: the
// cheapest table the catalog tests can create and delete.
master::CreateTableRequestPB KeyOnlyTableRequest(const std::string& name);

// Creates the table through the first master (30 s deadline) and returns
// its tablet ids.
absl::StatusOr<std::vector<std::string>> CreateTable(const ExternalCluster& cluster,
                                                     const master::CreateTableRequestPB& req);

// Upserts keys [first, first + n) with the values `value_of(key)` into a
// key/value table (KeyValueTableRequest), in one request (10 s deadline).
absl::Status UpsertRows(tserver::TabletServerService::Stub* stub, const std::string& tablet_id,
                        int first, int n, const std::function<std::string(int)>& value_of);

// Upserts keys [first, first + n) with ~100-byte hashed values that
// compress little, so flush thresholds and WAL segment sizes are reached by
// row counts the tests can reason about (10 s deadline).
absl::Status UpsertHashedRows(tserver::TabletServerService::Stub* stub,
                              const std::string& tablet_id, int first, int n);

}  // namespace kmend::testing

#endif  // KMEND_TESTING_CLUSTER_CLUSTER_TEST_UTIL_H_
