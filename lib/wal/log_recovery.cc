// Recovery: what Log::Open does to a WAL directory before the first append.
//
// Steps, in order: delete temp files (unpublished segments or truncation
// rewrites from before a crash); scan every segment with ReadLog, which fails
// with DataLoss on corruption anywhere but in the tail of the last segment;
// delete preallocated segments that were never written; close the last
// segment if it has no footer (cut a torn tail or unused preallocated space,
// write the footer); build the read side (segments_, index_, last_durable_)
// and the queue state from the scan. The new segment (numbered last + 1) is
// started by the first append, not by Recover (except for a new, empty log).
//
// Invariants relied on: Recover runs before the writer thread starts, so it
// owns all writer-side state without holding writing_; a segment without a
// footer can only be the last one (every roll writes the footer before the
// next segment is published), so it is the only one whose tail may be torn.
#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/util/status_macros.h"
#include "lib/wal/format.h"
#include "lib/wal/log_internal.h"
#include "lib/wal/log_reader.h"
#include "lib/wal/segment_reader.h"
#include "lib/wal/segment_writer.h"

namespace kmend::wal {

using log_internal::IndexRun;
using log_internal::OpenSegmentFile;

namespace {

// Collects what Log needs from a recovery scan.
class RecoveryVisitor : public LogVisitor {
 public:
  struct Seg {
    std::string path;
    log::LogSegmentHeaderPB header;
    kmend::CompressionType codec;
    bool v1;
    bool has_footer;
  };
  absl::Status OnSegmentStart(const SegmentReader& s) override {
    segs.push_back({s.path(), s.header(), s.codec(), s.v1_batch_headers(), s.has_footer()});
    return absl::OkStatus();
  }
  absl::Status OnBatch(const SegmentReader& s, const Batch& batch) override {
    int64_t first = -1, last = -1;
    for (const log::LogEntryPB& e : batch.batch.entry()) {
      if (!e.has_replicate()) continue;
      if (first < 0) first = e.replicate().id().index();
      last = e.replicate().id().index();
    }
    if (first >= 0) runs.push_back({first, last, s.header().sequence_number(), batch.offset});
    return absl::OkStatus();
  }
  std::vector<Seg> segs;
  std::vector<IndexRun> runs;
};

}  // namespace

absl::Status Log::Impl::Recover(RecoveryInfo* info) {
  RETURN_IF_ERROR(io::CreateDirs(dir_));
  // Temp files are unpublished segments or rewrites from before a crash.
  ASSIGN_OR_RETURN(std::vector<std::string> names, io::ListDir(dir_));
  for (const std::string& name : names) {
    if (io::IsTempFileName(name)) io::sys::Unlink(io::JoinPath(dir_, name).c_str());
  }
  RecoveryVisitor visitor;
  absl::StatusOr<LogSummary> scan = ReadLog(dir_, ReadLogOptions{}, &visitor);
  if (!scan.ok()) return Annotate(scan.status(), absl::StrCat("recovering WAL ", dir_));
  LogSummary& summary = *scan;

  for (const SegmentSummary& s : summary.segments) {
    if (s.uninitialized) {
      // Preallocated, never written: holds nothing, and its name would
      // collide with a future segment.
      if (io::sys::Unlink(s.path.c_str()) != 0) return io::ErrnoError("unlink", s.path, errno);
    }
  }
  info->segments = static_cast<int>(visitor.segs.size());
  info->entries = summary.entries;

  // Close the last segment: cut any torn tail or unused preallocated space,
  // and write the footer it never got.
  if (!visitor.segs.empty() && !visitor.segs.back().has_footer) {
    const SegmentSummary* last = nullptr;
    for (const SegmentSummary& s : summary.segments) {
      if (s.path == visitor.segs.back().path) last = &s;
    }
    if (last->tail.kind == TailKind::kTorn) {
      info->torn_tail = true;
      info->torn_segment = last->path;
      info->torn_offset = last->tail.offset;
      info->torn_bytes = last->tail.dropped_bytes;
      info->torn_reason = last->tail.reason;
    }
    log::LogSegmentFooterPB footer;
    footer.set_num_entries(last->entries);
    footer.set_min_replicate_index(last->min_replicate_index);
    footer.set_max_replicate_index(last->max_replicate_index);
    footer.set_close_timestamp_micros(absl::ToUnixMicros(absl::Now()));
    ASSIGN_OR_RETURN(auto w, SegmentWriter::Reopen(last->path, last->tail.offset,
                                                   options_.sync && options_.sync_recovered_footer));
    RETURN_IF_ERROR(Annotate(w->Finish(footer), "closing the recovered segment"));
  }

  // Read side.
  for (size_t i = 0; i < visitor.segs.size(); ++i) {
    const auto& s = visitor.segs[i];
    ASSIGN_OR_RETURN(auto f, OpenSegmentFile(s.path, s.header, s.codec, s.v1));
    for (const SegmentSummary& sum : summary.segments) {
      if (sum.path == s.path) {
        f->num_entries = sum.entries;
        f->min_index = sum.min_replicate_index;
        f->max_index = sum.max_replicate_index;
      }
    }
    segments_[f->sequence_number] = f;
  }
  index_ = std::move(visitor.runs);
  last_durable_ = summary.last_replicate;
  last_written_ = last_durable_;
  has_index_ = !index_.empty();
  last_queued_index_ = last_durable_.index();
  last_queued_term_ = last_durable_.term();

  // A new log (no segment yet: a replica being created) starts its first
  // segment now, as before, so a creation's cost stays in CreateTablet
  // rather than in its first election's Ready. A recovered log's next
  // segment is created by the first append (WriteGroup), not here: creating
  // it (temp file, 8 MiB preallocation, header, fdatasync, rename, directory
  // fsync) for every replica made a tablet server's start-up cost several
  // syncs per replica, most of them for replicas that append nothing before
  // their next restart (docs/design/scale.md, "Restart"). Until then the
  // recovered segments are the whole log; the last one has its footer, so
  // the invariant "only the last segment on disk may lack a footer" holds,
  // and a restart meanwhile finds nothing to close.
  if (segments_.empty()) return StartSegment(1);
  active_seq_ = segments_.rbegin()->first + 1;
  return absl::OkStatus();
}

}  // namespace kmend::wal
