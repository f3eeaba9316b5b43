// The RPC edge of re-replication. Each RunOnce() pass snapshots the
// registry and the catalog, asks rereplication_policy.h for the next step of
// every RUNNING tablet that has no step in flight, and hands the steps to a
// small worker pool (rereplication_tasks.h), so RunOnce itself returns in
// about the time of the snapshot: a slow tablet copy no longer stalls the
// master's monitor loop or the other tablets. A step is
// ConsensusService.ChangeConfig on the leader (add non-voter, promote,
// remove), TabletServerService.CreateTablet with copy_from_address on the
// new replica's server (copy), or TabletServerService.DeleteTablet on a
// server holding an evicted FAILED replica.
//
// After a step succeeds, its worker goes on with the same replacement: it
// waits until the servers involved have heartbeated since the step ended
// (their reports then show its effect), decides again from a fresh snapshot
// and runs the next step if it is a follow-on (copy, promote, remove,
// delete) - so a replacement does not wait for a monitor pass between
// steps. New placements (add non-voter) are only made by RunOnce, which
// sees all tablets at once. A tablet whose task ended is decided again by a
// later pass once its servers have reported.
// docs/design/server.md, "Re-replication".
//
// Thread safety: RunOnce from one thread at a time (the master's monitor);
// the other methods from any thread. Lifetime: the registry and catalog
// outlive the Rereplicator; the destructor cancels the RPCs in flight and
// joins the workers.
#ifndef KMEND_SERVER_MASTER_REREPLICATOR_H_
#define KMEND_SERVER_MASTER_REREPLICATOR_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/master/catalog_manager.h"
#include "server/master/quiet_inputs.h"
#include "server/master/rereplication_policy.h"
#include "server/master/rereplication_tasks.h"
#include "server/master/ts_registry.h"

namespace grpc {
class ClientContext;
}  // namespace grpc

namespace kmend::master {

struct RereplicatorOptions {
  // How long a server must be silent before its replicas are replaced.
  int64_t delay_ms = 60000;
  // Deadline of each config change and delete; a copy gets ten times that.
  std::chrono::milliseconds rpc_timeout{5000};
  // Concurrent incoming tablet copies per tablet server (running plus
  // placed and waiting), like Kudu's per-tserver limit.
  int max_copies_per_server = 2;
  // How long a replica must be reported FAILED before it is replaced.
  int64_t failed_grace_ms = 3000;
  // Promotion gate (rereplication_policy.h).
  int64_t promote_max_lag_ops = 20;
  // Steps in flight at once (each on its own worker thread).
  int num_workers = 8;
  // A server whose copy of a tablet failed is not chosen for that tablet
  // again for this long.
  int64_t copy_failure_backoff_ms = 60000;
};

class Rereplicator {
 public:
  // The master's construction: the other options keep their defaults.
  Rereplicator(TServerRegistry* registry, CatalogManager* catalog, int64_t delay_ms,
               std::chrono::milliseconds rpc_timeout, int max_copies_per_server = 2);
  Rereplicator(TServerRegistry* registry, CatalogManager* catalog, RereplicatorOptions options);
  ~Rereplicator();
  Rereplicator(const Rereplicator&) = delete;
  Rereplicator& operator=(const Rereplicator&) = delete;

  // One pass (see the file comment). Returns how many steps it started;
  // their outcome shows in the log, in counters() and in later reports.
  int RunOnce();

  // Blocks until no step is in flight (tests).
  void WaitIdle() const { tasks_.WaitIdle(); }

  // Cancels the RPCs in flight, waits for their tasks, refuses new ones.
  // Idempotent; the destructor calls it.
  void Shutdown();

  struct Counters {
    int64_t started = 0;
    int64_t succeeded = 0;
    int64_t failed = 0;
  };
  Counters counters() const;

 private:
  using Clock = std::chrono::steady_clock;

  // Servers whose heartbeats must postdate a tablet's last step before the
  // next one is decided.
  struct Finished {
    Clock::time_point at;
    std::string leader_uuid;
    std::string peer_uuid;
  };
  // A tablet's config as far as a snapshot knows it, and its leader.
  struct TabletState {
    std::string tablet_id;
    int replication_factor = 3;
    consensus::RaftConfigPB config;
    std::string leader;
  };
  struct Snapshot {
    std::map<std::string, ServerView> servers;
    std::vector<TabletState> tablets;
    std::map<std::string, int64_t> load;  // uuid -> replicas assigned
  };

  // Registry and catalog as the policy sees them. A copy in flight for
  // `own_tablet` is not counted against its destination (its own task is
  // the one deciding).
  Snapshot TakeSnapshot(const std::string& own_tablet);
  RereplicationParams Params(int replication_factor) const;
  // A worker's next step for `tablet_id`, from a fresh snapshot.
  RereplicationAction DecideFor(const std::string& tablet_id);
  // Waits until each live server among `uuids` has heartbeated after
  // `since`. False at `deadline` or on shutdown.
  bool WaitForReports(const std::vector<std::string>& uuids, Clock::time_point since,
                      Clock::time_point deadline);
  void Run(RereplicationAction a);
  absl::Status Execute(const RereplicationAction& a);
  absl::Status ExecuteCopy(const RereplicationAction& a);
  absl::Status ExecuteDelete(const RereplicationAction& a);
  absl::Status ExecuteChangeConfig(const RereplicationAction& a);
  // Registers `ctx` for cancellation by Shutdown; Cancelled when shutting
  // down already (then the call must not be made).
  absl::Status Track(grpc::ClientContext* ctx);
  void Untrack(grpc::ClientContext* ctx);
  // True while `tablet_id`'s last step ended after the last heartbeat of a
  // live server it involved (its effect is not reported yet).
  bool AwaitingReports(const std::string& tablet_id,
                       const std::map<std::string, ServerView>& servers);

  TServerRegistry* const registry_;
  CatalogManager* const catalog_;
  const RereplicatorOptions options_;

  // Monitor-thread state (RunOnce only): tablet id -> the last "waiting"
  // reason logged (logged once per change).
  std::map<std::string, std::string> last_wait_reason_;
  // The inputs of the last pass that found nothing to do and depended on no
  // clock (every server live, no step, no wait, nothing in flight or
  // failed): while they stay equal, a pass is skipped (quiet_inputs.h).
  std::optional<QuietInputs> quiet_;

  mutable absl::Mutex mu_;
  // (server uuid, tablet id) -> when this master first saw it FAILED;
  // updated by RunOnce, read by every snapshot.
  std::map<std::pair<std::string, std::string>, Clock::time_point> failed_since_
      ABSL_GUARDED_BY(mu_);
  // (tablet id, server uuid) -> when a copy of the tablet into the server
  // last failed; entries older than the backoff are dropped.
  std::map<std::pair<std::string, std::string>, Clock::time_point> copy_failures_
      ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::set<grpc::ClientContext*> calls_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Finished> finished_ ABSL_GUARDED_BY(mu_);
  Counters counters_ ABSL_GUARDED_BY(mu_);

  // Last member: destroyed (joined) first, while the rest is still valid.
  RereplicationTasks tasks_;
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_REREPLICATOR_H_
