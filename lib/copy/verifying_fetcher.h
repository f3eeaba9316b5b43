// VerifyingFetcher: fetches a plan of items from a ChunkSource ahead of their
// use and checks every chunk before a sink sees it. The one place both tablet
// copy and catalog copy (and any offline tool) verify what a peer sends.
//
// Pipelining: a background thread asks the source for the plan's chunks in
// plan order and queues the answers (at most `depth` waiting), so that the
// source serves chunk k+1 while the consumer checks and stores chunk k. The
// thread only moves bytes; it advances within an item by the length of what
// arrived and stops at the first error or empty chunk (which it queues).
//
// Checks, per chunk (DataLoss naming the copy, the item and the offset):
//   1. offset: the one expected (the sum of the item's earlier chunks);
//   2. total size: the item's size as announced in the plan;
//   3. length: at most the chunk size asked for (CheckChunkLength), not
//      empty, not past the item's end;
//   4. CRC32C of the data: the source's;
// and per item, after its last chunk:
//   5. CRC32C of the whole item: the announced one, when there is one.
//
// Test hooks (FetcherOptions): change a chunk's data after it arrived and
// before it is checked (corruption in transit); simulate a crash once N
// chunks were consumed (rpc::SimulatedCrashError: callers skip cleanup).
//
// Thread safety: FetchItem from one thread. Lifetime: the source must
// outlive the fetcher; the destructor cancels the fetch in flight
// (ChunkSource::CancelFetch) and joins the thread.
#ifndef KMEND_LIB_COPY_VERIFYING_FETCHER_H_
#define KMEND_LIB_COPY_VERIFYING_FETCHER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/copy/chunk_sink.h"
#include "lib/copy/chunk_source.h"

namespace kmend::copy {

struct FetcherOptions {
  // Prefix of every error: "tablet copy of T from A: session S".
  std::string what;
  // Largest chunk asked for; a longer one is refused (> 0).
  int64_t chunk_size_bytes = 1 << 20;
  // Chunks fetched ahead of the consumer (>= 1).
  int depth = 2;
  // Called after a chunk went to its sink: the plan index, the chunk's
  // length, and whether it completed the item (from FetchItem's thread).
  std::function<void(size_t item, uint64_t bytes, bool item_done)> on_chunk;

  // Test hooks (see the file comment). `item` is the plan index.
  std::function<void(size_t item, std::string* data)> test_mutate_chunk;
  int64_t test_crash_after_chunks = -1;
};

class VerifyingFetcher {
 public:
  // Starts fetching at once. Every item's size_bytes must already have
  // been checked against copy_limits.h.
  VerifyingFetcher(ChunkSource* source, std::vector<ItemSpec> plan, FetcherOptions options);
  ~VerifyingFetcher();
  VerifyingFetcher(const VerifyingFetcher&) = delete;
  VerifyingFetcher& operator=(const VerifyingFetcher&) = delete;

  // Fetches the rest of plan item `item` (from its start_offset), checking
  // each chunk and then the whole item, appending the data to `sink` in
  // order. Items must be fetched in plan order, each once:
  // FailedPrecondition otherwise. After an error the fetcher is done (every
  // later call repeats it).
  absl::Status FetchItem(size_t item, ChunkSink* sink);

  const std::vector<ItemSpec>& plan() const { return plan_; }
  // Chunks and bytes consumed so far (all items).
  int64_t chunks() const { return chunks_; }
  int64_t bytes() const { return bytes_; }

 private:
  void Run();
  // The next chunk in plan order (blocking), or the error the thread queued.
  absl::StatusOr<Chunk> Next();
  std::string ItemWhat(size_t item) const;

  ChunkSource* const source_;
  const std::vector<ItemSpec> plan_;
  const FetcherOptions options_;

  // Consumer side (FetchItem's thread).
  size_t next_item_ = 0;
  absl::Status failed_;
  int64_t chunks_ = 0;
  int64_t bytes_ = 0;

  absl::Mutex mu_;
  std::deque<absl::StatusOr<Chunk>> queue_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // the producer queued its last result
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kmend::copy

#endif  // KMEND_LIB_COPY_VERIFYING_FETCHER_H_
