// The repair journal and backups (see manifest.h).
#include "lib/fsck/manifest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "lib/format/crc32c.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"
#include "nlohmann/json.hpp"

namespace kmend::fsck {

namespace {

using nlohmann::json;

constexpr size_t kCopyChunk = 4 << 20;

const char* ActionStateName(ManifestAction::State s) {
  switch (s) {
    case ManifestAction::State::kPlanned:
      return "planned";
    case ManifestAction::State::kBackedUp:
      return "backed_up";
    case ManifestAction::State::kDone:
      return "done";
  }
  return "planned";
}

const char* ManifestStateName(Manifest::State s) {
  switch (s) {
    case Manifest::State::kInProgress:
      return "in_progress";
    case Manifest::State::kComplete:
      return "complete";
    case Manifest::State::kUndone:
      return "undone";
  }
  return "in_progress";
}

json ActionJson(const RepairAction& a) {
  json j = {{"kind", RepairActionKindName(a.kind)},
            {"path", a.path},
            {"tablet_id", a.tablet_id},
            {"offset", a.offset},
            {"num_entries", a.num_entries},
            {"min_replicate_index", a.min_replicate_index},
            {"max_replicate_index", a.max_replicate_index},
            {"data_path", a.data_path},
            {"alignment", a.alignment},
            {"reason", a.reason},
            {"description", a.description}};
  json blocks = json::array();
  for (const auto& b : a.blocks) {
    blocks.push_back({{"block_id", b.block_id},
                      {"container_id", b.container_id},
                      {"data_path", b.data_path},
                      {"metadata_path", b.metadata_path},
                      {"offset", b.offset},
                      {"length", b.length}});
  }
  j["blocks"] = blocks;
  return j;
}

absl::Status ParseAction(const json& j, RepairAction* a) {
  const std::string kind = j.at("kind").get<std::string>();
  bool known = false;
  for (auto k : {RepairAction::Kind::kCloseWalSegment, RepairAction::Kind::kTruncateMetadata,
                 RepairAction::Kind::kTruncateData, RepairAction::Kind::kDeleteOrphanedBlocks,
                 RepairAction::Kind::kDeleteFile, RepairAction::Kind::kMarkFailed}) {
    if (kind == RepairActionKindName(k)) {
      a->kind = k;
      known = true;
    }
  }
  if (!known) return absl::DataLossError(absl::StrCat("unknown action kind '", kind, "'"));
  a->path = j.at("path").get<std::string>();
  a->tablet_id = j.at("tablet_id").get<std::string>();
  a->offset = j.at("offset").get<uint64_t>();
  a->num_entries = j.at("num_entries").get<int64_t>();
  a->min_replicate_index = j.at("min_replicate_index").get<int64_t>();
  a->max_replicate_index = j.at("max_replicate_index").get<int64_t>();
  a->data_path = j.at("data_path").get<std::string>();
  a->alignment = j.at("alignment").get<uint64_t>();
  a->reason = j.at("reason").get<std::string>();
  a->description = j.at("description").get<std::string>();
  for (const json& b : j.at("blocks")) {
    RepairFacts::OrphanBlock ob;
    ob.block_id = b.at("block_id").get<uint64_t>();
    ob.container_id = b.at("container_id").get<std::string>();
    ob.data_path = b.at("data_path").get<std::string>();
    ob.metadata_path = b.at("metadata_path").get<std::string>();
    ob.offset = b.at("offset").get<int64_t>();
    ob.length = b.at("length").get<int64_t>();
    a->blocks.push_back(ob);
  }
  return absl::OkStatus();
}

// Copies [offset, offset + length) of `src` into a new file `dst` (fsynced);
// returns the CRC32C of the bytes copied and their count.
absl::Status CopyBytes(const std::string& src, uint64_t offset, uint64_t length,
                       const std::string& dst, uint32_t* crc, uint64_t* copied) {
  int in = ::open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return io::ErrnoError("open", src, errno);
  int out = ::open(dst.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (out < 0) {
    int e = errno;
    ::close(in);
    return io::ErrnoError("create", dst, e);
  }
  std::string buf(kCopyChunk, '\0');
  absl::Status s;
  *crc = 0;
  *copied = 0;
  while (*copied < length) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), length - *copied));
    ssize_t n = ::pread(in, buf.data(), want, static_cast<off_t>(offset + *copied));
    if (n < 0) {
      if (errno == EINTR) continue;
      s = io::ErrnoError("read", src, errno);
      break;
    }
    if (n == 0) break;  // file ends first: the range is clamped
    s = io::WriteFully(out, dst, absl::string_view(buf.data(), static_cast<size_t>(n)));
    if (!s.ok()) break;
    *crc = crc32c::Extend(*crc, buf.data(), static_cast<size_t>(n));
    *copied += static_cast<uint64_t>(n);
  }
  if (s.ok() && ::fsync(out) != 0) s = io::ErrnoError("fsync", dst, errno);
  ::close(in);
  ::close(out);
  return s;
}

absl::StatusOr<uint32_t> CrcOfFile(const std::string& path, uint64_t* size) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io::ErrnoError("open", path, errno);
  std::string buf(kCopyChunk, '\0');
  uint32_t crc = 0;
  *size = 0;
  while (true) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      ::close(fd);
      return io::ErrnoError("read", path, e);
    }
    if (n == 0) break;
    crc = crc32c::Extend(crc, buf.data(), static_cast<size_t>(n));
    *size += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return crc;
}

}  // namespace

absl::Status WriteManifest(const std::string& backup_dir, const Manifest& m) {
  json j = {{"schema", kManifestSchema},
            {"fs_root", m.fs_root},
            {"timestamp_micros", m.timestamp_micros},
            {"state", ManifestStateName(m.state)}};
  json actions = json::array();
  for (size_t i = 0; i < m.actions.size(); ++i) {
    const ManifestAction& a = m.actions[i];
    json backups = json::array();
    for (const BackupEntry& b : a.backups) {
      backups.push_back({{"kind", b.kind == BackupEntry::Kind::kFile ? "file" : "range"},
                         {"path", b.path},
                         {"backup", b.backup},
                         {"size", b.size},
                         {"mode", b.mode},
                         {"offset", b.offset},
                         {"length", b.length},
                         {"crc32c", b.crc32c}});
    }
    actions.push_back({{"seq", i},
                       {"kind", RepairActionKindName(a.action.kind)},
                       {"description", a.action.description},
                       {"state", ActionStateName(a.state)},
                       {"params", ActionJson(a.action)},
                       {"backups", backups}});
  }
  j["actions"] = actions;
  return io::WriteFileAtomically(io::JoinPath(backup_dir, kManifestFileName),
                                 j.dump(1, ' ', false, json::error_handler_t::replace) + "\n");
}

absl::StatusOr<Manifest> ReadManifest(const std::string& backup_dir) {
  const std::string path = io::JoinPath(backup_dir, kManifestFileName);
  if (!io::FileExists(path)) return absl::NotFoundError(absl::StrCat(path, ": no manifest"));
  ASSIGN_OR_RETURN(std::string text, io::ReadFileToString(path));
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::DataLossError(absl::StrCat(path, ": not a JSON document"));
  }
  Manifest m;
  try {
    if (j.at("schema").get<std::string>() != kManifestSchema) {
      return absl::DataLossError(absl::StrCat(path, ": field schema: expected ", kManifestSchema,
                                              ", found ", j.at("schema").dump()));
    }
    m.fs_root = j.at("fs_root").get<std::string>();
    m.timestamp_micros = j.at("timestamp_micros").get<int64_t>();
    const std::string st = j.at("state").get<std::string>();
    m.state = st == "complete" ? Manifest::State::kComplete
              : st == "undone" ? Manifest::State::kUndone
                               : Manifest::State::kInProgress;
    for (const json& a : j.at("actions")) {
      ManifestAction ma;
      RETURN_IF_ERROR(ParseAction(a.at("params"), &ma.action));
      const std::string s = a.at("state").get<std::string>();
      ma.state = s == "done"        ? ManifestAction::State::kDone
                 : s == "backed_up" ? ManifestAction::State::kBackedUp
                                    : ManifestAction::State::kPlanned;
      for (const json& b : a.at("backups")) {
        BackupEntry e;
        e.kind = b.at("kind").get<std::string>() == "range" ? BackupEntry::Kind::kRange
                                                            : BackupEntry::Kind::kFile;
        e.path = b.at("path").get<std::string>();
        e.backup = b.at("backup").get<std::string>();
        e.size = b.at("size").get<uint64_t>();
        e.mode = b.at("mode").get<uint32_t>();
        e.offset = b.at("offset").get<uint64_t>();
        e.length = b.at("length").get<uint64_t>();
        e.crc32c = b.at("crc32c").get<uint32_t>();
        ma.backups.push_back(e);
      }
      m.actions.push_back(std::move(ma));
    }
  } catch (const json::exception& e) {
    return absl::DataLossError(absl::StrCat(path, ": ", e.what()));
  }
  return m;
}

absl::StatusOr<BackupEntry> BackupFile(const std::string& path, const std::string& backup_dir,
                                       const std::string& name) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return io::ErrnoError("stat", path, errno);
  BackupEntry e;
  e.kind = BackupEntry::Kind::kFile;
  e.path = path;
  e.backup = name;
  e.mode = st.st_mode & 07777;
  uint64_t copied = 0;
  RETURN_IF_ERROR(CopyBytes(path, 0, static_cast<uint64_t>(st.st_size),
                            io::JoinPath(backup_dir, name), &e.crc32c, &copied));
  e.size = copied;
  RETURN_IF_ERROR(io::SyncDir(backup_dir));
  return e;
}

absl::StatusOr<BackupEntry> BackupRange(const std::string& path, uint64_t offset, uint64_t length,
                                        const std::string& backup_dir, const std::string& name) {
  BackupEntry e;
  e.kind = BackupEntry::Kind::kRange;
  e.path = path;
  e.backup = name;
  e.offset = offset;
  uint64_t copied = 0;
  RETURN_IF_ERROR(
      CopyBytes(path, offset, length, io::JoinPath(backup_dir, name), &e.crc32c, &copied));
  e.length = copied;
  RETURN_IF_ERROR(io::SyncDir(backup_dir));
  return e;
}

absl::Status VerifyBackup(const BackupEntry& e, const std::string& backup_dir) {
  const std::string p = io::JoinPath(backup_dir, e.backup);
  uint64_t size = 0;
  ASSIGN_OR_RETURN(uint32_t crc, CrcOfFile(p, &size));
  const uint64_t want = e.kind == BackupEntry::Kind::kFile ? e.size : e.length;
  if (crc != e.crc32c || size != want) {
    return absl::DataLossError(absl::StrCat(p, ": backup of ", e.path, " is damaged (", size,
                                            " bytes, CRC32C ", crc, "; manifest says ", want,
                                            " bytes, CRC32C ", e.crc32c, ")"));
  }
  return absl::OkStatus();
}

absl::Status RestoreBackup(const BackupEntry& e, const std::string& backup_dir) {
  const std::string src = io::JoinPath(backup_dir, e.backup);
  if (e.kind == BackupEntry::Kind::kFile) {
    const std::string tmp = absl::StrCat(e.path, ".kudutmp.fsckundo");
    uint32_t crc = 0;
    uint64_t copied = 0;
    RETURN_IF_ERROR(CopyBytes(src, 0, e.size, tmp, &crc, &copied));
    if (::chmod(tmp.c_str(), e.mode) != 0) return io::ErrnoError("chmod", tmp, errno);
    if (::rename(tmp.c_str(), e.path.c_str()) != 0) {
      return io::ErrnoError(absl::StrCat("rename from ", tmp), e.path, errno);
    }
    return io::SyncParentDir(e.path);
  }
  ASSIGN_OR_RETURN(std::string bytes, io::ReadFileToString(src));
  int fd = ::open(e.path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return io::ErrnoError("open", e.path, errno);
  absl::Status s;
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n =
        ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(e.offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      s = io::ErrnoError(absl::StrCat("pwrite at offset ", e.offset + done), e.path, errno);
      break;
    }
    done += static_cast<size_t>(n);
  }
  if (s.ok() && ::fsync(fd) != 0) s = io::ErrnoError("fsync", e.path, errno);
  ::close(fd);
  return s;
}

}  // namespace kmend::fsck
