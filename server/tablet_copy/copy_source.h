// The sending side of tablet copy (docs/design/tablet_copy.md): sessions that
// snapshot one READY replica's files and serve them in CRC32C-checked chunks.
//
// A session is the only thing FetchData reads from. BeginSession resolves
// every file it will serve (WAL segments, block containers, the superblock)
// from the replica's fs::Layout and keeps them open or in memory; a request
// only names an item (a block id, a segment sequence number, "the
// superblock") that is looked up in the session's table. No path is ever
// built from a request, and an id the session does not list is NotFound.
//
// What a session keeps alive (its "anchor"):
//   - WAL: every segment present at BeginSession, by open file descriptor (a
//     segment the tablet server garbage-collects meanwhile stays readable
//     through the descriptor; its disk space is freed when the session ends).
//     The highest-numbered segment, which may still be appended to, is read
//     into memory at BeginSession, so its bytes are a fixed snapshot.
//   - The superblock: its bytes as stored, read once (the file is replaced by
//     rename, never modified in place), and the same message parsed.
//   - Blocks: NOT copied. Each FetchData of a block preads the live
//     container, and checks after the read that the block is still live (the
//     block manager removes a block from its index before punching its
//     bytes out). A block deleted by a flush during the session makes that
//     FetchData fail with Aborted: the copier must begin a new session.
//     The tablet server prevents that: its provider hands out an anchor
//     (SourceReplica::anchor) that holds off the replica's flushes and WAL
//     GC while the session lives.
// The WAL is snapshotted BEFORE the superblock is read: any op after the
// superblock's last_flushed_op_index was then still in the WAL (the server
// only garbage-collects flushed ops), so the copy has no gap between its
// flushed data and its log.
//
// Thread safety: TabletCopySourceManager is thread-safe; FetchData calls of
// one session may run concurrently. Lifetime: the provider and every
// LogBlockManager it returns must outlive the manager.
#ifndef KMEND_SERVER_TABLET_COPY_COPY_SOURCE_H_
#define KMEND_SERVER_TABLET_COPY_COPY_SOURCE_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/copy/session_table.h"
#include "proto/consensus_metadata.pb.h"
#include "lib/tablet_copy/data_id.h"
#include "proto/tablet_copy.pb.h"

namespace kmend::tablet_copy {

// Kudu's --tablet_copy_transfer_chunk_size_bytes (FORMATS.md section 7).
inline constexpr int64_t kDefaultChunkSizeBytes = 4 << 20;

// What the tablet server knows about one of its replicas.
struct SourceReplica {
  // The fs::Layout root (data directory) holding the replica.
  std::string root;
  // The server considers the replica READY and serving (bootstrapped).
  bool ready = false;
  // The server's block manager of <root>/data (there is one per directory).
  // Required; must outlive the TabletCopySourceManager.
  blocks::LogBlockManager* block_manager = nullptr;
  // The live consensus state (term, leader, committed and pending config).
  // When unset, the session reads term and committed config from the
  // replica's consensus metadata file.
  std::optional<consensus::ConsensusStatePB> cstate;
  // Held by the session until it ends (then released): the tablet server
  // uses it to hold off the replica's flushes and WAL GC meanwhile, so that
  // the blocks the session serves stay live. Taken by the provider before
  // the session snapshots anything. May be null.
  std::shared_ptr<void> anchor;
};

// The seam between the copy service and the tablet server's classes.
// Implementations must be thread-safe.
class TabletCopySourceProvider {
 public:
  virtual ~TabletCopySourceProvider() = default;
  // NotFound when the server hosts no replica of `tablet_id`.
  virtual absl::StatusOr<SourceReplica> GetReplica(const std::string& tablet_id) = 0;
};

struct SourceOptions {
  // This server's uuid: returned as responder_uuid; a request from it is
  // refused (a replica never copies from itself).
  std::string server_uuid;
  // A session unused for this long is ended (its anchors released).
  absl::Duration session_idle_timeout = absl::Seconds(60);
  // Largest chunk served (and the size used when a request says 0).
  int64_t chunk_size_bytes = kDefaultChunkSizeBytes;
  // BeginSession fails with Unavailable beyond this many open sessions.
  int max_sessions = 16;
  // Time source (tests inject one). Default absl::Now.
  std::function<absl::Time()> clock;
  // How often a background thread expires idle sessions. Zero: no thread;
  // the owner calls ExpireIdleSessions (every RPC also does).
  absl::Duration reaper_interval = absl::Seconds(5);
};

class TabletCopySourceManager {
 public:
  TabletCopySourceManager(TabletCopySourceProvider* provider, SourceOptions options);
  // Stops the reaper and ends every session.
  ~TabletCopySourceManager();
  TabletCopySourceManager(const TabletCopySourceManager&) = delete;
  TabletCopySourceManager& operator=(const TabletCopySourceManager&) = delete;

  // Snapshots the replica (see file comment) and returns the session.
  // NotFound: no such replica. FailedPrecondition: the replica is not READY.
  // InvalidArgument: the requestor is this server. Unavailable: too many
  // sessions. Aborted: the replica changed under the snapshot (retry).
  absl::StatusOr<tserver::BeginTabletCopySessionResponsePB> BeginSession(
      const tserver::BeginTabletCopySessionRequestPB& request);

  // One chunk of one item of a session, with its offset, the item's total
  // length and the CRC32C of the data. NotFound: unknown (or expired)
  // session, or an item the session does not list. OutOfRange: offset past
  // the end. Aborted: the block was deleted on this server meanwhile.
  absl::StatusOr<tserver::DataChunkPB> FetchData(const tserver::FetchDataRequestPB& request);

  // Ends a session and releases its anchors. NotFound if unknown.
  absl::Status EndSession(const std::string& session_id, bool success);

  // Ends sessions idle longer than the timeout; returns how many.
  int ExpireIdleSessions();
  int num_sessions() const;

 private:
  class Session;

  absl::StatusOr<std::shared_ptr<Session>> FindSession(const std::string& session_id);

  TabletCopySourceProvider* const provider_;
  const SourceOptions options_;
  // Idle expiry and the session limit (lib/copy, shared with catalog copy).
  copy::SessionTable<Session> sessions_;
};


}  // namespace kmend::tablet_copy

#endif  // KMEND_SERVER_TABLET_COPY_COPY_SOURCE_H_
