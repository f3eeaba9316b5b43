// Finds a table's tablets and their leaders for the write and scan clients,
// and runs one tablet RPC against the tablet's leader with retries.
//
// Leader routing: the replica the master last reported as leader is tried
// first, then the one a FAILED_PRECONDITION answer names (its typed leader
// hint, rpc::LeaderHint), then the others; after a round where none accepted, the client sleeps
// (50 ms doubling to 1 s) and re-asks the master, until the caller's
// deadline. Leader elections take 1-3 s, so deadlines of a few seconds ride
// them out.
//
// Per attempt: each RPC gets AttemptTimeout(the call's whole budget), a
// quarter of it within [1 s, 3 s] (and at most the locator's rpc_timeout),
// never the whole deadline: a leader that accepts connections and never
// answers (SIGSTOP, a one-way network cut) would otherwise take the whole
// deadline and the client would never ask the new leader. A replica whose
// attempt timed out is tried after the others for the rest of the call. An
// attempt that timed out has an unknown outcome (the stopped leader may
// have logged the op and the new leader commit it): callers must not count
// it as a rejection (TableWriter counts its rows as failed, not rejected).
//
// Thread safety: thread-safe (locations are refreshed under a mutex; stubs
// are gRPC stubs). The locator must outlive the writers/scanners using it.
#ifndef KMEND_LIB_CLIENT_TABLE_LOCATOR_H_
#define KMEND_LIB_CLIENT_TABLE_LOCATOR_H_

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/tablet/schema.h"
#include "proto/master.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"

namespace kmend::client {

struct ReplicaAddr {
  std::string uuid;
  std::string address;  // host:port
};

struct TabletRoute {
  std::string tablet_id;
  int hash_bucket = 0;
  std::string leader_uuid;  // as last reported; may be empty
  std::vector<ReplicaAddr> replicas;
};

struct RetryStats {
  int64_t rpcs = 0;           // tablet RPCs sent
  int64_t redirects = 0;      // answers that were "not the leader"/unavailable
  int64_t master_lookups = 0; // DescribeTable calls after the first
};

// The time one attempt of CallLeader gets out of a call whose whole budget
// is `budget` (see above). Exposed for its unit test.
inline constexpr int kAttemptBudgetDivisor = 4;
inline constexpr absl::Duration kAttemptTimeoutMin = absl::Seconds(1);
inline constexpr absl::Duration kAttemptTimeoutMax = absl::Seconds(3);
absl::Duration AttemptTimeout(absl::Duration budget, absl::Duration rpc_timeout);

class TableLocator {
 public:
  // Resolves `table` via DescribeTable. `rpc_timeout` bounds each RPC.
  static absl::StatusOr<std::unique_ptr<TableLocator>> Open(const std::string& masters,
                                                             const std::string& table,
                                                             std::chrono::milliseconds rpc_timeout);

  const tablet::Schema& schema() const { return schema_; }
  int num_buckets() const { return num_buckets_; }
  uint64_t hash_seed() const { return hash_seed_; }
  int num_tablets() const;
  // Index of the tablet serving hash bucket `bucket` (the master's catalog
  // gives tablet b the bucket list {b}; we map by PartitionPB.hash_buckets).
  absl::StatusOr<int> TabletForBucket(int bucket) const;
  TabletRoute route(int tablet_index) const;

  // Sends `call` to tablet `tablet_index`'s leader until it answers OK or a
  // non-retryable error, or `deadline` passes (then the last error,
  // annotated). Retryable: FAILED_PRECONDITION, UNAVAILABLE,
  // DEADLINE_EXCEEDED, NOT_FOUND (a replica moved). `call` may run several
  // times; it must reset its response each time.
  using TabletCall = std::function<grpc::Status(tserver::TabletServerService::Stub*,
                                                grpc::ClientContext*)>;
  absl::Status CallLeader(int tablet_index, const std::string& what, absl::Time deadline,
                          const TabletCall& call, RetryStats* stats);

 private:
  TableLocator(std::vector<std::string> masters, std::string table,
               std::chrono::milliseconds rpc_timeout)
      : masters_(std::move(masters)), table_(std::move(table)), rpc_timeout_(rpc_timeout) {}
  // DescribeTable at each master in turn; the first answer that is not
  // UNAVAILABLE/DEADLINE_EXCEEDED wins.
  absl::StatusOr<master::DescribeTableResponsePB> Describe();
  absl::Status Refresh();
  // The replica that answered a call as leader becomes the route's leader.
  void NoteLeader(int tablet_index, const std::string& tablet_id, const std::string& leader_uuid);
  std::shared_ptr<tserver::TabletServerService::Stub> StubFor(const std::string& address);

  const std::vector<std::string> masters_;
  const std::string table_;
  const std::chrono::milliseconds rpc_timeout_;
  tablet::Schema schema_ = *tablet::Schema::FromColumns({{"k", kmend::INT64, true, false, 0}});
  int num_buckets_ = 1;
  uint64_t hash_seed_ = 0;
  std::string table_id_;

  mutable absl::Mutex mu_;
  std::vector<TabletRoute> routes_ ABSL_GUARDED_BY(mu_);
  std::map<int, int> bucket_to_tablet_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<tserver::TabletServerService::Stub>> stubs_
      ABSL_GUARDED_BY(mu_);
  absl::Mutex master_mu_;  // serializes refreshes
};

}  // namespace kmend::client

#endif  // KMEND_LIB_CLIENT_TABLE_LOCATOR_H_
