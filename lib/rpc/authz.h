// Roles: who may call what. An identity (the common name of the caller's
// client certificate, verified by mutual TLS: lib/rpc/tls.h, or a bearer
// token a tool sends as "authorization: Bearer <token>" metadata) holds
// roles granted by a roles file the servers load (--roles_file); every RPC
// needs one role, checked before the call reaches its service
// (RoleAuthorizer is a gRPC AuthMetadataProcessor: a refused call never
// runs its handler).
//
//   read     GetStatus, ListTabletServers, ListTables, DescribeTable,
//            GetTabletLocations, Scan, Checksum, GetConsensusState,
//            GetTabletCopyProgress (ksck, status, scans, checksums)
//   write    Write (and everything read may do)
//   admin    config changes, UnsafeChangeConfig, StepDown, tablet copy and
//            catalog copy requests, CreateTablet/DeleteTablet (tombstone),
//            table and tserver registry changes (and everything write may do)
//   service  what servers call on each other: Raft, heartbeats, copy
//            sessions, and every admin RPC (the master drives re-replication)
//
// A method not in the table needs admin (fail closed).
//
// Roles file: one identity per line, `IDENTITY ROLE[,ROLE...]`; `#` starts
// a comment. A token is named by its SHA-256 (lowercase hex), never by its
// text, so the file holds no secret: `token_sha256=HEX ROLE[,ROLE...]
// [NAME]`; the caller's identity is then "token:NAME" (NAME defaults to
// the hash's first 12 digits). Example:
//   kmend-server  service
//   alice         admin
//   monitoring    read
//   token_sha256=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 admin ops-bot
//
// Identities as the audit log shows them (CallerIdentity): "cert:<CN>",
// "token:<NAME>", "anonymous (<peer>)".
//
// Thread safety: immutable after construction; safe from any thread.
#ifndef KMEND_LIB_RPC_AUTHZ_H_
#define KMEND_LIB_RPC_AUTHZ_H_

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/security/auth_metadata_processor.h"

namespace kmend::rpc {

enum class Role { kRead, kWrite, kAdmin, kService };

const char* RoleName(Role role);

// The role `method` ("/kmend.tserver.ConsensusService/UnsafeChangeConfig")
// needs.
Role RequiredRole(absl::string_view method);

// Who holds which roles: certificate identities by common name, tokens by
// "token:NAME"; token_identity maps a token's SHA-256 (hex) to its
// "token:NAME".
struct RoleMap {
  std::map<std::string, std::set<Role>> by_identity;
  std::map<std::string, std::string> token_identity;
};

// SHA-256 of `token`, lowercase hex (what a roles file names it by).
std::string TokenSha256Hex(absl::string_view token);

// Parses a roles file's text; errors name `path` and the line.
absl::StatusOr<RoleMap> ParseRoles(absl::string_view text, absl::string_view path);
absl::StatusOr<RoleMap> LoadRolesFile(const std::string& path);

// OK when `identity`'s roles allow `method`; PermissionDenied naming the
// identity, its roles, the method and the role it needs otherwise.
absl::Status Authorize(const RoleMap& roles, absl::string_view identity, absl::string_view method);

// Called (from gRPC's threads) for every call the role check refuses, with
// the caller's identity (as CallerIdentity shows it), the method and the
// reason; servers use it to audit refused admin calls. Set once at startup.
using RefusalObserver = std::function<void(const std::string& identity, const std::string& method,
                                           const std::string& reason)>;
void SetRefusalObserver(RefusalObserver observer);

// The identity a server authenticated for a call: "cert:<CN>",
// "token:<NAME>", or "anonymous (<peer>)" on a server without TLS.
std::string CallerIdentity(const grpc::ServerContextBase& context);

// The check, run by gRPC on every call of a TLS server before the handler.
// The identity is the token's when the call carries one (it names the tool's
// user explicitly), else the client certificate's common name; a call with
// neither, or a token the roles file does not name, is UNAUTHENTICATED.
class RoleAuthorizer : public grpc::AuthMetadataProcessor {
 public:
  explicit RoleAuthorizer(std::shared_ptr<const RoleMap> roles) : roles_(std::move(roles)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status Process(const InputMetadata& auth_metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed_auth_metadata,
                       OutputMetadata* response_metadata) override;

 private:
  const std::shared_ptr<const RoleMap> roles_;
};

}  // namespace kmend::rpc

#endif  // KMEND_LIB_RPC_AUTHZ_H_
