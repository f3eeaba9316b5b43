// The server's names for the shared gRPC edge (lib/rpc) and host:port syntax
// (lib/net), kept so that call sites in server/ read server::NewChannel etc.
// New code outside server/ includes lib/rpc and lib/net directly.
#ifndef KMEND_SERVER_COMMON_GRPC_UTIL_H_
#define KMEND_SERVER_COMMON_GRPC_UTIL_H_

#include "lib/net/host_port.h"
#include "lib/rpc/grpc_util.h"

namespace kmend::server {

using net::HostPortToString;
using net::ParseHostPort;
using net::ParseHostPorts;
using rpc::FromGrpcStatus;
using rpc::NewChannel;
using rpc::SetDeadline;
using rpc::ToGrpcStatus;

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_GRPC_UTIL_H_
