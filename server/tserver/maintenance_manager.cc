#include "server/tserver/maintenance_manager.h"

#include "server/common/logger.h"

namespace kmend::tserver {
namespace {

// How stale a replica's reported on-disk size may get. Measuring walks the
// replica's files; every second for thousands of idle replicas would cost
// more than the reports are worth.
constexpr absl::Duration kOnDiskSizeMaxAge = absl::Seconds(10);

}  // namespace

MaintenanceManager::MaintenanceManager(ListFn list, absl::Duration interval)
    : list_(std::move(list)), interval_(interval) {}

MaintenanceManager::~MaintenanceManager() { Stop(); }

void MaintenanceManager::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void MaintenanceManager::Stop() {
  {
    absl::MutexLock l(&mu_);
    stop_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void MaintenanceManager::Notify() {
  absl::MutexLock l(&mu_);
  notified_ = true;
}

void MaintenanceManager::Loop() {
  while (true) {
    {
      absl::MutexLock l(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || notified_; };
      mu_.AwaitWithTimeout(absl::Condition(&woken), interval_);
      if (stop_) return;
      notified_ = false;
    }
    for (const std::shared_ptr<TabletReplica>& r : list_()) {
      absl::Status s = r->RunMaintenance();
      if (!s.ok()) KLOG(WARNING) << "maintenance of tablet " << r->tablet_id() << ": " << s;
      // Off the request path: GetStatus and heartbeats read the cached size.
      r->RefreshOnDiskSize(kOnDiskSizeMaxAge);
      absl::MutexLock l(&mu_);
      if (stop_) return;
    }
  }
}

}  // namespace kmend::tserver
