#include "lib/io/file.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/io/syscalls.h"
#include "lib/util/status_macros.h"

namespace kmend::io {

namespace {

// Closes fd on scope exit unless released.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) sys::Close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

}  // namespace

absl::Status ErrnoError(absl::string_view what, absl::string_view path, int err) {
  std::string msg = absl::StrCat(path, ": ", what, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case EEXIST:
      return absl::AlreadyExistsError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  int fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path, errno);
  FdCloser closer(fd);
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t n = sys::Read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("read", path, errno);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

absl::StatusOr<uint64_t> FileSize(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return ErrnoError("stat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

absl::Status PreadFully(int fd, const std::string& path, uint64_t offset, size_t n,
                        char* out) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = sys::Pread(fd, out + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      return ErrnoError(absl::StrCat("read at offset ", offset + done), path, errno);
    }
    if (r == 0) {
      return absl::OutOfRangeError(absl::StrCat(path, ": offset ", offset, ": wanted ", n,
                                                " bytes, file ends after ", done));
    }
    done += static_cast<size_t>(r);
  }
  return absl::OkStatus();
}

absl::Status WriteFully(int fd, const std::string& path, absl::string_view data) {
  while (!data.empty()) {
    ssize_t w = sys::Write(fd, data.data(), data.size());
    if (w < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", path, errno);
    }
    data.remove_prefix(static_cast<size_t>(w));
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  int fd = sys::Open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open directory", dir, errno);
  FdCloser closer(fd);
  if (sys::Fsync(fd) != 0) return ErrnoError("fsync directory", dir, errno);
  return absl::OkStatus();
}

absl::Status SyncParentDir(const std::string& path) { return SyncDir(Dirname(path)); }

absl::Status SyncFilesystemOf(const std::string& path) {
  int fd = sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path, errno);
  FdCloser closer(fd);
  if (sys::Syncfs(fd) != 0) return ErrnoError("syncfs of the filesystem of", path, errno);
  return absl::OkStatus();
}

absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents) {
  std::string tmp = absl::StrCat(path, ".kudutmp.XXXXXX");
  int fd = sys::Mkstemp(tmp.data());
  if (fd < 0) return ErrnoError("create temp file", tmp, errno);
  absl::Status s;
  {
    FdCloser closer(fd);
    // mkstemp creates 0600; metadata files are readable by the operator's tools.
    if (::fchmod(fd, 0644) != 0) s = ErrnoError("chmod", tmp, errno);
    if (s.ok()) s = WriteFully(fd, tmp, contents);
    if (s.ok() && sys::Fsync(fd) != 0) s = ErrnoError("fsync", tmp, errno);
  }
  if (s.ok() && sys::Rename(tmp.c_str(), path.c_str()) != 0) {
    s = ErrnoError(absl::StrCat("rename from ", tmp), path, errno);
  }
  if (!s.ok()) {
    sys::Unlink(tmp.c_str());
    return s;
  }
  return SyncParentDir(path);
}

absl::Status CreateDirs(const std::string& path) {
  if (path.empty()) return absl::OkStatus();
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(path, ": exists and is not a directory"));
  }
  std::string parent = Dirname(path);
  if (parent != path) RETURN_IF_ERROR(CreateDirs(parent));
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) {
    return ErrnoError("mkdir", path, errno);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return ErrnoError("open directory", dir, errno);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    absl::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    names.emplace_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::string JoinPath(absl::string_view a, absl::string_view b) {
  if (a.empty()) return std::string(b);
  if (absl::EndsWith(a, "/")) return absl::StrCat(a, b);
  return absl::StrCat(a, "/", b);
}

std::string Dirname(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string Basename(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

absl::StatusOr<FilesystemSpace> GetFilesystemSpace(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return ErrnoError("statvfs", path, errno);
  // Block counts are in units of f_frsize (the fragment size), not f_bsize.
  FilesystemSpace space;
  space.available_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  space.capacity_bytes = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  return space;
}

bool IsTempFileName(absl::string_view name) { return absl::StrContains(name, ".kudutmp"); }

}  // namespace kmend::io
