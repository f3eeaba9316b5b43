// The reference cluster on a NetLab: node 0 runs the master, nodes 1..N the
// tablet servers, each kmend-server in its own network namespace, bound to
// its namespace's address on port 7051 (each node has its own address, so
// one fixed port serves all and a restart keeps it). Tablet servers write
// their ack log (--ack_log_file) to <dir>/ack.log.
//
// Lifetime: the destructor kills the servers (ServerProcess), then the
// NetLab deletes the namespaces. Thread safety: not thread-safe, except
// the const status queries (gRPC stubs).
#ifndef KMEND_TESTING_NEMESIS_NEMESIS_CLUSTER_H_
#define KMEND_TESTING_NEMESIS_NEMESIS_CLUSTER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/status.grpc.pb.h"
#include "testing/cluster/server_process.h"
#include "testing/nemesis/netlab.h"

namespace kmend::nemesis {

struct NemesisClusterOptions {
  int num_tservers = 4;
  std::vector<std::string> extra_master_flags;
  std::vector<std::string> extra_tserver_flags;
};

// The tablet's leader as the replicas report it: the LEADER with the
// highest term.
struct LeaderInfo {
  int node = -1;  // -1: none
  int64_t term = 0;
  std::string uuid;
};

class NemesisCluster {
 public:
  // Creates the namespaces and starts every server; waits until every
  // tablet server is live at the master.
  static absl::StatusOr<std::unique_ptr<NemesisCluster>> Start(NemesisClusterOptions options);
  ~NemesisCluster();

  NetLab* lab() { return lab_.get(); }
  int num_nodes() const { return static_cast<int>(servers_.size()); }
  testing::ServerProcess* server(int node) { return servers_.at(node).get(); }
  const std::string& dir() const { return dir_; }
  std::string master_address() const { return servers_.at(0)->address(); }
  std::string ack_log_path(int node) const;

  absl::StatusOr<server::GetStatusResponsePB> GetStatus(
      int node, std::chrono::milliseconds timeout = std::chrono::seconds(2)) const;
  // Asks every tablet server not in `skip` (down or unreachable nodes
  // answer nothing within the timeout, so pass stopped ones).
  LeaderInfo Leader(const std::string& tablet_id, const std::vector<int>& skip = {}) const;

  void DumpLogs(std::ostream& out) const;

 private:
  NemesisCluster() = default;
  std::string dir_;
  std::unique_ptr<NetLab> lab_;
  std::vector<std::unique_ptr<testing::ServerProcess>> servers_;
};

}  // namespace kmend::nemesis

#endif  // KMEND_TESTING_NEMESIS_NEMESIS_CLUSTER_H_
