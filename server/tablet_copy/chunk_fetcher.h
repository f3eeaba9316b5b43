// Fetches the chunks of a planned list of items from a tablet copy session
// ahead of their use: a background thread issues FetchData calls in plan
// order and queues the responses (at most `depth` waiting), so that the
// source serves chunk k+1 while the copier checks and stores chunk k.
//
// The fetcher only moves bytes: it advances within an item by the length of
// what arrived and stops at the first RPC error or empty chunk (which it
// queues). Every check of a chunk is the consumer's, which must consume the
// plan's items in order and each item's chunks until its size is reached.
//
// Thread safety: Next() from one thread. Lifetime: the stub must outlive the
// fetcher; the destructor cancels the RPC in flight and joins the thread.
#ifndef KMEND_SERVER_TABLET_COPY_CHUNK_FETCHER_H_
#define KMEND_SERVER_TABLET_COPY_CHUNK_FETCHER_H_

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"
#include "proto/tablet_copy.grpc.pb.h"

namespace kmend::tablet_copy {

class ChunkFetcher {
 public:
  ChunkFetcher(tserver::TabletCopyService::Stub* stub, std::string session_id,
               std::vector<tserver::CopyItemPB> plan, int64_t chunk_size_bytes,
               std::chrono::milliseconds rpc_timeout, int depth);
  ~ChunkFetcher();
  ChunkFetcher(const ChunkFetcher&) = delete;
  ChunkFetcher& operator=(const ChunkFetcher&) = delete;

  // The next chunk in plan order (blocking), or the error of its FetchData
  // (the gRPC status converted, with the item and offset named).
  absl::StatusOr<tserver::DataChunkPB> Next();

 private:
  void Run();

  tserver::TabletCopyService::Stub* const stub_;
  const std::string session_id_;
  const std::vector<tserver::CopyItemPB> plan_;
  const int64_t chunk_size_bytes_;
  const std::chrono::milliseconds rpc_timeout_;
  const size_t depth_;

  absl::Mutex mu_;
  std::deque<absl::StatusOr<tserver::DataChunkPB>> queue_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;       // the producer queued its last result
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  grpc::ClientContext* in_flight_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread thread_;
};

}  // namespace kmend::tablet_copy

#endif  // KMEND_SERVER_TABLET_COPY_CHUNK_FETCHER_H_
