// The tablet server's replicas: creating them from the master's
// CreateTablet, loading them at start-up, tombstoning and deleting them.
//
// On disk per replica (lib/fs/layout.h): the superblock
// <root>/tablet-meta/<id> (written last at creation: its presence is what
// makes a replica exist after a restart), the consensus metadata
// <root>/consensus-meta/<id>, and the WAL directory <root>/wals/<id>/.
// A replica whose files cannot be read at start-up is kept as FAILED with
// the error as its reason: reported, never served, and the server starts.
//
// Thread safety: all methods are thread-safe; creations, copies and
// deletions of one tablet id are serialized, those of different ids run in
// parallel (the master sends a table's CreateTablet calls concurrently). Lifetime: replicas are shared_ptr; one dropped by the manager
// lives until the last RPC using it returns.
#ifndef KMEND_SERVER_TSERVER_TABLET_MANAGER_H_
#define KMEND_SERVER_TSERVER_TABLET_MANAGER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/fs/layout.h"
#include "proto/tserver.pb.h"
#include "lib/tablet_copy/copy_client.h"
#include "server/tserver/tablet_replica.h"

namespace kmend::tserver {

// Where a CopyTabletFrom's time went, milliseconds (-1: the step did not
// run): `before_copy` (a rebuild's tombstone), the copier, and starting the
// copied replica (opening its blocks, replaying its WAL).
struct CopyTimings {
  int64_t before_copy_ms = -1;
  int64_t copy_ms = -1;
  int64_t start_ms = -1;
};

class TabletManager {
 public:
  // Called with a replica's committed config whenever one is loaded or
  // created (the server feeds peer addresses to its Raft transport). Runs
  // on the calling thread without the manager's locks held.
  using ConfigObserver = std::function<void(const consensus::RaftConfigPB&)>;

  TabletManager(fs::Layout layout, std::string server_uuid, ConfigObserver on_config = nullptr);

  // Makes replicas run: each loaded or created replica is Start()ed with
  // `runtime` (Raft and rows). Without it, replicas only hold metadata
  // (tests of the manager alone). Call before Open().
  void SetRuntime(ReplicaRuntime runtime) { runtime_ = std::move(runtime); }

  // Stops every replica's Raft (server shutdown).
  void ShutdownAll();

  // Loads every replica listed in tablet-meta/. Fails only when the
  // directory itself cannot be listed; damaged replicas load as FAILED.
  // With a runtime, `start_threads` threads Start() the replicas (each
  // replica by one thread; replicas are independent): a restart after a
  // crash is mostly waiting for each replica's footer fdatasync, which
  // overlap across threads (docs/design/scale.md, "Restart").
  absl::Status Open(int start_threads = 1);

  // Creates the replica's files (see the file comment) in state READY with
  // term 0 and the initial config. InvalidArgument for a non-canonical id,
  // a bad schema or a config that does not list this server;
  // AlreadyExists when a replica that is not TOMBSTONED exists (a tombstoned
  // one is replaced).
  absl::Status CreateTablet(const CreateTabletRequestPB& req);

  // Re-replication: copies the replica from the TabletCopyService at
  // `source_address` (tablet_copy::CopyTablet, through the runtime's block
  // manager), then loads and Start()s it. AlreadyExists when a replica that
  // is not TOMBSTONED (or FAILED) is here; FailedPrecondition without a
  // runtime; the copy's errors otherwise (the replica then ends TOMBSTONED).
  // `progress` (may be empty) is called after every chunk, from this thread.
  // `resume`: a COPYING replica (an interrupted rebuild) is resumed, and a
  // copy that fails for another reason than corruption stays COPYING and
  // resumable (tablet_copy::CopyOptions::resume) instead of TOMBSTONED.
  // `before_copy` (may be empty) runs once the change lock is held, with the
  // hosted replica (null if none), before its state is checked: an error
  // from it ends the call without copying (StartTabletCopy tombstones a
  // READY replica there, so that no creation or deletion slips in between).
  // `replace_unreadable_metadata_term_floor`: tablet_copy::CopyOptions'
  // (a rebuild of a replica whose superblock or cmeta cannot be read).
  // `timings` (may be null) is filled as the steps end.
  absl::Status CopyTabletFrom(
      const std::string& tablet_id, const std::string& source_address,
      const std::function<void(const tablet_copy::CopyProgress&)>& progress = nullptr,
      const std::function<absl::Status(TabletReplica*)>& before_copy = nullptr,
      bool resume = false,
      std::optional<int64_t> replace_unreadable_metadata_term_floor = std::nullopt,
      CopyTimings* timings = nullptr);

  // The data directory's paths.
  const fs::Layout& layout() const { return layout_; }

  // Tombstones (keeps superblock and cmeta, state TOMBSTONED, WAL removed)
  // or deletes every file of the replica. NotFound for an unknown tablet;
  // FailedPrecondition when `cas_config_opid_index_le` is set and the
  // replica's committed config is newer.
  absl::Status DeleteTablet(const std::string& tablet_id, bool tombstone,
                            const std::string& reason,
                            std::optional<int64_t> cas_config_opid_index_le);

  // NotFound for an unknown tablet.
  absl::StatusOr<std::shared_ptr<TabletReplica>> Lookup(const std::string& tablet_id) const;

  // Every replica, ordered by tablet id.
  std::vector<std::shared_ptr<TabletReplica>> List() const;

  // The data directory's space, measured now against the runtime's reserve
  // (none without a runtime); nullopt when it cannot be measured. Status
  // answers and heartbeats measure once per report.
  std::optional<server::DataDirSpacePB> MeasureDataDir() const;

  // Marks `replica` (a status report) as refusing client writes when `dir`
  // is full and the replica runs (READY, running Raft): what ksck shows.
  static void NoteWriteRefusal(const server::DataDirSpacePB& dir, server::ReplicaStatusPB* replica);

 private:
  const fs::Layout layout_;
  const std::string server_uuid_;
  const ConfigObserver on_config_;
  std::optional<ReplicaRuntime> runtime_;
  // Held (as a TabletChange) across the file operations of one creation,
  // copy or deletion of one tablet id: the same id's changes wait, others
  // proceed.
  class TabletChange {
   public:
    TabletChange(TabletManager* manager, std::string tablet_id);
    ~TabletChange();
    TabletChange(const TabletChange&) = delete;
    TabletChange& operator=(const TabletChange&) = delete;

   private:
    TabletManager* const manager_;
    const std::string tablet_id_;
  };
  absl::Mutex changing_mu_;
  std::set<std::string> changing_ ABSL_GUARDED_BY(changing_mu_);
  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<TabletReplica>> replicas_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_TABLET_MANAGER_H_
