// The gRPC edge: conversions between absl::Status and grpc::Status, and
// host:port strings. Server logic returns absl::Status; only service
// implementations and clients touch grpc::Status.
//
// Thread safety: all functions are pure.
#ifndef KMEND_SERVER_COMMON_GRPC_UTIL_H_
#define KMEND_SERVER_COMMON_GRPC_UTIL_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"
#include "proto/common.pb.h"

namespace kmend::server {

// Same code (the enums agree numerically), same message.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);
// FromGrpcStatus with "context: " prepended (e.g. "127.0.0.1:7051: Heartbeat").
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view context);

// Parses "host:port" (port 0..65535; host non-empty). IPv6 literals in
// brackets ("[::1]:7051") are accepted.
absl::StatusOr<HostPortPB> ParseHostPort(absl::string_view text);
// Parses a comma-separated list of host:port.
absl::StatusOr<std::vector<HostPortPB>> ParseHostPorts(absl::string_view text);
std::string HostPortToString(const HostPortPB& hp);

// An insecure channel to `address` ("host:port").
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address);

// Sets a deadline `timeout` from now on `ctx`.
void SetDeadline(grpc::ClientContext* ctx, std::chrono::milliseconds timeout);

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_GRPC_UTIL_H_
