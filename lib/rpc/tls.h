// TLS for every kmend connection: the one place that turns PEM files into
// gRPC server and channel credentials, and decides whether a plaintext
// server may bind an address.
//
// A process has one TLS configuration (a server's flags, or a tool's),
// installed once at startup with SetProcessTls before any channel or server
// is made; NewChannel (grpc_util.h) and the servers' RpcServer use it, so
// every channel (tools -> servers, tserver -> master, Raft, tablet and
// catalog copy) follows without plumbing. Until installed, the
// configuration comes from the environment (KMEND_TLS_CERT, KMEND_TLS_KEY,
// KMEND_TLS_CA): that is how the test harness runs a whole suite with TLS.
//
// With TLS on, the server demands and verifies a client certificate signed
// by the CA (mutual TLS): a caller without one never reaches a service.
// With a roles file it only requests one (a certificate given is still
// verified): a tool may then authenticate with a bearer token instead
// (--token_file, sent as "authorization: Bearer" metadata on every call),
// and the role check (authz.h) refuses a call with neither. Channels verify
// the server's certificate against the CA and the host name dialled (a SAN
// of the certificate).
//
// Thread safety: SetProcessTls before other threads use TLS; the getters
// are then safe from any thread.
#ifndef KMEND_LIB_RPC_TLS_H_
#define KMEND_LIB_RPC_TLS_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "grpcpp/grpcpp.h"
#include "lib/rpc/authz.h"

namespace kmend::rpc {

struct TlsOptions {
  std::string cert_file;  // PEM: this process's certificate (chain)
  std::string key_file;   // PEM: its private key
  std::string ca_file;    // PEM: the CA(s) peers must be signed by
  // Let a server bind a non-loopback address without TLS.
  bool insecure_allow_plaintext = false;
  // Servers: identities -> roles (authz.h); empty = any certified caller
  // may call anything. Needs TLS.
  std::string roles_file;
  // Tools: a file holding a bearer token (its first line, whitespace
  // trimmed) sent on every call; needs --tls_ca, --tls_cert/--tls_key then
  // optional.
  std::string token_file;

  bool enabled() const {
    return !cert_file.empty() || !key_file.empty() || !ca_file.empty() || !token_file.empty();
  }
};

// The PEM contents, read and checked once.
struct TlsMaterial {
  bool enabled = false;
  std::string cert_pem, key_pem, ca_pem;  // cert and key empty: token only
  std::string token;                      // empty: none
  bool insecure_allow_plaintext = false;
  std::shared_ptr<const RoleMap> roles;  // null: no role checks
};

// Reads the files: InvalidArgument unless all three are named (or none),
// naming the missing flag (with a token file: --tls_ca, and the cert and
// key both or neither); the file's error when one cannot be read, holds no
// PEM block, or the token file is empty.
absl::StatusOr<TlsMaterial> LoadTls(const TlsOptions& options);

// Installs the process's configuration (LoadTls of `options`).
absl::Status SetProcessTls(const TlsOptions& options);
// The process's configuration: what SetProcessTls installed, else the
// environment's (an unreadable environment configuration is fatal: a
// process asked for TLS must not fall back to plaintext).
const TlsMaterial& ProcessTls();

// Credentials from `m` (insecure ones when TLS is off). With m.roles the
// server's credentials check every call's role before its handler runs.
std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TlsMaterial& m);
std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TlsMaterial& m);

// OK when a server with `m` may bind `bind_address` ("host:port"): always
// with TLS; without it only a loopback host (127.0.0.0/8, ::1, localhost)
// unless m.insecure_allow_plaintext. FailedPrecondition naming the flags
// otherwise.
absl::Status CheckBindAllowed(const std::string& bind_address, const TlsMaterial& m);

}  // namespace kmend::rpc

#endif  // KMEND_LIB_RPC_TLS_H_
