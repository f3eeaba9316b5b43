#include "server/raft_transport/raft_stream_server.h"

#include <utility>

#include "lib/consensus/held_sends.h"

namespace kmend::raft_transport {

class RaftStreamServer::Reactor : public grpc::ServerReadReactor<tserver::RaftMessageRequestPB> {
 public:
  Reactor(RaftStreamServer* owner, grpc::CallbackServerContext* ctx, Handler handle)
      : owner_(owner), ctx_(ctx), handle_(std::move(handle)) {
    bool refused;
    {
      absl::MutexLock l(&owner_->mu_);
      refused = owner_->stopped_;
      if (!refused) owner_->open_.insert(ctx_);
    }
    if (refused) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down"));
    } else {
      StartRead(&req_);
    }
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The client ended the stream (OK), or it broke or was cancelled
      // (then the status is not delivered anyway).
      Finish(grpc::Status::OK);
      return;
    }
    {
      // The inline Readies' messages leave as one batch per peer.
      consensus_driver::HoldSends hold;
      handle_(req_);
    }
    req_.Clear();
    StartRead(&req_);
  }

  void OnDone() override {
    {
      absl::MutexLock l(&owner_->mu_);
      owner_->open_.erase(ctx_);
    }
    delete this;
  }

 private:
  RaftStreamServer* const owner_;
  grpc::CallbackServerContext* const ctx_;
  const Handler handle_;
  tserver::RaftMessageRequestPB req_;
};

grpc::ServerReadReactor<tserver::RaftMessageRequestPB>* RaftStreamServer::Open(
    grpc::CallbackServerContext* ctx, Handler handle) {
  return new Reactor(this, ctx, std::move(handle));
}

void RaftStreamServer::Shutdown() {
  absl::MutexLock l(&mu_);
  stopped_ = true;
  // A cancelled stream's pending read fails; its reactor finishes and leaves
  // open_ in OnDone. The contexts stay valid while listed there.
  for (grpc::CallbackServerContext* ctx : open_) ctx->TryCancel();
}

int RaftStreamServer::open_streams() const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(open_.size());
}

}  // namespace kmend::raft_transport
