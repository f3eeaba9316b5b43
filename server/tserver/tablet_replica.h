// One replica of one tablet on this tablet server: the seam between the
// server (RPCs, heartbeats, status) and the replica's storage and Raft.
//
// What it holds today: the replica's persisted metadata, the superblock
// (<root>/tablet-meta/<id>: table, schema, partition, data state) and the
// consensus metadata (<root>/consensus-meta/<id>: term, vote, committed
// config), and it reports them. What it does not do yet: run Raft
// (lib/consensus) or store rows (lib/tablet). That glue attaches here:
// Start() would open the Tablet and the WAL, bootstrap, and start the Raft
// driver; Write/Scan/Checksum would go through them; Status() would fill the
// role, leader and op ids from the driver. Until then those calls answer
// UNIMPLEMENTED and the status leaves role/op ids unknown, never invented.
//
// Thread safety: all methods are thread-safe. Lifetime: owned by the
// TabletManager through shared_ptr so an RPC can keep one alive while the
// manager drops it.
#ifndef KMEND_SERVER_TSERVER_TABLET_REPLICA_H_
#define KMEND_SERVER_TSERVER_TABLET_REPLICA_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/fs/layout.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/status.pb.h"
#include "proto/tablet_metadata.pb.h"
#include "proto/tserver.pb.h"

namespace kmend::tserver {

class TabletReplica {
 public:
  // A replica whose metadata loaded. `superblock` and `cmeta` are as stored.
  TabletReplica(fs::Layout layout, tablet::TabletSuperBlockPB superblock,
                consensus::ConsensusMetadataPB cmeta);
  // A replica whose metadata could not be loaded: FAILED with `reason`,
  // reported but never served.
  TabletReplica(fs::Layout layout, std::string tablet_id, std::string reason);

  const std::string& tablet_id() const { return tablet_id_; }

  // The replica as the status service and the heartbeat report it.
  server::ReplicaStatusPB Status() const;

  tablet::TabletDataState data_state() const;
  consensus::ConsensusStatePB ConsensusState() const;

  // Persists the TOMBSTONED state (superblock rewritten atomically) and
  // removes the replica's WAL directory. The consensus metadata stays, as in
  // Kudu, so a tombstoned replica can still vote on its own removal.
  absl::Status Tombstone(const std::string& reason);

  // Data path: UNIMPLEMENTED until the storage and Raft glue lands (see the
  // file comment); FAILED_PRECONDITION for a replica that is not READY.
  absl::Status Write(const WriteRequestPB& req, WriteResponsePB* resp);
  absl::Status Scan(const ScanRequestPB& req, ScanResponsePB* resp);
  absl::Status Checksum(const ChecksumRequestPB& req, ChecksumResponsePB* resp);

 private:
  absl::Status CheckServing() const;
  int64_t OnDiskSizeBytes() const;

  const fs::Layout layout_;
  const std::string tablet_id_;
  mutable absl::Mutex mu_;
  tablet::TabletSuperBlockPB superblock_ ABSL_GUARDED_BY(mu_);
  consensus::ConsensusMetadataPB cmeta_ ABSL_GUARDED_BY(mu_);
  bool failed_ ABSL_GUARDED_BY(mu_) = false;
  std::string failure_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_TABLET_REPLICA_H_
