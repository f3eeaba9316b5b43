#include "lib/fs/space_reserve.h"

#include "absl/strings/str_cat.h"
#include "lib/io/file.h"

namespace kmend::fs {

int64_t ResolveReserve(int64_t reserved_flag, int64_t capacity_bytes) {
  if (reserved_flag >= 0) return reserved_flag;
  return capacity_bytes / 100;
}

absl::StatusOr<DataDirSpace> MeasureDataDirSpace(const std::string& dir, int64_t reserved_flag) {
  absl::StatusOr<io::FilesystemSpace> fs = io::GetFilesystemSpace(dir);
  if (!fs.ok()) {
    return absl::Status(fs.status().code(),
                        absl::StrCat("free space of ", dir, ": ", fs.status().message()));
  }
  DataDirSpace s;
  s.dir = dir;
  s.capacity_bytes = static_cast<int64_t>(fs->capacity_bytes);
  s.available_bytes = static_cast<int64_t>(fs->available_bytes);
  s.reserved_bytes = ResolveReserve(reserved_flag, s.capacity_bytes);
  return s;
}

absl::Status DiskFullError(const DataDirSpace& space, const std::string& what) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "disk full on ", space.dir, ": ", space.available_bytes, " bytes free, ",
      space.reserved_bytes, " reserved for metadata and flushes; ", what,
      " refused until space is freed"));
}

absl::Status CheckSpaceFor(const std::string& dir, int64_t reserved_flag, const std::string& what) {
  absl::StatusOr<DataDirSpace> space = MeasureDataDirSpace(dir, reserved_flag);
  if (!space.ok() || !space->full()) return absl::OkStatus();
  return DiskFullError(*space, what);
}

}  // namespace kmend::fs
