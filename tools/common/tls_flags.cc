#include "tools/common/tls_flags.h"


namespace kmend::tools {

// Spelled out (not FlagWithDashedAlias: kmend-server links no cli.h).

void AddTlsFlags(CLI::App* app, rpc::TlsOptions* options, bool server) {
  app->add_option("--tls_cert,--tls-cert", options->cert_file,
                  "PEM certificate this process presents (with --tls_key, --tls_ca)")
      ->group("TLS");
  app->add_option("--tls_key,--tls-key", options->key_file,
                  "PEM private key of --tls_cert")
      ->group("TLS");
  app->add_option("--tls_ca,--tls-ca", options->ca_file,
                  "PEM CA certificate(s) peers must be signed by")
      ->group("TLS");
  if (!server) {
    app->add_option("--token_file,--token-file", options->token_file,
                    "File holding a bearer token sent on every call (needs --tls_ca; a client "
                    "certificate is then optional): servers map its SHA-256 to roles")
        ->group("TLS");
  }
  if (server) {
    app->add_flag("--insecure_allow_plaintext,--insecure-allow-plaintext",
                  options->insecure_allow_plaintext,
                  "Serve plaintext RPCs on a non-loopback address (anyone reaching the port "
                  "may act)")
        ->group("TLS");
    app->add_option("--roles_file,--roles-file", options->roles_file,
                    "Identities (client certificate common names) and their roles "
                    "(read, write, admin, service); absent: any certified caller may act")
        ->group("TLS");
  }
}

absl::Status ApplyTlsFlags(const rpc::TlsOptions& options) {
  if (!options.enabled() && !options.insecure_allow_plaintext && options.roles_file.empty()) {
    return absl::OkStatus();
  }
  return rpc::SetProcessTls(options);
}

}  // namespace kmend::tools
