// One replica of one tablet on this tablet server: its rows (lib/tablet),
// its Raft group membership (lib/consensus RaftDriver over the WAL and the
// consensus metadata), and the seam between them and the server's RPCs.
//
// Life of a replica:
//   constructed from its metadata (or as FAILED when that did not load)
//   -> Start(): opens the Tablet, verifying every block; opens the Raft
//      driver, which replays the WAL; committed entries after the tablet's
//      last flushed op are applied again (bootstrap). Any checksum or WAL
//      damage marks the replica FAILED (persisted when the superblock can be
//      written): reported, never served, and the server keeps running.
//      A replica found COPYING (a crash mid-copy) goes through
//      tablet_copy::RecoverInterruptedCopy (temp files and copied blocks
//      removed) and ends TOMBSTONED.
//   -> serves Write (replicated through Raft, acknowledged once applied
//      here), Scan and Checksum (leader reads), and reports Status.
//   -> RunMaintenance(), from the server's maintenance thread: flushes the
//      memstore to column blocks once a threshold is reached, then deletes
//      the WAL segments the flush made unnecessary (see RunMaintenance).
//   -> Shutdown() / Tombstone().
//
// Thread safety: all methods are thread-safe. Lifetime: owned by the
// TabletManager through shared_ptr so an RPC can keep one alive while the
// manager drops it; the ReplicaRuntime's objects outlive every replica.
#ifndef KMEND_SERVER_TSERVER_TABLET_REPLICA_H_
#define KMEND_SERVER_TSERVER_TABLET_REPLICA_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/consensus/raft_driver.h"
#include "lib/consensus/transport.h"
#include "lib/fs/layout.h"
#include "lib/tablet/tablet.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/status.pb.h"
#include "proto/tablet_metadata.pb.h"
#include "proto/tserver.pb.h"
#include "server/tserver/raft_router.h"

namespace kmend::tserver {

// What a running replica needs from its server.
struct ReplicaRuntime {
  std::string server_uuid;
  blocks::LogBlockManager* block_manager = nullptr;
  consensus_driver::Transport* transport = nullptr;
  RaftRouter* router = nullptr;
  // Raft timing: heartbeat every tick, election after 10-20 ticks.
  absl::Duration tick_interval = absl::Milliseconds(100);
  int election_ticks = 10;
  // Election timeout backoff cap (raft::CoreOptions::max_election_backoff).
  int max_election_backoff = 4;
  // Appends in flight per follower (raft::CoreOptions::max_inflight_messages).
  int max_inflight_appends = 8;
  // Runs the replicas' ticks and Readies; null: the process's shared one.
  // With one that runs rounds, Readies run on the receiving threads only
  // while it is idle (consensus_driver::RaftScheduler::idle).
  consensus_driver::RaftScheduler* scheduler = nullptr;
  // Quiescence of idle groups (--raft_quiesce; docs/design/scale.md): needs
  // the server's per-peer liveness table, fed by its ConsensusService.
  bool raft_quiesce = false;
  consensus_driver::PeerLiveness* liveness = nullptr;
  // Set once the server listens for Raft messages; until then the replicas'
  // election timers stand still (consensus_driver::DriverOptions::reachable).
  const std::atomic<bool>* reachable = nullptr;
  // How long a Write waits for its op to commit and apply.
  absl::Duration write_timeout = absl::Seconds(10);
  // Flush policy (RunMaintenance): flush the memstore once it holds this
  // many bytes or rows, or once ops applied this long ago are unflushed.
  uint64_t flush_threshold_bytes = 64 << 20;
  int64_t flush_threshold_rows = 1'000'000;
  absl::Duration flush_interval = absl::Minutes(2);
  // Set by TabletManager::Open only, which syncs the filesystem once after
  // starting every replica: the WAL recovery does not sync the footer of a
  // segment a crash left open (wal::LogOptions::sync_recovered_footer). A
  // replica keeps it false for any later re-open.
  bool defer_wal_recovery_sync = false;
  // WAL segments are closed and a new one started at this size.
  uint64_t wal_segment_size_bytes = 8 << 20;
  // WAL GC keeps at most this many segments past the flushed point for a
  // lagging peer (a leader's follower); a peer further behind gets a tablet
  // copy instead.
  int wal_max_segments_retained_for_peers = 16;
  // Reserved space of the data directory (lib/fs/space_reserve.h): a leader
  // refuses client writes while less is free. 0: no reserve; -1: 1% of the
  // filesystem.
  int64_t fs_reserved_bytes = 0;
  // Called (must not block) when an apply takes the memstore over a flush
  // threshold, so that maintenance runs now rather than at its next round.
  std::function<void()> request_maintenance;
  // Told of every config a replica commits or adopts (peer addresses).
  std::function<void(const consensus::RaftConfigPB&)> on_config;
};

class TabletReplica {
 public:
  // A replica whose metadata loaded. `superblock` and `cmeta` are as stored.
  TabletReplica(fs::Layout layout, tablet::TabletSuperBlockPB superblock,
                consensus::ConsensusMetadataPB cmeta);
  // A replica whose metadata could not be loaded: FAILED with `reason`,
  // reported but never served.
  TabletReplica(fs::Layout layout, std::string tablet_id, std::string reason);
  ~TabletReplica();

  const std::string& tablet_id() const { return tablet_id_; }

  // Opens storage and Raft (see the file comment). Never fails the server:
  // problems with this replica's files turn it FAILED; the returned status
  // is only for the log.
  absl::Status Start(const ReplicaRuntime& runtime);
  // Stops Raft and closes the tablet. Idempotent.
  void Shutdown();

  // The replica as the status service and the heartbeat report it. Its
  // on_disk_size_bytes is the cached size (RefreshOnDiskSize), so a status
  // costs no file-system walk: GetStatus of thousands of replicas (ksck) and
  // the heartbeat report stay cheap.
  server::ReplicaStatusPB Status() const;
  // What Status() is computed from, compared cheaply: while a replica's key
  // stays equal, so does its Status() (the heartbeat report re-builds only
  // the entries whose key changed; heartbeat_report.cc). Idle quiesced
  // replicas keep their key: their driver's activity() does not move.
  struct StatusKey {
    const void* driver = nullptr;
    uint64_t driver_activity = 0;
    bool failed = false;
    int storage_error = 0;  // absl::StatusCode
    int data_state = 0;
    uint64_t superblock_loads = 0;
    int64_t on_disk_size_bytes = 0;
    bool operator==(const StatusKey& o) const {
      return driver == o.driver && driver_activity == o.driver_activity && failed == o.failed &&
             storage_error == o.storage_error && data_state == o.data_state &&
             superblock_loads == o.superblock_loads && on_disk_size_bytes == o.on_disk_size_bytes;
    }
    bool operator!=(const StatusKey& o) const { return !(*this == o); }
  };
  StatusKey GetStatusKey() const;
  // Measures the replica's files (superblock, consensus metadata, WAL) and
  // caches the sum for Status, unless the cached figure is younger than
  // `max_age`, or (max_age > 0) nothing that writes its files happened
  // since the last measure (driver activity, flush, WAL GC). Measured when
  // the replica object is made (load, creation, copy) and after a tombstone;
  // the maintenance thread calls it every round, so a reported size is at
  // most about `max_age` old.
  void RefreshOnDiskSize(absl::Duration max_age = absl::ZeroDuration());
  // Adds the superblock's schema, partition schema and replication factor
  // (not in heartbeats: only for GetStatus with include_schemas). Nothing
  // for a FAILED replica.
  void FillSchema(server::ReplicaStatusPB* out) const;

  tablet::TabletDataState data_state() const;
  consensus::ConsensusStatePB ConsensusState() const;
  // ConsensusState() plus, while Raft runs, the last logged and committed op
  // ids and whether the group's leader is alive as this replica sees it
  // (leader lease, time since the leader was heard): what unsafe-change-config
  // and recovery tools judge a replica by.
  void FillConsensusState(ReplicaConsensusStatePB* out) const;

  // The last op id in this replica's log as far as it is known: the Raft
  // driver's while it runs, the tombstone's (tombstone_last_logged_opid)
  // for a TOMBSTONED replica that recorded one; nullopt otherwise (FAILED,
  // not started). What StartTabletCopy compares with the source's.
  std::optional<consensus::OpId> LastLoggedOpId() const;

  // What maintenance did so far (tests, benchmarks, logs).
  struct MaintenanceStats {
    int64_t flushes = 0;
    int64_t rows_flushed = 0;       // rows written into rowsets, summed
    uint64_t bytes_flushed = 0;     // column block bytes written, summed
    double flush_seconds = 0;       // time spent in Tablet::Flush, summed
    int64_t wal_segments_deleted = 0;
    int64_t last_gc_retention_index = 0;  // the last GarbageCollectLog bound
  };

  // Flushes the memstore when a threshold of the runtime is reached (or
  // `force_flush`), then garbage-collects the WAL: segments whose entries
  // are all below the retention index are deleted, where the retention index
  // is the last flushed op F (the segment holding F stays, so the log is
  // never empty and a restart knows F's term), lowered on a leader to the
  // smallest follower match index (a follower whose match is not known yet
  // counts as needing all the log holds), but never so far that more than
  // wal_max_segments_retained_for_peers segments before F's are kept (a
  // peer further behind, or already past what the log holds, gets a tablet
  // copy). Does nothing while a copy anchor is held or
  // when the replica does not run. Flush I/O happens outside the locks the
  // write path takes (applies continue meanwhile). Serialized per replica.
  absl::Status RunMaintenance(bool force_flush = false);
  MaintenanceStats maintenance_stats() const;

  // Holds off this replica's flushes and WAL GC while the returned handle
  // lives: a tablet copy session then serves blocks that stay live and a
  // WAL snapshot whose last op is at or past the superblock's flushed op.
  // Waits for a flush in progress. The handle keeps the replica alive.
  static std::shared_ptr<void> AnchorForCopy(std::shared_ptr<TabletReplica> replica);

  // Stops the replica, deletes its row blocks, persists TOMBSTONED and
  // removes its WAL directory. The consensus metadata stays, as in Kudu, so
  // a tombstoned replica can still vote on its own removal.
  // A FAILED replica is refused (delete it instead) unless `even_if_failed`
  // (a rebuild replacing it): its superblock must then still load.
  absl::Status Tombstone(const std::string& reason, bool even_if_failed = false);

  // Data path. FAILED_PRECONDITION for a replica that is not serving, or
  // (Write, Scan) not the leader: the message names the leader when known.
  absl::Status Write(const WriteRequestPB& req, WriteResponsePB* resp);
  // Write without a waiting thread: `done` is called exactly once, with
  // what Write would return (`resp` filled when OK), on a Raft worker right
  // after the apply, on the Raft ticker (deadline), or on this thread when
  // refused at once. `done` must not block. `resp` and this replica must
  // stay alive until `done` runs.
  void WriteAsync(const WriteRequestPB& req, WriteResponsePB* resp,
                  std::function<void(absl::Status)> done);
  absl::Status Scan(const ScanRequestPB& req, ScanResponsePB* resp);
  absl::Status Checksum(const ChecksumRequestPB& req, ChecksumResponsePB* resp);

  // The Raft driver for consensus commands; FailedPrecondition when the
  // replica does not run Raft (FAILED, TOMBSTONED, not started).
  absl::StatusOr<std::shared_ptr<consensus_driver::RaftDriver>> driver() const;

 private:
  absl::Status CheckServing() const;
  // The WAL GC half of RunMaintenance.
  absl::Status GarbageCollectWalLocked(const tablet::Tablet& tab,
                                       consensus_driver::RaftDriver& driver,
                                       const ReplicaRuntime& runtime)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(maint_mu_);
  absl::Status StartLocked(const ReplicaRuntime& runtime) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void MarkFailedLocked(const absl::Status& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The storage half of RunMaintenance: stops a replica whose driver failed
  // a persist, and re-opens one stopped for a storage error (see
  // storage_error_). A re-open that fails for lack of space is retried at the
  // next round; one that finds damage marks the replica FAILED for good.
  absl::Status RecoverStorageLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(maint_mu_);
  // Stops and drops the Raft driver, then the tablet. Takes mu_ only
  // briefly (never while joining the driver's threads).
  void StopRaftLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(maint_mu_) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs on the Raft driver's apply thread, one committed entry at a time.
  void ApplyEntry(const consensus::ReplicateMsg& msg);
  // The open tablet, or null when not started or shut down; the copy keeps it
  // alive for the caller.
  std::shared_ptr<tablet::Tablet> CurrentTablet() const;
  absl::Status NotLeaderError(const consensus_driver::RaftDriver& d, const char* what) const;
  int64_t OnDiskSizeBytes() const;

  const fs::Layout layout_;
  const std::string tablet_id_;
  // Held by RunMaintenance throughout (flush + GC) and by Shutdown and
  // Tombstone, so that no flush writes a superblock after a tombstone.
  absl::Mutex maint_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  int anchors_ ABSL_GUARDED_BY(maint_mu_) = 0;
  absl::Time last_flush_time_ ABSL_GUARDED_BY(maint_mu_) = absl::InfinitePast();
  mutable absl::Mutex stats_mu_;
  MaintenanceStats stats_ ABSL_GUARDED_BY(stats_mu_);
  mutable absl::Mutex mu_;
  tablet::TabletSuperBlockPB superblock_ ABSL_GUARDED_BY(mu_);
  // Times superblock_ was re-loaded after construction (StatusKey).
  uint64_t superblock_loads_ ABSL_GUARDED_BY(mu_) = 0;
  consensus::ConsensusMetadataPB cmeta_ ABSL_GUARDED_BY(mu_);
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  std::string failure_reason_ ABSL_GUARDED_BY(mu_);
  // Non-OK while the replica is stopped because its storage failed in a way
  // that may clear: no space left, or a persist that failed (the Raft
  // driver is then fail-stop, and what reached the disk is only known by
  // reading it back). Never persisted: RunMaintenance re-opens the replica
  // from disk, as after a crash, once it can. Meanwhile Status reports it
  // FAILED with this reason and writes are refused with it.
  absl::Status storage_error_ ABSL_GUARDED_BY(mu_);
  ReplicaRuntime runtime_ ABSL_GUARDED_BY(mu_);
  // Set by Start, cleared by Shutdown; shared so that an RPC in flight keeps
  // them alive.
  std::shared_ptr<tablet::Tablet> tablet_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<consensus_driver::RaftDriver> driver_ ABSL_GUARDED_BY(mu_);

  // The cached size (RefreshOnDiskSize) and when it was measured.
  mutable absl::Mutex size_mu_;
  int64_t on_disk_size_bytes_ ABSL_GUARDED_BY(size_mu_) = 0;
  absl::Time size_measured_ ABSL_GUARDED_BY(size_mu_) = absl::InfinitePast();
  // What the files looked like at the last measure (RefreshOnDiskSize skips
  // a periodic re-measure while it is unchanged).
  struct SizeKey {
    const void* driver = nullptr;
    uint64_t driver_activity = 0;
    uint64_t files_epoch = 0;
    bool operator==(const SizeKey& o) const {
      return driver == o.driver && driver_activity == o.driver_activity &&
             files_epoch == o.files_epoch;
    }
  };
  std::optional<SizeKey> size_key_ ABSL_GUARDED_BY(size_mu_);
  absl::Time size_walked_ ABSL_GUARDED_BY(size_mu_) = absl::InfinitePast();  // last real walk
  // Bumped after a flush and after a WAL GC that deleted segments.
  std::atomic<uint64_t> files_epoch_{0};

  // Moves the row results of the applied op `index` into `resp`.
  absl::Status TakeWriteResult(int64_t index, WriteResponsePB* resp);
  // Row results of recently applied writes by op index, for the Write that
  // proposed them (only the proposing leader reads them; bounded).
  absl::Mutex results_mu_;
  std::map<int64_t, tablet::ApplyResult> results_ ABSL_GUARDED_BY(results_mu_);
};

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_TABLET_REPLICA_H_
