#include "server/master/master.h"

#include <algorithm>

#include "lib/io/file.h"
#include "lib/util/status_macros.h"
#include "server/common/data_dir.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"
#include "lib/fs/fs_manager.h"

namespace kmend::master {

Master::Master(MasterOptions options) : options_(std::move(options)) {}

Master::~Master() { Shutdown(std::chrono::milliseconds(0)); }

absl::Status Master::Start() {
  // Same root layout and instance file as a tablet server (lib/fs): the
  // catalog will become a tablet of its own when it is Raft-replicated.
  ASSIGN_OR_RETURN(server::LockedDataDir dir, server::LockAndOpenDataDir(options_.fs_root));
  lock_ = std::move(dir.lock);
  uuid_ = dir.uuid;
  registry_ =
      std::make_unique<TServerRegistry>(&clock_, options_.tserver_unresponsive_timeout_ms);
  catalog_ = std::make_unique<CatalogManager>(
      std::make_unique<FileCatalogStore>(options_.fs_root), &clock_);
  RETURN_IF_ERROR(Annotate(catalog_->Load(), "loading the catalog"));
  master_service_ = std::make_unique<MasterServiceImpl>(
      uuid_, registry_.get(), catalog_.get(),
      std::chrono::milliseconds(options_.tserver_rpc_timeout_ms));
  rereplicator_ = std::make_unique<Rereplicator>(
      registry_.get(), catalog_.get(), options_.rereplication_delay_ms,
      std::chrono::milliseconds(options_.tserver_rpc_timeout_ms));
  status_service_ = std::make_unique<server::StatusServiceImpl>(
      server::MASTER, uuid_, options_.fs_root, &clock_, this);
  RETURN_IF_ERROR(rpc_.Start(options_.rpc_bind, {master_service_.get(), status_service_.get()},
                             options_.port_file));
  status_service_->SetRpcAddress(rpc_.address());
  monitor_ = std::thread([this] { MonitorLoop(); });
  KLOG(INFO) << "master " << uuid_ << " serving on " << server::HostPortToString(rpc_.address())
             << " (data dir " << options_.fs_root << ", catalog version " << catalog_->version()
             << ", " << catalog_->num_tables() << " tables)";
  return absl::OkStatus();
}

void Master::MonitorLoop() {
  // Liveness is computed on demand; this loop logs transitions, a few times
  // per timeout so the log shows a death close to when it happened, and
  // re-sends CreateTablet for replicas a returning server lacks.
  // At most a second: a returning server should get its missing replicas
  // soon even when the failure timeout is long.
  auto period = absl::Milliseconds(std::min<int64_t>(
      1000, std::max<int64_t>(50, options_.tserver_unresponsive_timeout_ms / 4)));
  while (!stop_.WaitForNotificationWithTimeout(period)) {
    // A table's own fan-out takes at most one RPC timeout per replica of a
    // server; only after that can a missing replica be told from a slow one.
    master_service_->RecreateMissingReplicas(2 * options_.tserver_rpc_timeout_ms * 1000,
                                             clock_.WallMicros());
    // Replacing replicas of servers dead too long: one config step per
    // tablet per pass (each waits for its commit).
    rereplicator_->RunOnce();
    for (const LivenessChange& c : registry_->CheckLiveness()) {
      if (c.now_live) {
        KLOG(INFO) << "tablet server " << c.uuid << " is live again";
      } else {
        KLOG(WARNING) << "tablet server " << c.uuid << " marked dead: no heartbeat for more than "
                      << options_.tserver_unresponsive_timeout_ms << " ms";
      }
    }
  }
}

void Master::Shutdown(std::chrono::milliseconds grace) {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (monitor_.joinable()) monitor_.join();
  rpc_.Shutdown(grace);
  lock_.reset();
}

absl::Status Master::FillStatus(const server::GetStatusRequestPB&,
                                server::GetStatusResponsePB* resp) {
  server::MasterCatalogStatusPB* m = resp->mutable_master();
  // One master with a file-backed catalog: it leads a one-voter config.
  m->set_is_leader(true);
  auto* cstate = m->mutable_catalog_consensus_state();
  cstate->set_current_term(0);
  cstate->set_leader_uuid(uuid_);
  auto* config = cstate->mutable_committed_config();
  config->set_opid_index(-1);
  auto* peer = config->add_peers();
  peer->set_permanent_uuid(uuid_);
  peer->set_member_type(consensus::RaftPeerPB::VOTER);
  *peer->mutable_last_known_addr() = rpc_.address();
  m->set_num_tables(catalog_->num_tables());
  m->set_num_tablets(catalog_->num_tablets());
  auto all = registry_->List();
  m->set_num_tablet_servers(static_cast<int64_t>(all.size()));
  int64_t live = 0;
  for (const auto& ts : all) live += ts.live;
  m->set_num_live_tablet_servers(live);
  return absl::OkStatus();
}

}  // namespace kmend::master
