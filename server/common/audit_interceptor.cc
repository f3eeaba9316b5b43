#include "server/common/audit_interceptor.h"

#include <map>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "google/protobuf/text_format.h"
#include "lib/audit/audit_log.h"
#include "lib/rpc/authz.h"
#include "server/common/logger.h"

namespace kmend::server {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr size_t kSummaryBytesMax = 1000;

std::string Summary(const google::protobuf::Message& m) {
  std::string text;
  google::protobuf::TextFormat::Printer printer;
  printer.SetSingleLineMode(true);
  printer.SetTruncateStringFieldLongerThan(64);  // row data, snapshots
  printer.PrintToString(m, &text);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (text.size() > kSummaryBytesMax) {
    text = absl::StrCat(text.substr(0, kSummaryBytesMax), "...");
  }
  return text;
}

// The value of a top-level string field `name`, if `m` has one.
std::string StringField(const google::protobuf::Message& m, const char* name) {
  const google::protobuf::FieldDescriptor* f = m.GetDescriptor()->FindFieldByName(name);
  if (f == nullptr || f->is_repeated() ||
      (f->type() != google::protobuf::FieldDescriptor::TYPE_STRING &&
       f->type() != google::protobuf::FieldDescriptor::TYPE_BYTES)) {
    return "";
  }
  // Escaped: a hostile caller's bytes stay one printable line.
  return absl::CHexEscape(m.GetReflection()->GetString(m, f));
}

// "/kmend.tserver.ConsensusService/UnsafeChangeConfig" -> "UnsafeChangeConfig"
std::string MethodName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string Outcome(const grpc::Status& s) {
  if (s.ok()) return "OK";
  static const char* kNames[] = {"OK",
                                 "CANCELLED",
                                 "UNKNOWN",
                                 "INVALID_ARGUMENT",
                                 "DEADLINE_EXCEEDED",
                                 "NOT_FOUND",
                                 "ALREADY_EXISTS",
                                 "PERMISSION_DENIED",
                                 "RESOURCE_EXHAUSTED",
                                 "FAILED_PRECONDITION",
                                 "ABORTED",
                                 "OUT_OF_RANGE",
                                 "UNIMPLEMENTED",
                                 "INTERNAL",
                                 "UNAVAILABLE",
                                 "DATA_LOSS",
                                 "UNAUTHENTICATED"};
  const int code = static_cast<int>(s.error_code());
  const char* name = code >= 0 && code <= 16 ? kNames[code] : "?";
  return absl::StrCat(name, ": ", s.error_message());
}

class AuditInterceptor : public grpc::experimental::Interceptor {
 public:
  AuditInterceptor(grpc::experimental::ServerRpcInfo* info, const std::string& fs_root)
      : fs_root_(fs_root),
        method_(MethodName(info->method() ? info->method() : "")),
        ctx_(info->server_context()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE)) {
      const auto* req = static_cast<const google::protobuf::Message*>(methods->GetRecvMessage());
      if (req != nullptr) {
        record_.request = Summary(*req);
        record_.tablet_id = StringField(*req, "tablet_id");
        record_.caller = StringField(*req, "caller_id");
      }
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_MESSAGE)) {
      const auto* resp = static_cast<const google::protobuf::Message*>(methods->GetSendMessage());
      if (resp != nullptr) response_ = Summary(*resp);
    }
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      record_.action = audit::SnakeCase(method_);
      record_.identity = ctx_ == nullptr ? "" : rpc::CallerIdentity(*ctx_);
      record_.outcome = Outcome(status);
      std::multimap<std::string, std::string>* trailing = methods->GetSendTrailingMetadata();
      auto it = trailing == nullptr ? std::multimap<std::string, std::string>::iterator()
                                    : trailing->find(kAuditDetailKey);
      if (trailing != nullptr && it != trailing->end()) {
        record_.detail = it->second;
      } else if (status.ok()) {
        record_.detail = response_;
      }
      // The action happened (or not) already; a failed append is the
      // operator's to see in the log, not a reason to report the call failed.
      absl::Status s = audit::AppendAudit(fs_root_, record_);
      if (!s.ok()) KLOG(ERROR) << "audit log: " << method_ << ": " << s;
    }
    methods->Proceed();
  }

 private:
  const std::string& fs_root_;
  const std::string method_;
  grpc::ServerContextBase* const ctx_;
  audit::AuditRecord record_;
  std::string response_;
};

}  // namespace

grpc::experimental::Interceptor* AuditInterceptorFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  const char* method = info->method();
  if (method == nullptr || rpc::RequiredRole(method) != rpc::Role::kAdmin) {
    return nullptr;  // not audited: gRPC skips a null interceptor
  }
  return new AuditInterceptor(info, fs_root_);
}

void InstallRefusalAudit(const std::string& fs_root) {
  rpc::SetRefusalObserver([fs_root](const std::string& identity, const std::string& method,
                                    const std::string& reason) {
    if (rpc::RequiredRole(method) != rpc::Role::kAdmin) return;
    audit::AuditRecord r;
    r.action = audit::SnakeCase(MethodName(method));
    r.identity = identity;
    r.outcome = absl::StrCat("PERMISSION_DENIED: ", reason);
    absl::Status s = audit::AppendAudit(fs_root, r);
    if (!s.ok()) KLOG(ERROR) << "audit log: refused " << method << ": " << s;
  });
}

}  // namespace kmend::server
