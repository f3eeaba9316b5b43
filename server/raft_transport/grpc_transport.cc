#include "server/raft_transport/grpc_transport.h"

#include <pthread.h>

#include <chrono>
#include <random>
#include <vector>

#include "lib/rpc/grpc_util.h"

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

GrpcTransport::GrpcTransport(Options options)
    : options_(options), incarnation_(NewIncarnation()) {}

GrpcTransport::~GrpcTransport() { Shutdown(); }

void GrpcTransport::SetPeerAddress(const std::string& uuid, const std::string& address) {
  absl::MutexLock lock(&mu_);
  if (stop_) return;
  auto& peer = peers_[uuid];
  if (peer == nullptr) {
    peer = std::make_unique<Peer>();
    peer->address = address;
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

void GrpcTransport::Send(const std::string& to_uuid, const consensus::RaftMessagePB& msg) {
  absl::MutexLock lock(&mu_);
  if (stop_) return;
  auto it = peers_.find(to_uuid);
  if (it == peers_.end()) {
    ++stats_.dropped_no_address;
    return;
  }
  Peer& p = *it->second;
  if (p.queue.size() >= options_.max_queued_per_peer) {
    // Newer messages supersede older ones (later terms, later commit
    // indexes), so the oldest goes.
    p.queue.pop_front();
    ++stats_.dropped_queue_full;
  }
  p.queue.push_back(msg);
  p.queue.back().set_to_uuid(to_uuid);
}

void GrpcTransport::EnableLiveness(const std::string& self_uuid,
                                   std::chrono::milliseconds interval) {
  absl::MutexLock lock(&mu_);
  self_uuid_ = self_uuid;
  liveness_interval_ = interval;
}

void GrpcTransport::SenderLoop(const std::string& uuid) {
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
  while (true) {
    tserver::RaftMessageRequestPB req;
    {
      absl::MutexLock lock(&mu_);
      Peer* p = peers_.at(uuid).get();
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
          address = p->address;
          p->channel = rpc::NewChannel(address);
          stub = tserver::ConsensusService::NewStub(p->channel);
          unary_only = false;
        }
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

void GrpcTransport::Shutdown() {
  std::vector<std::thread> senders;
  {
    absl::MutexLock lock(&mu_);
    if (stop_) return;
    stop_ = true;
    for (auto& [uuid, p] : peers_) {
      // A sender blocked writing to a stalled peer returns at once.
      if (p->stream_ctx != nullptr) p->stream_ctx->TryCancel();
      senders.push_back(std::move(p->sender));
    }
  }
  for (auto& t : senders) t.join();
}

bool GrpcTransport::PeerConnected(const std::string& uuid) const {
  std::shared_ptr<grpc::Channel> channel;
  {
    absl::MutexLock lock(&mu_);
    auto it = peers_.find(uuid);
    if (it == peers_.end() || it->second->channel == nullptr) return false;
    channel = it->second->channel;
  }
  return channel->GetState(/*try_to_connect=*/false) == GRPC_CHANNEL_READY;
}

GrpcTransport::Stats GrpcTransport::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

}  // namespace kmend::raft_transport
