// Format and Open of a tablet server root. Layout: docs/formats/data_dir.md.
#include "lib/fs/fs_manager.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/format/pb_container.h"
#include "lib/fs/uuid.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"

namespace kmend::fs {

namespace {

constexpr char kLogDirType[] = "log";

bool IsPowerOfTwo(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

absl::StatusOr<uint64_t> FileSystemBlockSize(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) return io::ErrnoError("statvfs", path, errno);
  uint64_t bs = st.f_bsize;
  return IsPowerOfTwo(bs) ? bs : 4096;
}

std::string HostName() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// mkdir (not -p) so that a racing Format of the same root fails instead of
// both succeeding.
absl::Status MakeDir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0) return io::ErrnoError("mkdir", path, errno);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<InstanceInfo> Format(const std::string& root, const FormatOptions& options) {
  Layout layout(root);
  for (const std::string& p : {layout.InstancePath(), layout.DataDir(), layout.TabletMetaDir(),
                               layout.ConsensusMetaDir(), layout.WalsDir()}) {
    if (io::FileExists(p)) {
      return absl::AlreadyExistsError(
          absl::StrCat(root, ": already formatted or in use (", p,
                       " exists); refusing to format it again"));
    }
  }
  std::string uuid = options.uuid.empty() ? NewUuid() : options.uuid;
  if (!IsCanonicalUuid(uuid)) {
    return absl::InvalidArgumentError(
        absl::StrCat("server uuid \"", uuid, "\" is not 32 lowercase hex characters"));
  }
  RETURN_IF_ERROR(io::CreateDirs(layout.root()));
  uint64_t block_size = options.filesystem_block_size_bytes;
  if (block_size == 0) {
    ASSIGN_OR_RETURN(block_size, FileSystemBlockSize(layout.root()));
  }
  if (!IsPowerOfTwo(block_size)) {
    return absl::InvalidArgumentError(
        absl::StrCat("filesystem block size ", block_size, " is not a power of two"));
  }

  InstanceInfo info;
  info.uuid = uuid;
  info.data_dir_uuid = NewUuid();
  info.filesystem_block_size_bytes = block_size;
  info.instance.set_uuid(uuid);
  info.instance.set_format_stamp(absl::StrCat(
      "Formatted at ", absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::Now(), absl::UTCTimeZone()),
      " on ", HostName()));
  DirSetPB* set = info.dir_instance.mutable_dir_set();
  set->set_uuid(info.data_dir_uuid);
  set->add_all_uuids(info.data_dir_uuid);
  info.dir_instance.set_dir_type(kLogDirType);
  info.dir_instance.set_filesystem_block_size_bytes(block_size);
  info.dir_instance.set_instance_uuid(uuid);

  // Directories first, the instance file last: a root with an instance file
  // is complete, and a crash earlier leaves directories that make a second
  // Format refuse (the operator removes them; nothing was stored yet).
  RETURN_IF_ERROR(MakeDir(layout.DataDir()));
  RETURN_IF_ERROR(
      pbc::WriteSingleMessageFile(layout.BlockManagerInstancePath(), info.dir_instance));
  RETURN_IF_ERROR(MakeDir(layout.TabletMetaDir()));
  RETURN_IF_ERROR(MakeDir(layout.ConsensusMetaDir()));
  RETURN_IF_ERROR(MakeDir(layout.WalsDir()));
  RETURN_IF_ERROR(io::SyncDir(layout.root()));
  RETURN_IF_ERROR(pbc::WriteSingleMessageFile(layout.InstancePath(), info.instance));
  return info;
}

absl::StatusOr<InstanceInfo> Open(const std::string& root) {
  Layout layout(root);
  if (!io::FileExists(layout.InstancePath())) {
    return absl::NotFoundError(
        absl::StrCat(root, ": not a formatted kmend root (", layout.InstancePath(), " missing)"));
  }
  InstanceInfo info;
  RETURN_IF_ERROR(pbc::ReadSingleMessageFile(layout.InstancePath(), &info.instance));
  auto bad = [](const std::string& path, const std::string& what) {
    return absl::DataLossError(absl::StrCat(path, ": ", what));
  };
  info.uuid = info.instance.uuid();
  if (!IsCanonicalUuid(info.uuid)) {
    return bad(layout.InstancePath(), absl::StrCat("field uuid: expected 32 lowercase hex, found \"",
                                                   info.uuid, "\""));
  }
  const std::string bmi = layout.BlockManagerInstancePath();
  if (!io::FileExists(bmi)) {
    return bad(bmi, "missing (the root has an instance file but no block manager instance)");
  }
  RETURN_IF_ERROR(pbc::ReadSingleMessageFile(bmi, &info.dir_instance));
  const DirInstanceMetadataPB& d = info.dir_instance;
  if (d.dir_type() != kLogDirType) {
    return bad(bmi, absl::StrCat("field dir_type: expected \"log\", found \"", d.dir_type(),
                                 "\" (only the log block manager is supported)"));
  }
  info.data_dir_uuid = d.dir_set().uuid();
  bool listed = false;
  for (const std::string& u : d.dir_set().all_uuids()) listed |= u == info.data_dir_uuid;
  if (!listed) {
    return bad(bmi, absl::StrCat("field dir_set: uuid ", info.data_dir_uuid,
                                 " is not among all_uuids"));
  }
  if (!d.has_filesystem_block_size_bytes() || !IsPowerOfTwo(d.filesystem_block_size_bytes())) {
    return bad(bmi, absl::StrCat("field filesystem_block_size_bytes: expected a power of two, "
                                 "found ",
                                 d.filesystem_block_size_bytes()));
  }
  info.filesystem_block_size_bytes = d.filesystem_block_size_bytes();
  if (d.has_instance_uuid() && d.instance_uuid() != info.uuid) {
    return bad(bmi, absl::StrCat("field instance_uuid: expected ", info.uuid, " (from ",
                                 layout.InstancePath(), "), found ", d.instance_uuid(),
                                 ": the data directory belongs to another server"));
  }
  for (const std::string& dir :
       {layout.TabletMetaDir(), layout.ConsensusMetaDir(), layout.WalsDir()}) {
    if (!IsDir(dir)) return bad(dir, "missing directory");
  }
  return info;
}

absl::StatusOr<std::vector<std::string>> ListTablets(const Layout& layout) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, io::ListDir(layout.TabletMetaDir()));
  std::vector<std::string> out;
  for (const std::string& n : names) {
    if (IsCanonicalUuid(n)) out.push_back(n);
  }
  return out;
}

}  // namespace kmend::fs
