// Repair of what `kmend fsck` found: the plan (pure, from the scan), and its
// execution with a backup of every byte it changes, journaled so that a run
// killed at any instant and started again completes the same repair, and
// `fsck undo` restores every file byte-identical.
//
// Actions, in the order they run (docs/cli/fsck.md, "Repair"):
//   close_wal_segment       a torn WAL tail: cut the segment at the end of its
//                           last complete batch and write the footer, exactly
//                           what the server's WAL recovery does (SegmentWriter
//                           Reopen + Finish); only in tablets judged
//                           REPAIRABLE_LOCALLY;
//   truncate_metadata       a container's partial trailing metadata record
//                           (blocks::Repair's plan);
//   truncate_data           .data bytes past the last block any record names
//                           (a crash between a block's write and its record):
//                           cut off, only when no tablet misses a block;
//   delete_orphaned_blocks  live blocks no superblock names: DELETE records
//                           appended to the container's .metadata and the
//                           blocks' extents punched out of .data, the block
//                           manager's own deletion; only when every superblock
//                           loaded and every container was read, so no
//                           tablet's data can be among them;
//   delete_file             orphan containers (no live block) and temp files
//                           left by a crash (blocks::Repair's plan, and temp
//                           files in tablet-meta/, consensus-meta/, wals/);
//   mark_failed             a READY tablet judged NEEDS_REBUILD: its superblock
//                           says FAILED (tablet::SetDataState), so the server
//                           does not serve it and the master re-replicates it.
//                           Its files are otherwise left as they are.
// Nothing here deletes a tablet's data: torn tails were never acknowledged,
// orphaned blocks and orphan containers belong to no tablet, temp files are
// never the only copy (writes rename them over their target).
//
// The backup directory holds `manifest.json` (the journal) and one file per
// backed-up file or byte range. Per action: the manifest lists it as
// "planned"; its pre-images are copied (fsynced, CRC32C recorded) and the
// manifest says "backed_up"; the action runs; the manifest says "done". Every
// manifest write is atomic. On a re-run an unfinished manifest is resumed:
// actions not backed up are backed up, actions backed up but not done are
// redone from their pre-image state (each action is idempotent: truncation,
// deletion, footer at a fixed offset, DELETE records with the plan's
// timestamp appended at the pre-image's end, hole punching, the superblock
// replaced atomically). All timestamps come from the plan, so an interrupted
// and resumed repair leaves the same bytes as an uninterrupted one.
//
// The caller holds the directory lock. Not thread-safe.
#ifndef KMEND_LIB_FSCK_REPAIR_H_
#define KMEND_LIB_FSCK_REPAIR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/fsck/scan.h"

namespace kmend::fsck {

struct RepairAction {
  enum class Kind {
    kCloseWalSegment,
    kTruncateMetadata,
    kTruncateData,
    kDeleteOrphanedBlocks,
    kDeleteFile,
    kMarkFailed,
  };
  Kind kind = Kind::kDeleteFile;
  std::string path;       // the file changed (superblock for mark_failed, .metadata for blocks)
  std::string tablet_id;  // close_wal_segment, mark_failed
  uint64_t offset = 0;    // close_wal_segment / truncate_*: the file's new end
  // close_wal_segment: the footer to write.
  int64_t num_entries = 0;
  int64_t min_replicate_index = -1;
  int64_t max_replicate_index = -1;
  // delete_orphaned_blocks: blocks of one container.
  std::string data_path;
  std::vector<RepairFacts::OrphanBlock> blocks;
  uint64_t alignment = 0;   // delete_orphaned_blocks: punched extents end at this multiple
  std::string reason;       // mark_failed: failure_reason; others: why
  std::string description;  // one line for people
};
const char* RepairActionKindName(RepairAction::Kind kind);

struct RepairPlan {
  std::string fs_root;
  int64_t timestamp_micros = 0;  // for footers and DELETE records
  std::vector<RepairAction> actions;
  // What the repair will not do, one line each (e.g. orphaned blocks left
  // because a superblock did not load).
  std::vector<std::string> not_done;
};

// Plans the repair of what `scan` found; `scan.report` must have been judged
// (verdict.h). Reads the data directory's containers again (blocks::Repair's
// dry run) but changes nothing.
absl::StatusOr<RepairPlan> PlanRepair(const ScanResult& scan, int64_t timestamp_micros);

struct RepairOutcome {
  RepairPlan plan;       // the plan executed (a resumed one comes from the manifest)
  bool resumed = false;  // an unfinished manifest was found and completed
  int actions_done = 0;
  uint64_t bytes_backed_up = 0;
  std::string manifest_path;
};

// Executes `plan` with backups in `backup_dir` (created if missing). If
// `backup_dir` holds an unfinished manifest for the same fs_root, that
// manifest's plan is resumed instead and `plan` is ignored. Refuses
// (FailedPrecondition) a backup_dir holding a finished or undone manifest, or
// one for another fs_root, or one inside fs_root.
absl::StatusOr<RepairOutcome> ExecuteRepair(const RepairPlan& plan, const std::string& backup_dir);

// True when `backup_dir` holds an unfinished manifest for `fs_root`.
bool HasUnfinishedRepair(const std::string& backup_dir, const std::string& fs_root);

struct UndoOutcome {
  std::string fs_root;
  std::vector<std::string> restored;  // one line per file or range (would be) restored
  bool applied = false;
};

// Restores every file the repair in `backup_dir` changed, last change first,
// after checking every backup's CRC32C (DataLoss naming the backup if one
// does not match, before anything is restored). With apply = false only
// lists what would be restored. `expected_fs_root`, when not empty, must be
// the manifest's. Marks the manifest "undone".
absl::StatusOr<UndoOutcome> Undo(const std::string& backup_dir, bool apply,
                                 const std::string& expected_fs_root = "");

// The fs_root a backup directory's manifest is about (for taking its lock).
absl::StatusOr<std::string> ManifestFsRoot(const std::string& backup_dir);

}  // namespace kmend::fsck

#endif  // KMEND_LIB_FSCK_REPAIR_H_
