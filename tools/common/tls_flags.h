// The TLS flags of kmend-server and every kmend tool: --tls_cert, --tls_key,
// --tls_ca (PEM files; dashed aliases accepted); for tools --token_file (a
// bearer token sent as call metadata, lib/rpc/authz.h); for servers
// --insecure_allow_plaintext and --roles_file. Unset, the
// KMEND_TLS_CERT/KEY/CA and KMEND_TOKEN_FILE environment applies
// (lib/rpc/tls.h).
#ifndef KMEND_TOOLS_COMMON_TLS_FLAGS_H_
#define KMEND_TOOLS_COMMON_TLS_FLAGS_H_

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "lib/rpc/tls.h"

namespace kmend::tools {

// Adds the three PEM flags to `app`; with `server` also
// --insecure_allow_plaintext and --roles_file, without it --token_file.
void AddTlsFlags(CLI::App* app, rpc::TlsOptions* options, bool server);

// After parsing: installs `options` as the process's TLS configuration when
// any flag was given (otherwise the environment's stays in force).
absl::Status ApplyTlsFlags(const rpc::TlsOptions& options);

}  // namespace kmend::tools

#endif  // KMEND_TOOLS_COMMON_TLS_FLAGS_H_
