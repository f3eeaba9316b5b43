// Creating and opening a tablet server root (docs/formats/data_dir.md).
//
// Format lays out a fresh root: the instance file with a new server uuid, the
// data directory with its block_manager_instance, and the empty tablet-meta/,
// consensus-meta/ and wals/ directories. Open checks that an existing root is
// complete and that its instance files agree with each other.
//
// Neither takes the directory lock: the server holds lib/io/dir_lock.h's lock
// around its whole run; offline tools take it (or refuse) themselves.
// Thread safety: free functions with no shared state.
#ifndef KMEND_LIB_FS_FS_MANAGER_H_
#define KMEND_LIB_FS_FS_MANAGER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/fs/layout.h"
#include "proto/fs.pb.h"

namespace kmend::fs {

struct FormatOptions {
  // Server uuid to record; empty: a new random one (NewUuid()).
  std::string uuid;
  // Block alignment inside .data files; 0: the file system's block size
  // (statvfs f_bsize of the root), usually 4096. Must be a power of two.
  uint64_t filesystem_block_size_bytes = 0;
};

// What an opened (or freshly formatted) root holds.
struct InstanceInfo {
  std::string uuid;        // server uuid from <root>/instance
  std::string data_dir_uuid;  // from block_manager_instance's dir_set
  uint64_t filesystem_block_size_bytes = 0;
  InstanceMetadataPB instance;
  DirInstanceMetadataPB dir_instance;
};

// Formats `root` (created if missing). Refuses with AlreadyExists when the
// root already holds an instance file or any of data/, tablet-meta/,
// consensus-meta/, wals/: a root is never formatted twice. Other entries (a
// lock file, temp files) are allowed. Every file and directory is synced.
absl::StatusOr<InstanceInfo> Format(const std::string& root, const FormatOptions& options = {});

// Opens a formatted root without changing it: reads both instance files and
// checks their agreement (the server uuid is canonical; dir_type is "log"; the
// dir uuid is listed in all_uuids; the block size is a power of two; the
// kmend instance_uuid, when present, equals the instance file's uuid) and
// that the tablet-meta/, consensus-meta/ and wals/ directories exist.
// NotFound when the root is not formatted; DataLoss when a file is damaged or
// the files disagree; errors name the file and field.
absl::StatusOr<InstanceInfo> Open(const std::string& root);

// Tablet ids that have a superblock (canonical uuid names in tablet-meta/;
// temp files and other names ignored), sorted.
absl::StatusOr<std::vector<std::string>> ListTablets(const Layout& layout);

}  // namespace kmend::fs

#endif  // KMEND_LIB_FS_FS_MANAGER_H_
