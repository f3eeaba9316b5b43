#include "server/common/rpc_server.h"

#include "absl/strings/str_cat.h"
#include "lib/io/file.h"
#include "lib/rpc/tls.h"
#include "server/common/audit_interceptor.h"
#include "server/common/grpc_util.h"

namespace kmend::server {

RpcServer::~RpcServer() { Shutdown(std::chrono::milliseconds(0)); }

absl::Status RpcServer::Start(const std::string& bind_address,
                              const std::vector<grpc::Service*>& services,
                              const std::string& port_file) {
  auto hp = ParseHostPort(bind_address);
  if (!hp.ok()) return hp.status();
  // TLS when the process has it (lib/rpc/tls.h); plaintext only on loopback
  // unless explicitly allowed.
  const rpc::TlsMaterial& tls = rpc::ProcessTls();
  if (absl::Status s = rpc::CheckBindAllowed(bind_address, tls); !s.ok()) return s;
  grpc::ServerBuilder builder;
  int selected_port = 0;
  builder.AddListeningPort(bind_address, rpc::ServerCredentials(tls), &selected_port);
  // The message size limit of every kmend service (hostile input: a peer
  // cannot make us buffer more than this per message). Tablet copy chunks
  // are up to 4 MiB plus framing; catalog copy snapshots stay below it.
  builder.SetMaxReceiveMessageSize(64 << 20);
  builder.SetMaxSendMessageSize(64 << 20);
  // A second process must not share our port (grpc sets SO_REUSEPORT by
  // default, which would let two servers bind the same fixed port).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  rpc::AddServerKeepaliveArgs(&builder);
  for (grpc::Service* s : services) builder.RegisterService(s);
  if (!audit_root_.empty()) {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> audit;
    audit.push_back(std::make_unique<AuditInterceptorFactory>(audit_root_));
    builder.experimental().SetInterceptorCreators(std::move(audit));
    InstallRefusalAudit(audit_root_);
  }
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || selected_port == 0) {
    server_.reset();
    return absl::UnavailableError(
        absl::StrCat("could not bind RPC server to ", bind_address,
                     " (address in use or not local?)"));
  }
  port_ = selected_port;
  address_ = *hp;
  address_.set_port(static_cast<uint32_t>(port_));
  if (!port_file.empty()) {
    absl::Status s = io::WriteFileAtomically(port_file, absl::StrCat(port_, "\n"));
    if (!s.ok()) {
      Shutdown(std::chrono::milliseconds(0));
      return s;
    }
  }
  return absl::OkStatus();
}

void RpcServer::Shutdown(std::chrono::milliseconds grace) {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() + grace);
  server_->Wait();
  server_.reset();
}

}  // namespace kmend::server
