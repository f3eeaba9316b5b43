// The collector of `kmend fsck`: reads a stopped tablet server's data
// directory once and records what every file and block holds (report.h).
// It judges nothing (verdict.h does) and changes nothing.
//
// What it reads, through the libraries the server itself uses:
//   - <root>/instance and data/block_manager_instance (pbc::VerifyFile, then
//     fs::Open for their agreement);
//   - every superblock (pbc::VerifyFile, tablet::LoadSuperBlock) and every
//     consensus-metadata file (meta::VerifyConsensusMeta);
//   - every WAL segment (wal::ReadLog, continuing after problems: header,
//     every batch CRC, decompression and parse, footer, segment and op-index
//     continuity; a torn tail is told from mid-log corruption);
//   - every block container (the block manager's own loader: every metadata
//     record, extents inside .data), then each live block's bytes per
//     --checks: its CRC32C, streamed in large sequential reads (checksums), or
//     each rowset fully decoded and cross-checked (decode, parallel over
//     tablets);
//   - cross references: rowset blocks the block manager lacks (MISSING),
//     live blocks no superblock names (ORPHANED, tablet::FindUnreferencedBlocks),
//     and the offline start-up check (bootstrap.h).
// Bytes of a .data file outside every live block (holes punched for deleted
// blocks, alignment padding, preallocated space) hold nothing and are not read.
//
// The caller must hold the directory lock (no server writing). Thread safety:
// Scan is reentrant; the progress callback is called from the calling thread
// or from Scan's worker threads, one call at a time.
#ifndef KMEND_LIB_FSCK_SCAN_H_
#define KMEND_LIB_FSCK_SCAN_H_

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/fsck/report.h"

namespace kmend::fsck {

struct ScanProgress {
  int64_t files_done = 0;
  int64_t files_total = 0;
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
};

struct ScanOptions {
  Checks checks = Checks::kChecksums;
  // Only these tablets (empty: all). Orphaned blocks are only looked for
  // when every tablet is checked.
  std::set<std::string> tablets;
  // Worker threads for --checks=decode (0: one per core).
  int threads = 0;
  // Called now and then with the totals so far (may be empty).
  std::function<void(const ScanProgress&)> progress;
};

// Facts only a repair needs, gathered by the same scan.
struct RepairFacts {
  struct WalTail {
    std::string tablet_id;
    std::string path;
    uint64_t offset = 0;  // truncate here (end of the last complete batch)
    uint64_t size_bytes = 0;
    // What the footer written at `offset` says (the batches before it).
    int64_t entries = 0;
    int64_t min_replicate_index = -1;
    int64_t max_replicate_index = -1;
    bool last = false;  // the tablet's last segment
  };
  struct OrphanBlock {
    uint64_t block_id = 0;
    std::string container_id;
    std::string data_path;
    std::string metadata_path;
    int64_t offset = 0;
    int64_t length = 0;
  };
  // .data bytes past the last block any record names.
  struct UnrecordedData {
    std::string data_path;
    uint64_t recorded_end = 0;
    uint64_t size_bytes = 0;
  };
  std::vector<UnrecordedData> unrecorded_data;
  std::vector<WalTail> wal_tails;  // torn segments (read as a whole directory)
  std::vector<OrphanBlock> orphan_blocks;
  bool orphans_known = false;  // every superblock loaded
  uint64_t filesystem_block_size_bytes = 0;
  // Every superblock loaded and every container read: deleting anything in
  // the data directory cannot take a tablet's data.
  bool data_dir_fully_understood = false;
};

struct ScanResult {
  FsckReport report;
  RepairFacts facts;
};

// Scans `root`. An error only when fsck cannot run at all: `root` is not a
// directory, or holds neither an instance file nor any of data/, tablet-meta/,
// consensus-meta/, wals/ (not a data directory).
absl::StatusOr<ScanResult> Scan(const std::string& root, const ScanOptions& options);

}  // namespace kmend::fsck

#endif  // KMEND_LIB_FSCK_SCAN_H_
