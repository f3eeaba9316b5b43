// Reserved space of a data directory (Kudu's fs_data_dirs_reserved_bytes /
// fs_wal_dir_reserved_bytes, one directory here): client writes are refused
// once the filesystem's free space falls below the reserve, so that what must
// still be written when the disk is nearly full can be: consensus metadata,
// superblocks, and the flush that lets the WAL be garbage-collected.
//
// A full directory is a state, not a failure: the check is made anew on every
// call (one statvfs), so writes resume by themselves as soon as space is
// freed, without a restart. Thread-safe: no state.
#ifndef KMEND_LIB_FS_SPACE_RESERVE_H_
#define KMEND_LIB_FS_SPACE_RESERVE_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kmend::fs {

// The reserve flag's "1% of the filesystem" value (Kudu's default, -1).
inline constexpr int64_t kReserveOnePercent = -1;

struct DataDirSpace {
  std::string dir;
  int64_t capacity_bytes = 0;
  int64_t available_bytes = 0;  // usable by an unprivileged writer (f_bavail)
  int64_t reserved_bytes = 0;   // the reserve in effect (resolved from the flag)
  // Below the reserve: client writes and new replicas are refused.
  bool full() const { return available_bytes < reserved_bytes; }
};

// The reserve in bytes for a filesystem of `capacity_bytes`: `reserved_flag`
// itself when >= 0, 1% of the capacity when kReserveOnePercent.
int64_t ResolveReserve(int64_t reserved_flag, int64_t capacity_bytes);

// Measures `dir`'s filesystem now. An error when statvfs fails (the
// directory is gone or unreadable), naming the directory.
absl::StatusOr<DataDirSpace> MeasureDataDirSpace(const std::string& dir, int64_t reserved_flag);

// RESOURCE_EXHAUSTED "disk full on DIR: N bytes free, R reserved ..." for a
// full directory (`what` names the refused action, e.g. "write to tablet X").
absl::Status DiskFullError(const DataDirSpace& space, const std::string& what);

// OK while `dir` is not full; DiskFullError otherwise. A failed measurement
// is not taken as "full": the write goes on and meets the real error, if any.
absl::Status CheckSpaceFor(const std::string& dir, int64_t reserved_flag, const std::string& what);

}  // namespace kmend::fs

#endif  // KMEND_LIB_FS_SPACE_RESERVE_H_
