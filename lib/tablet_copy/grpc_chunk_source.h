// GrpcChunkSource: lib/copy's ChunkSource over a TabletCopyService session
// (FetchData). It only moves bytes; lib/copy's VerifyingFetcher checks them.
//
// Thread safety: FetchChunk from one thread at a time, CancelFetch from any
// (ChunkSource's contract). Lifetime: the stub must outlive the source.
#ifndef KMEND_LIB_TABLET_COPY_GRPC_CHUNK_SOURCE_H_
#define KMEND_LIB_TABLET_COPY_GRPC_CHUNK_SOURCE_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "lib/copy/chunk_source.h"
#include "proto/tablet_copy.grpc.pb.h"

namespace kmend::tablet_copy {

class GrpcChunkSource : public copy::ChunkSource {
 public:
  // `ids[i]` is the data id of the copy plan's item i.
  GrpcChunkSource(tserver::TabletCopyService::Stub* stub, std::string session_id,
                  std::vector<tserver::DataIdPB> ids, std::chrono::milliseconds rpc_timeout);

  absl::StatusOr<copy::Chunk> FetchChunk(size_t item, uint64_t offset,
                                         int64_t max_length) override;
  void CancelFetch() override;

 private:
  tserver::TabletCopyService::Stub* const stub_;
  const std::string session_id_;
  const std::vector<tserver::DataIdPB> ids_;
  const std::chrono::milliseconds rpc_timeout_;

  absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* in_flight_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace kmend::tablet_copy

#endif  // KMEND_LIB_TABLET_COPY_GRPC_CHUNK_SOURCE_H_
