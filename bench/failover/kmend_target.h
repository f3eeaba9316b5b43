// The kmend FailoverTarget (failover_runner.h): a real cluster (one master,
// three tablet servers on loopback, WAL fsync on as always), a table of one
// tablet with three replicas; a writer of single 100-byte rows through the
// kmend client library (TableWriter; 200 ms per RPC and per write call,
// retried back to back); members probed through StatusService.GetStatus.
// Used by //bench/failover:kmend_failover and, with TLS on and off in one
// run, by //bench/tls:tls_failover_bench.
//
// Raft timing is the server's default (tablet_server.h): 100 ms tick =
// heartbeat, election timeout random in [10, 20) ticks = [1000, 2000) ms,
// pre-vote and check-quorum on.
//
// Thread safety: as FailoverTarget requires (ProbeMember, WriteOne and Kill
// concurrently; Start on the thread the processes should live as long as).
#ifndef KMEND_BENCH_FAILOVER_KMEND_TARGET_H_
#define KMEND_BENCH_FAILOVER_KMEND_TARGET_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "bench/failover/failover_runner.h"
#include "lib/client/table_locator.h"
#include "proto/status.grpc.pb.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::bench {

class KmendTarget : public FailoverTarget {
 public:
  // `options` as the cluster's (num_tservers must stay 3; tls and
  // tls_roles choose the security mode). Re-replication is turned off on
  // top of them: a killed server is down between trials on purpose.
  explicit KmendTarget(testing::ClusterOptions options = {}) : options_(std::move(options)) {}

  // "kmend", or "kmend (TLS)" once a TLS cluster (options or
  // $KMEND_TEST_TLS) has started.
  std::string name() const override {
    return cluster_ != nullptr && cluster_->tls() ? "kmend (TLS)" : "kmend";
  }
  int num_members() const override { return cluster_->num_tservers(); }

  // Starts the cluster, creates the table, waits for a leader all agree on.
  absl::Status Start();

  absl::StatusOr<Probe> ProbeMember(int i) override;
  absl::Status WriteOne(int64_t seq, int64_t* acked_term) override;
  absl::StatusOr<int> FindLeader() override;
  absl::Status Kill(int i) override;
  absl::Status Restart(int i) override;

 private:
  const testing::ClusterOptions options_;
  std::unique_ptr<testing::ExternalCluster> cluster_;
  std::unique_ptr<client::TableLocator> locator_;
  std::string tablet_id_;
  std::vector<std::string> uuids_;
  std::vector<std::unique_ptr<server::StatusService::Stub>> status_stubs_;
};

}  // namespace kmend::bench

#endif  // KMEND_BENCH_FAILOVER_KMEND_TARGET_H_
