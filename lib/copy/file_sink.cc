#include "lib/copy/file_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <utility>

#include "lib/format/crc32c.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/util/status_macros.h"

namespace kmend::copy {

FileSink::FileSink(std::string path, int fd, Options options, uint64_t size, uint32_t crc)
    : path_(std::move(path)),
      fd_(fd),
      options_(std::move(options)),
      size_(size),
      crc_(crc),
      durable_bytes_(size),
      durable_crc32c_(crc) {}

FileSink::~FileSink() {
  if (fd_ >= 0) io::sys::Close(fd_);
}

absl::StatusOr<std::unique_ptr<FileSink>> FileSink::Create(const std::string& path,
                                                           Options options) {
  int fd = io::sys::Open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io::ErrnoError("create", path, errno);
  return std::unique_ptr<FileSink>(new FileSink(path, fd, std::move(options), 0, 0));
}

absl::StatusOr<std::unique_ptr<FileSink>> FileSink::Resume(const std::string& path,
                                                           uint64_t durable_bytes,
                                                           uint32_t durable_crc32c,
                                                           Options options) {
  int fd = io::sys::Open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return io::ErrnoError("open", path, errno);
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    io::sys::Close(fd);
    return io::ErrnoError("fstat", path, err);
  }
  uint64_t keep = 0;
  uint32_t crc = 0;
  if (durable_bytes > 0 && static_cast<uint64_t>(st.st_size) >= durable_bytes) {
    // Read back in pieces: the prefix may be a whole WAL segment.
    constexpr uint64_t kPiece = 1 << 20;
    std::string buf;
    uint64_t at = 0;
    absl::Status s;
    while (at < durable_bytes && s.ok()) {
      const uint64_t n = std::min(kPiece, durable_bytes - at);
      buf.resize(n);
      s = io::PreadFully(fd, path, at, n, buf.data());
      crc = crc32c::Extend(crc, buf.data(), n);
      at += n;
    }
    if (!s.ok()) {
      io::sys::Close(fd);
      return s;
    }
    if (crc == durable_crc32c) {
      keep = durable_bytes;
    } else {
      crc = 0;  // not the bytes the caller recorded: start over
    }
  }
  if (io::sys::Ftruncate(fd, static_cast<off_t>(keep)) != 0 ||
      ::lseek(fd, static_cast<off_t>(keep), SEEK_SET) < 0) {
    const int err = errno;
    io::sys::Close(fd);
    return io::ErrnoError("truncate", path, err);
  }
  return std::unique_ptr<FileSink>(new FileSink(path, fd, std::move(options), keep, crc));
}

absl::Status FileSink::Append(absl::string_view data) {
  if (fd_ < 0) return absl::FailedPreconditionError(path_ + ": append after Finish");
  RETURN_IF_ERROR(io::WriteFully(fd_, path_, data));
  size_ += data.size();
  crc_ = crc32c::Extend(crc_, data.data(), data.size());
  if (options_.sync && options_.sync_every_bytes > 0 &&
      size_ - durable_bytes_ >= options_.sync_every_bytes) {
    RETURN_IF_ERROR(Sync());
  }
  return absl::OkStatus();
}

absl::Status FileSink::Sync() {
  if (io::sys::Fsync(fd_) != 0) return io::ErrnoError("fsync", path_, errno);
  durable_bytes_ = size_;
  durable_crc32c_ = crc_;
  if (options_.on_durable) options_.on_durable(durable_bytes_, durable_crc32c_);
  return absl::OkStatus();
}

absl::Status FileSink::Finish() {
  if (fd_ < 0) return absl::OkStatus();
  absl::Status s;
  if (options_.sync) s = Sync();
  if (io::sys::Close(fd_) != 0 && s.ok()) s = io::ErrnoError("close", path_, errno);
  fd_ = -1;
  return s;
}

}  // namespace kmend::copy
