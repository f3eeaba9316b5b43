// Typed facts an error carries, as absl::Status payloads, instead of text a
// caller would have to parse. ToGrpcStatus/FromGrpcStatus (grpc_util.h) carry
// every payload across an RPC in grpc::Status's error_details.
//
//   absl::Status s = absl::FailedPreconditionError("... not the leader ...");
//   SetLeaderHint(&s, "a1b2...");          // the replica believed to lead
//   ... over gRPC ...
//   if (auto leader = LeaderHint(s)) Retry(*leader);
#ifndef KMEND_LIB_RPC_STATUS_PAYLOADS_H_
#define KMEND_LIB_RPC_STATUS_PAYLOADS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"

namespace kmend::rpc {

// The uuid of the replica (or master) the refusing one believes leads.
void SetLeaderHint(absl::Status* status, const std::string& leader_uuid);
std::optional<std::string> LeaderHint(const absl::Status& status);

// Marks an error injected by a test hook as a simulated crash: the code
// path stops as a crash would (no cleanup), and callers recognise it.
absl::Status SimulatedCrashError(const std::string& message);
bool IsSimulatedCrash(const absl::Status& status);

}  // namespace kmend::rpc

#endif  // KMEND_LIB_RPC_STATUS_PAYLOADS_H_
