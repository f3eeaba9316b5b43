// Names that come from outside (RPC requests, peers, tool arguments) and
// become paths. One place decides what may meet the filesystem, so that
// tablet copy, catalog copy, the tablet manager and the tools refuse the
// same things with the same words: a '/', "..", an absolute path, a NUL, or
// a path that resolves (through a symlink) outside the root it was meant for.
//
// Thread safety: all functions are safe to call concurrently; ResolveUnder
// reads the filesystem (realpath), the others are pure.
#ifndef KMEND_LIB_FS_SAFE_NAME_H_
#define KMEND_LIB_FS_SAFE_NAME_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kmend::fs {

// OK for a canonical id (32 lowercase hex characters: tablet ids, server
// uuids, container ids); InvalidArgument naming `what` and quoting (escaped,
// cut to 80 bytes) what was found otherwise.
absl::Status ValidateId(absl::string_view id, absl::string_view what);

// OK for one plain path component: 1..255 bytes, no '/', no NUL, not "." or
// "..", not starting with '.' (hidden names are the server's own, e.g. the
// lock file). InvalidArgument naming `what` otherwise.
absl::Status ValidateFileName(absl::string_view name, absl::string_view what);

// `root`/`relative` when `relative` is relative, free of "." and ".."
// components, and the deepest existing ancestor of the joined path resolves
// (symlinks followed) inside the resolved `root`. PermissionDenied when it
// escapes, InvalidArgument for a malformed `relative`, NotFound when `root`
// does not exist. The check is as of the call: a caller that opens the path
// later should also open with O_NOFOLLOW where a symlink is never expected.
absl::StatusOr<std::string> ResolveUnder(const std::string& root, absl::string_view relative,
                                         absl::string_view what);

}  // namespace kmend::fs

#endif  // KMEND_LIB_FS_SAFE_NAME_H_
