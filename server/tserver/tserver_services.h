// The tablet server's gRPC services over its TabletManager:
// TabletServerService and ConsensusService (proto/tserver.proto); the
// TabletCopyService is server/tablet_copy's. Only translation lives here;
// what a replica can do is TabletReplica's business. A Raft message for a
// hosted replica that does not run Raft (e.g. TOMBSTONED) is refused with
// FAILED_PRECONDITION naming the replica's state.
//
// Thread safety: called concurrently by gRPC; the manager is thread-safe.
// Lifetime: the manager outlives the services.
#ifndef KMEND_SERVER_TSERVER_TSERVER_SERVICES_H_
#define KMEND_SERVER_TSERVER_TSERVER_SERVICES_H_

#include <string>

#include "lib/consensus/peer_liveness.h"
#include "proto/tserver.grpc.pb.h"
#include "server/raft_transport/raft_stream_server.h"
#include "server/raft_transport/tcp_listener.h"
#include "server/tserver/ack_log.h"
#include "server/tserver/raft_router.h"
#include "server/tserver/replica_rebuilder.h"
#include "server/tserver/tablet_manager.h"

namespace kmend::tserver {

// Write is served with gRPC's callback API and answered from the Raft apply
// (TabletReplica::WriteAsync): no gRPC thread waits for a commit. It takes
// the raw bytes and parses them itself: the typed callback handler answers
// a request it cannot parse with a bare UNIMPLEMENTED, where an operator
// needs the field (the sync API names it too). Every other method uses the
// sync API.
class TabletServerServiceImpl final
    : public TabletServerService::WithRawCallbackMethod_Write<TabletServerService::Service> {
 public:
  // `ack_log` (may be null: off) records each acknowledged Write; it
  // outlives the service.
  TabletServerServiceImpl(std::string uuid, TabletManager* manager, AckLog* ack_log = nullptr)
      : uuid_(std::move(uuid)), manager_(manager), ack_log_(ack_log) {}
  grpc::Status CreateTablet(grpc::ServerContext*, const CreateTabletRequestPB* req,
                            CreateTabletResponsePB* resp) override;
  grpc::Status DeleteTablet(grpc::ServerContext*, const DeleteTabletRequestPB* req,
                            DeleteTabletResponsePB* resp) override;
  grpc::ServerUnaryReactor* Write(grpc::CallbackServerContext* ctx,
                                  const grpc::ByteBuffer* request,
                                  grpc::ByteBuffer* response) override;
  grpc::Status Scan(grpc::ServerContext*, const ScanRequestPB* req,
                    ScanResponsePB* resp) override;
  grpc::Status Checksum(grpc::ServerContext*, const ChecksumRequestPB* req,
                        ChecksumResponsePB* resp) override;

 private:
  const std::string uuid_;
  TabletManager* const manager_;
  AckLog* const ack_log_;
};

// RaftMessageStream is served with gRPC's callback API, every other method
// with the sync API.
class ConsensusServiceImpl final
    : public ConsensusService::WithCallbackMethod_RaftMessageStream<ConsensusService::Service> {
 public:
  // `router` may be null (no replica runs Raft); otherwise messages for
  // tablets registered there are delivered to their drivers. Admin calls
  // are audited by the RPC server (server/common/audit_interceptor.h).
  // `rebuilder` may be null: StartTabletCopy is then UNIMPLEMENTED.
  // `liveness` may be null; otherwise every RaftMessage request records its
  // sender there (the per-server liveness of quiesced groups).
  ConsensusServiceImpl(std::string uuid, TabletManager* manager, RaftRouter* router = nullptr,
                       ReplicaRebuilder* rebuilder = nullptr,
                       consensus_driver::PeerLiveness* liveness = nullptr)
      : uuid_(std::move(uuid)),
        manager_(manager),
        router_(router),
        rebuilder_(rebuilder),
        liveness_(liveness) {}
  grpc::Status RaftMessage(grpc::ServerContext*, const RaftMessageRequestPB* req,
                           RaftMessageResponsePB* resp) override;
  // Each request of the stream handled as RaftMessage handles one
  // (raft_transport/raft_stream_server.h).
  grpc::ServerReadReactor<RaftMessageRequestPB>* RaftMessageStream(
      grpc::CallbackServerContext* ctx, RaftMessageResponsePB* resp) override;
  // Ends the open RaftMessageStreams and refuses new ones: call before the
  // RPC server's graceful Shutdown, which would otherwise wait its whole
  // grace for them.
  void StopStreams() {
    streams_.Shutdown();
    tcp_.Shutdown();
  }
  int open_raft_streams() const { return streams_.open_streams(); }
  // Takes Raft messages on a plain TCP port on `host` too, offered to peers
  // in RaftEndpoint (raft_transport/tcp_listener.h). Only without TLS: the
  // caller checks (the connection is plaintext).
  absl::Status StartRaftTcp(const std::string& host) { return tcp_.Start(host); }
  int open_raft_tcp_connections() const { return tcp_.open_connections(); }
  grpc::Status RaftEndpoint(grpc::ServerContext*, const RaftEndpointRequestPB* req,
                            RaftEndpointResponsePB* resp) override;
  grpc::Status ChangeConfig(grpc::ServerContext*, const ChangeConfigRequestPB* req,
                            ChangeConfigResponsePB* resp) override;
  grpc::Status UnsafeChangeConfig(grpc::ServerContext*, const UnsafeChangeConfigRequestPB* req,
                                  UnsafeChangeConfigResponsePB* resp) override;
  grpc::Status GetConsensusState(grpc::ServerContext*, const GetConsensusStateRequestPB* req,
                                 GetConsensusStateResponsePB* resp) override;
  grpc::Status StepDown(grpc::ServerContext*, const StepDownRequestPB* req,
                        StepDownResponsePB* resp) override;
  grpc::Status StartTabletCopy(grpc::ServerContext*, const StartTabletCopyRequestPB* req,
                               StartTabletCopyResponsePB* resp) override;
  grpc::Status GetTabletCopyProgress(grpc::ServerContext*,
                                     const GetTabletCopyProgressRequestPB* req,
                                     GetTabletCopyProgressResponsePB* resp) override;

 private:
  const std::string uuid_;
  TabletManager* const manager_;
  RaftRouter* const router_;
  ReplicaRebuilder* const rebuilder_;
  consensus_driver::PeerLiveness* const liveness_;
  raft_transport::RaftStreamServer streams_;
  raft_transport::TcpListener tcp_{[this](const RaftMessageRequestPB& req) {
    RaftMessageResponsePB ignored;
    (void)RaftMessage(nullptr, &req, &ignored);  // RaftMessage does not use its context
  }};
};

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_TSERVER_SERVICES_H_
