#include "lib/fs/safe_name.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/fs/layout.h"

namespace kmend::fs {
namespace {

// Quoted, escaped and cut: hostile input must not flood or corrupt logs.
std::string Quote(absl::string_view s) {
  constexpr size_t kMaxShown = 80;
  std::string shown = absl::CEscape(s.substr(0, kMaxShown));
  return absl::StrCat("\"", shown, s.size() > kMaxShown ? "\"..." : "\"");
}

absl::StatusOr<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    const int err = errno;
    if (err == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": does not exist"));
    return absl::InternalError(absl::StrCat("realpath ", path, ": errno ", err));
  }
  return std::string(buf);
}

bool IsUnder(absl::string_view path, absl::string_view root) {
  if (root == "/") return true;
  return path == root ||
         (path.size() > root.size() && path.substr(0, root.size()) == root &&
          path[root.size()] == '/');
}

}  // namespace

absl::Status ValidateId(absl::string_view id, absl::string_view what) {
  if (IsCanonicalUuid(id)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(what, ": expected 32 lowercase hex characters, found ", Quote(id)));
}

absl::Status ValidateFileName(absl::string_view name, absl::string_view what) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", Quote(name), " ", why));
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > 255) return bad("is longer than 255 bytes");
  if (name.find('/') != absl::string_view::npos) return bad("contains '/'");
  if (name.find('\0') != absl::string_view::npos) return bad("contains a NUL byte");
  if (name == "." || name == "..") return bad("is a directory reference");
  if (name[0] == '.') return bad("starts with '.'");
  return absl::OkStatus();
}

absl::StatusOr<std::string> ResolveUnder(const std::string& root, absl::string_view relative,
                                         absl::string_view what) {
  if (relative.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": empty path"));
  }
  if (relative[0] == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": ", Quote(relative), " is absolute; expected a path under ", root));
  }
  if (relative.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": ", Quote(relative),
                                                   " contains a NUL byte"));
  }
  std::vector<absl::string_view> parts = absl::StrSplit(relative, '/', absl::SkipEmpty());
  for (absl::string_view p : parts) {
    if (p == "." || p == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": ", Quote(relative), " has a '", p, "' component"));
    }
  }
  absl::StatusOr<std::string> real_root = RealPath(root);
  if (!real_root.ok()) {
    return absl::Status(real_root.status().code(),
                        absl::StrCat(what, ": root ", real_root.status().message()));
  }
  std::string joined = root;
  for (absl::string_view p : parts) absl::StrAppend(&joined, "/", p);
  // The deepest existing ancestor (or the path itself) must resolve inside
  // the root; parts not yet created cannot be symlinks.
  std::string probe = joined;
  for (size_t kept = parts.size();; --kept) {
    absl::StatusOr<std::string> real = RealPath(probe);
    if (real.ok()) {
      if (!IsUnder(*real, *real_root)) {
        return absl::PermissionDeniedError(absl::StrCat(what, ": ", Quote(relative),
                                                        " resolves to ", *real, ", outside ",
                                                        *real_root));
      }
      break;
    }
    if (!absl::IsNotFound(real.status()) || kept == 0) return real.status();
    probe = root;
    for (size_t i = 0; i + 1 < kept; ++i) absl::StrAppend(&probe, "/", parts[i]);
  }
  return joined;
}

}  // namespace kmend::fs
