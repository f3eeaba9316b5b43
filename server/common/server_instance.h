// The server's permanent identity in its data directory: a uuid created on
// first start and read back on every restart, so that a restarted tablet
// server re-registers as the same server.
//
// Minimal stand-in: the uuid is one line in <root>/server-uuid, written
// atomically. lib/fs (Format/Open of <root>/instance, a PB container) replaces
// it once its implementation lands; callers only see LoadOrCreateServerUuid.
//
// Thread safety: not for concurrent use on the same root (the caller holds
// the data directory lock).
#ifndef KMEND_SERVER_COMMON_SERVER_INSTANCE_H_
#define KMEND_SERVER_COMMON_SERVER_INSTANCE_H_

#include <string>

#include "absl/status/statusor.h"

namespace kmend::server {

inline constexpr char kServerUuidFileName[] = "server-uuid";

// 32 lowercase hex characters from the system's random source.
std::string NewUuid();

// Reads the uuid of `root`, or creates one when the root has none yet.
// DataLoss naming the file when it exists but is not a 32-hex uuid.
absl::StatusOr<std::string> LoadOrCreateServerUuid(const std::string& root);

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_SERVER_INSTANCE_H_
