// Offline check and repair of a data directory's block containers (for
// `kmend fsck`). Check never changes anything. Repair computes the actions
// that fix what Check found and applies them only when asked (dry run by
// default), so a tool can show the plan first.
//
// Repair actions (Kudu's own start-up repairs, nothing more):
//   - truncate a torn .metadata tail at the start of the incomplete record;
//   - delete orphan containers (both files; see LoadedContainer::IsOrphan);
//   - delete leftover temp files (*.kudutmp*) in the data directory.
// Malformed records and corrupt metadata are reported but not repaired: the
// records are skipped at load either way and rewriting them could lose data.
//
// The caller must hold the directory lock (no server running). Thread safety:
// free functions, no shared state.
#ifndef KMEND_LIB_BLOCKS_CHECK_H_
#define KMEND_LIB_BLOCKS_CHECK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/blocks/container.h"

namespace kmend::blocks {

struct CheckReport {
  std::string data_dir;
  int containers = 0;
  int64_t live_blocks = 0;
  uint64_t live_bytes = 0;
  std::vector<ContainerIssue> issues;
  std::vector<std::string> temp_files;  // *.kudutmp* names found

  bool clean() const { return issues.empty() && temp_files.empty(); }
};

// Checks every container of `data_dir` (<root>/data). Errors only when the
// directory or its block_manager_instance cannot be read.
absl::StatusOr<CheckReport> Check(const std::string& data_dir);

struct RepairAction {
  enum class Kind { kTruncateMetadata, kDeleteContainer, kDeleteTempFile };
  Kind kind;
  std::string path;           // the file truncated / deleted (for containers: .metadata or .data)
  uint64_t truncate_to = 0;   // kTruncateMetadata: new length
  std::string description;    // one line for people
  bool done = false;          // set when applied
};

struct RepairResult {
  CheckReport before;
  std::vector<RepairAction> actions;
  bool applied = false;
};

// Computes (apply = false) or performs (apply = true) the repairs for
// `data_dir`. When applying, stops at the first failed action and returns its
// error; actions already done are durable (truncations fdatasync'ed, the
// directory fsync'ed after deletions).
absl::StatusOr<RepairResult> Repair(const std::string& data_dir, bool apply = false);

const char* RepairActionKindName(RepairAction::Kind kind);

}  // namespace kmend::blocks

#endif  // KMEND_LIB_BLOCKS_CHECK_H_
