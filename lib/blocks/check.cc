// Offline check and repair of block containers (see check.h).
#include "lib/blocks/check.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <map>

#include "absl/strings/str_cat.h"
#include "lib/format/pb_container.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/util/status_macros.h"
#include "proto/fs.pb.h"

namespace kmend::blocks {

namespace {

absl::Status TruncateDurably(const std::string& path, uint64_t length) {
  int fd = io::sys::Open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return io::ErrnoError("open", path, errno);
  absl::Status s;
  if (io::sys::Ftruncate(fd, static_cast<off_t>(length)) != 0) {
    s = io::ErrnoError(absl::StrCat("ftruncate to ", length), path, errno);
  } else if (io::sys::Fsync(fd) != 0) {
    s = io::ErrnoError("fsync", path, errno);
  }
  io::sys::Close(fd);
  return s;
}

absl::Status RemoveFile(const std::string& path) {
  if (io::sys::Unlink(path.c_str()) != 0 && errno != ENOENT) {
    return io::ErrnoError("unlink", path, errno);
  }
  return absl::OkStatus();
}

}  // namespace

const char* RepairActionKindName(RepairAction::Kind kind) {
  switch (kind) {
    case RepairAction::Kind::kTruncateMetadata: return "truncate_metadata";
    case RepairAction::Kind::kDeleteContainer: return "delete_container";
    case RepairAction::Kind::kDeleteTempFile: return "delete_temp_file";
  }
  return "unknown";
}

// Loads every container; shared by Check and Repair so that both see the
// same facts.
static absl::StatusOr<std::vector<LoadedContainer>> LoadAll(const std::string& data_dir,
                                                            CheckReport* report) {
  DirInstanceMetadataPB instance;
  RETURN_IF_ERROR(pbc::ReadSingleMessageFile(
      io::JoinPath(data_dir, fs::kBlockManagerInstanceFileName), &instance));
  const uint64_t bs = instance.filesystem_block_size_bytes();
  report->data_dir = data_dir;
  ASSIGN_OR_RETURN(std::vector<std::string> ids, ListContainerIds(data_dir));
  std::vector<LoadedContainer> out;
  std::map<BlockId, std::string> owner;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(LoadedContainer lc, LoadContainer(data_dir, id, bs));
    ++report->containers;
    report->issues.insert(report->issues.end(), lc.issues.begin(), lc.issues.end());
    for (const auto& [bid, loc] : lc.live) {
      auto [it, inserted] = owner.emplace(bid, id);
      if (!inserted) {
        report->issues.push_back({IssueKind::kDuplicateBlockAcrossContainers, id,
                                  lc.metadata_path, 0, bid,
                                  absl::StrCat("block also live in container ", it->second)});
        continue;
      }
      ++report->live_blocks;
      report->live_bytes += static_cast<uint64_t>(loc.length);
    }
    out.push_back(std::move(lc));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> names, io::ListDir(data_dir));
  for (const std::string& n : names) {
    if (io::IsTempFileName(n)) report->temp_files.push_back(n);
  }
  return out;
}

absl::StatusOr<CheckReport> Check(const std::string& data_dir) {
  CheckReport report;
  ASSIGN_OR_RETURN(std::vector<LoadedContainer> loaded, LoadAll(data_dir, &report));
  (void)loaded;
  return report;
}

absl::StatusOr<RepairResult> Repair(const std::string& data_dir, bool apply) {
  RepairResult result;
  ASSIGN_OR_RETURN(std::vector<LoadedContainer> loaded, LoadAll(data_dir, &result.before));
  for (const LoadedContainer& c : loaded) {
    if (c.IsOrphan()) {
      for (const std::string& p : {c.metadata_path, c.data_path}) {
        if (!io::FileExists(p)) continue;
        RepairAction a;
        a.kind = RepairAction::Kind::kDeleteContainer;
        a.path = p;
        a.description = absl::StrCat("delete ", p, " (orphan container ", c.id, ": no live blocks)");
        result.actions.push_back(std::move(a));
      }
      continue;
    }
    if (c.torn_tail && !c.corrupt) {
      RepairAction a;
      a.kind = RepairAction::Kind::kTruncateMetadata;
      a.path = c.metadata_path;
      a.truncate_to = c.valid_metadata_bytes;
      a.description = absl::StrCat("truncate ", c.metadata_path, " from ", c.metadata_size_bytes,
                                   " to ", c.valid_metadata_bytes,
                                   " bytes (torn tail: incomplete last record)");
      result.actions.push_back(std::move(a));
    }
  }
  for (const std::string& n : result.before.temp_files) {
    RepairAction a;
    a.kind = RepairAction::Kind::kDeleteTempFile;
    a.path = io::JoinPath(data_dir, n);
    a.description = absl::StrCat("delete ", a.path, " (temp file left by a crash)");
    result.actions.push_back(std::move(a));
  }
  if (!apply) return result;

  bool deleted = false;
  for (RepairAction& a : result.actions) {
    switch (a.kind) {
      case RepairAction::Kind::kTruncateMetadata:
        RETURN_IF_ERROR(TruncateDurably(a.path, a.truncate_to));
        break;
      case RepairAction::Kind::kDeleteContainer:
      case RepairAction::Kind::kDeleteTempFile:
        RETURN_IF_ERROR(RemoveFile(a.path));
        deleted = true;
        break;
    }
    a.done = true;
  }
  if (deleted) RETURN_IF_ERROR(io::SyncDir(data_dir));
  result.applied = true;
  return result;
}

}  // namespace kmend::blocks
