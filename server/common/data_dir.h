// The first thing every kmend server does with its --fs_root: lock it (so a
// second server or a mutating tool is refused, naming this pid), then open
// it, formatting a fresh one with a new server uuid on first start.
#ifndef KMEND_SERVER_COMMON_DATA_DIR_H_
#define KMEND_SERVER_COMMON_DATA_DIR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "lib/io/dir_lock.h"

namespace kmend::server {

struct LockedDataDir {
  // Held for the life of the server process.
  std::unique_ptr<io::DirLock> lock;
  // The server's permanent uuid, from the instance file.
  std::string uuid;
};

absl::StatusOr<LockedDataDir> LockAndOpenDataDir(const std::string& fs_root);

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_DATA_DIR_H_
