// A data directory's lock: an exclusive flock on "<dir>/.kmend.lock" whose
// file holds the holder's pid, so that a second server or a mutating tool
// refuses a directory in use and can say who uses it.
//
// Semantics (flock(2)): the lock belongs to the open file description, so it
// is released when the DirLock is destroyed or the process dies (no stale
// locks after a crash). The descriptor is O_CLOEXEC, so exec'd children do
// not inherit it; a fork()ed child that does not exec does share it. The lock
// file is never deleted: deleting it would let two processes lock different
// inodes of the same name.
//
// Thread safety: a DirLock is immutable after Acquire; distinct DirLocks on
// the same directory conflict even inside one process.
#ifndef KMEND_LIB_IO_DIR_LOCK_H_
#define KMEND_LIB_IO_DIR_LOCK_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/fs/layout.h"

namespace kmend::io {

class DirLock {
 public:
  // Takes the lock on `dir` (which must exist) without waiting. If another
  // holder has it: FailedPrecondition naming the directory and the holder's
  // pid (as written in the lock file).
  static absl::StatusOr<std::unique_ptr<DirLock>> Acquire(const std::string& dir);

  ~DirLock();  // releases the lock
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  const std::string& dir() const { return dir_; }

 private:
  DirLock(std::string dir, int fd) : dir_(std::move(dir)), fd_(fd) {}
  std::string dir_;
  int fd_;
};

// The pid of the process holding `dir`'s lock, or nullopt when it is free
// (or has no lock file). Does not take the lock. For status displays.
absl::StatusOr<std::optional<pid_t>> DirLockHolder(const std::string& dir);

}  // namespace kmend::io

#endif  // KMEND_LIB_IO_DIR_LOCK_H_
