// TcpListener: the receiving end of the Raft TCP connections
// (tcp_socket.h has the format and why). A tablet server's
// ConsensusService owns one and offers its port in RaftEndpoint; every
// frame read goes to `handle`, as a RaftMessageStream request would.
//
// Threads: one accepting ("raft-accept") and one reader per open
// connection ("raft-recv"): a peer server keeps one connection, so the
// count follows the number of peer servers, never the number of replicas,
// and is capped at kMaxConnections (a further connection is closed at
// once). The reader handles each frame on its own thread, holding the
// messages the frame's inline Readies send (lib/consensus/held_sends.h),
// so a follower's acknowledgement leaves from the thread that read the
// append: no hand-off on the way through.
//
// A connection whose magic or frame length is wrong is closed (a foreign
// or corrupt stream); the peer's transport reconnects. Raft tolerates the
// loss of what was in it.
//
// Thread safety: all methods are thread-safe. Shutdown (or the destructor)
// closes the listener and every connection and joins the threads; `handle`
// is not called after it returns.
#ifndef KMEND_SERVER_RAFT_TRANSPORT_TCP_LISTENER_H_
#define KMEND_SERVER_RAFT_TRANSPORT_TCP_LISTENER_H_

#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/tserver.pb.h"

namespace kmend::raft_transport {

class TcpListener {
 public:
  using Handler = std::function<void(const tserver::RaftMessageRequestPB&)>;
  static constexpr int kMaxConnections = 256;

  explicit TcpListener(Handler handle) : handle_(std::move(handle)) {}
  ~TcpListener() { Shutdown(); }
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Listens on `host` (an address of this machine, e.g. the RPC address's
  // host), on a port the kernel picks. Once.
  absl::Status Start(const std::string& host);
  // The port, or 0 before Start and after Shutdown.
  int port() const;
  int open_connections() const;
  void Shutdown();

 private:
  void AcceptLoop();
  void ReadLoop(int fd);
  // Joins the readers that have ended. Called by the accept thread.
  void ReapLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Handler handle_;
  mutable absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  int listen_fd_ ABSL_GUARDED_BY(mu_) = -1;
  int port_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread acceptor_;
  // Open connections (a reader closes its fd and leaves under mu_, so
  // Shutdown's shutdown() never hits a reused fd).
  std::set<int> conns_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> readers_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread::id> ended_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::raft_transport

#endif  // KMEND_SERVER_RAFT_TRANSPORT_TCP_LISTENER_H_
