#include "lib/recover/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/io/file.h"
#include "nlohmann/json.hpp"

namespace kmend::recover {

std::string AuditLogPath(const std::string& fs_root) {
  return io::JoinPath(io::JoinPath(fs_root, kAuditDirName), kAuditLogName);
}

absl::Status AppendAudit(const std::string& fs_root, const AuditRecord& r) {
  static std::mutex* mu = new std::mutex;
  const std::string path = AuditLogPath(fs_root);
  nlohmann::json line = {
      {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E6S%Ez", absl::Now(), absl::UTCTimeZone())},
      {"tablet_id", r.tablet_id},
      {"action", r.action},
      {"caller", r.caller},
      {"detail", r.detail}};
  const std::string text = line.dump() + "\n";
  std::lock_guard<std::mutex> lock(*mu);
  absl::Status s = io::CreateDirs(io::Dirname(path));
  if (!s.ok()) return s;
  const bool existed = io::FileExists(path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return io::ErrnoError("open", path, errno);
  s = io::WriteFully(fd, path, text);
  if (s.ok() && ::fsync(fd) != 0) s = io::ErrnoError("fsync", path, errno);
  ::close(fd);
  if (s.ok() && !existed) s = io::SyncParentDir(path);
  return s;
}

absl::StatusOr<std::vector<AuditRecord>> ReadAudit(const std::string& fs_root) {
  absl::StatusOr<std::string> text = io::ReadFileToString(AuditLogPath(fs_root));
  if (!text.ok()) return text.status();
  std::vector<AuditRecord> out;
  for (absl::string_view l : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(l, nullptr, /*allow_exceptions=*/false);
    AuditRecord r;
    if (j.is_object() && j.value("action", "") != "") {
      r.tablet_id = j.value("tablet_id", "");
      r.action = j.value("action", "");
      r.caller = j.value("caller", "");
      r.detail = j.value("detail", "");
    } else {
      r.action = "unparsed";
      r.detail = std::string(l);
    }
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace kmend::recover
