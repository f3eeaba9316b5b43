// PeerTransport: lib/consensus's Transport to the other servers, over a
// plain TCP connection per peer (tablet servers without TLS, EnableTcp
// below) or ConsensusService.RaftMessageStream (masters, TLS clusters, and
// peers that offer no TCP port). One per server process, shared by every replica's RaftDriver (messages
// carry their tablet id): a tablet server's replicas, and a master's
// sys-catalog replica (the master's ConsensusService answers RaftMessage).
//
// Send never blocks: it appends the message to the destination server's
// queue. One sender thread per destination ("raft-send-<uuid prefix>")
// drains its queue in batches of up to max_batch messages and
// max_batch_bytes, each batch one request on a long-lived
// ConsensusService.RaftMessageStream to that server: no call set-up,
// metadata or role check per batch on either side, which a unary call per
// batch paid (docs/benchmarks.md, "Write path CPU"). The stream is reopened
// every stream_lifetime / 2 (its deadline is stream_lifetime, which bounds a
// write blocked on a stalled peer), after a failure, and when the address
// changes. A server without the stream method (UNIMPLEMENTED: an older
// build) gets unary RaftMessage calls bounded by rpc_timeout instead. Raft
// tolerates loss, so the transport drops rather than waits: a message to a
// server with no known address, a message arriving when that server's queue
// is full (the oldest queued one is dropped), and a batch whose write or RPC
// failed are all counted and dropped. A failure is followed by a short pause
// so a dead server does not turn its sender into a busy loop. A write that
// succeeded only means the batch was handed to the connection: errors the
// receiver finds in a request (a message for another server, a replica not
// running Raft) are not reported back on the stream.
//
// A stalled connection (a peer cut off by a partition) is closed by the
// channel's keepalive within 3 s (rpc::NewChannel): a write blocked on it
// fails, the stream is reopened on a fresh connection once the peer
// answers. Without it a write blocked at the cut stayed blocked after the
// heal until TCP's backed-off resend, 9-25 s (testing/nemesis/reconnect_test.cc).
//
// Liveness (EnableLiveness; docs/design/scale.md, "Quiescence"): every RPC
// carries this server's uuid (RaftMessageRequestPB.from_uuid), and a sender
// whose queue stayed empty for one interval sends an empty RaftMessage: one
// liveness call per peer server per interval, whatever the number of Raft
// groups, which the receiver records in its PeerLiveness.
//
// A plain TCP connection instead of the stream (EnableTcp; tablet servers
// turn it on, --raft_tcp): the sender asks the peer's RaftEndpoint for its
// TCP port and, if it offers one, writes frames (tcp_socket.h) on a
// connection to that port. Send then writes inline, on the caller's thread,
// with MSG_DONTWAIT: one syscall per batch and no wake-up of the sender
// thread; a thread holding its sends (lib/consensus/held_sends.h) writes
// each peer's messages as one frame when its hold ends. A write the socket
// cannot take at once leaves its rest to the sender thread, which finishes
// it while later Sends queue behind it (bounded: 4 x max_batch_bytes, then
// dropped). A frame carries at most max_batch_bytes. The sender thread also connects, reconnects (a new discovery:
// a restarted peer listens on a new port), sends the liveness frames and
// notices a peer that closed the connection. A peer without the method
// (UNIMPLEMENTED: an older build or a master) or offering no port (TLS on:
// the connection would be plaintext) gets the stream, and so does one whose
// offered port refused three connects in a row while its RPC port answered
// (a firewall), until its address changes. A process with TLS
// never asks.
//
// Addresses: SetPeerAddress(uuid, "host:port"), typically from the
// last_known_addr of the configs of the replicas this server hosts.
//
// Connections are made as soon as an address is known and kept up while
// idle (each sender asks its channel to connect every keep_connected
// interval): followers send each other nothing until one of them becomes a
// candidate, and its vote requests must not then wait for a TCP and TLS
// handshake. With the connection made lazily, a failover on a loaded TLS
// cluster often saw both survivors campaign within the handshake's delay
// and split the vote (8 of 31 trials needed a second election, none of 31
// plaintext ones: docs/benchmarks.md, issue 18).
//
// Thread safety: all methods are thread-safe. Lifetime: must outlive every
// driver using it; Shutdown (or the destructor) stops the senders, dropping
// what is queued.
#ifndef KMEND_SERVER_RAFT_TRANSPORT_PEER_TRANSPORT_H_
#define KMEND_SERVER_RAFT_TRANSPORT_PEER_TRANSPORT_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "lib/consensus/transport.h"
#include "proto/tserver.grpc.pb.h"

namespace kmend::raft_transport {

// A TCP connection's socket, closed when the last writer lets go (a
// failed connection is shut down at once, closed only then).
struct TcpConn;

class PeerTransport : public consensus_driver::Transport {
 public:
  struct Options {
    // Every group's heartbeats leave in one burst per tick (the drivers tick
    // on one grid, lib/consensus/raft_scheduler.h): one RPC should carry a
    // server's whole burst to a peer, thousands of small messages, so the
    // batch is bounded by bytes rather than by a small count (issue 15).
    size_t max_queued_per_peer = 16384;
    size_t max_batch = 4096;
    size_t max_batch_bytes = 4 << 20;
    std::chrono::milliseconds rpc_timeout{2000};
    // Deadline of one RaftMessageStream; reopened at half of it.
    std::chrono::milliseconds stream_lifetime{60000};
    std::chrono::milliseconds pause_after_failure{50};
    // How often an idle sender asks its channel to (re)connect.
    std::chrono::milliseconds keep_connected{1000};
  };
  struct Stats {
    int64_t sent = 0;                 // messages in successful writes/RPCs
    int64_t sent_tcp = 0;             // of which on a TCP connection
    int64_t tcp_frames = 0;           // frames written (liveness frames included)
    int64_t dropped_no_address = 0;
    int64_t dropped_queue_full = 0;
    int64_t dropped_rpc_failed = 0;
    int64_t liveness_calls = 0;       // empty RPCs sent (successful or not)
    int64_t tcp_fallbacks = 0;        // peers given the stream: TCP port unreachable
  };

  PeerTransport() : PeerTransport(Options()) {}
  explicit PeerTransport(Options options);
  ~PeerTransport() override;

  // Sets or changes where `uuid` listens. A changed address takes effect
  // from the next RPC.
  void SetPeerAddress(const std::string& uuid, const std::string& address);

  void Send(const std::string& to_uuid, const consensus::RaftMessagePB& msg) override;

  // Stamps requests with `self_uuid` and sends a liveness call to a peer
  // after `interval` without any RPC to it. Call before SetPeerAddress.
  void EnableLiveness(const std::string& self_uuid, std::chrono::milliseconds interval);

  // Uses peers' TCP endpoints where offered (the header says how). Call
  // before SetPeerAddress. Ignored in a process with TLS.
  void EnableTcp();

  void Shutdown();
  Stats stats() const;
  // Whether messages to `uuid` go over a TCP connection now.
  bool PeerOnTcp(const std::string& uuid) const;
  // Whether the connection to `uuid` is up (READY) now; false for an
  // unknown uuid. For tests and status pages.
  bool PeerConnected(const std::string& uuid) const;

 private:
  struct Peer {
    std::string address;
    std::deque<consensus::RaftMessagePB> queue;
    std::thread sender;
    // The sender's channel to `address` (set by the sender thread).
    std::shared_ptr<grpc::Channel> channel;
    // The open stream's context (owned by the sender thread, set and
    // cleared under mu_), so that Shutdown can cancel a write blocked on a
    // stalled peer.
    grpc::ClientContext* stream_ctx = nullptr;

    // TCP (EnableTcp). kDiscover: asking RaftEndpoint, or reconnecting;
    // Sends queue in `queue` meanwhile. kTcp: `conn` is up and Sends go to
    // `held`. kStream: the gRPC stream (or unary calls).
    enum class Mode { kDiscover, kTcp, kStream };
    Mode mode = Mode::kStream;
    std::shared_ptr<TcpConn> conn;
    tserver::RaftMessageRequestPB held;  // not yet written to conn
    size_t held_bytes = 0;
    std::chrono::steady_clock::time_point last_tcp_write;
    // Connects that failed in a row although RaftEndpoint answered.
    int tcp_connect_failures = 0;
  };
  void SenderLoop(const std::string& uuid);
  // One pass of the sender thread over a peer in kDiscover or kTcp mode.
  // `address` and `stub` are the sender's for p->address; `backoff` its
  // pause after a failed discovery or connect. Unlocks mu_ around I/O.
  void TcpSenderStep(const std::string& address, tserver::ConsensusService::Stub* stub, Peer* p,
                     std::chrono::milliseconds* backoff) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `held` (or, with `liveness`, an empty frame) if no other thread
  // is writing. Unlocks mu_ around the write.
  void FlushTcpLocked(Peer* p, bool liveness = false) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops a failed connection (if still p's) and what waits for it.
  // By value: callers pass p->conn itself, which this resets.
  void BreakTcpLocked(Peer* p, std::shared_ptr<TcpConn> conn) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StampLocked(tserver::RaftMessageRequestPB* req) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Peer>> peers_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  Stats stats_ ABSL_GUARDED_BY(mu_);
  std::string self_uuid_ ABSL_GUARDED_BY(mu_);
  // This process's incarnation (RaftMessageRequestPB.from_incarnation):
  // random, never 0, drawn once per transport (one per server process).
  const uint64_t incarnation_;
  std::chrono::milliseconds liveness_interval_ ABSL_GUARDED_BY(mu_){0};  // 0: off
  bool tcp_ ABSL_GUARDED_BY(mu_) = false;
  // After this many failed connects to an offered TCP port, the stream.
  static constexpr int kMaxTcpConnectFailures = 3;
  // Whether held flushes (Send under a HoldSends) may still run: they can
  // outlive the transport, so they hold a reference to this, not to it.
  struct Life {
    absl::Mutex mu;
    bool alive ABSL_GUARDED_BY(mu) = true;
  };
  const std::shared_ptr<Life> life_;
};

}  // namespace kmend::raft_transport

#endif  // KMEND_SERVER_RAFT_TRANSPORT_PEER_TRANSPORT_H_
