#include "server/common/data_dir_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "lib/io/file.h"

namespace kmend::server {

absl::StatusOr<std::unique_ptr<DataDirLock>> DataDirLock::Acquire(const std::string& root) {
  std::string path = io::JoinPath(root, kLockFileName);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return io::ErrnoError("open lock file", path, errno);
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EWOULDBLOCK) {
      std::string holder = "unknown pid";
      auto contents = io::ReadFileToString(path);
      if (contents.ok() && !absl::StripAsciiWhitespace(*contents).empty()) {
        holder = absl::StrCat("pid ", absl::StripAsciiWhitespace(*contents));
      }
      return absl::FailedPreconditionError(absl::StrCat(
          "data directory ", root, " is locked by another process (", holder, ", lock file ",
          path, ")"));
    }
    return io::ErrnoError("flock", path, err);
  }
  // We hold the lock: record our pid for whoever is refused next.
  std::string pid = absl::StrCat(::getpid(), "\n");
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) !=
                                     static_cast<ssize_t>(pid.size())) {
    int err = errno;
    ::close(fd);
    return io::ErrnoError("write pid to lock file", path, err);
  }
  return std::unique_ptr<DataDirLock>(new DataDirLock(path, fd));
}

DataDirLock::~DataDirLock() {
  // Leave the file in place: removing it would race with a process that has
  // just opened it and is about to flock the (now unlinked) inode.
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace kmend::server
