#include "lib/tablet_copy/grpc_chunk_source.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/rpc/grpc_util.h"
#include "lib/tablet_copy/data_id.h"

namespace kmend::tablet_copy {

GrpcChunkSource::GrpcChunkSource(tserver::TabletCopyService::Stub* stub, std::string session_id,
                                 std::vector<tserver::DataIdPB> ids,
                                 std::chrono::milliseconds rpc_timeout)
    : stub_(stub),
      session_id_(std::move(session_id)),
      ids_(std::move(ids)),
      rpc_timeout_(rpc_timeout) {}

absl::StatusOr<copy::Chunk> GrpcChunkSource::FetchChunk(size_t item, uint64_t offset,
                                                        int64_t max_length) {
  tserver::FetchDataRequestPB req;
  req.set_session_id(session_id_);
  *req.mutable_data_id() = ids_.at(item);
  req.set_offset(offset);
  req.set_max_length(max_length);
  tserver::FetchDataResponsePB resp;
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, rpc_timeout_);
  {
    absl::MutexLock l(&mu_);
    if (cancelled_) return absl::CancelledError("tablet copy: fetch cancelled");
    in_flight_ = &ctx;
  }
  grpc::Status s = stub_->FetchData(&ctx, req, &resp);
  {
    absl::MutexLock l(&mu_);
    in_flight_ = nullptr;
  }
  if (!s.ok()) {
    return rpc::FromGrpcStatus(s, absl::StrCat("session ", session_id_, ": ",
                                               DataIdName(ids_[item]), ": FetchData at offset ",
                                               offset));
  }
  copy::Chunk chunk;
  chunk.offset = resp.chunk().offset();
  chunk.total_size_bytes = resp.chunk().total_data_length();
  chunk.crc32c = resp.chunk().crc32();
  chunk.data = std::move(*resp.mutable_chunk()->mutable_data());
  return chunk;
}

void GrpcChunkSource::CancelFetch() {
  absl::MutexLock l(&mu_);
  cancelled_ = true;
  if (in_flight_ != nullptr) in_flight_->TryCancel();
}

}  // namespace kmend::tablet_copy
