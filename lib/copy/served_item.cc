#include "lib/copy/served_item.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "lib/format/crc32c.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/util/status_macros.h"

namespace kmend::copy {

absl::StatusOr<std::shared_ptr<OpenFile>> OpenFile::Open(const std::string& path) {
  int fd = io::sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io::ErrnoError("open", path, errno);
  return std::shared_ptr<OpenFile>(new OpenFile(path, fd));
}

OpenFile::~OpenFile() { io::sys::Close(fd_); }

absl::StatusOr<uint64_t> OpenFile::Size() const {
  struct stat st;
  if (::fstat(fd_, &st) != 0) return io::ErrnoError("fstat", path_, errno);
  return static_cast<uint64_t>(st.st_size);
}

absl::Status OpenFile::ReadAt(uint64_t offset, size_t n, char* out) const {
  return io::PreadFully(fd_, path_, offset, n, out);
}

ServedItem ServedItem::InMemory(std::string bytes) {
  ServedItem item;
  item.size = bytes.size();
  item.crc32c = crc32c::Value(bytes);
  item.in_memory = true;
  item.bytes = std::move(bytes);
  return item;
}

absl::StatusOr<Chunk> ReadChunk(const ServedItem& item, absl::string_view what, uint64_t offset,
                                int64_t max_length, int64_t cap) {
  if (offset > item.size || (offset == item.size && item.size > 0)) {
    return absl::OutOfRangeError(absl::StrCat(what, ": offset ", offset,
                                              " is at or past the end (", item.size, " bytes)"));
  }
  uint64_t len = static_cast<uint64_t>(std::max<int64_t>(0, cap));
  if (max_length > 0) len = std::min<uint64_t>(len, static_cast<uint64_t>(max_length));
  len = std::min(len, item.size - offset);
  Chunk chunk;
  chunk.offset = offset;
  chunk.total_size_bytes = static_cast<int64_t>(item.size);
  if (item.in_memory) {
    chunk.data.assign(item.bytes, offset, len);
  } else {
    chunk.data.resize(len);
    RETURN_IF_ERROR(
        Annotate(item.file->ReadAt(item.base_offset + offset, len, chunk.data.data()), what));
  }
  chunk.crc32c = crc32c::Value(chunk.data);
  return chunk;
}

}  // namespace kmend::copy
