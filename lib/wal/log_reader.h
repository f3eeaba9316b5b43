// Reads a whole WAL (a tablet's WAL directory, or one segment file) in order,
// checks it across segments, and reports what it finds to a LogVisitor:
// LevelDB's Reporter idea, so that one reader serves both policies, "stop at
// the first problem" (replay, Log::Open) and "report everything and carry on"
// (verify, dump).
//
// Checks on top of SegmentReader's (docs/formats/wal.md):
//   - segments are ordered by their header's sequence_number, which must be
//     consecutive (Kudu's rule); a missing or duplicate number is a
//     kSequence problem;
//   - REPLICATE op indexes must be consecutive across the whole log and terms
//     must not decrease; a gap or regression is a kSequence problem. (Kudu
//     itself may append a lower index after a leader change and resolve it at
//     bootstrap; kmend's Log truncates physically instead, so for kmend logs
//     any regression is a fault.)
// A torn tail (SegmentReader's kTorn) is not a problem: it is what a crash
// leaves. In the last segment replay stops there; in an earlier segment
// (Kudu starts a new segment after a crash without repairing the old one)
// reading continues with the next segment, and lost entries would show up as
// an op index gap.
//
// Thread safety: the functions are reentrant; a visitor is called from the
// calling thread only.
#ifndef KMEND_LIB_WAL_LOG_READER_H_
#define KMEND_LIB_WAL_LOG_READER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/wal/segment_reader.h"
#include "proto/opid.pb.h"
#include "proto/wal.pb.h"

namespace kmend::wal {

enum class ProblemKind {
  kCorruption,  // damaged bytes: CRC, length, codec, parse, footer mismatch
  kSequence,    // segment numbers or op indexes out of order
};
const char* ProblemKindName(ProblemKind kind);

struct Problem {
  ProblemKind kind = ProblemKind::kCorruption;
  std::string segment;  // file path
  uint64_t offset = 0;  // byte offset in that file (0 when about the file)
  absl::Status status;  // DataLoss (or the I/O error) with the full message
};

// Per-segment facts after reading it.
struct SegmentSummary {
  std::string path;
  uint64_t sequence_number = 0;
  bool uninitialized = false;
  bool has_footer = false;
  kmend::CompressionType codec = kmend::NO_COMPRESSION;
  uint64_t file_size = 0;
  int64_t batches = 0;
  int64_t entries = 0;
  int64_t min_replicate_index = -1;
  int64_t max_replicate_index = -1;
  SegmentTail tail;
  bool readable = true;  // false when the header itself could not be read
};

// Callbacks while reading. Returning an error from On* stops the read and
// ReadLog returns that error.
class LogVisitor {
 public:
  virtual ~LogVisitor() = default;
  virtual absl::Status OnSegmentStart(const SegmentReader& segment) { return absl::OkStatus(); }
  virtual absl::Status OnBatch(const SegmentReader& segment, const Batch& batch) {
    return absl::OkStatus();
  }
  virtual absl::Status OnSegmentEnd(const SegmentReader& segment, const SegmentSummary& summary) {
    return absl::OkStatus();
  }
  virtual void OnProblem(const Problem& problem) {}
};

struct ReadLogOptions {
  // false: the first problem ends the read and ReadLog returns its status.
  // true: problems go to OnProblem and LogSummary::problems, reading goes on
  // (at the next valid batch or the next segment).
  bool continue_after_problem = false;
};

struct LogSummary {
  std::vector<SegmentSummary> segments;  // in sequence order
  std::vector<Problem> problems;
  // A torn tail in the last segment.
  bool torn_tail = false;
  std::string torn_segment;
  SegmentTail torn;
  // Torn tails of earlier segments (only seen in Kudu-made logs).
  std::vector<std::string> earlier_torn_segments;
  int64_t entries = 0;
  int64_t first_replicate_index = -1;
  consensus::OpId last_replicate;  // term 0, index 0 if none
};

// The segment files of a WAL directory: names starting "wal" that are not
// temp files, sorted by name. (ReadLog orders by header sequence number.)
absl::StatusOr<std::vector<std::string>> ListSegmentFiles(const std::string& dir);

// Reads `path` (a WAL directory or a single segment file). Errors: the I/O
// error when the path cannot be listed/opened; with
// !continue_after_problem, the first problem's DataLoss status.
absl::StatusOr<LogSummary> ReadLog(const std::string& path, const ReadLogOptions& options,
                                   LogVisitor* visitor);

struct ReplayResult {
  int64_t entries_fed = 0;
  consensus::OpId last_replicate;  // last REPLICATE op id in the log (fed or not)
  bool torn_tail = false;          // replay stopped at a torn tail...
  std::string torn_segment;        // ...in this file
  uint64_t torn_offset = 0;        // ...at this offset
  std::string torn_reason;
  int segments = 0;
};

// Feeds every entry after op index `after_index` to `callback`, in log order:
// REPLICATE entries with index > after_index, and COMMIT entries whose
// committed op index is > after_index (or that name none). Stops with
// DataLoss at the first corruption or sequence problem; stops quietly at a
// torn tail in the last segment (see the result). A non-OK status from the
// callback stops the replay and is returned.
absl::StatusOr<ReplayResult> Replay(const std::string& dir, int64_t after_index,
                                    const std::function<absl::Status(const log::LogEntryPB&)>& callback);

}  // namespace kmend::wal

#endif  // KMEND_LIB_WAL_LOG_READER_H_
