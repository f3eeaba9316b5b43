// The master process: holds the data-directory lock, knows its uuid, loads
// the catalog, serves MasterService and StatusService, and logs tablet
// servers going dead or live again.
//
// Lifetime: Start() once, then Shutdown() (also run by the destructor).
// Thread safety: Start/Shutdown from one thread; FillStatus from any.
#ifndef KMEND_SERVER_MASTER_MASTER_H_
#define KMEND_SERVER_MASTER_MASTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "lib/io/dir_lock.h"
#include "server/common/clock.h"
#include "server/common/rpc_server.h"
#include "server/common/status_service.h"
#include "server/master/catalog_manager.h"
#include "server/master/master_service.h"
#include "server/master/rereplicator.h"
#include "server/master/ts_registry.h"

namespace kmend::master {

struct MasterOptions {
  std::string fs_root;
  std::string rpc_bind = "127.0.0.1:0";
  std::string port_file;
  // A tablet server silent this long is dead.
  int64_t tserver_unresponsive_timeout_ms = 5000;
  // Deadline of the master's CreateTablet/DeleteTablet calls.
  int64_t tserver_rpc_timeout_ms = 5000;
  // A tablet server silent this long has its replicas replaced elsewhere
  // (re-replication; rereplicator.h). Counted from its last heartbeat, so
  // it only matters once it is above tserver_unresponsive_timeout_ms.
  int64_t rereplication_delay_ms = 60000;
};

class Master : public server::StatusSource {
 public:
  explicit Master(MasterOptions options);
  ~Master() override;

  absl::Status Start();
  // Stops serving (in-flight calls get `grace`), stops the monitor, releases
  // the lock. Idempotent.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

  const std::string& uuid() const { return uuid_; }
  int port() const { return rpc_.port(); }

  absl::Status FillStatus(const server::GetStatusRequestPB& req,
                          server::GetStatusResponsePB* resp) override;

 private:
  void MonitorLoop();

  const MasterOptions options_;
  server::SystemClock clock_;
  std::unique_ptr<io::DirLock> lock_;
  std::string uuid_;
  std::unique_ptr<TServerRegistry> registry_;
  std::unique_ptr<CatalogManager> catalog_;
  std::unique_ptr<MasterServiceImpl> master_service_;
  std::unique_ptr<Rereplicator> rereplicator_;
  std::unique_ptr<server::StatusServiceImpl> status_service_;
  server::RpcServer rpc_;
  absl::Notification stop_;
  std::thread monitor_;
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_MASTER_H_
