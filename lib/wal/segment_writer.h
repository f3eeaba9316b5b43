// Writes one WAL segment file (docs/formats/wal.md): the header when created,
// batches appended at the end, and the footer when finished.
//
// Crash safety of creation: the header is written to a hidden temp file
// ("<dir>/.kudutmp.newsegmentXXXXXX", as Kudu names them), preallocated and
// synced, and only then renamed to its final name (Publish), so a segment
// file that exists always starts with a complete header.
//
// Finishing writes the footer right after the last batch, truncates away the
// unused preallocated space and syncs. A crash in between leaves a file
// without a valid trailer, which readers treat as footerless (the footer
// bytes then read as a torn tail).
//
// Thread safety: not thread-safe; the Log uses one from its writer thread.
#ifndef KMEND_LIB_WAL_SEGMENT_WRITER_H_
#define KMEND_LIB_WAL_SEGMENT_WRITER_H_

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/wal.pb.h"

namespace kmend::wal {

class SegmentWriter {
 public:
  // Creates an unpublished segment destined for `final_path`: writes the
  // header to a temp file in the same directory and, if preallocate_bytes > 0,
  // fallocates that many bytes (zeros). With `sync`, the file is synced.
  static absl::StatusOr<std::unique_ptr<SegmentWriter>> Create(
      const std::string& final_path, const log::LogSegmentHeaderPB& header,
      uint64_t preallocate_bytes, bool sync);

  // Opens an existing footerless segment to finish it: the next write (the
  // footer) goes at `end_offset`.
  static absl::StatusOr<std::unique_ptr<SegmentWriter>> Reopen(const std::string& path,
                                                               uint64_t end_offset, bool sync);

  ~SegmentWriter();

  // Renames the temp file to its final name (replacing any file there) and
  // syncs the directory.
  absl::Status Publish();

  // Writes `pieces` back to back at offset(), advancing it.
  absl::Status Append(const std::vector<absl::string_view>& pieces);
  // fdatasync (no-op when created with sync = false).
  absl::Status Sync();
  // Writes the footer at offset(), truncates the file right after it, syncs,
  // and closes the file. No appends afterwards.
  absl::Status Finish(const log::LogSegmentFooterPB& footer);

  uint64_t offset() const { return offset_; }
  // The file name currently holding the data (temp until Publish()).
  const std::string& current_path() const { return current_path_; }
  const std::string& final_path() const { return final_path_; }
  int fd() const { return fd_; }

 private:
  SegmentWriter(std::string final_path, std::string current_path, int fd, bool sync)
      : final_path_(std::move(final_path)),
        current_path_(std::move(current_path)),
        fd_(fd),
        sync_(sync) {}

  const std::string final_path_;
  std::string current_path_;
  int fd_ = -1;
  const bool sync_;
  uint64_t offset_ = 0;
  bool finished_ = false;
};

}  // namespace kmend::wal

#endif  // KMEND_LIB_WAL_SEGMENT_WRITER_H_
