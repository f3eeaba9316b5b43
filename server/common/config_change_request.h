// The ChangeConfig RPC's request, as the Raft core's ConfigChange. Tablet
// servers (for tablets) and masters (for the system catalog) serve the same
// ConsensusService request; both read it here so the two cannot drift.
#ifndef KMEND_SERVER_COMMON_CONFIG_CHANGE_REQUEST_H_
#define KMEND_SERVER_COMMON_CONFIG_CHANGE_REQUEST_H_

#include "absl/status/statusor.h"
#include "lib/raft/config.h"
#include "proto/tserver.pb.h"

namespace kmend::server {

// Whether an added peer must name its address. A master adding a master must:
// the catalog's peers find each other only through the config. A tablet
// server's re-replication sets it too, but older callers may not.
enum class PeerAddress { kOptional, kRequired };

// InvalidArgument naming the field when the request lacks the type, the
// peer's uuid, (if required) an added peer's address, or asks for a
// MODIFY_PEER other than promotion to VOTER (the only one the core supports).
absl::StatusOr<raft::ConfigChange> ConfigChangeFromRequest(
    const tserver::ChangeConfigRequestPB& req, PeerAddress address);

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_CONFIG_CHANGE_REQUEST_H_
