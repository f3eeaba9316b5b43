// A real kmend cluster for integration tests: one master (or num_masters,
// sharing a Raft-replicated catalog) and N tablet servers, each a
// kmend-server process (ServerProcess) on 127.0.0.1 with its own directory
// under one temporary base directory. A single master binds a port itself;
// several masters must know each other's addresses before they start, so the
// harness reserves their ports by binding port 0 and releases each just
// before that master starts.
//
//   ExternalCluster cluster({.num_tservers = 3});
//   ASSERT_OK(cluster.Start());
//   cluster.tserver(0)->KillNine();
//   ASSERT_OK(cluster.WaitFor([&] { return ...; }, std::chrono::seconds(10), "ts0 dead"));
//
// The binary is found through the test's runfiles
// ($TEST_SRCDIR/$TEST_WORKSPACE/server/kmend-server; list
// "//server:kmend-server" in the test's data) or $KMEND_SERVER_BIN.
//
// Cleanup is RAII: the destructor kills and reaps every process and removes
// the base directory, also when the test failed half-way.
// Thread safety: not thread-safe; one test thread drives it. Stubs it hands
// out are thread-safe (gRPC stubs).
#ifndef KMEND_TESTING_CLUSTER_EXTERNAL_CLUSTER_H_
#define KMEND_TESTING_CLUSTER_EXTERNAL_CLUSTER_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/master.grpc.pb.h"
#include "proto/status.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"
#include "testing/cluster/server_process.h"

namespace kmend::testing {

struct ClusterOptions {
  // More than one: every master gets --master_addrs listing all of them.
  int num_masters = 1;
  int num_tservers = 3;
  int64_t heartbeat_interval_ms = 100;
  int64_t tserver_unresponsive_timeout_ms = 1500;
  // Appended to each server's command line.
  std::vector<std::string> extra_master_flags;
  std::vector<std::string> extra_tserver_flags;
  // Tablet server i runs through tserver_exec_prefixes[i] when there is a
  // non-empty one (ServerProcess::set_exec_prefix), e.g. {"/usr/bin/taskset",
  // "-c", "2,3"} to give each server cores of its own on a large machine.
  std::vector<std::vector<std::string>> tserver_exec_prefixes;
  // Empty: runfiles, then $KMEND_SERVER_BIN.
  std::string server_binary;
  // TLS on every connection (also when $KMEND_TEST_TLS is 1, so a whole
  // suite runs with TLS: `bazel test --test_env=KMEND_TEST_TLS=1 ...`).
  // Start() makes a CA in <base>/certs (kmend cert init's layout: server
  // cert for 127.0.0.1, users "admin" and "reader"), gives the servers
  // their flags, and installs user-admin as this process's TLS and as
  // $KMEND_TLS_* for the tools it runs.
  bool tls = false;
  // With tls: the servers' --roles_file contents (lib/rpc/authz.h); empty:
  // no role checks.
  std::string tls_roles;
};

// Path of a binary built by Bazel and listed in the test's data, e.g.
// RunfilePath("server/kmend-server").
std::string RunfilePath(const std::string& workspace_relative);

class ExternalCluster {
 public:
  explicit ExternalCluster(ClusterOptions options = {});
  ~ExternalCluster();
  ExternalCluster(const ExternalCluster&) = delete;
  ExternalCluster& operator=(const ExternalCluster&) = delete;

  // Starts the master, then the tablet servers, and waits until every tablet
  // server is registered and live with the master.
  absl::Status Start();

  // The first master (the only one by default).
  ServerProcess* master() { return masters_.at(0).get(); }
  ServerProcess* master(int i) { return masters_.at(i).get(); }
  int num_masters() const { return static_cast<int>(masters_.size()); }
  ServerProcess* tserver(int i) { return tservers_.at(i).get(); }
  int num_tservers() const { return static_cast<int>(tservers_.size()); }
  // The first master's address.
  std::string master_address() const { return masters_.at(0)->address(); }
  // Every master's address, comma-separated (for --masters and
  // --master_addrs).
  std::string master_addresses() const;
  const std::string& base_dir() const { return base_dir_; }
  const ClusterOptions& options() const { return options_; }
  bool tls() const { return tls_; }
  // <base>/certs/<name> (e.g. "ca.crt", "user-reader.key"); TLS only.
  std::string CertPath(const std::string& name) const;

  // Adds and starts one more tablet server; returns its index.
  absl::StatusOr<int> AddTabletServer();

  // Stubs to the current address of a server (a restarted server keeps its
  // port, so stubs stay valid, but a stub made while it was down reconnects).
  std::unique_ptr<master::MasterService::Stub> MasterStub() const;  // the first master
  std::unique_ptr<master::MasterService::Stub> MasterStub(int i) const;
  std::unique_ptr<server::StatusService::Stub> StatusStub(const ServerProcess* p) const;
  std::unique_ptr<tserver::TabletServerService::Stub> TServerStub(int i) const;

  // Index of the master serving the catalog (its status says
  // is_catalog_leader_ready); NotFound when no running master does.
  absl::StatusOr<int> LeaderMasterIndex(
      std::chrono::milliseconds timeout = std::chrono::seconds(2)) const;

  // One-shot calls with a deadline, for tests. ListTabletServers asks the
  // running masters in order until one answers (every master keeps the
  // registry).
  absl::StatusOr<master::ListTabletServersResponsePB> ListTabletServers(
      std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  absl::StatusOr<server::GetStatusResponsePB> GetStatus(
      const ServerProcess* p, std::chrono::milliseconds timeout = std::chrono::seconds(5)) const;
  // The uuid a running tablet server reports in its status.
  absl::StatusOr<std::string> TServerUuid(int i) const;

  // Polls `done` every 20 ms until it returns true; DeadlineExceeded naming
  // `what` after `timeout`. For waiting on the cluster, not for timing it.
  static absl::Status WaitFor(const std::function<bool()>& done,
                              std::chrono::milliseconds timeout, const std::string& what);

  // Waits until the master lists exactly `n` tablet servers as live.
  absl::Status WaitForLiveTServers(int n, std::chrono::milliseconds timeout);

  // Prints each server's log tail (for a failed test's output).
  void DumpLogs(std::ostream& out) const;

 private:
  std::unique_ptr<ServerProcess> NewTServer(int i) const;
  absl::Status SetUpTls();
  // --tls_* flags for a server (empty without TLS).
  std::vector<std::string> TlsFlags() const;

  const ClusterOptions options_;
  bool tls_ = false;
  std::string binary_;
  std::string base_dir_;
  std::vector<std::unique_ptr<ServerProcess>> masters_;
  std::vector<std::unique_ptr<ServerProcess>> tservers_;
};

}  // namespace kmend::testing

#endif  // KMEND_TESTING_CLUSTER_EXTERNAL_CLUSTER_H_
