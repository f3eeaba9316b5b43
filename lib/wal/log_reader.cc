#include "lib/wal/log_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"

namespace kmend::wal {

const char* ProblemKindName(ProblemKind kind) {
  return kind == ProblemKind::kCorruption ? "corruption" : "sequence";
}

absl::StatusOr<std::vector<std::string>> ListSegmentFiles(const std::string& dir) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, io::ListDir(dir));
  std::vector<std::string> out;
  for (const std::string& name : names) {
    if (!absl::StartsWith(name, "wal") || io::IsTempFileName(name)) continue;
    out.push_back(io::JoinPath(dir, name));
  }
  return out;
}

namespace {

// One read of a whole log; holds the state shared by the checks.
class LogScan {
 public:
  LogScan(const ReadLogOptions& options, LogVisitor* visitor)
      : options_(options), visitor_(visitor) {}

  absl::StatusOr<LogSummary> Run(const std::vector<std::string>& files);

 private:
  // Records a problem; returns non-OK when reading must stop.
  absl::Status Report(ProblemKind kind, const std::string& segment, uint64_t offset,
                      absl::Status status) {
    Problem p{kind, segment, offset, std::move(status)};
    if (visitor_ != nullptr) visitor_->OnProblem(p);
    summary_.problems.push_back(p);
    if (!options_.continue_after_problem) return p.status;
    return absl::OkStatus();
  }
  absl::Status CheckEntries(const SegmentReader& segment, const Batch& batch);
  absl::Status ReadSegment(SegmentReader& segment, bool is_last, SegmentSummary* summary);

  const ReadLogOptions options_;
  LogVisitor* const visitor_;
  LogSummary summary_;
  int64_t last_index_ = -1;
  int64_t last_term_ = -1;
};

absl::Status LogScan::CheckEntries(const SegmentReader& segment, const Batch& batch) {
  for (const log::LogEntryPB& e : batch.batch.entry()) {
    ++summary_.entries;
    if (e.type() != log::REPLICATE || !e.has_replicate()) continue;
    const consensus::OpId& id = e.replicate().id();
    if (last_index_ >= 0 && id.index() != last_index_ + 1) {
      RETURN_IF_ERROR(Report(
          ProblemKind::kSequence, segment.path(), batch.offset,
          absl::DataLossError(absl::StrCat(
              segment.path(), ": offset ", batch.offset, ": op index ",
              id.index() > last_index_ ? "gap" : "regression", ": entry ", id.term(), ".",
              id.index(), " follows index ", last_index_, " (expected ", last_index_ + 1, ")"))));
    } else if (id.term() < last_term_) {
      RETURN_IF_ERROR(Report(ProblemKind::kSequence, segment.path(), batch.offset,
                             absl::DataLossError(absl::StrCat(
                                 segment.path(), ": offset ", batch.offset, ": term regression: entry ",
                                 id.term(), ".", id.index(), " follows term ", last_term_))));
    }
    if (summary_.first_replicate_index < 0) summary_.first_replicate_index = id.index();
    last_index_ = id.index();
    last_term_ = id.term();
    summary_.last_replicate = id;
  }
  return absl::OkStatus();
}

absl::Status LogScan::ReadSegment(SegmentReader& segment, bool is_last, SegmentSummary* s) {
  if (visitor_ != nullptr) RETURN_IF_ERROR(visitor_->OnSegmentStart(segment));
  Batch batch;
  while (true) {
    absl::Status st = segment.Next(&batch);
    if (absl::IsOutOfRange(st)) break;
    if (!st.ok()) {
      if (!absl::IsDataLoss(st)) return st;  // I/O error: cannot go on
      // SegmentReader resumes by itself at the next valid batch, if any.
      RETURN_IF_ERROR(
          Report(ProblemKind::kCorruption, segment.path(), segment.error_offset(), st));
      continue;
    }
    ++s->batches;
    RETURN_IF_ERROR(CheckEntries(segment, batch));
    if (visitor_ != nullptr) RETURN_IF_ERROR(visitor_->OnBatch(segment, batch));
  }
  const log::LogSegmentFooterPB& facts = segment.rebuilt_footer();
  s->entries = facts.num_entries();
  s->min_replicate_index = facts.min_replicate_index();
  s->max_replicate_index = facts.max_replicate_index();
  s->tail = segment.tail();
  if (s->tail.kind == TailKind::kTorn) {
    if (is_last) {
      summary_.torn_tail = true;
      summary_.torn_segment = segment.path();
      summary_.torn = s->tail;
    } else {
      summary_.earlier_torn_segments.push_back(segment.path());
    }
  }
  if (visitor_ != nullptr) RETURN_IF_ERROR(visitor_->OnSegmentEnd(segment, *s));
  return absl::OkStatus();
}

absl::StatusOr<LogSummary> LogScan::Run(const std::vector<std::string>& files) {
  // Open every segment to learn its sequence number, then read in that order.
  std::vector<std::unique_ptr<SegmentReader>> readers;
  for (const std::string& path : files) {
    absl::StatusOr<std::unique_ptr<SegmentReader>> r = SegmentReader::Open(path);
    if (!r.ok()) {
      if (!absl::IsDataLoss(r.status()) && !absl::IsUnimplemented(r.status())) return r.status();
      SegmentSummary s;
      s.path = path;
      s.readable = false;
      summary_.segments.push_back(s);
      RETURN_IF_ERROR(Report(ProblemKind::kCorruption, path, 0, r.status()));
      continue;
    }
    readers.push_back(*std::move(r));
  }
  std::stable_sort(readers.begin(), readers.end(), [](const auto& a, const auto& b) {
    if (a->uninitialized() != b->uninitialized()) return b->uninitialized();
    return a->header().sequence_number() < b->header().sequence_number();
  });
  size_t initialized = 0;
  while (initialized < readers.size() && !readers[initialized]->uninitialized()) ++initialized;
  for (size_t i = 0; i < readers.size(); ++i) {
    SegmentReader& r = *readers[i];
    SegmentSummary s;
    s.path = r.path();
    s.file_size = r.file_size();
    s.uninitialized = r.uninitialized();
    if (!r.uninitialized()) {
      s.sequence_number = r.header().sequence_number();
      s.has_footer = r.has_footer();
      s.codec = r.codec();
      if (i > 0) {
        uint64_t prev = readers[i - 1]->header().sequence_number();
        if (s.sequence_number != prev + 1) {
          RETURN_IF_ERROR(Report(
              ProblemKind::kSequence, r.path(), 0,
              absl::DataLossError(absl::StrCat(
                  r.path(), ": segment sequence number ", s.sequence_number, " follows ", prev,
                  " (", readers[i - 1]->path(), "); segments must be consecutive"))));
        }
      }
      RETURN_IF_ERROR(ReadSegment(r, i + 1 == initialized, &s));
    }
    summary_.segments.push_back(s);
  }
  std::stable_sort(summary_.segments.begin(), summary_.segments.end(),
                   [](const SegmentSummary& a, const SegmentSummary& b) {
                     return a.readable && !b.readable;
                   });
  return std::move(summary_);
}

class ReplayVisitor : public LogVisitor {
 public:
  ReplayVisitor(int64_t after_index,
                const std::function<absl::Status(const log::LogEntryPB&)>& callback)
      : after_index_(after_index), callback_(callback) {}

  absl::Status OnBatch(const SegmentReader& segment, const Batch& batch) override {
    for (const log::LogEntryPB& e : batch.batch.entry()) {
      bool feed = true;
      if (e.has_replicate()) {
        feed = e.replicate().id().index() > after_index_;
      } else if (e.has_commit() && e.commit().has_commited_op_id()) {
        feed = e.commit().commited_op_id().index() > after_index_;
      }
      if (!feed) continue;
      RETURN_IF_ERROR(callback_(e));
      ++fed_;
    }
    return absl::OkStatus();
  }
  int64_t fed() const { return fed_; }

 private:
  const int64_t after_index_;
  const std::function<absl::Status(const log::LogEntryPB&)>& callback_;
  int64_t fed_ = 0;
};

}  // namespace

absl::StatusOr<LogSummary> ReadLog(const std::string& path, const ReadLogOptions& options,
                                   LogVisitor* visitor) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return io::ErrnoError("stat", path, errno);
  std::vector<std::string> files;
  if (S_ISDIR(st.st_mode)) {
    ASSIGN_OR_RETURN(files, ListSegmentFiles(path));
  } else {
    files.push_back(path);
  }
  LogScan scan(options, visitor);
  return scan.Run(files);
}

absl::StatusOr<ReplayResult> Replay(
    const std::string& dir, int64_t after_index,
    const std::function<absl::Status(const log::LogEntryPB&)>& callback) {
  ReplayVisitor visitor(after_index, callback);
  ASSIGN_OR_RETURN(LogSummary summary, ReadLog(dir, ReadLogOptions{}, &visitor));
  ReplayResult result;
  result.entries_fed = visitor.fed();
  result.last_replicate = summary.last_replicate;
  result.torn_tail = summary.torn_tail;
  result.torn_segment = summary.torn_segment;
  result.torn_offset = summary.torn.offset;
  result.torn_reason = summary.torn.reason;
  result.segments = static_cast<int>(summary.segments.size());
  return result;
}

}  // namespace kmend::wal
