// The receiving side of tablet copy (docs/design/tablet_copy.md): fetches a
// READY replica from a peer's TabletCopyService into a local data directory.
//
// Crash safety (every step durable before the next):
//   1. refuse if a READY or COPYING replica exists locally; a TOMBSTONED or
//      FAILED one is tombstoned again (its remaining blocks deleted);
//   2. superblock := the source's, state COPYING, no rowsets;
//   3. old WAL files of the tablet deleted;
//   4. blocks fetched (every chunk's offset, total length and CRC32C checked),
//      written through the local block manager under new ids, and each batch
//      of new ids recorded in the COPYING superblock's orphaned_blocks, so
//      that recovery can find and delete them;
//   5. WAL segments fetched into "<name>.copy.<micros>.kudutmp", synced,
//      renamed to their names, directory synced;
//   6. consensus metadata written (term and committed config from the source,
//      never lowering a local term: see CopyTablet);
//   7. superblock := the source's with block ids remapped, state READY
//      (atomic replace). Only this write makes the replica READY.
// A crash anywhere before 7 leaves state COPYING. The tablet server must
// treat a COPYING replica found at start-up as TOMBSTONED: call
// RecoverInterruptedCopy on it before anything else, or, when it has a
// resume journal, KeepInterruptedCopyForResume.
//
// Resume (CopyOptions::resume; docs/design/tablet_copy.md, "Resume"): after
// each durable batch of blocks (at least every batch_interval) the copier
// also writes a journal (lib/tablet_copy/copy_journal.h) naming each block's
// source id, size, CRC32C and local id. A copy that stops for any reason but
// corruption (a transport error, a dead source, a crash of either side)
// leaves the replica COPYING with its journal. A later resuming copy of the
// tablet keeps every journaled block the new session offers again with the
// same id and size (from the same source) whose bytes still match their
// CRC32C, fetches the rest, and deletes the others; it says which in
// CopyResult::resume_note ("starting over: ..." with the reason when none).
//
// Thread safety: free functions; callers must not run two copies of one
// tablet at once (the tablet server serializes per tablet).
#ifndef KMEND_LIB_TABLET_COPY_COPY_CLIENT_H_
#define KMEND_LIB_TABLET_COPY_COPY_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/blocks/log_block_manager.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/tablet_copy.pb.h"
#include "proto/tablet_metadata.pb.h"

namespace kmend::tablet_copy {

struct CopyProgress {
  int64_t bytes_done = 0;
  int64_t bytes_total = 0;  // blocks + WAL segments
  int items_done = 0;
  int items_total = 0;
  std::string item;  // DataIdName of the item being fetched
  // Blocks kept from an interrupted copy (counted in bytes_done too).
  int64_t bytes_reused = 0;
  std::string resume_note;  // set once the session began, when resuming
};

struct CopyOptions {
  // This server's uuid (the source refuses its own).
  std::string requestor_uuid;
  // The block manager of <root>/data. A running tablet server MUST pass its
  // own (one block manager per directory). Null: CopyTablet opens one for the
  // call (offline tools and tests only).
  blocks::LogBlockManager* block_manager = nullptr;
  // fsync WAL segment files and directories. Off only in tests/benchmarks.
  bool sync = true;
  // Largest chunk asked for (the server may send less; its default cap is
  // Kudu's 4 MiB). 1 MiB measured faster over loopback (copy_benchmark:
  // ~590-720 vs ~360-470 MB/s), 4 MiB buffers cost page faults each time.
  int64_t chunk_size_bytes = 1 << 20;
  // Deadline of each RPC.
  std::chrono::milliseconds rpc_timeout{60000};
  // Called after every chunk (from the calling thread).
  std::function<void(const CopyProgress&)> progress;
  // Resumable copy (see the file comment): a COPYING replica with a journal
  // is resumed instead of refused, and a failure other than DataLoss leaves
  // it COPYING with its journal instead of tombstoning it.
  bool resume = false;
  // Blocks are made durable (and journaled) in batches of up to 64 MB, and
  // at least this often: an interrupted copy loses at most about this much
  // fetching.
  std::chrono::milliseconds batch_interval{1000};
  // `kmend rebuild-replica` only, once its term rule passed (or was forced)
  // on the replica's own files (lib/rebuild/target_term.h): local metadata
  // that cannot be read (DataLoss) does not stop the copy. An unreadable
  // superblock is set aside as tablet-meta/<id>.unreadable.<micros> (kept
  // for a post-mortem; the blocks it named are unknown and left to
  // `kmend fsck`) and the copy proceeds as if there were no replica; an
  // unreadable consensus metadata is replaced with term max(source's, this
  // floor) and no vote (lib/meta/cmeta_merge.h). nullopt: both refuse.
  std::optional<int64_t> replace_unreadable_metadata_term_floor;

  // Test hooks. test_mutate_chunk may change a chunk's data after it arrived
  // and before it is checked (corruption in transit).
  std::function<void(const tserver::DataIdPB&, std::string* data)> test_mutate_chunk;
  // >= 0: simulate a crash once this many chunks have been received: return
  // Aborted at once, without ending the session or cleaning up.
  int64_t test_crash_after_chunks = -1;
};

struct CopyResult {
  std::string session_id;
  std::string source_uuid;
  int64_t blocks = 0;
  int64_t wal_segments = 0;
  int64_t chunks = 0;
  int64_t bytes = 0;  // blocks + WAL segments (fetched + reused)
  int64_t bytes_reused = 0;  // blocks kept from an interrupted copy
  std::string resume_note;   // resuming: what was kept, or why nothing
  double seconds = 0;
  consensus::ConsensusStatePB cstate;        // the source's, at session begin
  tablet::TabletSuperBlockPB superblock;     // as stored locally (READY)
};

// Copies `tablet_id` from the TabletCopyService at `source_address`
// ("host:port") into the formatted root `root` (see file comment).
// AlreadyExists: a READY replica is here. FailedPrecondition: an interrupted
// copy (COPYING) is here and !options.resume; run RecoverInterruptedCopy.
// DataLoss: a chunk failed its checks. Any error after step 2 (other than
// the simulated crash) is followed by RecoverInterruptedCopy, so the replica
// ends TOMBSTONED; with options.resume only a DataLoss is (others leave it
// COPYING and resumable).
//
// Consensus metadata: if a local file exists (a tombstoned replica), its
// term is kept when higher than the source's and its vote kept when the term
// does not change, so a replica never votes twice in one term.
absl::StatusOr<CopyResult> CopyTablet(const std::string& source_address,
                                      const std::string& tablet_id, const std::string& root,
                                      const CopyOptions& options);

// For a replica left COPYING by a crash: deletes its WAL files and the
// tablet's temp files, deletes every block the copy had recorded, and leaves
// a TOMBSTONED superblock (the consensus metadata, if any, is kept, as for
// any tombstone). FailedPrecondition if the replica is not COPYING; NotFound
// if it has no superblock. `block_manager`: as in CopyOptions.
absl::Status RecoverInterruptedCopy(const std::string& root, const std::string& tablet_id,
                                    blocks::LogBlockManager* block_manager = nullptr);

// For a replica left COPYING by a crash that has a resume journal: deletes
// its WAL files and the tablet's temp files, keeps its journaled blocks and
// the COPYING superblock, so that a resuming CopyTablet continues it. Returns
// false (and does nothing) when there is no usable journal: the caller then
// runs RecoverInterruptedCopy.
absl::StatusOr<bool> KeepInterruptedCopyForResume(const std::string& root,
                                                  const std::string& tablet_id);

}  // namespace kmend::tablet_copy

#endif  // KMEND_LIB_TABLET_COPY_COPY_CLIENT_H_
