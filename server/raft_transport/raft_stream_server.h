// RaftStreamServer: the receiving end of ConsensusService.RaftMessageStream,
// shared by the tablet server's and the master's ConsensusService. A peer's
// PeerTransport keeps one such stream open per destination server and writes
// each batch of Raft messages on it (peer_transport.h): no call set-up,
// deadline, metadata or role check per batch, which a unary RaftMessage
// call per batch paid on both sides (docs/benchmarks.md, "Write path CPU").
//
// The stream is served with gRPC's callback API: each request is handed to
// `handle` on the gRPC thread that read it, with no thread of our own
// blocked per stream and no hand-off to one (a sync-API handler would wait
// in Read and be woken for every batch). `handle` must not block for long
// (it steps a Raft core under its lock and queues a Ready).
//
// A stream would hold a graceful server shutdown until its deadline (the
// peer never ends it), so the owner calls Shutdown first: it cancels every
// open stream and refuses new ones (UNAVAILABLE; the peer's transport
// retries, as after any failed call).
//
// Thread safety: all methods are thread-safe. Lifetime: must outlive the
// gRPC server's calls (Shutdown, then the server's Shutdown).
#ifndef KMEND_SERVER_RAFT_TRANSPORT_RAFT_STREAM_SERVER_H_
#define KMEND_SERVER_RAFT_TRANSPORT_RAFT_STREAM_SERVER_H_

#include <functional>
#include <set>

#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "proto/tserver.grpc.pb.h"

namespace kmend::raft_transport {

class RaftStreamServer {
 public:
  using Handler = std::function<void(const tserver::RaftMessageRequestPB&)>;

  RaftStreamServer() = default;
  RaftStreamServer(const RaftStreamServer&) = delete;
  RaftStreamServer& operator=(const RaftStreamServer&) = delete;

  // The reactor of one new stream (what a WithCallbackMethod_
  // RaftMessageStream service returns): reads requests until the client ends
  // the stream, it breaks, or Shutdown; each goes to `handle` in order (its
  // errors are dropped: Raft tolerates lost messages). The stream ends OK
  // when the client ended it. gRPC owns the reactor (it deletes itself when
  // done).
  grpc::ServerReadReactor<tserver::RaftMessageRequestPB>* Open(grpc::CallbackServerContext* ctx,
                                                               Handler handle);

  // Cancels the open streams and refuses new ones. Idempotent.
  void Shutdown();

  int open_streams() const;

 private:
  class Reactor;
  friend class Reactor;

  mutable absl::Mutex mu_;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  // Streams not yet done (a reactor leaves in its OnDone).
  std::set<grpc::CallbackServerContext*> open_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::raft_transport

#endif  // KMEND_SERVER_RAFT_TRANSPORT_RAFT_STREAM_SERVER_H_
