// What `kmend fsck` found in one tablet server data directory: the facts the
// scan (scan.h) gathers, one entry per file and per damaged block, plus the
// per-tablet verdicts the judge (verdict.h) adds. Plain values, no I/O; the
// renderer (render.h) prints them as text or as JSON schema kmend.fsck/1
// (docs/cli/fsck.md).
//
// Statuses, per file:
//   OK          every byte the format covers was checked and is sound;
//   TORN_TAIL   an incomplete last record (what a crash leaves; repairable);
//   CORRUPT     damaged bytes: offset, what failed, stored vs computed CRC;
//   MISSING     a file the layout requires is absent;
//   ORPHANED    a file nothing needs (orphan container, leftover temp file);
//   UNREADABLE  the file could not be opened or read (permissions, EIO).
// Blocks (not files) get MISSING, CORRUPT or ORPHANED the same way.
#ifndef KMEND_LIB_FSCK_REPORT_H_
#define KMEND_LIB_FSCK_REPORT_H_

#include <cstdint>
#include <string>
#include <vector>

namespace kmend::fsck {

// How deep block verification goes. Every level checks all metadata, every
// WAL batch and the framing of every container; they differ in block bytes.
enum class Checks {
  kFraming,    // block extents lie inside their .data file; block bytes not read
  kChecksums,  // + every live block's CRC32C over all of its bytes (the default)
  kDecode,     // + decompress and decode every value, cross-check each rowset
};
const char* ChecksName(Checks c);  // "framing", "checksums", "decode"
bool ParseChecks(const std::string& s, Checks* out);

enum class FileStatus { kOk, kTornTail, kCorrupt, kMissing, kOrphaned, kUnreadable };
const char* FileStatusName(FileStatus s);  // "OK", "TORN_TAIL", ...

enum class FileKind {
  kInstance,              // <root>/instance
  kBlockManagerInstance,  // <root>/data/block_manager_instance
  kSuperblock,            // <root>/tablet-meta/<tablet>
  kConsensusMeta,         // <root>/consensus-meta/<tablet>
  kWalSegment,            // <root>/wals/<tablet>/wal-*
  kContainerMetadata,     // <root>/data/<id>.metadata
  kContainerData,         // <root>/data/<id>.data
  kTempFile,              // *.kudutmp* anywhere fsck looks
};
const char* FileKindName(FileKind k);  // "instance", "wal_segment", ...

struct Problem {
  uint64_t offset = 0;   // byte offset in the file the problem is in
  std::string what;      // what failed, expected vs found
  bool has_crc = false;  // stored/computed are meaningful
  uint32_t stored_crc = 0;
  uint32_t computed_crc = 0;
};

struct FileReport {
  std::string path;
  FileKind kind = FileKind::kInstance;
  std::string tablet_id;  // for superblocks, cmeta and WAL segments
  FileStatus status = FileStatus::kOk;
  uint64_t size_bytes = 0;
  std::vector<Problem> problems;
  // What fsck could not check in this file, if anything (e.g. Kudu CFiles).
  std::string note;
};

enum class BlockStatus { kMissing, kCorrupt, kOrphaned, kUnchecked };
const char* BlockStatusName(BlockStatus s);  // "MISSING", "CORRUPT", "ORPHANED", "UNCHECKED"

// One block that is not sound (healthy blocks are only counted).
struct BlockReport {
  uint64_t block_id = 0;
  std::string tablet_id;  // the tablet naming it; empty for ORPHANED
  BlockStatus status = BlockStatus::kMissing;
  std::string container_id;  // empty when the block manager has no record of it
  std::string path;          // the .data file (or .metadata) the problem is in
  int64_t offset = 0;        // the block's extent in the .data file
  int64_t length = 0;
  Problem problem;  // offset here is absolute in `path`
};

// Whether the server's start-up would bring the tablet up: the same reader
// Log::Open's recovery uses, then the checks RaftCore::Create makes, then
// whether the blocks and the WAL together cover every op (bootstrap.h).
struct BootstrapReport {
  bool checked = false;  // false: not attempted (see reason)
  bool ok = false;
  std::string reason;  // why not (or why not checked)
  int64_t last_flushed_op_index = 0;
  int64_t wal_first_index = 0;  // 0: empty WAL
  int64_t wal_last_index = 0;
  int64_t ops_to_replay = 0;  // entries after the flushed op
};

enum class Verdict {
  kHealthy,            // nothing wrong
  kRepairableLocally,  // `fsck --repair` fixes it without losing acknowledged data
  kNeedsRebuild,       // only a peer's copy can restore it: rebuild-replica
  kUnchecked,          // part of it could not be read (permissions): fix access, re-run
};
const char* VerdictName(Verdict v);  // "HEALTHY", "REPAIRABLE_LOCALLY", ...

struct TabletReport {
  std::string tablet_id;
  std::string table_name;
  std::string data_state;  // READY, TOMBSTONED, FAILED, ... ("" if unknown)
  int64_t blocks = 0;      // blocks the superblock names
  int64_t rows = 0;        // decoded rows (--checks=decode only)
  BootstrapReport bootstrap;
  // Filled by Judge().
  Verdict verdict = Verdict::kHealthy;
  std::vector<std::string> reasons;  // one line per finding behind the verdict
  std::string fix_command;           // NEEDS_REBUILD: the command that restores it
  std::string fix_note;              // what else to know
  // Raft peers from the consensus metadata: "uuid@host:port" (for the fix).
  std::vector<std::string> peers;
};

struct FsckReport {
  std::string fs_root;
  std::string server_uuid;
  Checks checks = Checks::kChecksums;
  std::vector<FileReport> files;
  std::vector<BlockReport> blocks;  // damaged, missing, orphaned blocks only
  std::vector<TabletReport> tablets;
  // Problems of the directory as a whole (instance files, container
  // metadata), one line each; tablet problems are in the tablets.
  std::vector<std::string> server_problems;
  // Counters.
  int64_t files_checked = 0;
  int64_t blocks_checked = 0;
  uint64_t bytes_read = 0;
  uint64_t block_bytes_checked = 0;
  double seconds = 0;

  // True when nothing is wrong anywhere (exit 0).
  bool clean() const;
};

}  // namespace kmend::fsck

#endif  // KMEND_LIB_FSCK_REPORT_H_
