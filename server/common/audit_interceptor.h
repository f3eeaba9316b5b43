// Audits every admin RPC a server serves (lib/audit/audit_log.h): a gRPC
// server interceptor, so no handler can forget. A method is audited when it
// needs the admin role (lib/rpc/authz.h: config changes, unsafe config
// change, tablet and catalog copy starts, tablet create/delete, table and
// tablet-server registry changes, maintenance; anything not listed there),
// whoever calls it: an operator's tool or the leader master driving
// re-replication (identity kmend-server).
//
// One line per call, appended and fsynced before its status goes back to
// the caller: the identity the server authenticated (rpc::CallerIdentity),
// the method, the request's tablet_id and caller_id fields when it has
// them, the request (protobuf text, one line, truncated), the outcome, and
// as detail the handler's own account when it gives one (trailing metadata
// kAuditDetailKey, e.g. the op index a force was written at) or else the
// answer. Calls the role check refused never reach a handler or an
// interceptor: InstallRefusalAudit records those.
//
// Thread safety: the factory is immutable; one interceptor per call.
#ifndef KMEND_SERVER_COMMON_AUDIT_INTERCEPTOR_H_
#define KMEND_SERVER_COMMON_AUDIT_INTERCEPTOR_H_

#include <memory>
#include <string>

#include "grpcpp/grpcpp.h"
#include "grpcpp/support/server_interceptor.h"

namespace kmend::server {

// Trailing metadata a handler sets to say what it did, for the audit line.
inline constexpr char kAuditDetailKey[] = "kmend-audit-detail";

class AuditInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit AuditInterceptorFactory(std::string fs_root) : fs_root_(std::move(fs_root)) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override;

 private:
  const std::string fs_root_;
};

// Makes the role check (lib/rpc/authz.h) append a line to `fs_root`'s audit
// log for every admin call it refuses, with outcome PERMISSION_DENIED.
void InstallRefusalAudit(const std::string& fs_root);

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_AUDIT_INTERCEPTOR_H_
