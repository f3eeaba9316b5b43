#include "server/tablet_copy/chunk_fetcher.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/grpc_util.h"
#include "server/tablet_copy/copy_source.h"

namespace kmend::tablet_copy {

ChunkFetcher::ChunkFetcher(tserver::TabletCopyService::Stub* stub, std::string session_id,
                           std::vector<tserver::CopyItemPB> plan, int64_t chunk_size_bytes,
                           std::chrono::milliseconds rpc_timeout, int depth)
    : stub_(stub),
      session_id_(std::move(session_id)),
      plan_(std::move(plan)),
      chunk_size_bytes_(chunk_size_bytes),
      rpc_timeout_(rpc_timeout),
      depth_(static_cast<size_t>(std::max(1, depth))) {
  thread_ = std::thread([this] { Run(); });
}

ChunkFetcher::~ChunkFetcher() {
  {
    absl::MutexLock l(&mu_);
    cancelled_ = true;
    if (in_flight_ != nullptr) in_flight_->TryCancel();
  }
  thread_.join();
}

void ChunkFetcher::Run() {
  auto push = [this](absl::StatusOr<tserver::DataChunkPB> r) {
    absl::MutexLock l(&mu_);
    queue_.push_back(std::move(r));
  };
  for (const tserver::CopyItemPB& item : plan_) {
    const uint64_t size = static_cast<uint64_t>(std::max<int64_t>(0, item.size_bytes()));
    uint64_t offset = 0;
    while (offset < size) {
      tserver::FetchDataRequestPB req;
      req.set_session_id(session_id_);
      *req.mutable_data_id() = item.id();
      req.set_offset(offset);
      req.set_max_length(chunk_size_bytes_);
      tserver::FetchDataResponsePB resp;
      grpc::ClientContext ctx;
      server::SetDeadline(&ctx, rpc_timeout_);
      {
        absl::MutexLock l(&mu_);
        // Room in the queue, or cancelled.
        auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
          return cancelled_ || queue_.size() < depth_;
        };
        mu_.Await(absl::Condition(&ready));
        if (cancelled_) break;
        in_flight_ = &ctx;
      }
      grpc::Status s = stub_->FetchData(&ctx, req, &resp);
      {
        absl::MutexLock l(&mu_);
        in_flight_ = nullptr;
      }
      if (!s.ok()) {
        push(server::FromGrpcStatus(
            s, absl::StrCat("session ", session_id_, ": ", DataIdName(item.id()),
                            ": FetchData at offset ", offset)));
        break;
      }
      const uint64_t len = resp.chunk().data().size();
      push(std::move(*resp.mutable_chunk()));
      if (len == 0) break;  // the consumer rejects it; nothing sane follows
      offset += len;
    }
    absl::MutexLock l(&mu_);
    if (cancelled_ || (!queue_.empty() && !queue_.back().ok())) break;
  }
  absl::MutexLock l(&mu_);
  done_ = true;
}

absl::StatusOr<tserver::DataChunkPB> ChunkFetcher::Next() {
  absl::MutexLock l(&mu_);
  auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || done_; };
  mu_.Await(absl::Condition(&ready));
  if (queue_.empty()) {
    return absl::InternalError(absl::StrCat("session ", session_id_,
                                            ": chunk fetcher ended before the plan was consumed"));
  }
  absl::StatusOr<tserver::DataChunkPB> r = std::move(queue_.front());
  queue_.pop_front();
  return r;
}

}  // namespace kmend::tablet_copy
