#include "lib/rpc/authz.h"

#include <openssl/evp.h>
#include <string.h>

#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kmend::rpc {
namespace {

// Method (the last path component) -> role. Names are unique across kmend's
// services, so the service part is not needed to decide.
const std::map<std::string, Role, std::less<>>& MethodRoles() {
  static const auto* table = new std::map<std::string, Role, std::less<>>{
      // read
      {"GetStatus", Role::kRead},
      {"ListTabletServers", Role::kRead},
      {"ListTables", Role::kRead},
      {"DescribeTable", Role::kRead},
      {"GetTabletLocations", Role::kRead},
      {"Scan", Role::kRead},
      {"Checksum", Role::kRead},
      {"GetConsensusState", Role::kRead},
      {"GetTabletCopyProgress", Role::kRead},
      // write
      {"Write", Role::kWrite},
      // between servers
      {"RegisterTServer", Role::kService},
      {"Heartbeat", Role::kService},
      {"RaftMessage", Role::kService},
      {"RaftMessageStream", Role::kService},
      {"RaftEndpoint", Role::kService},
      {"BeginTabletCopySession", Role::kService},
      {"FetchData", Role::kService},
      {"EndTabletCopySession", Role::kService},
      {"BeginCatalogCopy", Role::kService},
      {"FetchCatalogCopyData", Role::kService},
      {"EndCatalogCopy", Role::kService},
      // admin (and anything not listed)
      {"UnregisterTServer", Role::kAdmin},
      {"CreateTable", Role::kAdmin},
      {"DeleteTable", Role::kAdmin},
      {"CreateTablet", Role::kAdmin},
      {"DeleteTablet", Role::kAdmin},
      {"ChangeConfig", Role::kAdmin},
      {"UnsafeChangeConfig", Role::kAdmin},
      {"StepDown", Role::kAdmin},
      {"StartTabletCopy", Role::kAdmin},
      {"StartCatalogCopy", Role::kAdmin},
  };
  return *table;
}

bool Grants(Role held, Role needed) {
  switch (held) {
    case Role::kService:
      return true;
    case Role::kAdmin:
      return needed != Role::kService;
    case Role::kWrite:
      return needed == Role::kWrite || needed == Role::kRead;
    case Role::kRead:
      return needed == Role::kRead;
  }
  return false;
}

constexpr char kTokenPrefix[] = "token_sha256=";
// The auth context property RoleAuthorizer sets: the identity as shown.
constexpr char kIdentityProperty[] = "kmend_identity";

bool IsSha256Hex(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::mutex& ObserverMu() {
  static std::mutex* mu = new std::mutex;
  return *mu;
}
RefusalObserver& Observer() {
  static RefusalObserver* o = new RefusalObserver;
  return *o;
}

}  // namespace

std::string TokenSha256Hex(absl::string_view token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(token.data(), token.size(), digest, &len, EVP_sha256(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) absl::StrAppendFormat(&hex, "%02x", digest[i]);
  return hex;
}

const char* RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kWrite:
      return "write";
    case Role::kAdmin:
      return "admin";
    case Role::kService:
      return "service";
  }
  return "?";
}

Role RequiredRole(absl::string_view method) {
  const size_t slash = method.rfind('/');
  if (slash != absl::string_view::npos) method = method.substr(slash + 1);
  auto it = MethodRoles().find(method);
  return it == MethodRoles().end() ? Role::kAdmin : it->second;
}

absl::StatusOr<RoleMap> ParseRoles(absl::string_view text, absl::string_view path) {
  RoleMap out;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = line.substr(0, line.find('#'));
    std::vector<absl::string_view> words =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (words.empty()) continue;
    const bool token = absl::StartsWith(words[0], kTokenPrefix);
    if (words.size() != 2 && !(token && words.size() == 3)) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_no, ": expected IDENTITY ROLE[,ROLE...] or ", kTokenPrefix,
          "HEX ROLE[,ROLE...] [NAME], found ", words.size(), " words"));
    }
    std::string identity(words[0]);
    if (token) {
      const absl::string_view hex = words[0].substr(strlen(kTokenPrefix));
      if (!IsSha256Hex(hex)) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ":", line_no, ": ", kTokenPrefix,
            " needs the token's SHA-256 as 64 lowercase hex digits (sha256sum TOKEN_FILE)"));
      }
      identity = absl::StrCat("token:", words.size() == 3 ? words[2] : hex.substr(0, 12));
      out.token_identity[std::string(hex)] = identity;
    } else if (absl::StartsWith(words[0], "token:")) {
      // Reserved: a certificate's common name never becomes a token identity.
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_no, ": identities starting with \"token:\" are reserved (name a token "
          "by ", kTokenPrefix, "HEX)"));
    }
    std::set<Role>& roles = out.by_identity[identity];
    for (absl::string_view r : absl::StrSplit(words[1], ',', absl::SkipEmpty())) {
      bool known = false;
      for (Role role : {Role::kRead, Role::kWrite, Role::kAdmin, Role::kService}) {
        if (r == RoleName(role)) {
          roles.insert(role);
          known = true;
        }
      }
      if (!known) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ":", line_no, ": unknown role \"", r, "\" (read, write, admin, service)"));
      }
    }
  }
  return out;
}

absl::StatusOr<RoleMap> LoadRolesFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("--roles_file ", path, ": cannot be read"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ParseRoles(ss.str(), path);
}

absl::Status Authorize(const RoleMap& roles, absl::string_view identity,
                       absl::string_view method) {
  const Role needed = RequiredRole(method);
  auto it = roles.by_identity.find(std::string(identity));
  std::vector<std::string> held;
  if (it != roles.by_identity.end()) {
    for (Role r : it->second) {
      if (Grants(r, needed)) return absl::OkStatus();
      held.push_back(RoleName(r));
    }
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "not authorized: identity \"", identity, "\" (roles: ",
      held.empty() ? "none" : absl::StrJoin(held, ","), ") may not call ", method, " (needs ",
      RoleName(needed), ")"));
}

void SetRefusalObserver(RefusalObserver observer) {
  std::lock_guard<std::mutex> lock(ObserverMu());
  Observer() = std::move(observer);
}

std::string CallerIdentity(const grpc::ServerContextBase& context) {
  std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
  if (auth != nullptr) {
    for (const grpc::string_ref& v : auth->FindPropertyValues(kIdentityProperty)) {
      return std::string(v.data(), v.size());
    }
    for (const grpc::string_ref& cn : auth->FindPropertyValues("x509_common_name")) {
      return absl::StrCat("cert:", absl::string_view(cn.data(), cn.size()));
    }
  }
  return absl::StrCat("anonymous (", context.peer(), ")");
}

grpc::Status RoleAuthorizer::Process(const InputMetadata& auth_metadata,
                                     grpc::AuthContext* context, OutputMetadata* consumed,
                                     OutputMetadata*) {
  std::string method;
  auto path = auth_metadata.find(":path");
  if (path != auth_metadata.end()) method.assign(path->second.data(), path->second.size());
  std::string cn;
  for (const grpc::string_ref& v : context->FindPropertyValues("x509_common_name")) {
    cn.assign(v.data(), v.size());
  }
  std::optional<std::string> token;
  auto auth = auth_metadata.find("authorization");
  if (auth != auth_metadata.end()) {
    absl::string_view value(auth->second.data(), auth->second.size());
    // Not passed on to the handler: the secret stops here.
    consumed->insert({"authorization", std::string(value)});
    if (absl::ConsumePrefix(&value, "Bearer ")) token = std::string(value);
  }
  auto refuse = [&](grpc::StatusCode code, const std::string& shown, const std::string& why) {
    RefusalObserver observer;
    {
      std::lock_guard<std::mutex> lock(ObserverMu());
      observer = Observer();
    }
    if (observer) observer(shown, method, why);
    return grpc::Status(code, why);
  };
  if (method.empty()) {
    return refuse(grpc::StatusCode::PERMISSION_DENIED, "", "not authorized: the call names no method");
  }
  std::string identity;  // the key into roles_->by_identity
  std::string shown;     // as the audit log shows it
  if (token) {
    const std::string hash = TokenSha256Hex(*token);
    auto it = roles_->token_identity.find(hash);
    if (it == roles_->token_identity.end()) {
      return refuse(grpc::StatusCode::UNAUTHENTICATED,
                    absl::StrCat("token (sha256 ", hash.substr(0, 12), "...)"),
                    absl::StrCat("not authorized: the token (sha256 ", hash.substr(0, 12),
                                 "...) is not in the server's roles file"));
    }
    identity = shown = it->second;
  } else if (!cn.empty()) {
    identity = cn;
    shown = absl::StrCat("cert:", cn);
  } else {
    return refuse(grpc::StatusCode::UNAUTHENTICATED, "anonymous",
                  "not authorized: no client certificate and no token (--token_file)");
  }
  absl::Status s = Authorize(*roles_, identity, method);
  if (!s.ok()) {
    return refuse(grpc::StatusCode::PERMISSION_DENIED, shown, std::string(s.message()));
  }
  context->AddProperty(kIdentityProperty, shown);
  return grpc::Status::OK;
}

}  // namespace kmend::rpc
