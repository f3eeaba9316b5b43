// A small client of the master's table RPCs for `kmend table`: tries each
// master address in order and uses the first that answers. A follower
// master answers UNAVAILABLE naming the leader (only the leader serves the
// catalog), and so does an unreachable one: both move on to the next address.
//
// Thread safety: thread-compatible (one command uses it).
#ifndef KMEND_TOOLS_TABLE_TABLE_CLIENT_H_
#define KMEND_TOOLS_TABLE_TABLE_CLIENT_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/master.grpc.pb.h"

namespace kmend::tools {

class TableClient {
 public:
  // `masters`: "host:port[,host:port]". `timeout`: deadline of each call.
  static absl::StatusOr<TableClient> Create(const std::string& masters,
                                            std::chrono::milliseconds timeout);

  absl::StatusOr<master::CreateTableResponsePB> CreateTable(
      const master::CreateTableRequestPB& req);
  absl::StatusOr<master::ListTablesResponsePB> ListTables(const std::string& filter);
  absl::StatusOr<master::DescribeTableResponsePB> DescribeTable(const std::string& name);
  absl::StatusOr<master::DeleteTableResponsePB> DeleteTable(const std::string& name);

 private:
  TableClient(std::vector<std::string> addresses, std::chrono::milliseconds timeout)
      : addresses_(std::move(addresses)), timeout_(timeout) {}

  // Runs `call` against each master until one is reachable; returns the
  // first non-UNAVAILABLE/DEADLINE_EXCEEDED answer, or an UNAVAILABLE
  // listing every master's error.
  absl::Status Call(const std::string& what,
                    const std::function<grpc::Status(master::MasterService::Stub*,
                                                     grpc::ClientContext*)>& call);

  std::vector<std::string> addresses_;
  std::chrono::milliseconds timeout_;
};

}  // namespace kmend::tools

#endif  // KMEND_TOOLS_TABLE_TABLE_CLIENT_H_
