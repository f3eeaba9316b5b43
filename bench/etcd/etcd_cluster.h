// Three (or N) etcd members on loopback for the comparison benchmarks:
// Debian's etcd-server (3.4) started as real processes, each with its own
// data directory under one temporary base directory and its own client and
// peer ports, defaults otherwise (--heartbeat-interval 100 ms,
// --election-timeout 1000 ms, fsync on every commit, no pre-vote in 3.4).
// Never the system's etcd on 2379: ports are picked free by binding port 0.
//
// The binary is $ETCD_BIN, else /usr/bin/etcd (apt-get install etcd-server).
//
// Cleanup is RAII: the destructor SIGKILLs and reaps every member and removes
// the base directory; members also die with the process that started them
// (PR_SET_PDEATHSIG, testing/cluster Spawn).
// Thread safety: Start/Kill/Restart from one thread; KvStub/MaintenanceStub
// hand out gRPC stubs that are thread-safe.
#ifndef KMEND_BENCH_ETCD_ETCD_CLUSTER_H_
#define KMEND_BENCH_ETCD_ETCD_CLUSTER_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/etcd/etcd_api.grpc.pb.h"

namespace kmend::bench {

class EtcdCluster {
 public:
  explicit EtcdCluster(int num_members = 3);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  // Starts every member and waits until all answer Status naming one leader.
  absl::Status Start(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  int num_members() const { return static_cast<int>(members_.size()); }
  // "127.0.0.1:<client port>" (gRPC target).
  std::string client_address(int i) const;
  bool running(int i) const { return members_.at(i).pid > 0; }
  pid_t pid(int i) const { return members_.at(i).pid; }

  etcdserverpb::KV::Stub* kv(int i) const { return members_.at(i).kv.get(); }
  etcdserverpb::Maintenance::Stub* maintenance(int i) const {
    return members_.at(i).maintenance.get();
  }

  // Status of member i with a deadline.
  absl::StatusOr<etcdserverpb::StatusResponse> Status(
      int i, std::chrono::milliseconds timeout = std::chrono::milliseconds(500)) const;
  // The member every running member names as leader; Unavailable while they
  // disagree or know none.
  absl::StatusOr<int> LeaderIndex() const;

  absl::Status KillNine(int i);
  // Starts member i again on its data directory and ports.
  absl::Status Restart(int i);

  // The last lines of member i's log (for errors).
  std::string LogTail(int i, int max_lines = 20) const;

 private:
  struct Member {
    std::string name;
    int client_port = 0;
    int peer_port = 0;
    std::string data_dir;
    std::string log_path;
    pid_t pid = -1;
    uint64_t member_id = 0;  // learned from Status once running
    std::unique_ptr<etcdserverpb::KV::Stub> kv;
    std::unique_ptr<etcdserverpb::Maintenance::Stub> maintenance;
  };
  absl::Status Launch(int i);
  absl::Status WaitForLeader(std::chrono::milliseconds timeout);

  std::string binary_;
  std::string base_dir_;
  std::string initial_cluster_;
  std::vector<Member> members_;
};

// A free TCP port on 127.0.0.1 (bound to port 0, then released: another
// process could take it before etcd binds it; unlikely on a test machine).
absl::StatusOr<int> PickFreePort();

}  // namespace kmend::bench

#endif  // KMEND_BENCH_ETCD_ETCD_CLUSTER_H_
