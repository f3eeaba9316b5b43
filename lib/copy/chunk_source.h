// The transport-independent shape of a verified copy (tablet copy between
// tablet servers, catalog copy between masters, offline tools): a plan of
// items, a ChunkSource that fetches one chunk of one item, and a sink that
// takes each item's verified bytes in order (chunk_sink.h). The
// VerifyingFetcher (verifying_fetcher.h) drives a source ahead of its use
// and checks every chunk before a sink sees it.
//
// A ChunkSource only moves bytes: it says what the peer sent (offset, the
// item's total length, data, the peer's CRC32C of the data) and checks
// nothing. Adapters: lib/tablet_copy/grpc_chunk_source.h (TabletCopy
// FetchData over gRPC), server/master/catalog_copy_client.cc (a
// CatalogCopyPeer).
#ifndef KMEND_LIB_COPY_CHUNK_SOURCE_H_
#define KMEND_LIB_COPY_CHUNK_SOURCE_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"

namespace kmend::copy {

// One item of a copy plan, as its source announced it.
struct ItemSpec {
  // For messages and test hooks: "block 12", "WAL segment 3", "wal-000000003".
  std::string name;
  // The announced size. Checked against copy_limits.h BEFORE the plan is
  // built: the fetcher trusts it to be >= 0 and sane.
  int64_t size_bytes = 0;
  // CRC32C of the whole item, when the source announced one.
  std::optional<uint32_t> crc32c;
  // Resuming: bytes [0, start_offset) are already held (durable and
  // verified, see FileSink::Resume) and start_crc32c is their CRC32C. The
  // fetcher asks from start_offset and extends start_crc32c, so the
  // whole-item check still covers every byte. 0/0 for a fresh copy.
  uint64_t start_offset = 0;
  uint32_t start_crc32c = 0;
};

// What a source sent for one request, unchecked.
struct Chunk {
  uint64_t offset = 0;            // where `data` starts within the item
  int64_t total_size_bytes = 0;   // the item's length, as the source sees it
  std::string data;
  uint32_t crc32c = 0;            // the source's CRC32C of `data`
};

// Thread safety: FetchChunk is called from the fetcher's thread only, one
// call at a time; CancelFetch from any thread, concurrently with it.
class ChunkSource {
 public:
  virtual ~ChunkSource() = default;

  // Up to `max_length` bytes (> 0) of the plan's item number `item`
  // starting at `offset`. Errors are the transport's or the source's (with
  // the item and offset named); an empty chunk is returned as sent (the
  // fetcher rejects it).
  virtual absl::StatusOr<Chunk> FetchChunk(size_t item, uint64_t offset, int64_t max_length) = 0;

  // Abandons a FetchChunk in flight (for example TryCancel on its RPC) so
  // that the fetcher can stop without waiting for a deadline. May be called
  // at any time and more than once. Default: nothing (the call in flight
  // runs to its end).
  virtual void CancelFetch() {}
};

}  // namespace kmend::copy

#endif  // KMEND_LIB_COPY_CHUNK_SOURCE_H_
