#include "lib/rpc/tls.h"

#include <stdlib.h>

#include <fstream>
#include <map>
#include <memory>
#include <iostream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kmend::rpc {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& path, absl::string_view flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": cannot be read"));
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string pem = ss.str();
  if (!absl::StrContains(pem, "-----BEGIN ")) {
    return absl::InvalidArgumentError(absl::StrCat(flag, " ", path, ": no PEM block"));
  }
  return pem;
}

// The token: the file's first line, surrounding whitespace trimmed.
absl::StatusOr<std::string> ReadToken(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat("--token_file ", path, ": cannot be read"));
  }
  std::string line;
  std::getline(in, line);
  absl::string_view t = absl::StripAsciiWhitespace(line);
  if (t.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("--token_file ", path, ": empty"));
  }
  return std::string(t);
}

// Sends the token on every call of a channel (gRPC sends call credentials
// only on channels whose security level allows it: TLS).
class TokenCredentials : public grpc::MetadataCredentialsPlugin {
 public:
  explicit TokenCredentials(std::string token) : header_("Bearer " + std::move(token)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status GetMetadata(grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
                           std::multimap<grpc::string, grpc::string>* metadata) override {
    metadata->insert({"authorization", header_});
    return grpc::Status::OK;
  }

 private:
  const std::string header_;
};

TlsOptions FromEnvironment() {
  auto get = [](const char* name) {
    const char* v = ::getenv(name);
    return std::string(v == nullptr ? "" : v);
  };
  TlsOptions o;
  o.cert_file = get("KMEND_TLS_CERT");
  o.key_file = get("KMEND_TLS_KEY");
  o.ca_file = get("KMEND_TLS_CA");
  o.token_file = get("KMEND_TOKEN_FILE");
  return o;
}

bool installed = false;
TlsMaterial& Process() {
  static TlsMaterial* m = new TlsMaterial();
  return *m;
}

// Loopback hosts: the ones a plaintext server may bind by default.
bool IsLoopbackHost(absl::string_view host) {
  if (!host.empty() && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

}  // namespace

absl::StatusOr<TlsMaterial> LoadTls(const TlsOptions& options) {
  TlsMaterial m;
  m.insecure_allow_plaintext = options.insecure_allow_plaintext;
  if (!options.enabled()) {
    if (!options.roles_file.empty()) {
      return absl::InvalidArgumentError(
          "--roles_file needs TLS (--tls_cert, --tls_key, --tls_ca): identities come from "
          "client certificates");
    }
    return m;
  }
  if (!options.roles_file.empty()) {
    absl::StatusOr<RoleMap> roles = LoadRolesFile(options.roles_file);
    if (!roles.ok()) return roles.status();
    m.roles = std::make_shared<const RoleMap>(std::move(*roles));
  }
  const bool token = !options.token_file.empty();
  if (token && options.ca_file.empty()) {
    return absl::InvalidArgumentError(
        "--token_file needs --tls_ca: a token is sent only over TLS to a server the CA vouches for");
  }
  // With a token the client certificate is optional, but half of one is
  // still a mistake.
  const bool cert_given = !options.cert_file.empty() || !options.key_file.empty();
  if (!token || cert_given) {
    for (auto [value, flag] : {std::pair<const std::string*, const char*>{&options.cert_file,
                                                                          "--tls_cert"},
                               {&options.key_file, "--tls_key"},
                               {&options.ca_file, "--tls_ca"}}) {
      if (value->empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "TLS needs --tls_cert, --tls_key and --tls_ca together; ", flag, " is missing"));
      }
    }
    absl::StatusOr<std::string> cert = ReadPem(options.cert_file, "--tls_cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem(options.key_file, "--tls_key");
    if (!key.ok()) return key.status();
    m.cert_pem = std::move(*cert);
    m.key_pem = std::move(*key);
  }
  absl::StatusOr<std::string> ca = ReadPem(options.ca_file, "--tls_ca");
  if (!ca.ok()) return ca.status();
  if (token) {
    absl::StatusOr<std::string> t = ReadToken(options.token_file);
    if (!t.ok()) return t.status();
    m.token = std::move(*t);
  }
  m.enabled = true;
  m.ca_pem = std::move(*ca);
  return m;
}

absl::Status SetProcessTls(const TlsOptions& options) {
  absl::StatusOr<TlsMaterial> m = LoadTls(options);
  if (!m.ok()) return m.status();
  Process() = std::move(*m);
  installed = true;
  return absl::OkStatus();
}

const TlsMaterial& ProcessTls() {
  if (!installed) {
    installed = true;
    absl::StatusOr<TlsMaterial> m = LoadTls(FromEnvironment());
    if (!m.ok()) {
      std::cerr << "KMEND_TLS_* environment: " << m.status().message() << std::endl;
      std::abort();
    }
    Process() = std::move(*m);
  }
  return Process();
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(const TlsMaterial& m) {
  if (!m.enabled) return grpc::InsecureServerCredentials();
  // With roles a token may stand in for the client certificate, so the
  // handshake asks for one without requiring it (one given must still
  // verify); RoleAuthorizer refuses a call with neither.
  grpc::SslServerCredentialsOptions o(
      m.roles != nullptr ? GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY
                         : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  o.pem_root_certs = m.ca_pem;
  o.pem_key_cert_pairs.push_back({m.key_pem, m.cert_pem});
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::SslServerCredentials(o);
  if (m.roles != nullptr) {
    creds->SetAuthMetadataProcessor(std::make_shared<RoleAuthorizer>(m.roles));
  }
  return creds;
}

std::shared_ptr<grpc::ChannelCredentials> ChannelCredentials(const TlsMaterial& m) {
  if (!m.enabled) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = m.ca_pem;
  o.pem_private_key = m.key_pem;
  o.pem_cert_chain = m.cert_pem;
  std::shared_ptr<grpc::ChannelCredentials> ssl = grpc::SslCredentials(o);
  if (m.token.empty()) return ssl;
  return grpc::CompositeChannelCredentials(
      ssl, grpc::MetadataCredentialsFromPlugin(std::make_unique<TokenCredentials>(m.token)));
}

absl::Status CheckBindAllowed(const std::string& bind_address, const TlsMaterial& m) {
  if (m.enabled || m.insecure_allow_plaintext) return absl::OkStatus();
  const size_t colon = bind_address.rfind(':');
  const std::string host = colon == std::string::npos ? bind_address : bind_address.substr(0, colon);
  if (IsLoopbackHost(host)) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to serve plaintext RPCs on ", bind_address,
      " (not loopback): give --tls_cert, --tls_key and --tls_ca (kmend cert init makes them), "
      "or --insecure_allow_plaintext to accept that anyone who reaches the port may act"));
}

}  // namespace kmend::rpc
