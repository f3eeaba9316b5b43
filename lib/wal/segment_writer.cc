#include "lib/io/syscalls.h"
#include "lib/wal/segment_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include "absl/strings/str_cat.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"
#include "lib/wal/format.h"

namespace kmend::wal {

absl::StatusOr<std::unique_ptr<SegmentWriter>> SegmentWriter::Create(
    const std::string& final_path, const log::LogSegmentHeaderPB& header,
    uint64_t preallocate_bytes, bool sync) {
  ASSIGN_OR_RETURN(std::string header_bytes, EncodeSegmentHeader(header));
  std::string tmpl = io::JoinPath(io::Dirname(final_path), ".kudutmp.newsegmentXXXXXX");
  int fd = io::sys::Mkostemp(tmpl.data(), O_CLOEXEC);
  if (fd < 0) return io::ErrnoError("mkstemp", tmpl, errno);
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(final_path, tmpl, fd, sync));
  if (::fchmod(fd, 0644) != 0) return io::ErrnoError("fchmod", tmpl, errno);
  if (preallocate_bytes > header_bytes.size()) {
    int rc;
    do {
      rc = io::sys::Fallocate(fd, 0, 0, static_cast<off_t>(preallocate_bytes));
    } while (rc != 0 && errno == EINTR);
    // Some filesystems cannot preallocate; the segment then just grows.
    if (rc != 0 && errno != EOPNOTSUPP) return io::ErrnoError("fallocate", tmpl, errno);
  }
  RETURN_IF_ERROR(w->Append({header_bytes}));
  RETURN_IF_ERROR(w->Sync());
  return w;
}

absl::StatusOr<std::unique_ptr<SegmentWriter>> SegmentWriter::Reopen(const std::string& path,
                                                                     uint64_t end_offset,
                                                                     bool sync) {
  int fd = io::sys::Open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return io::ErrnoError("open", path, errno);
  std::unique_ptr<SegmentWriter> w(new SegmentWriter(path, path, fd, sync));
  w->offset_ = end_offset;
  return w;
}

SegmentWriter::~SegmentWriter() {
  if (fd_ >= 0) io::sys::Close(fd_);
  if (current_path_ != final_path_) io::sys::Unlink(current_path_.c_str());  // never published
}

absl::Status SegmentWriter::Publish() {
  if (current_path_ == final_path_) return absl::OkStatus();
  if (io::sys::Rename(current_path_.c_str(), final_path_.c_str()) != 0) {
    return io::ErrnoError(absl::StrCat("rename to ", final_path_), current_path_, errno);
  }
  current_path_ = final_path_;
  if (sync_) RETURN_IF_ERROR(io::SyncParentDir(final_path_));
  return absl::OkStatus();
}

absl::Status SegmentWriter::Append(const std::vector<absl::string_view>& pieces) {
  if (finished_) return absl::FailedPreconditionError(current_path_ + ": segment is finished");
  size_t i = 0;
  std::vector<iovec> iov;
  while (i < pieces.size()) {
    // pwritev takes at most IOV_MAX buffers; a partial write resumes mid-piece.
    iov.clear();
    size_t bytes = 0;
    for (size_t j = i; j < pieces.size() && iov.size() < IOV_MAX; ++j) {
      iov.push_back({const_cast<char*>(pieces[j].data()), pieces[j].size()});
      bytes += pieces[j].size();
    }
    size_t done = 0;
    size_t first = 0;  // first iov not fully written
    while (done < bytes) {
      ssize_t n = io::sys::Pwritev(fd_, iov.data() + first, static_cast<int>(iov.size() - first),
                            static_cast<off_t>(offset_ + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return io::ErrnoError(absl::StrCat("write at offset ", offset_ + done), current_path_,
                              errno);
      }
      done += static_cast<size_t>(n);
      while (n > 0 && first < iov.size()) {
        if (static_cast<size_t>(n) >= iov[first].iov_len) {
          n -= iov[first].iov_len;
          ++first;
        } else {
          iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + n;
          iov[first].iov_len -= n;
          n = 0;
        }
      }
    }
    offset_ += bytes;
    i += iov.size();
  }
  return absl::OkStatus();
}

absl::Status SegmentWriter::Sync() {
  if (!sync_) return absl::OkStatus();
  if (io::sys::Fdatasync(fd_) != 0) return io::ErrnoError("fdatasync", current_path_, errno);
  return absl::OkStatus();
}

absl::Status SegmentWriter::Finish(const log::LogSegmentFooterPB& footer) {
  std::string bytes = EncodeFooter(footer);
  RETURN_IF_ERROR(Append({bytes}));
  finished_ = true;
  if (io::sys::Ftruncate(fd_, static_cast<off_t>(offset_)) != 0) {
    return io::ErrnoError("truncate", current_path_, errno);
  }
  RETURN_IF_ERROR(Sync());
  io::sys::Close(fd_);
  fd_ = -1;
  return absl::OkStatus();
}

}  // namespace kmend::wal
