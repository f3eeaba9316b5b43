// The segment files: the read side of a segment on disk (OpenSegmentFile) and
// the lifecycle of the active segment the writer appends to (start, finish
// with a footer, roll to the next sequence number).
//
// Invariants relied on: these run only while holding writing_ (or from Recover
// before the writer starts); a new segment is published (atomically renamed
// into place, directory synced) before it is added to segments_, and a
// segment gets its footer before the next one is started, so only the last
// segment on disk can lack a footer.
#include <fcntl.h>
#include <unistd.h>

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>

#include "absl/time/clock.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/util/status_macros.h"
#include "lib/wal/log_internal.h"
#include "lib/wal/segment_writer.h"

namespace kmend::wal {
namespace log_internal {

absl::StatusOr<std::shared_ptr<SegmentFile>> OpenSegmentFile(const std::string& path,
                                                             const log::LogSegmentHeaderPB& header,
                                                             kmend::CompressionType codec,
                                                             bool v1) {
  auto f = std::make_shared<SegmentFile>();
  f->path = path;
  f->sequence_number = header.sequence_number();
  f->header = header;
  f->codec = codec;
  f->v1 = v1;
  f->fd = io::sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f->fd < 0) return io::ErrnoError("open", path, errno);
  return f;
}

}  // namespace log_internal

using log_internal::OpenSegmentFile;

absl::StatusOr<std::unique_ptr<SegmentWriter>> Log::Impl::PrepareSegment(
    uint64_t seq, log::LogSegmentHeaderPB* header) {
  header->set_tablet_id(options_.tablet_id);
  header->set_sequence_number(seq);
  *header->mutable_schema() = options_.schema;
  header->set_schema_version(options_.schema_version);
  header->set_compression_codec(options_.compression);
  return SegmentWriter::Create(SegmentPath(seq), *header,
                               options_.preallocate ? options_.segment_size_bytes : 0,
                               options_.sync);
}

absl::Status Log::Impl::InstallSegment(uint64_t seq, std::unique_ptr<SegmentWriter> w,
                                       const log::LogSegmentHeaderPB& header) {
  const std::string path = SegmentPath(seq);
  RETURN_IF_ERROR(w->Publish());
  ASSIGN_OR_RETURN(auto f, OpenSegmentFile(path, header, options_.compression, false));
  active_ = std::move(w);
  active_seq_ = seq;
  active_facts_.Clear();
  active_facts_.set_num_entries(0);
  std::unique_lock l(seg_mu_);
  segments_[seq] = std::move(f);
  return absl::OkStatus();
}

absl::Status Log::Impl::StartSegment(uint64_t seq) {
  log::LogSegmentHeaderPB header;
  ASSIGN_OR_RETURN(std::unique_ptr<SegmentWriter> w, PrepareSegment(seq, &header));
  return InstallSegment(seq, std::move(w), header);
}

absl::Status Log::Impl::FinishActive() {
  if (active_ == nullptr) return absl::OkStatus();
  active_facts_.set_close_timestamp_micros(absl::ToUnixMicros(absl::Now()));
  absl::Status st = active_->Finish(active_facts_);
  active_.reset();
  if (st.ok() && unsynced_) MarkWrittenDurable();  // Finish synced what a Write left
  return st;
}

absl::Status Log::Impl::Roll() {
  // The next segment is created (and preallocated) before the active one is
  // finished: when that fails, nothing was written to the log, so the active
  // segment stays open and takes further groups past its target size, and
  // the roll is retried after the next group. A disk too full to preallocate
  // 8 MiB therefore does not stop the log; a disk with no room at all fails
  // the next data write, which is fail-stop as every data-path failure.
  log::LogSegmentHeaderPB header;
  absl::StatusOr<std::unique_ptr<SegmentWriter>> next = PrepareSegment(active_seq_ + 1, &header);
  if (!next.ok()) {
    std::unique_lock l(seg_mu_);
    ++stats_.rolls_deferred;
    return next.status();
  }
  RETURN_IF_ERROR(FinishActive());
  {
    std::unique_lock l(seg_mu_);
    ++stats_.segments_rolled;
  }
  return InstallSegment(active_seq_ + 1, *std::move(next), header);
}

}  // namespace kmend::wal
