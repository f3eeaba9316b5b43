// The exclusive lock a running server holds on its data directory:
// flock(LOCK_EX | LOCK_NB) on <root>/.kmend.lock, with the holder's pid
// written inside so that a refused process (a second server, an offline tool)
// can name it.
//
// The kernel drops a flock when its process dies, so a kill -9 never leaves a
// stale lock. This is the server's own minimal version, to be replaced by
// lib/io/dir_lock.h once that lands (same file name and semantics).
//
// Thread safety: a DataDirLock is owned by one thread; the lock is held from
// a successful Acquire until the object is destroyed.
#ifndef KMEND_SERVER_COMMON_DATA_DIR_LOCK_H_
#define KMEND_SERVER_COMMON_DATA_DIR_LOCK_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace kmend::server {

inline constexpr char kLockFileName[] = ".kmend.lock";

class DataDirLock {
 public:
  // Takes the lock on `root` (which must exist). FailedPrecondition naming
  // the lock file and the holder's pid when another process holds it.
  static absl::StatusOr<std::unique_ptr<DataDirLock>> Acquire(const std::string& root);
  ~DataDirLock();
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;

  const std::string& path() const { return path_; }

 private:
  DataDirLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_DATA_DIR_LOCK_H_
