// Truncation (TruncateAfter: Raft log conflicts) and garbage collection
// (GarbageCollect: segments below the retention index), both run on the writer
// thread as control tasks; docs/formats/wal.md, "Truncation" and "Garbage
// collection".
//
// Invariants relied on:
//   - They run holding writing_, with no append in flight, so the active
//     segment and the read side change under nobody's feet.
//   - Every crash point leaves a valid log: truncation deletes later segments
//     highest first (a prefix of segments remains) and replaces the cut
//     segment by atomic rename; GC deletes lowest first (a suffix remains) and
//     never the active segment.
//   - index_ is sorted and consecutive, so dropping runs from either end keeps
//     it so.
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <shared_mutex>
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
#include "lib/wal/segment_reader.h"
#include "lib/wal/segment_writer.h"

namespace kmend::wal {

using log_internal::IndexRun;
using log_internal::OpenSegmentFile;
using log_internal::SegmentFile;

absl::Status Log::Impl::RewriteSegment(const SegmentFile& seg, int64_t index) {
  if (seg.v1) {
    return absl::UnimplementedError(
        absl::StrCat(seg.path, ": cannot truncate a segment with v1 batch headers"));
  }
  ASSIGN_OR_RETURN(auto reader, SegmentReader::Open(seg.path));
  std::vector<std::string> kept;
  log::LogSegmentFooterPB facts;
  facts.set_num_entries(0);
  Batch batch;
  bool done = false;
  while (!done) {
    absl::Status st = reader->Next(&batch);
    if (absl::IsOutOfRange(st)) break;
    RETURN_IF_ERROR(st);
    int64_t max_in_batch = -1;
    for (const auto& e : batch.batch.entry()) {
      if (e.has_replicate()) max_in_batch = e.replicate().id().index();
    }
    std::string bytes;
    if (max_in_batch <= index) {
      // Unchanged bytes, so earlier offsets (and the index) stay valid.
      bytes.resize(batch.size_bytes);
      RETURN_IF_ERROR(io::PreadFully(seg.fd, seg.path, batch.offset, bytes.size(), bytes.data()));
    } else {
      log::LogEntryBatchPB cut;
      for (const auto& e : batch.batch.entry()) {
        if (e.has_replicate() && e.replicate().id().index() <= index) *cut.add_entry() = e;
      }
      done = true;
      if (cut.entry_size() == 0) break;
      batch.batch = cut;
      std::string plain = cut.SerializeAsString(), stored;
      RETURN_IF_ERROR(Compress(seg.codec, options_.zstd_level, plain, &stored));
      AppendBatch(stored, static_cast<uint32_t>(plain.size()), &bytes);
    }
    for (const auto& e : batch.batch.entry()) {
      facts.set_num_entries(facts.num_entries() + 1);
      if (!e.has_replicate()) continue;
      int64_t i = e.replicate().id().index();
      if (facts.min_replicate_index() < 0) facts.set_min_replicate_index(i);
      facts.set_max_replicate_index(i);
    }
    kept.push_back(std::move(bytes));
  }
  ASSIGN_OR_RETURN(auto w, SegmentWriter::Create(seg.path, seg.header, 0, options_.sync));
  std::vector<absl::string_view> pieces(kept.begin(), kept.end());
  RETURN_IF_ERROR(w->Append(pieces));
  facts.set_close_timestamp_micros(absl::ToUnixMicros(absl::Now()));
  RETURN_IF_ERROR(w->Finish(facts));
  RETURN_IF_ERROR(w->Publish());  // atomic replace + directory sync
  ASSIGN_OR_RETURN(auto f, OpenSegmentFile(seg.path, seg.header, seg.codec, seg.v1));
  f->num_entries = facts.num_entries();
  f->min_index = facts.min_replicate_index();
  f->max_index = facts.max_replicate_index();
  std::unique_lock l(seg_mu_);
  segments_[f->sequence_number] = std::move(f);
  return absl::OkStatus();
}

absl::Status Log::Impl::DoTruncate(int64_t index) {
  std::shared_ptr<SegmentFile> holder;
  {
    std::shared_lock l(seg_mu_);
    if (index_.empty() || index >= last_written_.index()) return absl::OkStatus();
    if (const IndexRun* run = FindRun(index)) holder = segments_.at(run->sequence_number);
  }
  RETURN_IF_ERROR(FinishActive());
  // 1. Delete every later segment, highest first: each crash point leaves a
  //    consecutive prefix of segments, i.e. a valid shorter log.
  uint64_t lowest_deleted = 0;
  std::vector<std::shared_ptr<SegmentFile>> doomed;
  {
    std::shared_lock l(seg_mu_);
    for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
      if (holder != nullptr && it->first <= holder->sequence_number) break;
      doomed.push_back(it->second);
    }
  }
  for (const auto& seg : doomed) {
    if (io::sys::Unlink(seg->path.c_str()) != 0) return io::ErrnoError("unlink", seg->path, errno);
    lowest_deleted = seg->sequence_number;
    std::unique_lock l(seg_mu_);
    segments_.erase(seg->sequence_number);
  }
  if (options_.sync && !doomed.empty()) RETURN_IF_ERROR(io::SyncDir(dir_));
  // 2. Cut the segment holding `index` (temp file, sync, rename, sync dir).
  if (holder != nullptr && holder->max_index > index) {
    RETURN_IF_ERROR(RewriteSegment(*holder, index));
  }
  // 3. Forget the cut entries and continue in a new segment.
  consensus::OpId last;
  {
    std::unique_lock l(seg_mu_);
    while (!index_.empty() && index_.back().first > index) index_.pop_back();
    if (!index_.empty() && index_.back().last > index) index_.back().last = index;
  }
  if (holder != nullptr) {
    ASSIGN_OR_RETURN(std::vector<consensus::ReplicateMsg> tail, ReadEntries(index, index, 0));
    last = tail.back().id();
  }
  {
    std::unique_lock l(seg_mu_);
    last_durable_ = last;
    last_written_ = last;
  }
  uint64_t next;
  {
    std::shared_lock l(seg_mu_);
    next =
        segments_.empty() ? std::max<uint64_t>(lowest_deleted, 1) : segments_.rbegin()->first + 1;
  }
  return StartSegment(next);
}

bool Log::Impl::MayCollect(int64_t retention_index) const {
  std::shared_lock l(seg_mu_);
  // With two or more, the oldest is closed: its max_index no longer moves.
  return segments_.size() >= 2 && segments_.begin()->second->max_index < retention_index;
}

absl::StatusOr<int> Log::Impl::DoGc(int64_t retention_index) {
  std::vector<std::shared_ptr<SegmentFile>> doomed;
  {
    std::shared_lock l(seg_mu_);
    // Never the last segment: the active one, or, before the first append
    // after Recover started one (active_ is null), the last recovered one,
    // so that the log never becomes empty.
    const uint64_t last_seq = segments_.empty() ? 0 : segments_.rbegin()->first;
    for (const auto& [seq, seg] : segments_) {
      if (seq == active_seq_ || seg->max_index >= retention_index) break;
      if (active_ == nullptr && seq == last_seq) break;
      doomed.push_back(seg);
    }
  }
  // Lowest first: a crash leaves a consecutive suffix.
  for (const auto& seg : doomed) {
    if (io::sys::Unlink(seg->path.c_str()) != 0) return io::ErrnoError("unlink", seg->path, errno);
    std::unique_lock l(seg_mu_);
    segments_.erase(seg->sequence_number);
    while (!index_.empty() && index_.front().sequence_number == seg->sequence_number) {
      index_.erase(index_.begin());
    }
  }
  if (options_.sync && !doomed.empty()) RETURN_IF_ERROR(io::SyncDir(dir_));
  return static_cast<int>(doomed.size());
}

}  // namespace kmend::wal
