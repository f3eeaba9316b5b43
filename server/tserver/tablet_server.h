// The tablet server process: locks and opens (or formats) its data
// directory, loads its replicas, serves TabletServerService,
// ConsensusService, TabletCopyService and StatusService, and heartbeats to
// the masters.
//
// Lifetime: Start() once, then Shutdown() (also run by the destructor).
// Thread safety: Start/Shutdown from one thread; FillStatus from any.
#ifndef KMEND_SERVER_TSERVER_TABLET_SERVER_H_
#define KMEND_SERVER_TSERVER_TABLET_SERVER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/consensus/raft_scheduler.h"
#include "lib/io/dir_lock.h"
#include "server/common/clock.h"
#include "server/common/rpc_server.h"
#include "server/common/status_service.h"
#include "server/tablet_copy/copy_service.h"
#include "server/tablet_copy/copy_source.h"
#include "server/raft_transport/peer_transport.h"
#include "server/tserver/heartbeater.h"
#include "server/tserver/maintenance_manager.h"
#include "server/tserver/raft_router.h"
#include "server/tserver/replica_rebuilder.h"
#include "server/tserver/tablet_manager.h"
#include "server/tserver/tserver_services.h"

namespace kmend::tserver {

struct TabletServerOptions {
  std::string fs_root;
  std::string rpc_bind = "127.0.0.1:0";
  std::string port_file;
  std::vector<std::string> master_addresses;
  int64_t heartbeat_interval_ms = 500;
  // One Raft tick (heartbeat); elections time out after 10-20 ticks.
  int64_t raft_tick_ms = 100;
  // Quiescence of idle Raft groups (--raft_quiesce; docs/design/scale.md).
  bool raft_quiesce = true;
  // Raft messages between tablet servers on a plain TCP connection where
  // both ends have no TLS (--raft_tcp; server/raft_transport/tcp_socket.h);
  // false: the gRPC stream.
  bool raft_tcp = true;
  // Election timeout backoff cap (raft::CoreOptions::max_election_backoff;
  // 1: no backoff).
  int raft_max_election_backoff = 4;
  // Append requests a leader keeps outstanding per follower
  // (raft::CoreOptions::max_inflight_messages). 1 is Kudu's choice: each
  // append carries everything proposed while the previous one was out.
  int raft_max_inflight_appends = 8;
  // One round worker runs every replica's Readies in rounds: write every
  // group's entries, sync each WAL, then send and apply, one frame per peer
  // (--raft_round_worker; consensus_driver::RaftScheduler::Options::rounds,
  // docs/design/shared_log.md, step 1). Off: the process's shared workers,
  // one Ready at a time.
  bool raft_round_worker = true;
  // Flush and WAL GC (ReplicaRuntime, TabletReplica::RunMaintenance).
  int64_t flush_threshold_rows = ReplicaRuntime().flush_threshold_rows;
  uint64_t flush_threshold_bytes = ReplicaRuntime().flush_threshold_bytes;
  int64_t flush_interval_ms = absl::ToInt64Milliseconds(ReplicaRuntime().flush_interval);
  uint64_t wal_segment_size_bytes = ReplicaRuntime().wal_segment_size_bytes;
  int wal_max_segments_retained_for_peers = ReplicaRuntime().wal_max_segments_retained_for_peers;
  // Period of the maintenance thread's rounds (it also runs when a replica
  // crosses a threshold).
  int64_t maintenance_interval_ms = 1000;
  // Threads that start the hosted replicas at server start (TabletManager::Open).
  int replica_start_threads = 8;
  // Reserved space of the data directory (fs_data_dirs_reserved_bytes in
  // Kudu): -1 = 1% of the filesystem (Kudu's default), 0 = none.
  int64_t fs_reserved_bytes = -1;
  // Non-empty: append each acknowledged write to this file (AckLog; fault
  // tests only).
  std::string ack_log_file;
};

class TabletServer : public server::StatusSource {
 public:
  explicit TabletServer(TabletServerOptions options);
  ~TabletServer() override;

  absl::Status Start();
  void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(2000));

  const std::string& uuid() const { return uuid_; }

  // For the replicas' Raft drivers (the glue in tablet_replica.h): send
  // through transport(), register Receive in router(). Valid after Start().
  raft_transport::PeerTransport* transport() { return &transport_; }
  RaftRouter* router() { return &router_; }

  absl::Status FillStatus(const server::GetStatusRequestPB& req,
                          server::GetStatusResponsePB* resp) override;

 private:
  // Feeds the transport the address of every peer in `config` but this server.
  void LearnPeerAddresses(const consensus::RaftConfigPB& config);

  const TabletServerOptions options_;
  server::SystemClock clock_;
  std::unique_ptr<io::DirLock> lock_;
  std::string uuid_;
  // Declared before the manager and services: drivers must go first, and
  // nothing may deliver into a destroyed router.
  raft_transport::PeerTransport transport_;
  // When each peer server was last heard (quiesced groups' failure
  // detection); read by the drivers, so declared before them too.
  consensus_driver::PeerLiveness liveness_;
  // False until the server listens for Raft messages (ReplicaRuntime::reachable).
  std::atomic<bool> reachable_{false};
  RaftRouter router_;
  // With options_.raft_round_worker (null otherwise); declared before the
  // manager: the drivers detach from it before it stops.
  std::unique_ptr<consensus_driver::RaftScheduler> round_scheduler_;
  std::unique_ptr<blocks::LogBlockManager> block_manager_;
  std::unique_ptr<TabletManager> manager_;
  // Flushes and WAL GC; stopped before the replicas shut down.
  std::unique_ptr<MaintenanceManager> maintenance_;
  // StartTabletCopy's copies; stopped before the replicas shut down.
  std::unique_ptr<ReplicaRebuilder> rebuilder_;
  std::unique_ptr<AckLog> ack_log_;  // null unless options_.ack_log_file
  std::unique_ptr<TabletServerServiceImpl> tserver_service_;
  std::unique_ptr<ConsensusServiceImpl> consensus_service_;
  // The copy source reads replicas through the provider (manager-backed).
  std::unique_ptr<tablet_copy::TabletCopySourceProvider> copy_provider_;
  std::unique_ptr<tablet_copy::TabletCopySourceManager> copy_sources_;
  std::unique_ptr<tablet_copy::TabletCopyServiceImpl> copy_service_;
  std::unique_ptr<server::StatusServiceImpl> status_service_;
  server::RpcServer rpc_;
  std::unique_ptr<Heartbeater> heartbeater_;
};

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_TABLET_SERVER_H_
