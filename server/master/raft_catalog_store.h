// RaftCatalogStore: the master's catalog kept in a Raft-replicated tablet of
// its own, the sys catalog (fixed tablet id kSysCatalogTabletId), with one
// replica per master (docs/design/server.md, "Replicated catalog").
//
// Log entries: every Save() proposes one WRITE_OP whose kmend_write holds one
// UPSERT row ("catalog", <serialized SysCatalogPB>): the whole new catalog.
// Catalogs are small, and full state per entry keeps apply trivial.
//
// Apply (on each master, in log order): an entry whose catalog version is
// exactly the applied version + 1 replaces the applied catalog; any other
// entry is rejected on every master alike (a compare-and-set: a leader whose
// in-memory catalog fell behind the applied one, e.g. after a Save that timed
// out but committed later, cannot overwrite newer state). Apply only changes
// memory; WriteSnapshot (the master calls it about once a second and at
// shutdown) writes the applied catalog to the snapshot file
// (<fs_root>/master-catalog, the same PB container the file-backed store
// used) with applied_index set, so a restart starts from it and replays only
// the WAL entries after it. Keeping the file write out of apply keeps a
// catalog change at one fsync per master (the WAL's). A master-catalog file
// written before the catalog was replicated has no applied_index: it is the
// state before the first entry (upgrade).
//
// Save() is for the leader: it proposes, waits until the entry is applied
// here, and reports whether apply accepted it. Errors are Unavailable (not
// the leader, lost leadership, timed out, rejected by the compare-and-set)
// so clients retry; a Save whose outcome is unknown or that was rejected
// sets needs_reload, telling the master to re-read the applied catalog into
// its CatalogManager before it serves again.
//
// Base entry: a catalog that is not the result of a log entry (written by
// `kmend master rebuild`, or a file-backed catalog from before replication)
// would never reach a master that joins later: that master replays the log
// from index 1 and rejects every entry as not following its empty catalog.
// So a leader whose applied catalog is not in the log first proposes it as a
// base entry (version + 1, SysCatalogPB.base_entry), which every master
// accepts over any lower version; a restart before it commits keeps the
// need (SysCatalogPB.needs_base_entry in the snapshot file).
//
// Thread safety: all methods are thread-safe. Apply runs on the driver's
// Ready thread. Lifetime: the driver passed to SetDriver must be shut down
// before the store is destroyed (its apply callback points here).
#ifndef KMEND_SERVER_MASTER_RAFT_CATALOG_STORE_H_
#define KMEND_SERVER_MASTER_RAFT_CATALOG_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <set>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/consensus/raft_driver.h"
#include "lib/raft/status.h"
#include "proto/consensus.pb.h"
#include "proto/master.pb.h"
#include "server/master/catalog_store.h"

namespace kmend::master {

// 32 zeros, like Kudu's sys catalog tablet id.
inline constexpr char kSysCatalogTabletId[] = "00000000000000000000000000000000";

// The log entry carrying `catalog` (applied_index cleared), and back.
consensus::ReplicateMsg EncodeCatalogEntry(const SysCatalogPB& catalog);
// DataLoss naming the entry and what is wrong when it is not a catalog
// entry of the form above.
absl::StatusOr<SysCatalogPB> DecodeCatalogEntry(const consensus::ReplicateMsg& msg);

// The lowest sys-catalog WAL index a master keeps: segments whose entries
// are all below it may be garbage-collected. Never above the durable
// snapshot + 1 (a restart replays the entries after the snapshot); always
// `retained_entries` behind that, so a follower that becomes leader can
// still catch up a peer lagging by less; and on the leader not above what a
// peer still needs (its match index + 1; a peer that is down keeps its old
// match index), but for peers at most `max_entries_retained_for_peers`
// further back, and not at all for a peer Raft already says needs a copy: a
// peer lagging by more gets a catalog copy (catalog_copy_client.h) instead
// of the leader's disk filling up. At least 1.
int64_t CatalogLogRetentionIndex(const raft::RaftStatus& status, int64_t durable_snapshot_index,
                                 int64_t retained_entries,
                                 int64_t max_entries_retained_for_peers = int64_t{1} << 40);

class RaftCatalogStore : public CatalogStore {
 public:
  // Reads the snapshot file at `snapshot_path` (absent: empty catalog at
  // index 0). An empty path keeps everything in memory (tests).
  static absl::StatusOr<std::unique_ptr<RaftCatalogStore>> Open(
      std::string snapshot_path, absl::Duration save_timeout = absl::Seconds(5));

  // The op index the loaded snapshot covers: DriverOptions.applied_index.
  int64_t snapshot_index() const;
  // Re-reads the snapshot file (after a catalog copy installed a new one)
  // and makes it the applied state. Only while no driver is attached.
  absl::Status ReloadSnapshotFile();
  // DriverOptions.apply (see the file comment).
  void Apply(const consensus::ReplicateMsg& msg);
  // The driver Save() proposes through. Not owned; null detaches.
  void SetDriver(consensus_driver::RaftDriver* driver);

  // The applied catalog (without applied_index).
  absl::StatusOr<SysCatalogPB> Load() override;
  absl::Status Save(const SysCatalogPB& catalog) override;

  SysCatalogPB applied() const;
  // The applied catalog with applied_index set: one consistent pair.
  SysCatalogPB AppliedWithIndex() const;
  int64_t applied_index() const;
  // Writes the applied catalog and index to the snapshot file unless it
  // already holds them. Callers may race; writes are serialized.
  absl::Status WriteSnapshot();
  // The index the snapshot file on disk covers (the applied index when the
  // store keeps no file).
  int64_t durable_snapshot_index() const;
  // True once after a Save whose outcome is unknown or that was rejected.
  bool TakeNeedsReload() { return needs_reload_.exchange(false); }
  // Whether the applied catalog is not in the log (see "Base entry" above).
  bool needs_base_entry() const;
  // Leader only, before it serves: when needs_base_entry(), proposes the
  // applied catalog as a base entry and waits until it is applied (Save's
  // errors). OK and nothing proposed otherwise.
  absl::Status WriteBaseEntryIfNeeded();

 private:
  RaftCatalogStore(std::string snapshot_path, absl::Duration save_timeout)
      : snapshot_path_(std::move(snapshot_path)), save_timeout_(save_timeout) {}

  const std::string snapshot_path_;
  const absl::Duration save_timeout_;
  std::atomic<bool> needs_reload_{false};

  absl::Mutex snapshot_mu_;  // serializes WriteSnapshot; taken before mu_
  mutable absl::Mutex mu_;
  consensus_driver::RaftDriver* driver_ ABSL_GUARDED_BY(mu_) = nullptr;
  SysCatalogPB applied_ ABSL_GUARDED_BY(mu_);
  int64_t applied_index_ ABSL_GUARDED_BY(mu_) = 0;
  bool needs_base_entry_ ABSL_GUARDED_BY(mu_) = false;
  int64_t durable_snapshot_index_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t snapshot_index_ ABSL_GUARDED_BY(mu_) = 0;  // set by Open and ReloadSnapshotFile
  // Indexes of catalog entries apply rejected, for the Save waiting on them;
  // pruned to the most recent ones.
  std::set<int64_t> rejected_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_RAFT_CATALOG_STORE_H_
