// Limits on what a copy source (a peer) announces to the server copying
// from it: tablet copy (lib/tablet_copy/copy_client.h) and catalog copy
// between masters (server/master/catalog_copy_client.h).
//
// A source is another process: a bug, a damaged disk or a hostile peer
// there must cost the copier one failed copy, never its process nor its
// disk. (A block announced as 2^62 bytes once reached std::string::reserve,
// whose exception aborted the whole tablet server.) So every size and count
// a peer announces is checked here BEFORE the copier allocates memory for it
// or creates a file, and the copy fails with an error naming the item, the
// announced value and the limit.
//
// Thread safety: pure functions, except that CheckFitsOnDisk reads the
// filesystem's free space at the time of the call.
#ifndef KMEND_LIB_COPY_COPY_LIMITS_H_
#define KMEND_LIB_COPY_COPY_LIMITS_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "lib/format/pb_container.h"
#include "lib/tablet/column_block.h"

namespace kmend::copy {

struct PeerCopyLimits {
  // Items in one session. A replica has a few blocks per column per rowset
  // and one item per WAL segment; a million is far beyond any real one, and
  // the copier keeps the plan in memory.
  static constexpr int64_t kMaxItems = 1'000'000;

  // A tablet copy's column block, which the copier buffers whole in memory
  // (to verify its frame CRC before storing it). Nothing larger is a valid
  // block: its body is at most kColumnBlockMaxBodyBytes, and compression
  // adds at most 1/256 of that (ZSTD_COMPRESSBOUND); twice that is allowed.
  static constexpr int64_t kMaxBlockBytes =
      int64_t{tablet::kColumnBlockHeaderBytes} + tablet::kColumnBlockMaxBodyBytes +
      (tablet::kColumnBlockMaxBodyBytes >> 7) + int64_t{tablet::kColumnBlockTrailerBytes};

  // A tablet superblock, parsed whole from memory. It lists block ids and
  // rowset stats: even a tablet of a million blocks stays far below this.
  static constexpr int64_t kMaxSuperBlockBytes = int64_t{64} << 20;

  // The catalog snapshot (a serialized SysCatalogPB), buffered whole and
  // parsed. It lists every table and tablet of the cluster, so it may be
  // much larger than a superblock; the bound is the largest record the
  // catalog file can hold: a lower one would make a valid leader's catalog
  // uncopyable.
  static constexpr int64_t kMaxCatalogSnapshotBytes = pbc::kMaxRecordBytes;

  // A WAL segment (tablet or catalog), streamed to disk chunk by chunk, so
  // its size costs disk, not memory (CheckFitsOnDisk is the real bound).
  // Segments roll at a configured size (8 MiB by default, 1 MiB for the
  // catalog) plus at most one batch; a single segment larger than this is a
  // bogus announcement, refused with a clearer error than "disk full".
  static constexpr int64_t kMaxWalSegmentBytes = int64_t{64} << 30;

  // What a copy must leave free on the destination's filesystem, in percent
  // of its capacity (Kudu reserves 1% of a data directory by default,
  // --fs_data_dirs_reserved_bytes): the server's WALs and metadata writes
  // of other replicas must not fail because a copy took the last bytes.
  static constexpr int kReservedPercentOfCapacity = 1;
};

// DataLoss if `size_bytes` is negative; ResourceExhausted naming `what` (the
// copy and the item), the value and `limit_name`'s value if above `limit`.
absl::Status CheckAnnouncedSize(absl::string_view what, int64_t size_bytes, int64_t limit,
                                absl::string_view limit_name);

// ResourceExhausted if a session announces more than kMaxItems items.
absl::Status CheckAnnouncedItemCount(absl::string_view what, int64_t items);

// ResourceExhausted if writing `total_bytes` into `dir` would leave less
// than kReservedPercentOfCapacity of its filesystem available; the error
// names the announced total, the available bytes and the reserve.
absl::Status CheckFitsOnDisk(absl::string_view what, const std::string& dir, int64_t total_bytes);

// DataLoss if a chunk is longer than the `requested` maximum (<= 0: the
// source's default, which the copier does not know: not checked).
absl::Status CheckChunkLength(absl::string_view what, size_t length, int64_t requested);

}  // namespace kmend::copy

#endif  // KMEND_LIB_COPY_COPY_LIMITS_H_
