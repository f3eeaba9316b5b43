// ServedItem: one item a copy session serves, and the one way a source cuts
// a chunk of it (tablet copy's TabletCopySourceManager, catalog copy's
// CatalogCopySource). An item is either bytes held in memory (a snapshot,
// the WAL segment being written) or a range of a file opened at session
// begin and held by descriptor (a closed WAL segment, a block in its
// container), so that a file deleted meanwhile stays readable.
//
// Thread safety: a ServedItem is immutable after the session began; reads
// of one item may run concurrently (pread).
#ifndef KMEND_LIB_COPY_SERVED_ITEM_H_
#define KMEND_LIB_COPY_SERVED_ITEM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/copy/chunk_source.h"

namespace kmend::copy {

// An open read-only descriptor, closed when the last holder lets go.
class OpenFile {
 public:
  static absl::StatusOr<std::shared_ptr<OpenFile>> Open(const std::string& path);
  ~OpenFile();
  OpenFile(const OpenFile&) = delete;
  OpenFile& operator=(const OpenFile&) = delete;

  absl::StatusOr<uint64_t> Size() const;
  // Exactly `n` bytes at `offset`, or an error naming the path.
  absl::Status ReadAt(uint64_t offset, size_t n, char* out) const;
  const std::string& path() const { return path_; }

 private:
  OpenFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  const std::string path_;
  const int fd_;
};

struct ServedItem {
  uint64_t size = 0;
  std::optional<uint32_t> crc32c;  // of the whole item, when known cheaply
  // In memory, or else [base_offset, base_offset + size) of `file`.
  bool in_memory = false;
  std::string bytes;
  std::shared_ptr<OpenFile> file;
  uint64_t base_offset = 0;

  // An item held in memory, its CRC32C computed.
  static ServedItem InMemory(std::string bytes);
};

// The chunk of `item` at `offset`: at most `cap` bytes, and at most
// `max_length` when it is > 0, with the CRC32C of the data and the item's
// size. OutOfRange (naming `what`) when `offset` is past the end, or at the
// end of a non-empty item (a copier never asks there).
absl::StatusOr<Chunk> ReadChunk(const ServedItem& item, absl::string_view what, uint64_t offset,
                                int64_t max_length, int64_t cap);

}  // namespace kmend::copy

#endif  // KMEND_LIB_COPY_SERVED_ITEM_H_
