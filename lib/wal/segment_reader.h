// Reads one WAL segment file batch by batch and classifies how it ends
// (docs/formats/wal.md, "What readers do with damage").
//
// A segment ends in one of three ways:
//   - kClean: the last batch ends exactly where the readable bytes end (the
//     footer's start, or the end of a footerless file);
//   - kPreallocated: an all-zero batch header, i.e. fallocate'd space that was
//     never written; the rest of the segment holds no valid batch;
//   - kTorn: an incomplete or damaged final batch in a segment without footer,
//     with no valid batch anywhere after it: what a crash during an append
//     leaves. tail() says where and why; nothing is lost that was ever
//     acknowledged, and a writer may truncate the file at tail().offset.
// Anything else is corruption: Next() returns DataLoss naming the file, the
// offset and the check that failed (header CRC, payload CRC with stored and
// computed values, impossible length, decompression, parse, footer entry
// count). After a DataLoss, Next() resumes at the next valid batch if one was
// found (so verification can report every damaged region) or ends.
//
// Kudu's rule for footerless segments is kept: a bad batch followed by any
// valid batch is corruption, one followed by nothing valid is a torn tail. A
// "valid batch" here means header CRC and payload CRC both match.
//
// Thread safety: not thread-safe. Lifetime: owns its file descriptor.
#ifndef KMEND_LIB_WAL_SEGMENT_READER_H_
#define KMEND_LIB_WAL_SEGMENT_READER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/wal/format.h"
#include "proto/wal.pb.h"

namespace kmend::wal {

enum class TailKind { kClean, kPreallocated, kTorn };
const char* TailKindName(TailKind kind);

struct SegmentTail {
  TailKind kind = TailKind::kClean;
  uint64_t offset = 0;         // first byte after the last good batch
  uint64_t dropped_bytes = 0;  // kTorn: bytes from offset to the readable end
  std::string reason;          // kTorn: what was incomplete or damaged
};

// One decoded batch.
struct Batch {
  uint64_t offset = 0;      // of the batch header
  uint64_t size_bytes = 0;  // header + stored payload
  uint32_t stored_len = 0;
  uint32_t uncompressed_len = 0;
  log::LogEntryBatchPB batch;
};

// Reads, checks and decodes the batch whose header is at `offset` of the open
// file `fd` (named `path` in messages), whose batches end at `limit`. OK;
// DataLoss when damaged; OutOfRange with *incomplete set when the batch runs
// past `limit`; other codes for I/O errors. *content_error (if given) is set
// when both CRCs matched but the payload did not decompress or parse: damage
// a torn write cannot cause.
absl::Status DecodeBatchAt(int fd, const std::string& path, uint64_t offset, uint64_t limit,
                           bool v1, kmend::CompressionType codec, Batch* out, bool* incomplete,
                           bool* content_error = nullptr);

class SegmentReader {
 public:
  // Opens `path` and reads its header and footer. DataLoss for a bad magic,
  // header length or unparseable header; Unimplemented for a codec we cannot
  // read, an encrypted segment ("kuduenc") or incompatible features. A file
  // whose first 12 bytes are all zero (or that is shorter and all zero) is
  // "uninitialized": Open succeeds, uninitialized() is true and it has no
  // batches.
  static absl::StatusOr<std::unique_ptr<SegmentReader>> Open(const std::string& path);
  ~SegmentReader();

  const std::string& path() const { return path_; }
  bool uninitialized() const { return uninitialized_; }
  const log::LogSegmentHeaderPB& header() const { return header_; }
  uint64_t file_size() const { return file_size_; }
  uint64_t first_batch_offset() const { return first_batch_offset_; }
  kmend::CompressionType codec() const { return codec_; }
  bool v1_batch_headers() const { return v1_; }

  bool has_footer() const { return has_footer_; }
  // The stored footer; only when has_footer().
  const log::LogSegmentFooterPB& footer() const { return footer_; }
  // Footer facts counted from the batches read so far (num_entries, min/max
  // replicate index): after the last Next(), what a footer would say.
  const log::LogSegmentFooterPB& rebuilt_footer() const { return rebuilt_; }

  // Reads the next batch into *out. Returns OK; OutOfRange once the segment
  // has ended (see tail()); DataLoss for corruption (see file comment).
  absl::Status Next(Batch* out);

  // Valid after Next() returned OutOfRange.
  const SegmentTail& tail() const { return tail_; }
  // The offset the last DataLoss from Next() is about.
  uint64_t error_offset() const { return error_offset_; }

  // Reads and checks the batch at `offset` (a batch header), regardless of
  // iteration state. DataLoss when it is damaged, OutOfRange when it is
  // incomplete.
  absl::Status ReadBatchAt(uint64_t offset, Batch* out) const;

 private:
  SegmentReader(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  absl::Status Init();
  // Decodes/checks the batch at `offset` within [0, read_limit_). `incomplete`
  // is set when the batch runs past the limit (rather than being damaged).
  absl::Status ReadBatch(uint64_t offset, Batch* out, bool* incomplete,
                         bool* content_error) const;
  // The offset of the first valid batch (header and payload CRC) in
  // [from, read_limit_), or read_limit_ if none.
  absl::StatusOr<uint64_t> FindNextValidBatch(uint64_t from) const;
  // Ends iteration because of damage at `offset`: a torn tail or DataLoss.
  absl::Status HandleDamage(uint64_t offset, const std::string& what);
  std::string Where(uint64_t offset) const;

  const std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  bool uninitialized_ = false;
  log::LogSegmentHeaderPB header_;
  kmend::CompressionType codec_ = kmend::NO_COMPRESSION;
  bool v1_ = false;
  uint64_t first_batch_offset_ = 0;
  bool has_footer_ = false;
  log::LogSegmentFooterPB footer_;
  uint64_t read_limit_ = 0;  // batches live in [first_batch_offset_, read_limit_)

  // Iteration state.
  uint64_t pos_ = 0;
  bool done_ = false;
  bool footer_checked_ = false;
  SegmentTail tail_;
  uint64_t error_offset_ = 0;
  log::LogSegmentFooterPB rebuilt_;
};

}  // namespace kmend::wal

#endif  // KMEND_LIB_WAL_SEGMENT_READER_H_
