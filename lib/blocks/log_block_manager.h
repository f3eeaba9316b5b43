// The log block manager of one data directory (docs/formats/block_container.md):
// immutable blocks of bytes appended to containers of <id>.data +
// <id>.metadata, Kudu's layout.
//
// Durability order for CreateBlocks (crash-safe at every step):
//   1. append the blocks' bytes to the active container's .data (each block at
//      an offset aligned to the filesystem block size), fdatasync .data;
//   2. append one CREATE record per block to .metadata, fdatasync .metadata;
//   3. if the container is new, fsync the data directory.
// A crash before 2 completes leaves unreferenced bytes in .data (never read)
// and at most a torn .metadata tail; a block id is returned only after 3.
//
// DeleteBlocks appends DELETE records (synced) and then punches the blocks'
// ranges out of .data (fallocate PUNCH_HOLE|KEEP_SIZE; skipped when the file
// system does not support it).
//
// Open replays every container (later records override earlier ones),
// reports what it found (LoadReport), and in read-write mode truncates torn
// metadata tails before appending to a container. A container is full once
// its next block offset reaches options.container_max_size_bytes; the next
// block then goes to a new container. Block ids are unique across the data
// directory and never reused: at Open the next id is max(max id in any
// record + 1, the current time in microseconds), then it increases by one
// per block (the time floor covers ids whose records were lost, e.g. a torn
// CREATE or a container deleted by repair, which a superblock may still name).
//
// Thread safety: all methods are thread-safe (one internal mutex; reads of
// block bytes happen outside it). Lifetime: owns its file descriptors; must
// outlive nothing but itself. Only one LogBlockManager per data directory
// (the server's directory lock guarantees it).
#ifndef KMEND_LIB_BLOCKS_LOG_BLOCK_MANAGER_H_
#define KMEND_LIB_BLOCKS_LOG_BLOCK_MANAGER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "lib/blocks/container.h"

namespace kmend::blocks {

struct BlockManagerOptions {
  // Kudu's --log_container_max_size default.
  uint64_t container_max_size_bytes = 10ull << 30;
  // fdatasync data and metadata before a CreateBlocks/DeleteBlocks returns.
  // Off only in tests and benchmarks.
  bool sync = true;
  // Never write anything (offline inspection): CreateBlocks and DeleteBlocks
  // fail with FailedPrecondition, torn tails are left alone.
  bool read_only = false;
};

// What Open found (all containers, before any change).
struct LoadReport {
  int containers = 0;
  int64_t live_blocks = 0;
  uint64_t live_bytes = 0;
  // Every irregularity, as LoadContainer reports it.
  std::vector<ContainerIssue> issues;
};

class LogBlockManager {
 public:
  // Opens the block manager of `data_dir` (<root>/data), which must hold a
  // block_manager_instance (fs::Format writes it) giving the block alignment.
  // Damaged containers do not fail Open: their readable blocks are served and
  // the damage is in load_report(). A container whose metadata is corrupt
  // (not merely torn) is never appended to.
  static absl::StatusOr<std::unique_ptr<LogBlockManager>> Open(
      const std::string& data_dir, const BlockManagerOptions& options = {});

  ~LogBlockManager();
  LogBlockManager(const LogBlockManager&) = delete;
  LogBlockManager& operator=(const LogBlockManager&) = delete;

  // Stores each element of `blocks` as a new block, durably (see file
  // comment), and returns their ids in the same order.
  absl::StatusOr<std::vector<BlockId>> CreateBlocks(absl::Span<const absl::string_view> blocks);
  absl::StatusOr<BlockId> CreateBlock(absl::string_view data);

  // The bytes of a live block. NotFound for an unknown id; DataLoss when the
  // .data file is shorter than the block's recorded range.
  absl::StatusOr<std::string> ReadBlock(BlockId id) const;

  // Deletes live blocks (DELETE records, synced, then hole punching).
  // NotFound (and nothing deleted) if any id is not live.
  absl::Status DeleteBlocks(absl::Span<const BlockId> ids);
  absl::Status DeleteBlock(BlockId id);

  bool HasBlock(BlockId id) const;
  absl::StatusOr<BlockLocation> Locate(BlockId id) const;
  std::vector<BlockId> ListBlocks() const;  // sorted

  const LoadReport& load_report() const { return load_report_; }
  const std::string& data_dir() const { return data_dir_; }
  uint64_t filesystem_block_size_bytes() const { return fs_block_size_; }

 private:
  struct Container;
  LogBlockManager(std::string data_dir, BlockManagerOptions options, uint64_t fs_block_size);
  // Returns a container with room for more blocks, creating one if needed.
  absl::StatusOr<Container*> ActiveContainer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  absl::StatusOr<Container*> NewContainer() ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);

  const std::string data_dir_;
  const BlockManagerOptions options_;
  const uint64_t fs_block_size_;
  LoadReport load_report_;

  // Serializes CreateBlocks/DeleteBlocks (their I/O happens under it, not
  // under mu_, so reads proceed during a sync).
  absl::Mutex write_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  // Guards the maps below; held only briefly.
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Container>> containers_ ABSL_GUARDED_BY(mu_);
  std::map<BlockId, BlockLocation> blocks_ ABSL_GUARDED_BY(mu_);
  BlockId next_block_id_ ABSL_GUARDED_BY(mu_) = 1;
  Container* active_ ABSL_GUARDED_BY(write_mu_) = nullptr;
};

}  // namespace kmend::blocks

#endif  // KMEND_LIB_BLOCKS_LOG_BLOCK_MANAGER_H_
