// T_failover of etcd 3.4 (Debian's etcd-server) measured exactly like
// kmend's (bench/failover/failover_runner.h): three members on loopback with
// default timing (--heartbeat-interval 100 ms, --election-timeout 1000 ms,
// randomized to [1000, 2000) ms by etcd's raft; pre-vote off in 3.4) and
// default fsync; the leader is killed with SIGKILL while a client puts
// single 100-byte values, each put acknowledged before the next. The client
// sends each put to the member that last acknowledged one, else tries each
// member in turn, 200 ms per attempt (a follower forwards a put to its
// leader), like etcd's clientv3 balancer on an error.
//
//   bazel test //bench/etcd:etcd_failover --test_tag_filters=benchmark --test_output=all
//   or, built: bazel-bin/bench/etcd/etcd_failover --trials=5 --out=FILE.json
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "bench/etcd/etcd_cluster.h"
#include "bench/failover/failover_runner.h"
#include "grpcpp/grpcpp.h"

namespace kmend::bench {
namespace {

constexpr auto kAttemptTimeout = std::chrono::milliseconds(200);
constexpr size_t kValueLen = 100;

class EtcdTarget : public FailoverTarget {
 public:
  std::string name() const override { return "etcd"; }
  int num_members() const override { return cluster_.num_members(); }

  absl::Status Start() { return cluster_.Start(); }

  absl::StatusOr<Probe> ProbeMember(int i) override {
    auto st = cluster_.Status(i, std::chrono::milliseconds(100));
    if (!st.ok()) return st.status();
    Probe p;
    p.term = static_cast<int64_t>(st->raftterm());
    p.self_id = std::to_string(st->header().member_id());
    if (st->leader() != 0) p.leader_id = std::to_string(st->leader());
    return p;
  }

  absl::Status WriteOne(int64_t seq, int64_t* acked_term) override {
    *acked_term = -1;
    etcdserverpb::PutRequest req;
    req.set_key(absl::StrCat("failover/", seq));
    req.set_value(std::string(kValueLen, 'v'));
    grpc::Status last;
    int first = preferred_.load();
    for (int k = 0; k < num_members(); ++k) {
      int i = (first + k) % num_members();
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + kAttemptTimeout);
      etcdserverpb::PutResponse resp;
      last = cluster_.kv(i)->Put(&ctx, req, &resp);
      if (last.ok()) {
        preferred_.store(i);
        *acked_term = static_cast<int64_t>(resp.header().raft_term());
        return absl::OkStatus();
      }
    }
    return absl::UnavailableError(absl::StrCat("put ", seq, ": ", last.error_message()));
  }

  absl::StatusOr<int> FindLeader() override { return cluster_.LeaderIndex(); }
  absl::Status Kill(int i) override { return cluster_.KillNine(i); }
  absl::Status Restart(int i) override { return cluster_.Restart(i); }

 private:
  EtcdCluster cluster_;
  std::atomic<int> preferred_{0};
};

int Main(int argc, char** argv) {
  EtcdTarget target;
  return RunFailoverMain("etcd_failover", argc, argv, &target, [&] { return target.Start(); });
}

}  // namespace
}  // namespace kmend::bench

int main(int argc, char** argv) { return kmend::bench::Main(argc, argv); }
