// One log block manager container (docs/formats/block_container.md): the pair
// <data_dir>/<id>.data (raw block bytes, no framing) and <id>.metadata (a PB
// container of BlockRecordPB; CREATE/DELETE, later records override earlier).
//
// LoadContainer reads a container's metadata and replays its records into
// the set of live blocks, reporting every irregularity it meets instead of
// failing: the block manager (at start-up) and the offline checker share this
// one reader and choose their own policy, as LevelDB's log reader does.
// Loading never changes a file.
//
// Thread safety: free functions, no shared state.
#ifndef KMEND_LIB_BLOCKS_CONTAINER_H_
#define KMEND_LIB_BLOCKS_CONTAINER_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kmend::blocks {

using BlockId = uint64_t;

inline constexpr char kDataSuffix[] = ".data";
inline constexpr char kMetadataSuffix[] = ".metadata";

// Where a live block's bytes are: [offset, offset + length) of the .data file.
struct BlockLocation {
  std::string container_id;
  int64_t offset = 0;
  int64_t length = 0;
};

// Everything that can be wrong with a container. The malformed-record kinds
// are Kudu's (FORMATS.md section 6); they are reported, never fatal.
enum class IssueKind {
  kTornMetadataTail,      // incomplete last record (crash mid-append); repair truncates
  kCorruptMetadata,       // checksum mismatch / bad header: records after it are unreadable
  kUnparsableRecord,      // a record whose bytes are not a valid BlockRecordPB
  kCreateWithoutRange,    // CREATE lacking offset or length
  kCreateNegativeRange,   // CREATE with a negative offset or length
  kBlockPastEndOfData,    // CREATE with offset + length > .data size (and length > 0)
  kDuplicateCreate,       // CREATE of a block that is already live
  kDeleteUnknownBlock,    // DELETE of a block that is not live
  kUnknownRecordType,     // op_type not CREATE or DELETE
  kDuplicateBlockAcrossContainers,  // the same live block id in two containers
  kOrphanContainer,       // nothing usable: see IsOrphan in block_container.md
  kMissingDataFile,       // .metadata with live blocks but no .data
  kMissingMetadataFile,   // .data without .metadata
};

// Stable lower_snake_case name for reports and JSON ("torn_metadata_tail").
const char* IssueKindName(IssueKind kind);

struct ContainerIssue {
  IssueKind kind;
  std::string container_id;
  std::string path;     // the file the issue is in
  uint64_t offset = 0;  // record offset in .metadata (0 when not about a record)
  BlockId block_id = 0; // the block concerned, when there is one
  std::string detail;   // human-readable: what was expected vs found
};

struct LoadedContainer {
  std::string id;
  std::string data_path;
  std::string metadata_path;
  bool data_exists = false;
  bool metadata_exists = false;
  uint64_t data_size_bytes = 0;
  uint64_t metadata_size_bytes = 0;
  // Records read successfully (well formed or not).
  int64_t records = 0;
  // Live blocks after replaying every readable record (malformed ones skipped).
  std::map<BlockId, BlockLocation> live;
  // Highest block id seen in any record (live or deleted), 0 if none.
  BlockId max_block_id = 0;
  // End of the last record that was read completely: the offset a repair
  // truncates the .metadata file to when the tail is torn.
  uint64_t valid_metadata_bytes = 0;
  bool torn_tail = false;
  bool corrupt = false;  // kCorruptMetadata: reading stopped early
  // ALIGN_UP(max(offset + length over every CREATE, .data size), block size):
  // where the next block may start without overwriting anything.
  uint64_t next_block_offset = 0;
  // max(offset + length) over every well-formed CREATE record (live or since
  // deleted), 0 if none: the .data bytes past it are named by no record (a
  // crash between a block's data sync and its record, or lost records).
  uint64_t recorded_data_end = 0;
  std::vector<ContainerIssue> issues;

  // No live blocks and nothing worth keeping (Kudu's orphan rules plus a
  // .data-only container with an empty .data).
  bool IsOrphan() const;
};

// Reads container `id` in `data_dir`. Only a failure to list or stat the
// files is an error; damage is reported in the result's issues.
// `filesystem_block_size_bytes` is the alignment from block_manager_instance.
absl::StatusOr<LoadedContainer> LoadContainer(const std::string& data_dir,
                                              const std::string& id,
                                              uint64_t filesystem_block_size_bytes);

// Container ids present in `data_dir` (names "<32hex>.data" or
// "<32hex>.metadata"), sorted, each once.
absl::StatusOr<std::vector<std::string>> ListContainerIds(const std::string& data_dir);

inline uint64_t AlignUp(uint64_t v, uint64_t alignment) {
  return alignment == 0 ? v : (v + alignment - 1) / alignment * alignment;
}

}  // namespace kmend::blocks

#endif  // KMEND_LIB_BLOCKS_CONTAINER_H_
