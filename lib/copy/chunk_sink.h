// Where the verified bytes of one item go (chunk_source.h for the whole
// shape). The VerifyingFetcher appends an item's chunks in order, each
// after its offset, bounds and CRC32C were checked; the whole-item CRC32C is
// checked after the last Append, so a sink must not publish an item (rename
// it into place, record it as done) before FetchItem returned OK.
//
// Sinks: StringSink (below; blocks and snapshots buffered whole), FileSink
// (file_sink.h; streamed to a file, fsynced, resumable).
#ifndef KMEND_LIB_COPY_CHUNK_SINK_H_
#define KMEND_LIB_COPY_CHUNK_SINK_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kmend::copy {

class ChunkSink {
 public:
  virtual ~ChunkSink() = default;
  // The next bytes of the item (already checked chunk by chunk).
  virtual absl::Status Append(absl::string_view data) = 0;
};

// Collects the item in memory. The caller reserves what it expects (after
// checking the announced size against copy_limits.h).
class StringSink : public ChunkSink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  absl::Status Append(absl::string_view data) override {
    out_->append(data.data(), data.size());
    return absl::OkStatus();
  }

 private:
  std::string* const out_;
};

}  // namespace kmend::copy

#endif  // KMEND_LIB_COPY_CHUNK_SINK_H_
