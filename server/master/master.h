// The master process: holds the data-directory lock, knows its uuid, runs
// its replica of the Raft-replicated catalog (raft_catalog_store.h), serves
// MasterService, StatusService and (for the catalog's Raft messages)
// ConsensusService, and logs tablet servers going dead or live again.
//
// One or more masters (--master_addrs lists all of them, this one
// included; absent: a one-voter config). On first start a master learns the
// others' uuids through StatusService.GetStatus and bootstraps the catalog
// tablet's config from them; after that its consensus metadata holds the
// config. Only the leader, once its term's NO_OP is applied and it has
// reloaded the catalog from the applied state, serves catalog calls and
// runs RecreateMissingReplicas and re-replication; every master keeps its
// tablet server registry current from heartbeats.
//
// Catalog copy: the leader asks a master that Raft says needs a copy (its
// log is behind the leader's first retained entry) to copy from it
// (StartCatalogCopy); that master stops its catalog replica, fetches and
// installs the leader's catalog snapshot and WAL (catalog_copy_client.h) and
// reopens the replica on them. Start-up finishes an installation a crash
// interrupted, or discards an unfinished fetch.
//
// Lifetime: Start() once, then Shutdown() (also run by the destructor).
// Thread safety: Start/Shutdown from one thread; FillStatus and
// CheckCatalogLeader from any.
#ifndef KMEND_SERVER_MASTER_MASTER_H_
#define KMEND_SERVER_MASTER_MASTER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "lib/consensus/raft_driver.h"
#include "lib/io/dir_lock.h"
#include "server/common/clock.h"
#include "server/common/rpc_server.h"
#include "server/common/status_service.h"
#include "server/master/catalog_copy_service.h"
#include "server/master/catalog_copy_source.h"
#include "server/master/catalog_manager.h"
#include "server/master/master_consensus_service.h"
#include "server/master/master_service.h"
#include "server/master/raft_catalog_store.h"
#include "server/master/rereplicator.h"
#include "server/master/ts_registry.h"
#include "server/raft_transport/peer_transport.h"

namespace kmend::master {

struct MasterOptions {
  std::string fs_root;
  std::string rpc_bind = "127.0.0.1:0";
  // Written with the bound port once the master is up (see Start).
  std::string port_file;
  // A tablet server silent this long is dead.
  int64_t tserver_unresponsive_timeout_ms = 5000;
  // Deadline of the master's CreateTablet/DeleteTablet calls.
  int64_t tserver_rpc_timeout_ms = 5000;
  // A tablet server silent this long has its replicas replaced elsewhere
  // (re-replication; rereplicator.h). Counted from its last heartbeat, so
  // it only matters once it is above tserver_unresponsive_timeout_ms.
  int64_t rereplication_delay_ms = 60000;
  // Tablet copies into one tablet server at a time, running plus placed
  // and waiting (re-replication; rereplicator.h).
  int rereplication_max_copies_per_server = 2;
  // A replica reported FAILED this long is replaced (rereplicator.h); long
  // values leave the repair to an operator (kmend rebuild-replica).
  int64_t rereplication_failed_grace_ms = RereplicatorOptions().failed_grace_ms;
  // Every master's "host:port", this one included, identical on all of
  // them; empty or one entry: a single master.
  std::vector<std::string> master_addresses;
  // Raft timing of the catalog tablet: heartbeat every tick, election after
  // election_ticks to twice that without a leader.
  int64_t raft_tick_ms = 100;
  int election_ticks = 10;
  // How long a catalog change waits to be replicated and applied.
  int64_t catalog_save_timeout_ms = 5000;
  // How long Start waits for the other masters to answer on first start.
  int64_t peer_discovery_timeout_ms = 300000;
  // Sys-catalog WAL: segment size (GC deletes whole segments) and how many
  // entries behind the snapshot are kept (CatalogLogRetentionIndex).
  uint64_t catalog_wal_segment_size_bytes = 1 << 20;
  int64_t catalog_log_retained_entries = 1000;
  // On the leader, how much further back the WAL is kept for a lagging
  // master; one lagging by more gets a catalog copy (catalog_copy_client.h).
  int64_t catalog_log_max_entries_retained_for_peers = 10000;
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

  // OK when this master serves catalog calls; Unavailable naming the leader
  // (uuid and address) when known otherwise.
  absl::Status CheckCatalogLeader() const;

 private:
  void MonitorLoop();
  // Watches the Raft role: on becoming leader (own NO_OP applied) reloads
  // the catalog and starts serving; on losing it stops.
  void LeaderLoop();
  // Makes LeaderLoop check leadership now (after an apply, at shutdown).
  void WakeLeaderWatch();
  void CheckLeadership();
  // Tells the transport the address of every peer of the committed and
  // pending configs (a master added by `kmend master add` after start-up).
  void RefreshPeerAddresses(const raft::RaftStatus& st);
  // Deletes sys-catalog WAL segments below CatalogLogRetentionIndex.
  void GarbageCollectCatalogLog();
  // The catalog tablet's initial config when there is no consensus metadata
  // yet: this master alone, or all of --master_addrs with the uuids they
  // report (waits for every one of them to answer).
  // Peer discovery (master_bootstrap.cc).
  absl::StatusOr<consensus::RaftConfigPB> BootstrapConfig();
  // Fencing of a master left behind by a forced catalog change (issue 14):
  // asks every other voter of `st`'s committed config for its catalog
  // state; FailedPrecondition naming the peer when one answers with a
  // committed config newer (by op id) than this master's that does not list
  // this master: it was dropped (`kmend master unsafe-change-config`, or
  // removed), its data is stale, and two dropped masters restarted together
  // would otherwise be a majority of their old config and elect a leader of
  // a stale catalog. Peers that do not answer within `deadline` are skipped
  // (a cold start of every master). Called at start-up before the catalog
  // takes Raft messages, and by a new leader before it serves.
  absl::Status CheckStillAMember(const raft::RaftStatus& st, absl::Duration deadline) const;
  // CheckStillAMember with a short deadline; when dropped, fences this
  // master (fenced_, never serves again) and shuts it down. True if fenced.
  bool FenceIfDropped(const raft::RaftStatus& st);
  // "host:port" of a config peer.
  static std::string PeerAddress(const consensus::RaftPeerPB& p);
  absl::Status OpenSysCatalog();
  // Leader: asks each peer Raft marks as needing a copy to copy from here
  // (each at most every few seconds).
  void RequestCatalogCopies();
  // CatalogCopyService callbacks (see catalog_copy_service.h).
  absl::StatusOr<BeginCatalogCopyResponsePB> BeginCatalogCopySession(
      const BeginCatalogCopyRequestPB& req);
  absl::StatusOr<StartCatalogCopyResponsePB> HandleStartCatalogCopy(
      const StartCatalogCopyRequestPB& req);
  // The copy thread: stops the replica, copies from `leader_address`,
  // installs, reopens the replica (on the old files if the copy failed).
  void RunCatalogCopy(std::string leader_uuid, std::string leader_address);
  absl::Status WritePortFile() const;
  std::shared_ptr<consensus_driver::RaftDriver> driver() const;

  const MasterOptions options_;
  server::SystemClock clock_;
  std::unique_ptr<io::DirLock> lock_;
  std::string uuid_;
  std::unique_ptr<TServerRegistry> registry_;
  RaftCatalogStore* store_ = nullptr;  // owned by catalog_
  std::unique_ptr<CatalogManager> catalog_;
  std::unique_ptr<MasterServiceImpl> master_service_;
  std::unique_ptr<Rereplicator> rereplicator_;
  std::unique_ptr<server::StatusServiceImpl> status_service_;
  std::unique_ptr<MasterConsensusService> consensus_service_;
  std::unique_ptr<CatalogCopySource> copy_source_;
  std::unique_ptr<CatalogCopyServiceImpl> copy_service_;
  std::unique_ptr<raft_transport::PeerTransport> transport_;
  server::RpcServer rpc_;
  // Set once by Start after the peers are known; destroyed before catalog_
  // (its apply callback points into the store).
  mutable absl::Mutex driver_mu_;
  std::shared_ptr<consensus_driver::RaftDriver> driver_ ABSL_GUARDED_BY(driver_mu_);
  // The term in which this master leads and has reloaded the catalog; 0
  // when it does not serve catalog calls.
  std::atomic<int64_t> ready_term_{0};
  // Set when CheckStillAMember found this master dropped from the running
  // catalog: it never serves again and shuts down (SIGTERM to itself).
  std::atomic<bool> fenced_{false};
  // Held by WAL GC and while a copy session snapshots the replica.
  absl::Mutex gc_mu_;
  int64_t last_gc_index_ ABSL_GUARDED_BY(gc_mu_) = 0;
  // Monitor thread only: when each peer was last asked to copy.
  std::map<std::string, absl::Time> copy_requested_;
  // Leader-watch thread only: the peer addresses last given to transport_.
  std::map<std::string, std::string> peer_addresses_;
  // At most one catalog copy into this master at a time.
  absl::Mutex copy_mu_;
  bool copying_ ABSL_GUARDED_BY(copy_mu_) = false;
  std::thread copy_thread_ ABSL_GUARDED_BY(copy_mu_);
  absl::Notification stop_;
  absl::Mutex leader_wake_mu_;
  bool leader_wake_ ABSL_GUARDED_BY(leader_wake_mu_) = false;
  std::thread monitor_;
  std::thread leader_watch_;
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_MASTER_H_
