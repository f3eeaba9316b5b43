#include "lib/wal/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "google/protobuf/io/coded_stream.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"
#include "lib/wal/format.h"
#include "lib/wal/log_reader.h"
#include "lib/wal/segment_reader.h"
#include "lib/wal/segment_writer.h"

namespace kmend::wal {
namespace {

using google::protobuf::io::CodedOutputStream;

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
    if (fd >= 0) ::close(fd);
  }
};

absl::StatusOr<std::shared_ptr<SegmentFile>> OpenSegmentFile(const std::string& path,
                                                             const log::LogSegmentHeaderPB& header,
                                                             kmend::CompressionType codec, bool v1) {
  auto f = std::make_shared<SegmentFile>();
  f->path = path;
  f->sequence_number = header.sequence_number();
  f->header = header;
  f->codec = codec;
  f->v1 = v1;
  f->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f->fd < 0) return io::ErrnoError("open", path, errno);
  return f;
}

// A run of consecutive REPLICATE indexes stored in one batch.
struct IndexRun {
  int64_t first = 0;
  int64_t last = 0;
  uint64_t sequence_number = 0;
  uint64_t offset = 0;
};

enum class TaskKind { kAppend, kTruncate, kGc, kClose };

struct Task {
  TaskKind kind = TaskKind::kAppend;
  // kAppend
  std::string bytes;  // batch header + stored payload
  int64_t first_index = 0;
  int64_t last_index = 0;
  int64_t last_term = 0;
  int64_t num_entries = 0;
  Log::AppendCallback done;
  // False while reserved but not yet filled (Log::Reserve); the writer never
  // passes a task that is not ready.
  bool ready = true;
  absl::Status fill_error;  // set when the reservation was abandoned or misfilled
  // Control tasks
  int64_t arg = 0;
  std::promise<absl::StatusOr<int>> result;
};

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

class Log::Impl {
 public:
  Impl(std::string dir, LogOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {
    if (options_.tablet_id.empty()) options_.tablet_id = io::Basename(dir_);
  }
  ~Impl() {
    if (thread_.joinable()) thread_.join();
  }

  absl::Status Recover(RecoveryInfo* info);
  void Start() { thread_ = std::thread([this] { WriterLoop(); }); }

  void AppendAsync(absl::Span<const consensus::ReplicateMsg> entries, AppendCallback done);
  // Append (synchronous): when nothing is queued and the writer is idle, the
  // caller writes and syncs its batch itself instead of handing it to the
  // writer thread and waiting to be woken (two context switches saved per
  // append of a lone appender such as a Raft Ready thread); otherwise it
  // queues like AppendAsync and waits.
  absl::Status Append(absl::Span<const consensus::ReplicateMsg> entries);
  absl::StatusOr<Task*> Reserve(absl::Span<const consensus::ReplicateMsg> entries);
  void Fill(Task* task, absl::Span<const consensus::ReplicateMsg> entries, AppendCallback done);
  void Abandon(Task* task);
  absl::StatusOr<int> RunControl(TaskKind kind, int64_t arg);
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
  absl::StatusOr<EntryLocation> Locate(int64_t index) const {
    std::shared_lock l(seg_mu_);
    const IndexRun* run = FindRun(index);
    if (run == nullptr) return absl::NotFoundError(absl::StrCat("no entry with index ", index));
    return EntryLocation{run->sequence_number, run->offset};
  }
  Log::Stats stats() const {
    std::shared_lock l(seg_mu_);
    return stats_;
  }
  bool running() const { return thread_.joinable(); }
  void Join() {
    if (thread_.joinable()) thread_.join();
  }

 private:
  void WriterLoop();
  void WriteGroup(std::vector<Task>* group);
  absl::Status StartSegment(uint64_t sequence_number);
  absl::Status FinishActive();
  absl::Status Roll();
  absl::Status DoTruncate(int64_t index);
  absl::StatusOr<int> DoGc(int64_t retention_index);
  absl::Status RewriteSegment(const SegmentFile& segment, int64_t index);
  // Checks that a batch with these ids may be queued next. Requires mu_.
  absl::Status CheckNextLocked(int64_t first_index, int64_t first_term) const;
  // Validates a batch's own ids (consecutive, terms not decreasing).
  static absl::Status CheckBatchIds(absl::Span<const consensus::ReplicateMsg> entries);
  // Encodes `entries` into task->bytes and the task's index facts.
  absl::Status Encode(absl::Span<const consensus::ReplicateMsg> entries, Task* task) const;
  // Makes the log fail-stop with `st` (the first error wins).
  void Fail(absl::Status st) {
    std::lock_guard l(mu_);
    if (failed_.ok()) failed_ = std::move(st);
  }
  // Requires seg_mu_ held (shared or exclusive).
  const IndexRun* FindRun(int64_t index) const {
    auto it = std::upper_bound(index_.begin(), index_.end(), index,
                               [](int64_t i, const IndexRun& r) { return i < r.first; });
    if (it == index_.begin()) return nullptr;
    --it;
    return index <= it->last ? &*it : nullptr;
  }
  std::string SegmentPath(uint64_t seq) const {
    return io::JoinPath(dir_, SegmentFileName(seq));
  }

  const std::string dir_;
  LogOptions options_;

  // Queue state, guarded by mu_.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Task> queue_;
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

  // Owned by whoever holds writing_ (and by Recover before the writer starts).
  std::thread thread_;
  std::unique_ptr<SegmentWriter> active_;
  uint64_t active_seq_ = 0;
  log::LogSegmentFooterPB active_facts_;
  std::vector<absl::string_view> pieces_;

  // Read side, guarded by seg_mu_; written only by the writer thread.
  mutable std::shared_mutex seg_mu_;
  std::map<uint64_t, std::shared_ptr<SegmentFile>> segments_;
  std::vector<IndexRun> index_;  // sorted, consecutive
  consensus::OpId last_durable_;
  Log::Stats stats_;
};

// ---------------------------------------------------------------------------
// Recovery

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
    if (io::IsTempFileName(name)) ::unlink(io::JoinPath(dir_, name).c_str());
  }
  RecoveryVisitor visitor;
  absl::StatusOr<LogSummary> scan = ReadLog(dir_, ReadLogOptions{}, &visitor);
  if (!scan.ok()) return Annotate(scan.status(), absl::StrCat("recovering WAL ", dir_));
  LogSummary& summary = *scan;

  for (const SegmentSummary& s : summary.segments) {
    if (s.uninitialized) {
      // Preallocated, never written: holds nothing, and its name would
      // collide with a future segment.
      if (::unlink(s.path.c_str()) != 0) return io::ErrnoError("unlink", s.path, errno);
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
    ASSIGN_OR_RETURN(auto w, SegmentWriter::Reopen(last->path, last->tail.offset, options_.sync));
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
  has_index_ = !index_.empty();
  last_queued_index_ = last_durable_.index();
  last_queued_term_ = last_durable_.term();

  uint64_t next = segments_.empty() ? 1 : segments_.rbegin()->first + 1;
  return StartSegment(next);
}

// ---------------------------------------------------------------------------
// Segments

absl::Status Log::Impl::StartSegment(uint64_t seq) {
  log::LogSegmentHeaderPB header;
  header.set_tablet_id(options_.tablet_id);
  header.set_sequence_number(seq);
  *header.mutable_schema() = options_.schema;
  header.set_schema_version(options_.schema_version);
  header.set_compression_codec(options_.compression);
  const std::string path = SegmentPath(seq);
  ASSIGN_OR_RETURN(auto w, SegmentWriter::Create(path, header,
                                                 options_.preallocate ? options_.segment_size_bytes : 0,
                                                 options_.sync));
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

absl::Status Log::Impl::FinishActive() {
  if (active_ == nullptr) return absl::OkStatus();
  active_facts_.set_close_timestamp_micros(absl::ToUnixMicros(absl::Now()));
  absl::Status st = active_->Finish(active_facts_);
  active_.reset();
  return st;
}

absl::Status Log::Impl::Roll() {
  RETURN_IF_ERROR(FinishActive());
  {
    std::unique_lock l(seg_mu_);
    ++stats_.segments_rolled;
  }
  return StartSegment(active_seq_ + 1);
}

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
    return absl::FailedPreconditionError(absl::StrCat("WAL ", dir_, ": append must continue at index ",
                                                      last_queued_index_ + 1, ", got ", first_term,
                                                      ".", first_index));
  }
  if (first_term < last_queued_term_) {
    return absl::FailedPreconditionError(absl::StrCat("WAL ", dir_, ": term ", first_term,
                                                      " of entry ", first_index,
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
      cv_.notify_one();
      return;
    }
  }
  done(st);
}

absl::Status Log::Impl::Append(absl::Span<const consensus::ReplicateMsg> entries) {
  RETURN_IF_ERROR(CheckBatchIds(entries));
  std::vector<Task> group(1);
  Task& task = group.front();
  RETURN_IF_ERROR(Encode(entries, &task));
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
      cv_.notify_one();
    }
  }
  if (result.valid()) return result.get();
  absl::Status st;
  task.done = [&st](const absl::Status& s) { st = s; };
  WriteGroup(&group);
  std::lock_guard l(mu_);
  writing_ = false;
  if (!queue_.empty()) cv_.notify_one();  // queued behind this write
  return st;
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
  return &queue_.back();
}

void Log::Impl::Fill(Task* reserved, absl::Span<const consensus::ReplicateMsg> entries,
                     AppendCallback done) {
  Task encoded;
  absl::Status st = CheckBatchIds(entries);
  if (st.ok() && (entries.front().id().index() != reserved->first_index ||
                  entries.back().id().index() != reserved->last_index)) {
    st = absl::FailedPreconditionError(absl::StrCat(
        "WAL ", dir_, ": filled reservation [", reserved->first_index, ", ",
        reserved->last_index, "] with entries [", entries.front().id().index(), ", ",
        entries.back().id().index(), "]"));
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
      cv_.wait(l, [this] { return !writing_ && !queue_.empty() && queue_.front().ready; });
      writing_ = true;
      size_t bytes = 0;
      while (!queue_.empty() && queue_.front().kind == TaskKind::kAppend &&
             queue_.front().ready && bytes < kMaxGroupBytes) {
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
  uint64_t offset = active_ ? active_->offset() : 0;
  if (st.ok()) {
    pieces_.clear();
    for (const Task& t : *group) pieces_.push_back(t.bytes);
    st = active_->Append(pieces_);
    if (st.ok()) st = active_->Sync();
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
    last_durable_.set_term(group->back().last_term);
    last_durable_.set_index(group->back().last_index);
    active_facts_.set_num_entries(seg.num_entries);
    active_facts_.set_min_replicate_index(seg.min_index);
    active_facts_.set_max_replicate_index(seg.max_index);
  }
  for (Task& t : *group) {
    if (t.done) t.done(st);
  }
  if (st.ok() && active_->offset() >= options_.segment_size_bytes) {
    absl::Status roll = Roll();
    if (!roll.ok()) Fail(Annotate(roll, "rolling to a new segment"));
  }
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
    cv_.notify_one();
  }
  return result.get();
}

// ---------------------------------------------------------------------------
// Reading

absl::StatusOr<std::vector<consensus::ReplicateMsg>> Log::Impl::ReadEntries(
    int64_t from, int64_t to, uint64_t max_bytes) const {
  std::vector<std::pair<std::shared_ptr<SegmentFile>, uint64_t>> batches;
  {
    std::shared_lock l(seg_mu_);
    if (index_.empty() || from > last_durable_.index()) {
      return absl::OutOfRangeError(absl::StrCat("WAL ", dir_, ": index ", from,
                                                " is past the last entry ", last_durable_.index()));
    }
    if (from < index_.front().first) {
      return absl::NotFoundError(absl::StrCat("WAL ", dir_, ": index ", from,
                                              " was garbage collected; the log starts at ",
                                              index_.front().first));
    }
    to = std::min(to, last_durable_.index());
    auto it = std::upper_bound(index_.begin(), index_.end(), from,
                               [](int64_t i, const IndexRun& r) { return i < r.first; });
    --it;
    for (; it != index_.end() && it->first <= to; ++it) {
      batches.emplace_back(segments_.at(it->sequence_number), it->offset);
    }
  }
  std::vector<consensus::ReplicateMsg> out;
  uint64_t bytes = 0;
  Batch batch;
  for (const auto& [seg, offset] : batches) {
    bool incomplete = false;
    absl::Status st = DecodeBatchAt(seg->fd, seg->path, offset, UINT64_MAX, seg->v1, seg->codec,
                                    &batch, &incomplete);
    if (!st.ok()) return st;
    for (log::LogEntryPB& e : *batch.batch.mutable_entry()) {
      if (!e.has_replicate()) continue;
      int64_t index = e.replicate().id().index();
      if (index < from || index > to) continue;
      if (!out.empty() && bytes >= max_bytes) return out;
      bytes += e.replicate().ByteSizeLong();
      out.push_back(std::move(*e.mutable_replicate()));
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// Truncation and garbage collection (writer thread)

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
    if (index_.empty() || index >= last_durable_.index()) return absl::OkStatus();
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
    if (::unlink(seg->path.c_str()) != 0) return io::ErrnoError("unlink", seg->path, errno);
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
  }
  uint64_t next;
  {
    std::shared_lock l(seg_mu_);
    next = segments_.empty() ? std::max<uint64_t>(lowest_deleted, 1)
                             : segments_.rbegin()->first + 1;
  }
  return StartSegment(next);
}

absl::StatusOr<int> Log::Impl::DoGc(int64_t retention_index) {
  std::vector<std::shared_ptr<SegmentFile>> doomed;
  {
    std::shared_lock l(seg_mu_);
    for (const auto& [seq, seg] : segments_) {
      if (seq == active_seq_ || seg->max_index >= retention_index) break;
      doomed.push_back(seg);
    }
  }
  // Lowest first: a crash leaves a consecutive suffix.
  for (const auto& seg : doomed) {
    if (::unlink(seg->path.c_str()) != 0) return io::ErrnoError("unlink", seg->path, errno);
    std::unique_lock l(seg_mu_);
    segments_.erase(seg->sequence_number);
    while (!index_.empty() && index_.front().sequence_number == seg->sequence_number) {
      index_.erase(index_.begin());
    }
  }
  if (options_.sync && !doomed.empty()) RETURN_IF_ERROR(io::SyncDir(dir_));
  return static_cast<int>(doomed.size());
}

// ---------------------------------------------------------------------------
// Log

Log::Log(std::string dir) : dir_(std::move(dir)) {}

Log::~Log() {
  absl::Status st = Close();
  (void)st;  // nowhere to report it; callers who care call Close() themselves
}

absl::StatusOr<std::unique_ptr<Log>> Log::Open(const std::string& dir, const LogOptions& options) {
  if (options.compression != kmend::ZSTD && options.compression != kmend::LZ4 &&
      options.compression != kmend::NO_COMPRESSION) {
    return absl::InvalidArgumentError(absl::StrCat(
        "WAL codec must be ZSTD, LZ4 or NO_COMPRESSION, got ",
        kmend::CompressionType_Name(options.compression)));
  }
  std::unique_ptr<Log> log(new Log(dir));
  log->impl_ = std::make_unique<Impl>(dir, options);
  RETURN_IF_ERROR(log->impl_->Recover(&log->recovery_));
  log->impl_->Start();
  return log;
}

absl::Status Log::Append(absl::Span<const consensus::ReplicateMsg> entries) {
  return impl_->Append(entries);
}

void Log::AppendAsync(absl::Span<const consensus::ReplicateMsg> entries, AppendCallback done) {
  impl_->AppendAsync(entries, std::move(done));
}

Log::Reservation& Log::Reservation::operator=(Reservation&& other) noexcept {
  if (this != &other) {
    if (impl_ != nullptr) impl_->Abandon(static_cast<Task*>(task_));
    impl_ = other.impl_;
    task_ = other.task_;
    other.impl_ = nullptr;
    other.task_ = nullptr;
  }
  return *this;
}

Log::Reservation::~Reservation() {
  if (impl_ != nullptr) impl_->Abandon(static_cast<Task*>(task_));
}

absl::StatusOr<Log::Reservation> Log::Reserve(absl::Span<const consensus::ReplicateMsg> entries) {
  ASSIGN_OR_RETURN(Task * task, impl_->Reserve(entries));
  Reservation r;
  r.impl_ = impl_.get();
  r.task_ = task;
  return r;
}

void Log::Fill(Reservation reservation, absl::Span<const consensus::ReplicateMsg> entries,
               AppendCallback done) {
  if (reservation.impl_ == nullptr) {
    done(absl::InvalidArgumentError("Fill of an empty reservation"));
    return;
  }
  Task* task = static_cast<Task*>(reservation.task_);
  reservation.impl_ = nullptr;  // consumed: the destructor must not abandon it
  impl_->Fill(task, entries, std::move(done));
}

absl::StatusOr<std::vector<consensus::ReplicateMsg>> Log::ReadEntries(int64_t from_index,
                                                                      int64_t to_index,
                                                                      uint64_t max_bytes) const {
  return impl_->ReadEntries(from_index, to_index, max_bytes);
}

consensus::OpId Log::LastOpId() const { return impl_->LastOpId(); }
int64_t Log::LastQueuedIndex() const { return impl_->LastQueuedIndex(); }
int64_t Log::FirstIndex() const { return impl_->FirstIndex(); }
absl::StatusOr<EntryLocation> Log::Locate(int64_t index) const { return impl_->Locate(index); }

absl::Status Log::TruncateAfter(int64_t index) {
  return impl_->RunControl(TaskKind::kTruncate, index).status();
}

absl::StatusOr<int> Log::GarbageCollect(int64_t retention_index) {
  return impl_->RunControl(TaskKind::kGc, retention_index);
}

absl::Status Log::Close() {
  if (impl_ == nullptr || !impl_->running()) return absl::OkStatus();
  absl::StatusOr<int> r = impl_->RunControl(TaskKind::kClose, 0);
  impl_->Join();
  return r.status();
}

Log::Stats Log::stats() const { return impl_->stats(); }

}  // namespace kmend::wal
