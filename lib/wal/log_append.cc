// Appending: the append queue, group commit and the writer thread.
//
// An append is validated (CheckBatchIds: the batch's own ids;
// CheckNextLocked under mu_: it continues the queued log) and encoded (a
// LogEntryBatchPB, compressed, framed) before it joins queue_; Reserve/Fill
// split those so the order is fixed under the caller's lock and encoding
// happens outside it. The writer thread (WriterLoop) takes every ready append
// at the front of the queue into one group, writes it with one pwritev,
// syncs once and acknowledges all of it (WriteGroup); control tasks
// (truncate, GC, close; queued by RunControl) run alone, in queue order.
//
// Invariants relied on:
//   - Entries reach the disk in enqueue order: the writer takes tasks only
//     from the front, never passes a task that is not ready, and an inline
//     Append writes only when the queue is empty and nobody holds writing_.
//   - last_queued_index_/term_ describe the end of the queue (reservations
//     included), so validation under mu_ orders appends without waiting for I/O.
//   - Fail-stop: once failed_ is set, every later append and control task gets
//     that error; a reservation that is abandoned or misfilled sets it, since
//     the order can no longer be kept.
#include <algorithm>
#include <chrono>
#include <future>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "lib/util/status_macros.h"
#include "lib/wal/format.h"
#include "lib/wal/log_internal.h"
#include "lib/wal/segment_writer.h"

namespace kmend::wal {

using log_internal::SegmentFile;
using log_internal::Task;
using log_internal::TaskKind;

namespace {

// How long an idle writer thread waits for work before it ends (the next
// queued task starts a new one).
constexpr std::chrono::seconds kWriterIdle{2};

using google::protobuf::io::CodedOutputStream;

// Serializes `entries` as a LogEntryBatchPB of REPLICATE entries without
// copying each message into a LogEntryPB first.
std::string EncodeReplicateBatch(absl::Span<const consensus::ReplicateMsg> entries) {
  std::vector<size_t> sizes;
  sizes.reserve(entries.size());
  size_t total = 0;
  for (const auto& msg : entries) {
    size_t n = msg.ByteSizeLong();
    sizes.push_back(n);
    // LogEntryPB: type (tag 0x08, value 1) + replicate (tag 0x12, len, msg).
    size_t entry = 2 + 1 + CodedOutputStream::VarintSize64(n) + n;
    total += 1 + CodedOutputStream::VarintSize64(entry) + entry;
  }
  std::string out(total, '\0');
  uint8_t* p = reinterpret_cast<uint8_t*>(out.data());
  for (size_t i = 0; i < entries.size(); ++i) {
    size_t n = sizes[i];
    size_t entry = 2 + 1 + CodedOutputStream::VarintSize64(n) + n;
    *p++ = 0x0A;  // LogEntryBatchPB.entry, length-delimited
    p = CodedOutputStream::WriteVarint64ToArray(entry, p);
    *p++ = 0x08;  // LogEntryPB.type
    *p++ = static_cast<uint8_t>(log::REPLICATE);
    *p++ = 0x12;  // LogEntryPB.replicate
    p = CodedOutputStream::WriteVarint64ToArray(n, p);
    p = entries[i].SerializeWithCachedSizesToArray(p);
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// Appending

absl::Status Log::Impl::CheckBatchIds(absl::Span<const consensus::ReplicateMsg> entries) {
  if (entries.empty()) return absl::InvalidArgumentError("append of an empty batch");
  for (size_t i = 0; i < entries.size(); ++i) {
    const consensus::ReplicateMsg& m = entries[i];
    if (!m.IsInitialized()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry ", i, " is missing required fields: ", m.InitializationErrorString()));
    }
    if (i > 0 && (m.id().index() != entries[i - 1].id().index() + 1 ||
                  m.id().term() < entries[i - 1].id().term())) {
      return absl::FailedPreconditionError(absl::StrCat(
          "entries of one append must have consecutive indexes and non-decreasing terms: ",
          m.id().term(), ".", m.id().index(), " follows ", entries[i - 1].id().term(), ".",
          entries[i - 1].id().index()));
    }
  }
  return absl::OkStatus();
}

absl::Status Log::Impl::CheckNextLocked(int64_t first_index, int64_t first_term) const {
  if (!failed_.ok()) return failed_;
  if (closing_) return absl::FailedPreconditionError(absl::StrCat("WAL ", dir_, " is closed"));
  if (has_index_ && first_index != last_queued_index_ + 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("WAL ", dir_, ": append must continue at index ", last_queued_index_ + 1,
                     ", got ", first_term, ".", first_index));
  }
  if (first_term < last_queued_term_) {
    return absl::FailedPreconditionError(
        absl::StrCat("WAL ", dir_, ": term ", first_term, " of entry ", first_index,
                     " is below the last term ", last_queued_term_));
  }
  return absl::OkStatus();
}

absl::Status Log::Impl::Encode(absl::Span<const consensus::ReplicateMsg> entries,
                               Task* task) const {
  std::string plain = EncodeReplicateBatch(entries);
  std::string stored;
  RETURN_IF_ERROR(Compress(options_.compression, options_.zstd_level, plain, &stored));
  task->bytes.clear();
  task->bytes.reserve(kBatchHeaderBytesV2 + stored.size());
  AppendBatch(stored, static_cast<uint32_t>(plain.size()), &task->bytes);
  task->first_index = entries.front().id().index();
  task->last_index = entries.back().id().index();
  task->last_term = entries.back().id().term();
  task->num_entries = static_cast<int64_t>(entries.size());
  return absl::OkStatus();
}

void Log::Impl::AppendAsync(absl::Span<const consensus::ReplicateMsg> entries,
                            AppendCallback done) {
  absl::Status st = CheckBatchIds(entries);
  if (!st.ok()) {
    done(st);
    return;
  }
  // Encode outside the lock so that appenders compress in parallel.
  Task task;
  st = Encode(entries, &task);
  if (st.ok()) {
    std::lock_guard l(mu_);
    st = CheckNextLocked(task.first_index, entries.front().id().term());
    if (st.ok()) {
      has_index_ = true;
      last_queued_index_ = task.last_index;
      last_queued_term_ = task.last_term;
      task.done = std::move(done);
      queue_.push_back(std::move(task));
      EnsureWriterLocked();
      cv_.notify_one();
      return;
    }
  }
  done(st);
}

absl::Status Log::Impl::Append(absl::Span<const consensus::ReplicateMsg> entries, bool sync) {
  RETURN_IF_ERROR(CheckBatchIds(entries));
  std::vector<Task> group(1);
  Task& task = group.front();
  RETURN_IF_ERROR(Encode(entries, &task));
  task.sync = sync;
  std::promise<absl::Status> done;
  std::future<absl::Status> result;
  {
    std::lock_guard l(mu_);
    RETURN_IF_ERROR(CheckNextLocked(task.first_index, entries.front().id().term()));
    has_index_ = true;
    last_queued_index_ = task.last_index;
    last_queued_term_ = task.last_term;
    if (!writing_ && queue_.empty()) {
      writing_ = true;  // inline: see the declaration
    } else {
      result = done.get_future();
      task.done = [&done](const absl::Status& st) { done.set_value(st); };
      queue_.push_back(std::move(task));
      EnsureWriterLocked();
      cv_.notify_one();
    }
  }
  if (result.valid()) return result.get();
  absl::Status st;
  task.done = [&st](const absl::Status& s) { st = s; };
  WriteGroup(&group);
  EndInlineWrite();
  return st;
}

void Log::Impl::EndInlineWrite() {
  std::lock_guard l(mu_);
  writing_ = false;
  if (!queue_.empty()) cv_.notify_one();  // queued behind this write
}

absl::StatusOr<Task*> Log::Impl::Reserve(absl::Span<const consensus::ReplicateMsg> entries) {
  RETURN_IF_ERROR(CheckBatchIds(entries));
  std::lock_guard l(mu_);
  RETURN_IF_ERROR(CheckNextLocked(entries.front().id().index(), entries.front().id().term()));
  has_index_ = true;
  last_queued_index_ = entries.back().id().index();
  last_queued_term_ = entries.back().id().term();
  Task task;
  task.ready = false;
  task.first_index = entries.front().id().index();
  task.last_index = last_queued_index_;
  // std::deque::push_back keeps references to elements valid, and the
  // writer does not pop this task before it is ready.
  queue_.push_back(std::move(task));
  EnsureWriterLocked();
  return &queue_.back();
}

void Log::Impl::Fill(Task* reserved, absl::Span<const consensus::ReplicateMsg> entries,
                     AppendCallback done) {
  Task encoded;
  absl::Status st = CheckBatchIds(entries);
  if (st.ok() && (entries.front().id().index() != reserved->first_index ||
                  entries.back().id().index() != reserved->last_index)) {
    st = absl::FailedPreconditionError(absl::StrCat(
        "WAL ", dir_, ": filled reservation [", reserved->first_index, ", ", reserved->last_index,
        "] with entries [", entries.front().id().index(), ", ", entries.back().id().index(), "]"));
  }
  if (st.ok()) st = Encode(entries, &encoded);
  std::lock_guard l(mu_);
  if (st.ok()) {
    reserved->bytes = std::move(encoded.bytes);
    reserved->last_term = encoded.last_term;
    reserved->num_entries = encoded.num_entries;
  } else {
    reserved->fill_error = st;
  }
  reserved->done = std::move(done);
  reserved->ready = true;
  cv_.notify_one();
}

void Log::Impl::Abandon(Task* reserved) {
  std::lock_guard l(mu_);
  reserved->fill_error = absl::AbortedError(absl::StrCat(
      "WAL ", dir_, ": reservation for index ", reserved->first_index, " was never filled"));
  reserved->ready = true;
  cv_.notify_one();
}

void Log::Impl::WriterLoop() {
  // Upper bound of one group's bytes, so that acknowledgements keep flowing
  // under a flood of asynchronous appends.
  constexpr size_t kMaxGroupBytes = 16u << 20;
  std::vector<Task> group;
  while (true) {
    Task control;
    {
      std::unique_lock l(mu_);
      auto work = [this] { return !writing_ && !queue_.empty() && queue_.front().ready; };
      while (!cv_.wait_for(l, kWriterIdle, work)) {
        // Idle: end, unless something is queued (an inline write or an
        // unfilled reservation holds it up; it will notify).
        if (queue_.empty()) {
          writer_running_ = false;
          return;
        }
      }
      writing_ = true;
      size_t bytes = 0;
      while (!queue_.empty() && queue_.front().kind == TaskKind::kAppend && queue_.front().ready &&
             bytes < kMaxGroupBytes) {
        bytes += queue_.front().bytes.size();
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (group.empty()) {
        control = std::move(queue_.front());
        queue_.pop_front();
      }
    }
    if (!group.empty()) {
      WriteGroup(&group);
      group.clear();
      std::lock_guard l(mu_);
      writing_ = false;
      continue;
    }
    absl::Status failed;
    {
      std::lock_guard l(mu_);
      failed = failed_;
    }
    switch (control.kind) {
      case TaskKind::kClose: {
        absl::Status st = failed.ok() ? FinishActive() : failed;
        {
          std::lock_guard l(mu_);
          writing_ = false;
          writer_running_ = false;
        }
        control.result.set_value(st.ok() ? absl::StatusOr<int>(0) : absl::StatusOr<int>(st));
        return;
      }
      case TaskKind::kTruncate: {
        absl::Status st = failed.ok() ? DoTruncate(control.arg) : failed;
        if (!st.ok()) Fail(st);
        control.result.set_value(st.ok() ? absl::StatusOr<int>(0) : absl::StatusOr<int>(st));
        break;
      }
      case TaskKind::kGc: {
        absl::StatusOr<int> r = failed.ok() ? DoGc(control.arg) : absl::StatusOr<int>(failed);
        control.result.set_value(std::move(r));
        break;
      }
      case TaskKind::kSync: {
        absl::Status st = failed.ok() ? DoSync() : failed;
        control.result.set_value(st.ok() ? absl::StatusOr<int>(0) : absl::StatusOr<int>(st));
        break;
      }
      case TaskKind::kAppend:
        break;  // unreachable: appends are grouped above
    }
    std::lock_guard l(mu_);
    writing_ = false;
  }
}

void Log::Impl::WriteGroup(std::vector<Task>* group) {
  for (const Task& t : *group) {
    // A hole in the order: nothing after it may be written.
    if (!t.fill_error.ok()) Fail(t.fill_error);
  }
  absl::Status st;
  {
    std::lock_guard l(mu_);
    st = failed_;
  }
  // The first append after Recover starts the segment Recover left for it
  // (numbered active_seq_). Failing to create it is fail-stop, as a failed
  // roll that left no active segment.
  if (st.ok() && active_ == nullptr) {
    st = StartSegment(active_seq_);
    if (!st.ok()) Fail(Annotate(st, "starting a new segment"));
  }
  uint64_t offset = active_ ? active_->offset() : 0;
  if (st.ok()) {
    pieces_.clear();
    for (const Task& t : *group) pieces_.push_back(t.bytes);
    st = active_->Append(pieces_);
    const bool sync =
        std::any_of(group->begin(), group->end(), [](const Task& t) { return t.sync; });
    if (st.ok() && sync) st = active_->Sync();
    if (st.ok()) unsynced_ = !sync;
    if (!st.ok()) Fail(st);
  }
  if (st.ok()) {
    std::unique_lock l(seg_mu_);
    SegmentFile& seg = *segments_[active_seq_];
    for (const Task& t : *group) {
      index_.push_back({t.first_index, t.last_index, active_seq_, offset});
      offset += t.bytes.size();
      seg.num_entries += t.num_entries;
      if (seg.min_index < 0) seg.min_index = t.first_index;
      seg.max_index = t.last_index;
      ++stats_.batches_written;
      stats_.bytes_written += t.bytes.size();
    }
    ++stats_.groups_written;
    last_written_.set_term(group->back().last_term);
    last_written_.set_index(group->back().last_index);
    if (!unsynced_) last_durable_ = last_written_;  // this group was synced
    active_facts_.set_num_entries(seg.num_entries);
    active_facts_.set_min_replicate_index(seg.min_index);
    active_facts_.set_max_replicate_index(seg.max_index);
  }
  for (Task& t : *group) {
    if (t.done) t.done(st);
  }
  if (st.ok() && active_->offset() >= options_.segment_size_bytes) {
    absl::Status roll = Roll();
    // A deferred roll (the next segment could not be created, e.g. no room
    // to preallocate it) leaves the active segment open: retried after the
    // next group. A failure after the active segment was finished leaves
    // none (active_ is null): fail-stop.
    if (!roll.ok() && active_ == nullptr) Fail(Annotate(roll, "rolling to a new segment"));
  }
}

absl::Status Log::Impl::Sync() {
  bool here;
  {
    std::lock_guard l(mu_);
    if (!failed_.ok()) return failed_;
    here = !writing_ && queue_.empty();
    if (here) writing_ = true;  // inline, as Append's
  }
  if (!here) return RunControl(TaskKind::kSync, 0).status();
  absl::Status st = DoSync();
  EndInlineWrite();
  return st;
}

absl::Status Log::Impl::DoSync() {
  if (!unsynced_ || active_ == nullptr) return absl::OkStatus();
  absl::Status st = active_->Sync();
  if (!st.ok()) {
    Fail(st);
    return st;
  }
  MarkWrittenDurable();
  return absl::OkStatus();
}

void Log::Impl::MarkWrittenDurable() {
  unsynced_ = false;
  std::unique_lock l(seg_mu_);
  last_durable_ = last_written_;
}

absl::StatusOr<int> Log::Impl::RunControl(TaskKind kind, int64_t arg) {
  Task task;
  task.kind = kind;
  task.arg = arg;
  std::future<absl::StatusOr<int>> result = task.result.get_future();
  {
    std::lock_guard l(mu_);
    if (closing_) {
      if (kind == TaskKind::kClose) return 0;
      return absl::FailedPreconditionError(absl::StrCat("WAL ", dir_, " is closed"));
    }
    if (kind == TaskKind::kClose) closing_ = true;
    if (kind == TaskKind::kTruncate && arg < last_queued_index_) {
      last_queued_index_ = std::max<int64_t>(arg, 0);
      last_queued_term_ = 0;  // unknown until the next append
    }
    queue_.push_back(std::move(task));
    EnsureWriterLocked();
    cv_.notify_one();
  }
  return result.get();
}

}  // namespace kmend::wal
