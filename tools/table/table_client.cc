#include "tools/table/table_client.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/net/host_port.h"
#include "lib/rpc/grpc_util.h"

namespace kmend::tools {

absl::StatusOr<TableClient> TableClient::Create(const std::string& masters,
                                                std::chrono::milliseconds timeout) {
  auto hps = net::ParseHostPorts(masters);
  if (!hps.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--masters: ", hps.status().message()));
  }
  std::vector<std::string> addrs;
  for (const auto& hp : *hps) addrs.push_back(net::HostPortToString(hp));
  return TableClient(std::move(addrs), timeout);
}

absl::Status TableClient::Call(
    const std::string& what,
    const std::function<grpc::Status(master::MasterService::Stub*, grpc::ClientContext*)>& call) {
  std::vector<std::string> errors;
  for (const std::string& addr : addresses_) {
    auto stub = master::MasterService::NewStub(rpc::NewChannel(addr));
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, timeout_);
    absl::Status s = rpc::FromGrpcStatus(call(stub.get(), &ctx),
                                            absl::StrCat(what, " at master ", addr));
    if (!absl::IsUnavailable(s) && !absl::IsDeadlineExceeded(s)) return s;
    errors.push_back(std::string(s.message()));
  }
  return absl::UnavailableError(
      absl::StrCat("no master reachable: ", absl::StrJoin(errors, "; ")));
}

absl::StatusOr<master::CreateTableResponsePB> TableClient::CreateTable(
    const master::CreateTableRequestPB& req) {
  master::CreateTableResponsePB resp;
  absl::Status s = Call("CreateTable", [&](auto* stub, auto* ctx) {
    return stub->CreateTable(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<master::ListTablesResponsePB> TableClient::ListTables(const std::string& filter) {
  master::ListTablesRequestPB req;
  req.set_name_filter(filter);
  master::ListTablesResponsePB resp;
  absl::Status s = Call("ListTables", [&](auto* stub, auto* ctx) {
    return stub->ListTables(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<master::DescribeTableResponsePB> TableClient::DescribeTable(
    const std::string& name) {
  master::DescribeTableRequestPB req;
  req.set_name(name);
  master::DescribeTableResponsePB resp;
  absl::Status s = Call("DescribeTable", [&](auto* stub, auto* ctx) {
    return stub->DescribeTable(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<master::DeleteTableResponsePB> TableClient::DeleteTable(const std::string& name) {
  master::DeleteTableRequestPB req;
  req.set_name(name);
  master::DeleteTableResponsePB resp;
  absl::Status s = Call("DeleteTable", [&](auto* stub, auto* ctx) {
    return stub->DeleteTable(ctx, req, &resp);
  });
  if (!s.ok()) return s;
  return resp;
}

}  // namespace kmend::tools
