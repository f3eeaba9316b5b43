// The tablet server's maintenance thread: runs TabletReplica::RunMaintenance
// (flush when a threshold is reached, then WAL GC) and refreshes the cached
// on-disk size (TabletReplica::RefreshOnDiskSize) on every replica, each
// `interval` or at once when a replica asks (Notify, from its apply path).
//
// One thread for all replicas: a long flush of one tablet delays the others'
// maintenance, never their writes (flushes run outside the write path's
// locks). Errors are logged and the replica is tried again next round.
//
// Thread safety: Notify from any thread; Start/Stop from one thread.
// Lifetime: the replicas `list` returns are kept alive by their shared_ptr
// for the round; Stop (also run by the destructor) joins the thread.
#ifndef KMEND_SERVER_TSERVER_MAINTENANCE_MANAGER_H_
#define KMEND_SERVER_TSERVER_MAINTENANCE_MANAGER_H_

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/tserver/tablet_replica.h"

namespace kmend::tserver {

class MaintenanceManager {
 public:
  using ListFn = std::function<std::vector<std::shared_ptr<TabletReplica>>()>;

  MaintenanceManager(ListFn list, absl::Duration interval);
  ~MaintenanceManager();
  MaintenanceManager(const MaintenanceManager&) = delete;
  MaintenanceManager& operator=(const MaintenanceManager&) = delete;

  void Start();
  // Stops and joins the thread (a round in progress finishes first).
  void Stop();
  // Runs a round as soon as possible. Never blocks.
  void Notify();

 private:
  void Loop();

  const ListFn list_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_MAINTENANCE_MANAGER_H_
