// A gRPC server bound to one address, with the port it actually bound
// published for whoever started the process (the test harness binds port 0
// and reads --port_file).
//
// Lifetime: services passed to Start must outlive the RpcServer (or at least
// its Shutdown). Thread safety: Start and Shutdown from one thread; port()
// and address() from any thread after Start.
#ifndef KMEND_SERVER_COMMON_RPC_SERVER_H_
#define KMEND_SERVER_COMMON_RPC_SERVER_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "grpcpp/grpcpp.h"
#include "proto/common.pb.h"

namespace kmend::server {

class RpcServer {
 public:
  RpcServer() = default;
  ~RpcServer();

  // Binds `bind_address` ("host:port", port 0 = any free port), registers
  // `services`, starts serving, and when `port_file` is not empty writes the
  // bound port (decimal, newline) to it atomically, so a reader never sees
  // a partial number. Unavailable when the address cannot be bound.
  // Before Start: audit every admin call to `fs_root`'s audit log
  // (audit_interceptor.h). Unset: no audit (tests' bare servers).
  void set_audit_root(std::string fs_root) { audit_root_ = std::move(fs_root); }

  absl::Status Start(const std::string& bind_address,
                     const std::vector<grpc::Service*>& services,
                     const std::string& port_file);

  // Stops accepting calls and waits for running ones; calls still running
  // after `grace` are cancelled. Idempotent.
  void Shutdown(std::chrono::milliseconds grace);

  int port() const { return port_; }
  // The bound address with the real port.
  const HostPortPB& address() const { return address_; }

 private:
  std::string audit_root_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  HostPortPB address_;
};

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_RPC_SERVER_H_
