#include "server/common/server_instance.h"

#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/io/file.h"

namespace kmend::server {
namespace {

bool IsUuid(absl::string_view s) {
  if (s.size() != 32) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string NewUuid() {
  std::random_device rd;  // /dev/urandom on Linux
  std::string out;
  for (int i = 0; i < 4; ++i) {
    out += absl::StrFormat("%08x", static_cast<uint32_t>(rd()));
  }
  return out;
}

absl::StatusOr<std::string> LoadOrCreateServerUuid(const std::string& root) {
  std::string path = io::JoinPath(root, kServerUuidFileName);
  if (io::FileExists(path)) {
    auto contents = io::ReadFileToString(path);
    if (!contents.ok()) return contents.status();
    absl::string_view uuid = absl::StripAsciiWhitespace(*contents);
    if (!IsUuid(uuid)) {
      return absl::DataLossError(absl::StrCat(
          path, ": expected a 32-character lowercase hex uuid, found '", uuid, "'"));
    }
    return std::string(uuid);
  }
  std::string uuid = NewUuid();
  absl::Status s = io::WriteFileAtomically(path, uuid + "\n");
  if (!s.ok()) return s;
  return uuid;
}

}  // namespace kmend::server
