// Private to the Log implementation (lib/wal/log*.cc): the types shared by the
// files the Log class spans, and the Log::Impl class itself. Nothing outside
// lib/wal includes this; the public interface is lib/wal/log.h.
//
// Where each part of Log::Impl lives:
//   log.cc           the public Log methods (thin forwarding to Impl)
//   log_recovery.cc  Open's scan of the segments: temp files, torn tail, index
//   log_segments.cc  the active segment: start, finish (footer), roll
//   log_append.cc    validation, encoding, the queue, group commit, control tasks
//   log_read.cc      ReadEntries from the index and the read-side segments
//   log_gc.cc        TruncateAfter and GarbageCollect (run on the writer thread)
//
// Locking, relied on by every file:
//   - mu_ guards the queue state (queue_, has_index_, last_queued_*, closing_,
//     failed_, writing_).
//   - writing_ is the right to touch the writer-owned state (active_,
//     active_seq_, active_facts_, pieces_) and to change the read side; it is
//     held by the writer thread while it processes a task or by an Append
//     caller writing inline. Truncation, GC and rolls run only under it.
//   - seg_mu_ guards the read side (segments_, index_, last_durable_,
//     stats_); readers take it shared, the writing_ holder takes it exclusive
//     to publish changes.
#ifndef KMEND_LIB_WAL_LOG_INTERNAL_H_
#define KMEND_LIB_WAL_LOG_INTERNAL_H_

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/wal/format.h"
#include "lib/wal/log.h"
#include "lib/wal/segment_writer.h"
#include "proto/wal.pb.h"

namespace kmend::wal {
namespace log_internal {

// Read side of one segment file. Readers hold a shared_ptr, so a segment
// deleted by GC or replaced by truncation stays readable through its open
// descriptor until they are done.
struct SegmentFile {
  std::string path;
  uint64_t sequence_number = 0;
  int fd = -1;
  kmend::CompressionType codec = kmend::NO_COMPRESSION;
  bool v1 = false;
  log::LogSegmentHeaderPB header;
  int64_t num_entries = 0;
  int64_t min_index = -1;
  int64_t max_index = -1;
  ~SegmentFile() {
    if (fd >= 0) io::sys::Close(fd);
  }
};

// Opens the read side of a segment file already on disk (defined in
// log_segments.cc).
absl::StatusOr<std::shared_ptr<SegmentFile>> OpenSegmentFile(const std::string& path,
                                                             const log::LogSegmentHeaderPB& header,
                                                             kmend::CompressionType codec, bool v1);

// A run of consecutive REPLICATE indexes stored in one batch.
struct IndexRun {
  int64_t first = 0;
  int64_t last = 0;
  uint64_t sequence_number = 0;
  uint64_t offset = 0;
};

enum class TaskKind { kAppend, kTruncate, kGc, kClose, kSync };

struct Task {
  TaskKind kind = TaskKind::kAppend;
  // kAppend
  std::string bytes;  // batch header + stored payload
  int64_t first_index = 0;
  int64_t last_index = 0;
  int64_t last_term = 0;
  int64_t num_entries = 0;
  Log::AppendCallback done;
  // False for Log::Write: the group is written and, unless another of its
  // tasks asks for the sync, left for the next Sync (or roll, or Close).
  bool sync = true;
  // False while reserved but not yet filled (Log::Reserve); the writer never
  // passes a task that is not ready.
  bool ready = true;
  absl::Status fill_error;  // set when the reservation was abandoned or misfilled
  // Control tasks
  int64_t arg = 0;
  std::promise<absl::StatusOr<int>> result;
};

}  // namespace log_internal

class Log::Impl {
 public:
  Impl(std::string dir, LogOptions options) : dir_(std::move(dir)), options_(std::move(options)) {
    if (options_.tablet_id.empty()) options_.tablet_id = io::Basename(dir_);
  }
  ~Impl() {
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Recover(RecoveryInfo* info);
  // The log is open. The writer thread starts only when a task is queued
  // (EnsureWriterLocked) and ends after kWriterIdle with nothing queued: an
  // idle log, or one whose lone appender writes inline (Append), has no
  // thread, so a server's thread count does not grow with its replicas
  // (issue 15).
  void Start() { started_ = true; }

  void AppendAsync(absl::Span<const consensus::ReplicateMsg> entries, AppendCallback done);
  // Append (synchronous): when nothing is queued and the writer is idle, the
  // caller writes and syncs its batch itself instead of handing it to the
  // writer thread and waiting to be woken (two context switches saved per
  // append of a lone appender such as a Raft Ready thread); otherwise it
  // queues like AppendAsync and waits.
  // With `sync` false: Log::Write (the entries become durable at the next
  // Sync, roll or Close).
  absl::Status Append(absl::Span<const consensus::ReplicateMsg> entries, bool sync = true);
  // Log::Sync: inline when the writer is idle and nothing is queued (the
  // round worker's case: it is the log's only appender), otherwise as a
  // control task behind what is queued.
  absl::Status Sync();
  // Syncs the active segment when a write left it unsynced, then publishes
  // the written entries as durable. Needs writing_.
  absl::Status DoSync();
  // After a sync that covered every Write (DoSync, or FinishActive's footer
  // sync): clears unsynced_ and publishes last_written_ as durable. Needs
  // writing_.
  void MarkWrittenDurable();
  // Ends an inline write (Append, Sync): gives writing_ back and wakes the
  // writer thread for whatever queued behind it.
  void EndInlineWrite();
  absl::StatusOr<log_internal::Task*> Reserve(absl::Span<const consensus::ReplicateMsg> entries);
  void Fill(log_internal::Task* task, absl::Span<const consensus::ReplicateMsg> entries,
            AppendCallback done);
  void Abandon(log_internal::Task* task);
  absl::StatusOr<int> RunControl(log_internal::TaskKind kind, int64_t arg);
  // False when GarbageCollect(retention_index) cannot delete anything now:
  // fewer than two segments (the last is never deleted), or the oldest holds
  // an entry at or past the index. Read side only: GC of an idle log costs
  // no task and no writer thread (thousands of idle replicas each asked
  // every maintenance round, each starting a writer thread that lingered).
  bool MayCollect(int64_t retention_index) const;
  absl::StatusOr<std::vector<consensus::ReplicateMsg>> ReadEntries(int64_t from, int64_t to,
                                                                   uint64_t max_bytes) const;

  consensus::OpId LastOpId() const {
    std::shared_lock l(seg_mu_);
    return last_durable_;
  }
  int64_t LastQueuedIndex() const {
    std::lock_guard l(mu_);
    return last_queued_index_;
  }
  int64_t FirstIndex() const {
    std::shared_lock l(seg_mu_);
    return index_.empty() ? 0 : index_.front().first;
  }
  int NumSegments() const {
    std::shared_lock l(seg_mu_);
    return static_cast<int>(segments_.size());
  }
  absl::StatusOr<EntryLocation> Locate(int64_t index) const {
    std::shared_lock l(seg_mu_);
    const log_internal::IndexRun* run = FindRun(index);
    if (run == nullptr) return absl::NotFoundError(absl::StrCat("no entry with index ", index));
    return EntryLocation{run->sequence_number, run->offset};
  }
  Log::Stats stats() const {
    std::shared_lock l(seg_mu_);
    return stats_;
  }
  bool running() const { return started_; }
  void Join() {
    std::thread t;
    {
      std::lock_guard l(mu_);
      t = std::move(thread_);
    }
    if (t.joinable()) t.join();
  }

 private:
  void WriterLoop();
  // Starts the writer thread unless it runs. Requires mu_; a task was just
  // queued (the writer ends only with an empty queue).
  void EnsureWriterLocked() {
    if (writer_running_) return;
    // A writer that ended set writer_running_ = false under mu_ and touches
    // nothing guarded after that: joining it here does not wait for mu_.
    if (thread_.joinable()) thread_.join();
    writer_running_ = true;
    thread_ = std::thread([this] { WriterLoop(); });
  }
  void WriteGroup(std::vector<log_internal::Task>* group);
  absl::Status StartSegment(uint64_t sequence_number);
  // StartSegment in two steps, so Roll can create the next segment before
  // finishing the active one.
  absl::StatusOr<std::unique_ptr<SegmentWriter>> PrepareSegment(
      uint64_t sequence_number, log::LogSegmentHeaderPB* header);
  absl::Status InstallSegment(uint64_t sequence_number, std::unique_ptr<SegmentWriter> writer,
                              const log::LogSegmentHeaderPB& header);
  absl::Status FinishActive();
  // Finishes the active segment and starts the next. A failure to create the
  // next segment (before anything is finished) leaves the active one in
  // place and is not fatal: the caller retries later (see log_segments.cc).
  absl::Status Roll();
  absl::Status DoTruncate(int64_t index);
  absl::StatusOr<int> DoGc(int64_t retention_index);
  absl::Status RewriteSegment(const log_internal::SegmentFile& segment, int64_t index);
  // Checks that a batch with these ids may be queued next. Requires mu_.
  absl::Status CheckNextLocked(int64_t first_index, int64_t first_term) const;
  // Validates a batch's own ids (consecutive, terms not decreasing).
  static absl::Status CheckBatchIds(absl::Span<const consensus::ReplicateMsg> entries);
  // Encodes `entries` into task->bytes and the task's index facts.
  absl::Status Encode(absl::Span<const consensus::ReplicateMsg> entries,
                      log_internal::Task* task) const;
  // Makes the log fail-stop with `st` (the first error wins).
  void Fail(absl::Status st) {
    std::lock_guard l(mu_);
    if (failed_.ok()) failed_ = std::move(st);
  }
  // Requires seg_mu_ held (shared or exclusive).
  const log_internal::IndexRun* FindRun(int64_t index) const {
    auto it =
        std::upper_bound(index_.begin(), index_.end(), index,
                         [](int64_t i, const log_internal::IndexRun& r) { return i < r.first; });
    if (it == index_.begin()) return nullptr;
    --it;
    return index <= it->last ? &*it : nullptr;
  }
  std::string SegmentPath(uint64_t seq) const { return io::JoinPath(dir_, SegmentFileName(seq)); }

  const std::string dir_;
  LogOptions options_;

  // Queue state, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<log_internal::Task> queue_;
  bool has_index_ = false;  // false: the next append may start at any index
  int64_t last_queued_index_ = 0;
  int64_t last_queued_term_ = 0;
  bool closing_ = false;
  absl::Status failed_;
  // The right to touch the writer-owned state below (active_, pieces_,
  // segments_ writes...): held by the writer thread while it processes tasks,
  // or by an Append caller writing inline. Invariant: an inline write starts
  // only with the queue empty, so entries still reach the disk in enqueue
  // order.
  bool writing_ = false;

  bool started_ = false;         // Start() was called (set once, before use)
  bool writer_running_ = false;  // guarded by mu_: thread_ runs WriterLoop
  std::thread thread_;           // guarded by mu_

  // Owned by whoever holds writing_ (and by Recover before the writer starts).
  std::unique_ptr<SegmentWriter> active_;
  uint64_t active_seq_ = 0;
  log::LogSegmentFooterPB active_facts_;
  std::vector<absl::string_view> pieces_;
  bool unsynced_ = false;  // a Write left data in active_ not yet synced

  // Read side, guarded by seg_mu_; written only by the writer thread.
  mutable std::shared_mutex seg_mu_;
  std::map<uint64_t, std::shared_ptr<log_internal::SegmentFile>> segments_;
  std::vector<log_internal::IndexRun> index_;  // sorted, consecutive
  // Invariant: last_durable_ <= last_written_; they differ only between a
  // Write (Task::sync false) and the next Sync, roll or Close, which publish
  // last_written_ as durable. Readers (ReadEntries, LastOpId) see only
  // durable entries; truncation considers everything written.
  consensus::OpId last_durable_;
  consensus::OpId last_written_;
  Log::Stats stats_;
};

}  // namespace kmend::wal

#endif  // KMEND_LIB_WAL_LOG_INTERNAL_H_
