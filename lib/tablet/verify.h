// Offline verification of tablet data (for `kmend fsck`): never changes a file.
//
// Thread safety: free functions. The caller must hold the directory lock or
// otherwise know no server is writing the root.
#ifndef KMEND_LIB_TABLET_VERIFY_H_
#define KMEND_LIB_TABLET_VERIFY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/fs/layout.h"
#include "proto/tablet_metadata.pb.h"

namespace kmend::tablet {

struct BlockProblem {
  uint64_t block_id = 0;
  std::string problem;  // "missing", or the decode error
};

struct TabletVerifyReport {
  std::string tablet_id;
  std::string superblock_path;
  TabletDataState state = TABLET_DATA_UNKNOWN;
  int64_t last_flushed_op_index = 0;
  int64_t rows = 0;           // rows in the rowset, when it decoded
  int64_t blocks_checked = 0;
  // Empty when the superblock loaded; otherwise why not (and nothing else
  // was checked).
  std::string superblock_error;
  std::vector<BlockProblem> block_problems;

  bool ok() const { return superblock_error.empty() && block_problems.empty(); }
};

// Checks that the superblock of `tablet_id` under `root` loads and validates,
// and that every block it names exists in the block manager and fully
// decodes (CRC, header, row counts consistent across columns). Damage is in
// the report; an error status only when the data directory cannot be read.
// `block_manager` may be null: a read-only one is opened for the call.
absl::StatusOr<TabletVerifyReport> Verify(const std::string& root, const std::string& tablet_id,
                                          const blocks::LogBlockManager* block_manager = nullptr);

// Live blocks of the data directory that no superblock under `root`
// references (rowset blocks or orphaned_blocks): what a crash between writing
// a flush's blocks and its superblock leaves behind. Sorted. Superblocks that
// fail to load make this an error (their blocks cannot be told apart).
absl::StatusOr<std::vector<uint64_t>> FindUnreferencedBlocks(
    const std::string& root, const blocks::LogBlockManager* block_manager = nullptr);

// Deletes (apply = true) or lists (apply = false, the default) the blocks
// FindUnreferencedBlocks returns. Only safe while nothing writes blocks that
// no superblock names yet: no flush and no tablet copy running (offline, or
// at server start-up before tablets open). With apply, `block_manager` must
// be writable (not null).
absl::StatusOr<std::vector<uint64_t>> DeleteUnreferencedBlocks(
    const std::string& root, blocks::LogBlockManager* block_manager, bool apply = false);

}  // namespace kmend::tablet

#endif  // KMEND_LIB_TABLET_VERIFY_H_
