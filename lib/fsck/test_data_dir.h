// For tests and the benchmark: a tablet server data directory built with the
// libraries the server uses (fs::Format, the log block manager, Tablet
// flushes, the WAL, consensus metadata), shaped like one the server writes:
// per tablet, ops 1..N of `rows_per_op` upserts each, flushed after op
// `flush_after_op` (blocks), every op also in the WAL (small segments), and a
// consensus config naming this server and one peer at 127.0.0.1:7051.
// Integration tests use a directory written by the real server instead;
// this one is for unit tests that need exact control (orphaned blocks, gaps).
#ifndef KMEND_LIB_FSCK_TEST_DATA_DIR_H_
#define KMEND_LIB_FSCK_TEST_DATA_DIR_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kmend::fsck {

struct TestDataDirOptions {
  int tablets = 2;
  int ops = 12;
  int rows_per_op = 50;
  int flush_after_op = 6;      // 0: never flush
  int value_bytes = 96;        // incompressible-ish values
  bool random_values = false;  // values of random bytes (zstd cannot shrink them)
  uint64_t wal_segment_size_bytes = 8192;
  bool wal_gc = false;  // delete WAL segments wholly below the flush
  bool sync = false;    // fsync as the server does (slow; benchmarks)
};

struct TestDataDir {
  std::string root;
  std::string server_uuid;
  std::string peer_uuid;
  std::vector<std::string> tablet_ids;  // sorted
};

absl::StatusOr<TestDataDir> MakeTestDataDir(const std::string& root,
                                            const TestDataDirOptions& options = {});

// Stores `count` blocks no superblock names (what a crash between a flush's
// block writes and its superblock leaves). Returns their ids.
absl::StatusOr<std::vector<uint64_t>> AddOrphanedBlocks(const std::string& root, int count);

}  // namespace kmend::fsck

#endif  // KMEND_LIB_FSCK_TEST_DATA_DIR_H_
