#include "lib/io/dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/io/file.h"

namespace kmend::io {

namespace {

// The pid written in the lock file at fd, or 0 if none can be read (the
// holder may not have written it yet).
pid_t ReadPid(int fd) {
  char buf[32];
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n <= 0) return 0;
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(absl::string_view(buf, n)), &pid)) {
    return 0;
  }
  return pid;
}

absl::Status HeldError(const std::string& dir, pid_t pid) {
  return absl::FailedPreconditionError(
      absl::StrCat(dir, ": data directory is locked by ",
                   pid > 0 ? absl::StrCat("pid ", pid) : std::string("another process"),
                   " (", JoinPath(dir, fs::kLockFileName),
                   "); stop that process first"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<DirLock>> DirLock::Acquire(const std::string& dir) {
  std::string path = JoinPath(dir, fs::kLockFileName);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError("open lock file", path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    pid_t holder = err == EWOULDBLOCK ? ReadPid(fd) : 0;
    ::close(fd);
    if (err == EWOULDBLOCK) return HeldError(dir, holder);
    return ErrnoError("flock", path, err);
  }
  std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) !=
                                     static_cast<ssize_t>(pid.size())) {
    absl::Status s = ErrnoError("write pid to lock file", path, errno);
    ::close(fd);
    return s;
  }
  return std::unique_ptr<DirLock>(new DirLock(dir, fd));
}

DirLock::~DirLock() {
  // Clear our pid while still holding the lock, so that a later holder that
  // is not kmend (e.g. flock(1)) is not reported under our old pid. After a
  // crash the pid stays, but then the lock is free and nobody reads it.
  if (::ftruncate(fd_, 0) != 0) {
    // Harmless: only the flock says whether the lock is held.
  }
  ::close(fd_);
}

absl::StatusOr<std::optional<pid_t>> DirLockHolder(const std::string& dir) {
  std::string path = JoinPath(dir, fs::kLockFileName);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<pid_t>();
    return ErrnoError("open lock file", path, errno);
  }
  // A shared lock attempt fails exactly when someone holds the exclusive one.
  std::optional<pid_t> holder;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {
    holder = errno == EWOULDBLOCK ? ReadPid(fd) : 0;
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return holder;
}

}  // namespace kmend::io
