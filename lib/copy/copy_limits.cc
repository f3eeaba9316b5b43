#include "lib/copy/copy_limits.h"

#include "absl/strings/str_cat.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"

namespace kmend::copy {

absl::Status CheckAnnouncedSize(absl::string_view what, int64_t size_bytes, int64_t limit,
                                absl::string_view limit_name) {
  if (size_bytes < 0) {
    return absl::DataLossError(
        absl::StrCat(what, ": announced size_bytes is negative (", size_bytes, ")"));
  }
  if (size_bytes > limit) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": announced size_bytes ", size_bytes,
                                                     " exceeds the limit ", limit, " (",
                                                     limit_name, ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckAnnouncedItemCount(absl::string_view what, int64_t items) {
  if (items > PeerCopyLimits::kMaxItems) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": announces ", items,
                                                     " items, above the limit ",
                                                     PeerCopyLimits::kMaxItems,
                                                     " (PeerCopyLimits::kMaxItems)"));
  }
  return absl::OkStatus();
}

absl::Status CheckFitsOnDisk(absl::string_view what, const std::string& dir, int64_t total_bytes) {
  ASSIGN_OR_RETURN(io::FilesystemSpace space, io::GetFilesystemSpace(dir));
  const uint64_t reserve =
      space.capacity_bytes / 100 * PeerCopyLimits::kReservedPercentOfCapacity;
  const uint64_t usable = space.available_bytes > reserve ? space.available_bytes - reserve : 0;
  if (total_bytes > 0 && static_cast<uint64_t>(total_bytes) > usable) {
    return absl::ResourceExhaustedError(absl::StrCat(
        what, ": announces ", total_bytes, " bytes in total, but the filesystem of ", dir,
        " has ", space.available_bytes, " bytes available, of which ", reserve, " (",
        PeerCopyLimits::kReservedPercentOfCapacity, "% of its ", space.capacity_bytes,
        " bytes) must stay free: the limit is ", usable, " bytes"));
  }
  return absl::OkStatus();
}

absl::Status CheckChunkLength(absl::string_view what, size_t length, int64_t requested) {
  if (requested > 0 && length > static_cast<uint64_t>(requested)) {
    return absl::DataLossError(absl::StrCat(what, ": chunk of ", length,
                                            " bytes, longer than the ", requested,
                                            " bytes asked for"));
  }
  return absl::OkStatus();
}

}  // namespace kmend::copy
