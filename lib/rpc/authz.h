// Roles: who may call what. An identity (the common name of the caller's
// client certificate, verified by mutual TLS: lib/rpc/tls.h) holds roles
// granted by a roles file the servers load (--roles_file); every RPC needs
// one role, checked before the call reaches its service (RoleAuthorizer is
// a gRPC AuthMetadataProcessor: a refused call never runs its handler).
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
// a comment. Example:
//   kmend-server  service
//   alice         admin
//   monitoring    read
//
// Thread safety: immutable after construction; safe from any thread.
#ifndef KMEND_LIB_RPC_AUTHZ_H_
#define KMEND_LIB_RPC_AUTHZ_H_

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

// identity -> roles.
using RoleMap = std::map<std::string, std::set<Role>>;

// Parses a roles file's text; errors name `path` and the line.
absl::StatusOr<RoleMap> ParseRoles(absl::string_view text, absl::string_view path);
absl::StatusOr<RoleMap> LoadRolesFile(const std::string& path);

// OK when `identity`'s roles allow `method`; PermissionDenied naming the
// identity, its roles, the method and the role it needs otherwise.
absl::Status Authorize(const RoleMap& roles, absl::string_view identity, absl::string_view method);

// The check, run by gRPC on every call of a TLS server before the handler.
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
