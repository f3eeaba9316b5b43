// The gRPC edge shared by the servers and the tools: conversions between
// absl::Status and grpc::Status, the one place channels are made (connect and
// backoff arguments), and deadlines. Logic returns absl::Status; only service
// implementations and clients touch grpc::Status.
//
// Thread safety: all functions are pure.
#ifndef KMEND_LIB_RPC_GRPC_UTIL_H_
#define KMEND_LIB_RPC_GRPC_UTIL_H_

#include <chrono>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"

namespace kmend::rpc {

// Same code (the enums agree numerically), same message.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);
// FromGrpcStatus with "context: " prepended (e.g. "127.0.0.1:7051: Heartbeat").
absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view context);

// Keepalive of every channel (NewChannel): a ping after kKeepaliveTimeMs
// without one, and the connection closed if it is not answered within
// kKeepaliveTimeoutMs (also the socket's TCP_USER_TIMEOUT, which gRPC sets
// from it: unacknowledged data for that long drops the connection). 2 s
// rather than less leaves room for a peer whose CPUs are saturated (a
// restart of thousands of replicas) to answer late.
inline constexpr int kKeepaliveTimeMs = 1000;
inline constexpr int kKeepaliveTimeoutMs = 2000;

// A channel to `address` ("host:port"), TLS when the process has it
// (tls.h: ProcessTls). `max_receive_message_bytes`
// > 0 raises gRPC's 4 MiB receive limit (copies: a 4 MiB chunk plus framing).
std::shared_ptr<grpc::Channel> NewChannel(const std::string& address,
                                          int max_receive_message_bytes = 0);

// Lets a server accept our channels' keepalive pings: without it gRPC
// answers pings more frequent than every 5 minutes with GOAWAY
// ("too_many_pings") and the connection closes.
void AddServerKeepaliveArgs(grpc::ServerBuilder* builder);

// Sets a deadline `timeout` from now on `ctx`.
void SetDeadline(grpc::ClientContext* ctx, std::chrono::milliseconds timeout);

}  // namespace kmend::rpc

#endif  // KMEND_LIB_RPC_GRPC_UTIL_H_
