// StartTabletCopy on a tablet server (proto/tserver.proto; `kmend
// rebuild-replica`, docs/design/tablet_copy.md "Rebuilding a replica"):
// replaces this server's replica of a tablet with a copy of a peer's.
//
// Start() checks, then returns while the copy runs on a thread of its own:
//   1. the peer (asked for its status with a short deadline) is the uuid the
//      caller named, and runs the tablet READY with Raft running;
//   2. this replica's last logged term is not ahead of the peer's (it may
//      hold entries the peer lacks) unless `force`: from Raft while it
//      runs, else from its files (lib/rebuild/target_term.h: the WAL when
//      the consensus metadata or superblock cannot be read; refused as
//      target_term_unknown when neither WAL nor cmeta can be);
//   3. no copy of the tablet runs here already.
// Refusals are named (RebuildRefusalPB); `check_only` returns them all
// and changes nothing (the tool's dry run).
// A replica whose superblock or cmeta is unreadable is still rebuilt: the
// superblock is set aside, the cmeta replaced (tablet_copy::CopyOptions::
// replace_unreadable_metadata_term_floor), and the response's warnings say so.
// The thread then tombstones a READY replica (under the manager's change
// lock, see TabletManager::CopyTabletFrom) and copies; the replica starts
// with the peer's committed config and rejoins its Raft group.
//
// Progress: one TabletCopyProgressPB per tablet, kept after the copy ended
// (DONE or FAILED with the error) until the next copy of that tablet or the
// process ends.
//
// Thread safety: thread-safe. Lifetime: the manager outlives the rebuilder;
// Shutdown() (or the destructor) waits for the copies running.
#ifndef KMEND_SERVER_TSERVER_REPLICA_REBUILDER_H_
#define KMEND_SERVER_TSERVER_REPLICA_REBUILDER_H_

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/status.pb.h"
#include "proto/tserver.pb.h"
#include "server/tserver/tablet_manager.h"

namespace kmend::tserver {

class ReplicaRebuilder {
 public:
  ReplicaRebuilder(std::string server_uuid, TabletManager* manager,
                   std::chrono::milliseconds peer_timeout = std::chrono::seconds(5));
  ~ReplicaRebuilder();
  ReplicaRebuilder(const ReplicaRebuilder&) = delete;
  ReplicaRebuilder& operator=(const ReplicaRebuilder&) = delete;

  // See the file comment. Errors: InvalidArgument (bad request),
  // FailedPrecondition (a check failed, named), AlreadyExists (a copy of
  // the tablet runs), Unavailable (the peer did not answer), Aborted
  // (shutting down).
  absl::StatusOr<StartTabletCopyResponsePB> Start(const StartTabletCopyRequestPB& req);

  // The tablet's last copy started here; NotFound when none.
  absl::StatusOr<server::TabletCopyProgressPB> Progress(const std::string& tablet_id) const;

  // Refuses new copies and waits for the running ones to end.
  void Shutdown();

 private:
  // `term_floor`: for a replaced unreadable cmeta (TermJudgement).
  void Run(StartTabletCopyRequestPB req, int64_t term_floor);
  void Update(const std::string& tablet_id,
              const std::function<void(server::TabletCopyProgressPB*)>& change);

  const std::string uuid_;
  TabletManager* const manager_;
  const std::chrono::milliseconds peer_timeout_;

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, server::TabletCopyProgressPB> progress_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_REPLICA_REBUILDER_H_
