// An in-process stand-in for a cluster's RPC surface (master status and
// catalog, tablet server status and checksums), for testing and benchmarking
// the remote collector without starting processes: each fake server is a real
// gRPC server on 127.0.0.1 with a port it bound itself. The real-process tests
// of ksck run against kmend-server (testing/cluster).
//
// Thread safety: configure before Start(); counters are atomic.
#ifndef KMEND_LIB_CHECK_FAKE_CLUSTER_H_
#define KMEND_LIB_CHECK_FAKE_CLUSTER_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"

namespace kmend::check {

struct FakeTabletServer {
  std::string uuid;
  bool running = true;          // false: no server listens on its address
  bool live_per_master = true;  // what ListTabletServers says
  bool hang = false;            // GetStatus blocks until the cluster stops
  std::string address;          // filled by Start()
  std::atomic<int> status_calls{0};
};

class FakeCluster {
 public:
  // `tablets` tablets of table "t", each with `rf` voters placed round-robin
  // on `servers` tablet servers; the first replica of each tablet leads.
  FakeCluster(int servers, int tablets, int rf);
  ~FakeCluster();

  absl::Status Start();
  void Stop();

  std::string master_address() const { return master_address_; }
  FakeTabletServer& tserver(int i) { return *tservers_[i]; }
  int num_tservers() const { return static_cast<int>(tservers_.size()); }
  // Makes the replica of tablet `tablet` on server `ts` report `digest`.
  void SetDigest(int ts, int tablet, uint64_t digest);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
  std::vector<std::unique_ptr<FakeTabletServer>> tservers_;
  std::string master_address_;
};

}  // namespace kmend::check

#endif  // KMEND_LIB_CHECK_FAKE_CLUSTER_H_
