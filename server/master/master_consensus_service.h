// ConsensusService on a master, for the sys-catalog tablet only
// (raft_catalog_store.h): RaftMessage delivers the catalog's Raft messages to
// this master's replica; GetConsensusState, ChangeConfig and
// UnsafeChangeConfig are the tablet server's calls with the same contracts
// (proto/tserver.proto), so the tools that probe, grow or force a tablet's
// config (lib/recover/force_config.h, lib/recover/master_membership.h) work
// on the catalog too: `kmend master unsafe-change-config` after two of
// three masters are lost, `kmend master add` to grow the config again.
// StepDown, StartTabletCopy and GetTabletCopyProgress stay UNIMPLEMENTED
// (catalog copy has its own service, catalog_copy_service.h).
//
// Thread safety: gRPC calls it concurrently; SetDriver from any thread.
// Lifetime: a driver given to SetDriver is kept alive by the service until
// replaced; Receive after the driver's Shutdown is refused by the driver.
#ifndef KMEND_SERVER_MASTER_MASTER_CONSENSUS_SERVICE_H_
#define KMEND_SERVER_MASTER_MASTER_CONSENSUS_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "lib/consensus/raft_driver.h"
#include "proto/tserver.grpc.pb.h"
#include "server/raft_transport/raft_stream_server.h"

namespace kmend::master {

// RaftMessageStream is served with gRPC's callback API, every other method
// with the sync API.
class MasterConsensusService final
    : public tserver::ConsensusService::WithCallbackMethod_RaftMessageStream<
          tserver::ConsensusService::Service> {
 public:
  // `tick_ms`: the catalog's Raft tick, to report ms_since_leader_contact.
  // Admin calls are audited by the RPC server
  // (server/common/audit_interceptor.h).
  MasterConsensusService(std::string uuid, int64_t tick_ms)
      : uuid_(std::move(uuid)), tick_ms_(tick_ms) {}

  void SetDriver(std::shared_ptr<consensus_driver::RaftDriver> driver);

  grpc::Status RaftMessage(grpc::ServerContext* ctx, const tserver::RaftMessageRequestPB* req,
                           tserver::RaftMessageResponsePB* resp) override;
  // Each request handled as RaftMessage handles one
  // (raft_transport/raft_stream_server.h).
  grpc::ServerReadReactor<tserver::RaftMessageRequestPB>* RaftMessageStream(
      grpc::CallbackServerContext* ctx, tserver::RaftMessageResponsePB* resp) override;
  // Ends the open RaftMessageStreams and refuses new ones (before the RPC
  // server's graceful Shutdown).
  void StopStreams() { streams_.Shutdown(); }
  grpc::Status GetConsensusState(grpc::ServerContext* ctx,
                                 const tserver::GetConsensusStateRequestPB* req,
                                 tserver::GetConsensusStateResponsePB* resp) override;
  grpc::Status ChangeConfig(grpc::ServerContext* ctx, const tserver::ChangeConfigRequestPB* req,
                            tserver::ChangeConfigResponsePB* resp) override;
  grpc::Status UnsafeChangeConfig(grpc::ServerContext* ctx,
                                  const tserver::UnsafeChangeConfigRequestPB* req,
                                  tserver::UnsafeChangeConfigResponsePB* resp) override;

 private:
  // The driver, or UNAVAILABLE while the catalog is not open (peer
  // discovery, catalog copy); NOT_FOUND for another tablet id.
  grpc::Status Driver(const std::string& tablet_id,
                      std::shared_ptr<consensus_driver::RaftDriver>* out);

  const std::string uuid_;
  const int64_t tick_ms_;
  absl::Mutex mu_;
  std::shared_ptr<consensus_driver::RaftDriver> driver_ ABSL_GUARDED_BY(mu_);
  raft_transport::RaftStreamServer streams_;
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_MASTER_CONSENSUS_SERVICE_H_
