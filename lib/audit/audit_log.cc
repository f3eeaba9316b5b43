#include "lib/audit/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/io/file.h"
#include "nlohmann/json.hpp"

namespace kmend::audit {
namespace {

std::string Dir(const std::string& fs_root) { return io::JoinPath(fs_root, kAuditDirName); }

void ParseInto(absl::string_view text, std::vector<AuditRecord>* out) {
  for (absl::string_view l : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(l, nullptr, /*allow_exceptions=*/false);
    AuditRecord r;
    if (j.is_object() && j.value("action", "") != "") {
      r.time = j.value("time", "");
      r.action = j.value("action", "");
      r.identity = j.value("identity", "");
      r.caller = j.value("caller", "");
      r.tablet_id = j.value("tablet_id", "");
      r.request = j.value("request", "");
      r.outcome = j.value("outcome", "");
      r.detail = j.value("detail", "");
    } else {
      r.action = "unparsed";
      r.detail = std::string(l);
    }
    out->push_back(std::move(r));
  }
}

}  // namespace

std::string AuditLogPath(const std::string& fs_root) {
  return io::JoinPath(Dir(fs_root), kAuditLogName);
}

absl::Status AppendAudit(const std::string& fs_root, const AuditRecord& r) {
  static std::mutex* mu = new std::mutex;
  const std::string path = AuditLogPath(fs_root);
  nlohmann::json line = {
      {"schema", kSchema},
      {"time", absl::FormatTime("%Y-%m-%dT%H:%M:%E6S%Ez", absl::Now(), absl::UTCTimeZone())},
      {"action", r.action},
      {"identity", r.identity},
      {"caller", r.caller},
      {"tablet_id", r.tablet_id},
      {"request", r.request},
      {"outcome", r.outcome},
      {"detail", r.detail}};
  // Invalid UTF-8 (a hostile request's bytes) is replaced, not thrown on.
  const std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard<std::mutex> lock(*mu);
  absl::Status s = io::CreateDirs(Dir(fs_root));
  if (!s.ok()) return s;
  const bool existed = io::FileExists(path);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return io::ErrnoError("open", path, errno);
  s = io::WriteFully(fd, path, text);
  if (s.ok() && ::fsync(fd) != 0) s = io::ErrnoError("fsync", path, errno);
  ::close(fd);
  if (s.ok() && !existed) s = io::SyncParentDir(path);
  return s;
}

absl::StatusOr<std::vector<AuditRecord>> ReadAudit(const std::string& fs_root) {
  std::vector<AuditRecord> out;
  bool any = false;
  for (const char* name : {kLegacyAuditLogName, kAuditLogName}) {
    const std::string path = io::JoinPath(Dir(fs_root), name);
    absl::StatusOr<std::string> text = io::ReadFileToString(path);
    if (!text.ok()) {
      if (text.status().code() == absl::StatusCode::kNotFound) continue;
      return text.status();
    }
    any = true;
    ParseInto(*text, &out);
  }
  if (!any) {
    return absl::NotFoundError(absl::StrCat(AuditLogPath(fs_root), ": no audit log"));
  }
  return out;
}

std::string SnakeCase(const std::string& method) {
  std::string out;
  for (size_t i = 0; i < method.size(); ++i) {
    const char c = method[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      // A run of capitals stays one word: "SetTServerMaintenance" ->
      // "set_tserver_maintenance".
      if (i > 0 && !std::isupper(static_cast<unsigned char>(method[i - 1]))) out.push_back('_');
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    } else {
      out.push_back(c);
    }
  }
  return out;
}

}  // namespace kmend::audit
