#include "server/raft_transport/peer_transport.h"

#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <random>
#include <vector>

#include "lib/consensus/held_sends.h"
#include "lib/net/host_port.h"
#include "lib/rpc/grpc_util.h"
#include "lib/rpc/tls.h"
#include "server/raft_transport/tcp_socket.h"

namespace kmend::raft_transport {

namespace {

uint64_t NewIncarnation() {
  std::random_device rd;
  std::mt19937_64 g((uint64_t{rd()} << 32) ^ rd() ^
                    static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  uint64_t v = 0;
  while (v == 0) v = g();
  return v;
}

}  // namespace

// One connection. Its writer state belongs to it, not to the peer: a writer
// still busy with a connection that was replaced must not touch the new
// one's (both guarded by the transport's mu_).
struct TcpConn {
  explicit TcpConn(int fd) : fd(fd) {}
  ~TcpConn() { close(fd); }
  const int fd;
  // A thread is writing on it: it also writes the peer's `held` before it
  // stops, so frames never interleave.
  bool writing = false;
  // The unwritten rest of a frame a non-blocking write could not finish;
  // while non-empty the sender thread is the writer (writing stays set).
  std::string backlog;
};

PeerTransport::PeerTransport(Options options)
    : options_(options), incarnation_(NewIncarnation()), life_(std::make_shared<Life>()) {}

PeerTransport::~PeerTransport() { Shutdown(); }

void PeerTransport::SetPeerAddress(const std::string& uuid, const std::string& address) {
  absl::MutexLock lock(&mu_);
  if (stop_) return;
  auto& peer = peers_[uuid];
  if (peer == nullptr) {
    peer = std::make_unique<Peer>();
    peer->address = address;
    if (tcp_) peer->mode = Peer::Mode::kDiscover;
    peer->sender = std::thread([this, uuid] {
      // Named so profiles tell it from gRPC's threads (it would inherit the
      // name of the RPC thread that created it).
      pthread_setname_np(pthread_self(), ("raft-send-" + uuid.substr(0, 5)).c_str());
      SenderLoop(uuid);
    });
  } else {
    peer->address = address;
  }
}

void PeerTransport::Send(const std::string& to_uuid, const consensus::RaftMessagePB& msg) {
  absl::MutexLock lock(&mu_);
  if (stop_) return;
  auto it = peers_.find(to_uuid);
  if (it == peers_.end()) {
    ++stats_.dropped_no_address;
    return;
  }
  Peer& p = *it->second;
  if (p.mode == Peer::Mode::kTcp && p.conn != nullptr) {
    if (p.held_bytes >= 4 * options_.max_batch_bytes) {
      ++stats_.dropped_queue_full;  // the peer does not keep up
      return;
    }
    consensus::RaftMessagePB* m = p.held.add_messages();
    *m = msg;
    m->set_to_uuid(to_uuid);
    p.held_bytes += m->ByteSizeLong();
    if (consensus_driver::HoldSends::Active()) {
      // The flush may run after this transport is gone (a scheduler worker
      // holds across Readies of every server in the process): it checks
      // `life_`, which Shutdown clears while no flush runs.
      Peer* pp = &p;
      consensus_driver::HoldSends::AtEnd(pp, [this, pp, life = life_] {
        absl::MutexLock alive(&life->mu);
        if (!life->alive) return;
        absl::MutexLock l(&mu_);
        if (!stop_) FlushTcpLocked(pp);
      });
      return;
    }
    FlushTcpLocked(&p);
    return;
  }
  if (p.queue.size() >= options_.max_queued_per_peer) {
    // Newer messages supersede older ones (later terms, later commit
    // indexes), so the oldest goes.
    p.queue.pop_front();
    ++stats_.dropped_queue_full;
  }
  p.queue.push_back(msg);
  p.queue.back().set_to_uuid(to_uuid);
}

void PeerTransport::EnableLiveness(const std::string& self_uuid,
                                   std::chrono::milliseconds interval) {
  absl::MutexLock lock(&mu_);
  self_uuid_ = self_uuid;
  liveness_interval_ = interval;
}

void PeerTransport::EnableTcp() {
  absl::MutexLock lock(&mu_);
  tcp_ = !rpc::ProcessTls().enabled;
}

void PeerTransport::StampLocked(tserver::RaftMessageRequestPB* req) const {
  if (!self_uuid_.empty()) {
    req->set_from_uuid(self_uuid_);
    req->set_from_incarnation(incarnation_);
  }
}

void PeerTransport::FlushTcpLocked(Peer* p, bool liveness) {
  const std::shared_ptr<TcpConn> conn = p->conn;
  if (conn == nullptr || conn->writing) return;
  if (p->held.messages_size() == 0 && !liveness) return;
  conn->writing = true;
  while (true) {
    // At most max_batch_bytes per frame (the first message always goes),
    // far below the receiver's kMaxFrameBytes.
    tserver::RaftMessageRequestPB req;
    if (p->held_bytes <= options_.max_batch_bytes) {
      req.Swap(&p->held);
      p->held_bytes = 0;
    } else {
      int n = 0;
      size_t bytes = 0;
      while (n < p->held.messages_size()) {
        const size_t size = p->held.messages(n).ByteSizeLong();
        if (n > 0 && bytes + size > options_.max_batch_bytes) break;
        bytes += size;
        ++n;
      }
      for (int i = 0; i < n; ++i) *req.add_messages() = std::move(*p->held.mutable_messages(i));
      p->held.mutable_messages()->DeleteSubrange(0, n);
      p->held_bytes = bytes >= p->held_bytes ? 0 : p->held_bytes - bytes;
    }
    StampLocked(&req);
    const int n = req.messages_size();
    mu_.Unlock();
    std::string frame;
    tcp::AppendFrame(req, &frame);
    size_t done = 0;
    bool failed = false;
    while (done < frame.size()) {
      const ssize_t w = send(conn->fd, frame.data() + done, frame.size() - done,
                             MSG_DONTWAIT | MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EINTR) continue;
        failed = errno != EAGAIN && errno != EWOULDBLOCK;
        break;
      }
      done += static_cast<size_t>(w);
    }
    mu_.Lock();
    if (failed || p->conn != conn) {
      stats_.dropped_rpc_failed += n;
      conn->writing = false;
      BreakTcpLocked(p, conn);
      return;
    }
    stats_.sent += n;
    stats_.sent_tcp += n;
    ++stats_.tcp_frames;
    p->last_tcp_write = std::chrono::steady_clock::now();
    if (done < frame.size()) {
      // The socket is full: the sender thread writes the rest, and what is
      // held meanwhile after it (`writing` stays set until then).
      conn->backlog = frame.substr(done);
      return;
    }
    if (p->held.messages_size() == 0) {
      conn->writing = false;
      return;
    }
  }
}

void PeerTransport::BreakTcpLocked(Peer* p, std::shared_ptr<TcpConn> conn) {
  if (conn == nullptr || p->conn != conn) return;  // already broken
  ::shutdown(conn->fd, SHUT_RDWR);  // a blocked writer returns; closed by the last user
  p->conn.reset();
  p->mode = Peer::Mode::kDiscover;
  stats_.dropped_rpc_failed += p->held.messages_size();
  p->held.Clear();
  p->held_bytes = 0;
  conn->backlog.clear();
}

void PeerTransport::SenderLoop(const std::string& uuid) {
  using Clock = std::chrono::steady_clock;
  std::string address;
  std::unique_ptr<tserver::ConsensusService::Stub> stub;
  auto last_rpc = Clock::now();
  // The open stream (null: none), when it was opened, and whether the peer
  // lacks the method (then unary calls).
  std::unique_ptr<grpc::ClientContext> stream_ctx;
  std::unique_ptr<grpc::ClientWriter<tserver::RaftMessageRequestPB>> stream;
  tserver::RaftMessageResponsePB stream_resp;
  Clock::time_point stream_opened;
  bool unary_only = false;
  // Ends the stream and returns its status. kGraceful half-closes it and
  // waits for the server's answer; kCancel cancels it; kFailed collects the
  // status of a stream whose write failed (a cancel first could hide the
  // server's UNIMPLEMENTED).
  enum class Close { kGraceful, kCancel, kFailed };
  auto close_stream = [&](Close how) {
    {
      absl::MutexLock lock(&mu_);
      peers_.at(uuid)->stream_ctx = nullptr;
    }
    grpc::Status st;
    if (stream != nullptr) {
      if (how == Close::kGraceful) {
        stream->WritesDone();
      } else if (how == Close::kCancel) {
        stream_ctx->TryCancel();
      }
      st = stream->Finish();
    }
    stream.reset();
    stream_ctx.reset();
    return st;
  };
  std::chrono::milliseconds tcp_backoff = options_.pause_after_failure;
  while (true) {
    tserver::RaftMessageRequestPB req;
    {
      absl::MutexLock lock(&mu_);
      Peer* p = peers_.at(uuid).get();
      // A new address: a new channel, and (with TCP) a new discovery, since
      // a new server there may offer TCP or another port.
      auto adopt_address = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        address = p->address;
        p->channel = rpc::NewChannel(address);
        stub = tserver::ConsensusService::NewStub(p->channel);
        unary_only = false;
        BreakTcpLocked(p, p->conn);
        if (tcp_) p->mode = Peer::Mode::kDiscover;
      };
      if (p->mode != Peer::Mode::kStream && !stop_) {
        if (p->address != address) adopt_address();
        TcpSenderStep(address, stub.get(), p, &tcp_backoff);
        continue;  // stop_, a new address, a mode change: all seen at the top
      }
      auto ready = [this, p]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stop_ || !p->queue.empty();
      };
      // Connected before there is anything to send (the header says why):
      // GetState(true) starts a connection on an idle channel and is a
      // no-op on a connected one; a dead peer is retried at the channel's
      // reconnect backoff (at most 1 s, rpc::NewChannel). With liveness on,
      // nothing to send for an interval makes an empty request: the
      // liveness call (quiesced groups on the peer count on it).
      while (true) {
        if (p->address != address) {
          if (stream != nullptr) {
            // Cancelled, not half-closed: the old address may not answer.
            mu_.Unlock();
            close_stream(Close::kCancel);
            mu_.Lock();
            if (stop_) break;
          }
          adopt_address();
        }
        if (p->mode != Peer::Mode::kStream) break;
        if (ready()) break;
        auto wait = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            options_.keep_connected);
        if (liveness_interval_.count() > 0) {
          const auto until_due =
              last_rpc + liveness_interval_ - std::chrono::steady_clock::now();
          if (until_due <= std::chrono::steady_clock::duration::zero()) break;
          wait = std::min(wait, until_due);
        }
        p->channel->GetState(/*try_to_connect=*/true);
        mu_.AwaitWithTimeout(absl::Condition(&ready), absl::FromChrono(wait));
      }
      if (stop_) {
        mu_.Unlock();
        close_stream(Close::kCancel);
        mu_.Lock();
        return;
      }
      if (p->mode != Peer::Mode::kStream) continue;  // discovery first, at the top
      if (!self_uuid_.empty()) {
        req.set_from_uuid(self_uuid_);
        req.set_from_incarnation(incarnation_);
      }
      if (p->queue.empty()) ++stats_.liveness_calls;
      size_t bytes = 0;
      while (!p->queue.empty() && static_cast<size_t>(req.messages_size()) < options_.max_batch) {
        const size_t size = p->queue.front().ByteSizeLong();
        // The first message always goes, however large.
        if (req.messages_size() > 0 && bytes + size > options_.max_batch_bytes) break;
        bytes += size;
        *req.add_messages() = std::move(p->queue.front());
        p->queue.pop_front();
      }
    }
    last_rpc = Clock::now();
    bool failed = false;
    if (!unary_only) {
      if (stream != nullptr && last_rpc - stream_opened > options_.stream_lifetime / 2) {
        close_stream(Close::kGraceful);
      }
      if (stream == nullptr) {
        stream_ctx = std::make_unique<grpc::ClientContext>();
        rpc::SetDeadline(stream_ctx.get(), options_.stream_lifetime);
        {
          absl::MutexLock lock(&mu_);
          if (stop_) return;  // nothing opened yet
          peers_.at(uuid)->stream_ctx = stream_ctx.get();
        }
        stream = stub->RaftMessageStream(stream_ctx.get(), &stream_resp);
        stream_opened = last_rpc;
      }
      if (!stream->Write(req)) {
        const grpc::Status st = close_stream(Close::kFailed);
        // An older server: unary calls from now on, this batch included.
        unary_only = st.error_code() == grpc::StatusCode::UNIMPLEMENTED;
        failed = !unary_only;
      }
    }
    if (unary_only) {
      grpc::ClientContext ctx;
      rpc::SetDeadline(&ctx, options_.rpc_timeout);
      tserver::RaftMessageResponsePB resp;
      failed = !stub->RaftMessage(&ctx, req, &resp).ok();
    }
    {
      absl::MutexLock lock(&mu_);
      if (failed) {
        stats_.dropped_rpc_failed += req.messages_size();
      } else {
        stats_.sent += req.messages_size();
      }
    }
    if (failed) {
      absl::MutexLock lock(&mu_);
      auto stopped = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopped),
                           absl::FromChrono(options_.pause_after_failure));
      if (stop_) {
        mu_.Unlock();
        close_stream(Close::kCancel);
        mu_.Lock();
        return;
      }
    }
  }
}

void PeerTransport::TcpSenderStep(const std::string& address,
                                  tserver::ConsensusService::Stub* stub, Peer* p,
                                  std::chrono::milliseconds* backoff) {
  using Clock = std::chrono::steady_clock;
  if (p->mode == Peer::Mode::kDiscover) {
    mu_.Unlock();
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, options_.rpc_timeout);
    tserver::RaftEndpointResponsePB resp;
    const grpc::Status st = stub->RaftEndpoint(&ctx, tserver::RaftEndpointRequestPB(), &resp);
    std::shared_ptr<TcpConn> conn;
    if (st.ok() && resp.tcp_port() > 0) {
      absl::StatusOr<HostPortPB> hp = net::ParseHostPort(address);
      absl::StatusOr<int> fd = hp.ok() ? tcp::Connect(hp->host(), static_cast<int>(resp.tcp_port()),
                                                      options_.rpc_timeout)
                                       : absl::StatusOr<int>(hp.status());
      if (fd.ok()) {
        conn = std::make_shared<TcpConn>(*fd);
        if (!tcp::WriteAll(conn->fd, tcp::kMagic, sizeof(tcp::kMagic))) conn.reset();
      }
    }
    mu_.Lock();
    if (stop_ || p->address != address) return;  // the caller's loop handles both
    if (conn != nullptr) {
      *backoff = options_.pause_after_failure;
      p->tcp_connect_failures = 0;
      p->conn = std::move(conn);
      p->mode = Peer::Mode::kTcp;
      p->last_tcp_write = Clock::now();
      // What queued during the discovery goes first.
      for (auto& m : p->queue) {
        p->held_bytes += m.ByteSizeLong();
        *p->held.add_messages() = std::move(m);
      }
      p->queue.clear();
      FlushTcpLocked(p);
      return;
    }
    if (st.error_code() == grpc::StatusCode::UNIMPLEMENTED || (st.ok() && resp.tcp_port() == 0)) {
      p->mode = Peer::Mode::kStream;  // the queue goes on the stream
      return;
    }
    if (st.ok() && ++p->tcp_connect_failures >= kMaxTcpConnectFailures) {
      // The peer answers on its RPC port but its TCP port does not (a
      // firewall that opens only the RPC port): the stream, until the
      // address changes.
      ++stats_.tcp_fallbacks;
      p->mode = Peer::Mode::kStream;
      return;
    }
    // The peer is down or its port does not answer: what waits is dropped
    // as after a failed RPC, and discovery is retried after a pause that
    // doubles up to keep_connected.
    stats_.dropped_rpc_failed += static_cast<int64_t>(p->queue.size());
    p->queue.clear();
    auto stopped = [this, p, &address]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stop_ || p->address != address;
    };
    mu_.AwaitWithTimeout(absl::Condition(&stopped), absl::FromChrono(*backoff));
    *backoff = std::min(*backoff * 2, options_.keep_connected);
    return;
  }
  // kTcp: Sends write inline; this thread waits for a backlog, a broken
  // connection, the liveness frame's time, or a check of the connection.
  auto wake = [this, p, &address]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stop_ || p->address != address || p->conn == nullptr || !p->conn->backlog.empty();
  };
  auto wait = std::chrono::duration_cast<Clock::duration>(options_.keep_connected);
  if (liveness_interval_.count() > 0) {
    wait = std::max(Clock::duration::zero(),
                    std::min(wait, p->last_tcp_write + liveness_interval_ - Clock::now()));
  }
  mu_.AwaitWithTimeout(absl::Condition(&wake), absl::FromChrono(wait));
  if (stop_ || p->address != address || p->conn == nullptr) return;
  if (!p->conn->backlog.empty()) {
    // This thread is the writer now (`writing` stayed set).
    std::shared_ptr<TcpConn> conn = p->conn;
    std::string rest = std::move(conn->backlog);
    conn->backlog.clear();
    mu_.Unlock();
    // Blocking: TCP_USER_TIMEOUT fails it within seconds on a stalled peer,
    // Shutdown's shutdown() at once.
    const bool ok = tcp::WriteAll(conn->fd, rest.data(), rest.size());
    mu_.Lock();
    conn->writing = false;
    if (!ok) {
      BreakTcpLocked(p, conn);
      return;
    }
    p->last_tcp_write = Clock::now();
    FlushTcpLocked(p);
    return;
  }
  if (p->conn->writing) return;
  if (liveness_interval_.count() > 0 && Clock::now() - p->last_tcp_write >= liveness_interval_) {
    ++stats_.liveness_calls;
    FlushTcpLocked(p, /*liveness=*/true);
    if (p->conn == nullptr || p->conn->writing) return;
  }
  // The peer never writes on this connection: readable means it closed
  // (a restart) or reset it.
  pollfd pfd{p->conn->fd, POLLIN | POLLRDHUP, 0};
  if (poll(&pfd, 1, 0) == 1) BreakTcpLocked(p, p->conn);
}

bool PeerTransport::PeerOnTcp(const std::string& uuid) const {
  absl::MutexLock lock(&mu_);
  auto it = peers_.find(uuid);
  return it != peers_.end() && it->second->mode == Peer::Mode::kTcp &&
         it->second->conn != nullptr;
}

void PeerTransport::Shutdown() {
  {
    // Waits for a held flush in progress; later ones return at once.
    absl::MutexLock alive(&life_->mu);
    life_->alive = false;
  }
  std::vector<std::thread> senders;
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
    for (auto& [uuid, p] : peers_) {
      // A sender blocked writing to a stalled peer returns at once.
      if (p->stream_ctx != nullptr) p->stream_ctx->TryCancel();
      if (p->conn != nullptr) ::shutdown(p->conn->fd, SHUT_RDWR);
      senders.push_back(std::move(p->sender));
    }
  }
  for (auto& t : senders) t.join();
}

bool PeerTransport::PeerConnected(const std::string& uuid) const {
  std::shared_ptr<grpc::Channel> channel;
  {
    absl::MutexLock lock(&mu_);
    auto it = peers_.find(uuid);
    if (it != peers_.end() && it->second->conn != nullptr) return true;
    if (it == peers_.end() || it->second->channel == nullptr) return false;
    channel = it->second->channel;
  }
  return channel->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
}

PeerTransport::Stats PeerTransport::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace kmend::raft_transport
