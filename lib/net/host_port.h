// host:port text <-> HostPortPB, the one place that knows the syntax:
// "host:port", and "[ipv6]:port" for IPv6 literals (the brackets are syntax,
// never part of the stored host, as in Kudu's HostPortPB).
#ifndef KMEND_LIB_NET_HOST_PORT_H_
#define KMEND_LIB_NET_HOST_PORT_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/common.pb.h"

namespace kmend::net {

// Parses "host:port" or "[ipv6]:port" (port 0..65535, host non-empty).
// InvalidArgument quoting the text otherwise.
absl::StatusOr<HostPortPB> ParseHostPort(absl::string_view text);

// Parses a comma-separated list of host:port (at least one).
absl::StatusOr<std::vector<HostPortPB>> ParseHostPorts(absl::string_view text);

// "host:port", or "[host]:port" when the host is an IPv6 literal: the
// inverse of ParseHostPort.
std::string HostPortToString(const HostPortPB& hp);

}  // namespace kmend::net

#endif  // KMEND_LIB_NET_HOST_PORT_H_
