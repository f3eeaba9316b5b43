// ConsensusService on a master: only RaftMessage, delivering the sys-catalog
// tablet's Raft messages (raft_catalog_store.h) to this master's replica.
// The other methods stay UNIMPLEMENTED: the masters' config is fixed at
// bootstrap (docs/design/server.md, "Replicated catalog").
//
// Thread safety: gRPC calls it concurrently; SetDriver from any thread.
// Lifetime: a driver given to SetDriver is kept alive by the service until
// replaced; Receive after the driver's Shutdown is refused by the driver.
#ifndef KMEND_SERVER_MASTER_MASTER_CONSENSUS_SERVICE_H_
#define KMEND_SERVER_MASTER_MASTER_CONSENSUS_SERVICE_H_

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "lib/consensus/raft_driver.h"
#include "proto/tserver.grpc.pb.h"

namespace kmend::master {

class MasterConsensusService final : public tserver::ConsensusService::Service {
 public:
  explicit MasterConsensusService(std::string uuid) : uuid_(std::move(uuid)) {}

  void SetDriver(std::shared_ptr<consensus_driver::RaftDriver> driver);

  grpc::Status RaftMessage(grpc::ServerContext* ctx, const tserver::RaftMessageRequestPB* req,
                           tserver::RaftMessageResponsePB* resp) override;

 private:
  const std::string uuid_;
  absl::Mutex mu_;
  std::shared_ptr<consensus_driver::RaftDriver> driver_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_MASTER_CONSENSUS_SERVICE_H_
