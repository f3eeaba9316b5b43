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
#include "lib/net/host_port.h"
#include "proto/common.pb.h"

namespace kmend::server {

// Same code (the enums agree numerically), same message.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);
// FromGrpcStatus with "context: " prepended (e.g. "127.0.0.1:7051: Heartbeat").
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view context);

// host:port syntax lives in lib/net; these names stay for the server's and
// the tools' call sites.
using net::HostPortToString;
using net::ParseHostPort;
using net::ParseHostPorts;

// An insecure channel to `address` ("host:port").
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address);

// Sets a deadline `timeout` from now on `ctx`.
void SetDeadline(grpc::ClientContext* ctx, std::chrono::milliseconds timeout);

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_GRPC_UTIL_H_
