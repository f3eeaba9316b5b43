// FileSink: streams one copied item into a file and makes it durable. The
// sink tracks which prefix of the file is durable (fsynced) and verified
// (every chunk in it passed the VerifyingFetcher's checks), so a copy that
// stops half-way can resume from that prefix instead of from byte 0:
//
//   // first attempt
//   auto sink = FileSink::Create(tmp, {.on_durable = record_in_journal});
//   fetcher.FetchItem(i, sink->get());  ... crash ...
//   // next attempt, with (bytes, crc) the journal last recorded
//   auto sink = FileSink::Resume(tmp, bytes, crc, options);
//   spec.start_offset = (*sink)->durable_bytes();
//   spec.start_crc32c = (*sink)->durable_crc32c();
//
// Durability: with Options::sync, Finish() fsyncs the file; with
// sync_every_bytes > 0 the sink also fsyncs whenever that many bytes were
// appended since the last fsync, and reports each new durable prefix to
// on_durable (after the fsync returned). The caller publishes the file
// (rename into place, then fsync the directory) only after FetchItem
// returned OK: a FileSink never renames.
//
// Thread safety: one thread. Lifetime: the destructor closes the file (it
// neither syncs nor deletes it: a crash must look like a crash).
#ifndef KMEND_LIB_COPY_FILE_SINK_H_
#define KMEND_LIB_COPY_FILE_SINK_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/copy/chunk_sink.h"

namespace kmend::copy {

class FileSink : public ChunkSink {
 public:
  struct Options {
    // fsync at Finish (and every sync_every_bytes). Off only in tests and
    // benchmarks.
    bool sync = true;
    // > 0: also fsync after this many appended bytes (resumable copies).
    uint64_t sync_every_bytes = 0;
    // Called with the new durable prefix after each fsync.
    std::function<void(uint64_t durable_bytes, uint32_t durable_crc32c)> on_durable;
  };

  // Creates `path` empty (truncating an existing file).
  static absl::StatusOr<std::unique_ptr<FileSink>> Create(const std::string& path,
                                                          Options options);

  // Reopens `path` to continue a copy: keeps its first `durable_bytes`
  // bytes when the file has them and their CRC32C is `durable_crc32c`
  // (anything after them is cut off), else starts it empty again. The
  // prefix is read back and checked, so a torn or foreign file never
  // passes as copied. A missing file starts empty.
  static absl::StatusOr<std::unique_ptr<FileSink>> Resume(const std::string& path,
                                                          uint64_t durable_bytes,
                                                          uint32_t durable_crc32c,
                                                          Options options);

  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  absl::Status Append(absl::string_view data) override;

  // fsyncs (with Options::sync) and closes. Every byte appended is then
  // durable_bytes().
  absl::Status Finish();

  const std::string& path() const { return path_; }
  // Bytes appended (including a resumed prefix).
  uint64_t size() const { return size_; }
  // The durable, verified prefix and its CRC32C (see the file comment).
  uint64_t durable_bytes() const { return durable_bytes_; }
  uint32_t durable_crc32c() const { return durable_crc32c_; }

 private:
  FileSink(std::string path, int fd, Options options, uint64_t size, uint32_t crc);
  absl::Status Sync();

  const std::string path_;
  int fd_;
  const Options options_;
  uint64_t size_;
  uint32_t crc_;  // of all size_ bytes
  uint64_t durable_bytes_;
  uint32_t durable_crc32c_;
};

}  // namespace kmend::copy

#endif  // KMEND_LIB_COPY_FILE_SINK_H_
