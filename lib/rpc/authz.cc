#include "lib/rpc/authz.h"

#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
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

}  // namespace

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
    if (words.size() != 2) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ":", line_no, ": expected IDENTITY ROLE[,ROLE...], found ", words.size(),
          " words"));
    }
    std::set<Role>& roles = out[std::string(words[0])];
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
  auto it = roles.find(std::string(identity));
  std::vector<std::string> held;
  if (it != roles.end()) {
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

grpc::Status RoleAuthorizer::Process(const InputMetadata& auth_metadata,
                                     grpc::AuthContext* context, OutputMetadata*,
                                     OutputMetadata*) {
  std::string method;
  auto path = auth_metadata.find(":path");
  if (path != auth_metadata.end()) method.assign(path->second.data(), path->second.size());
  std::string identity;
  for (const grpc::string_ref& cn : context->FindPropertyValues("x509_common_name")) {
    identity.assign(cn.data(), cn.size());
  }
  if (method.empty()) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "not authorized: the call names no method");
  }
  absl::Status s = Authorize(*roles_, identity, method);
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, std::string(s.message()));
}

}  // namespace kmend::rpc
