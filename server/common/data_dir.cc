#include "server/common/data_dir.h"

#include "lib/fs/fs_manager.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"
#include "server/common/logger.h"

namespace kmend::server {

absl::StatusOr<LockedDataDir> LockAndOpenDataDir(const std::string& fs_root) {
  RETURN_IF_ERROR(io::CreateDirs(fs_root));
  LockedDataDir out;
  ASSIGN_OR_RETURN(out.lock, io::DirLock::Acquire(fs_root));
  auto info = fs::Open(fs_root);
  if (absl::IsNotFound(info.status())) {
    info = fs::Format(fs_root);
    if (info.ok()) KLOG(INFO) << "formatted " << fs_root << " as " << info->uuid;
  }
  if (!info.ok()) return Annotate(info.status(), "opening the data directory");
  out.uuid = info->uuid;
  return out;
}

}  // namespace kmend::server
