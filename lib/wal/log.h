// The write-ahead log of one tablet: a directory of segment files
// `<wal_root>/wals/<tablet_id>/wal-%09u` in Apache Kudu's framing
// (docs/formats/wal.md), written by one Log object.
//
// What the Log guarantees:
//   - Durability: Append returns (AppendAsync calls back) only after the
//     entries are written and, with options.sync, fdatasync'ed. Concurrent
//     appenders share one write + fdatasync (group commit): appenders enqueue
//     already-encoded batches; a single writer thread takes everything queued,
//     writes it with one pwritev(2), syncs once, then acknowledges all of them.
//   - Order: entries are stored in the order they were enqueued. Op indexes
//     must be consecutive (each append continues at LastQueuedIndex() + 1)
//     and terms must not decrease; anything else is refused with
//     FailedPrecondition before it reaches the disk. A brand-new, empty log
//     accepts any first index (a tablet copy may start mid-history).
//   - Recovery: Open scans every segment (rebuilding the in-memory index), cuts
//     a torn tail off the last segment (an incomplete final batch, expected
//     after a crash; reported in recovery()), closes that segment with a
//     footer, and starts a new segment numbered last + 1, as Kudu does.
//     Corruption anywhere else makes Open fail with DataLoss naming the
//     segment, offset and check that failed.
//   - Truncation: after TruncateAfter(i) returns, entries with index > i are
//     gone for good, also across a crash (see TruncateAfter).
//
// Thread safety: all methods are thread-safe. Append/AppendAsync may be called
// from any number of threads; to control the op index order, callers assign
// indexes and call AppendAsync under their own lock (AppendAsync never blocks
// on I/O), then wait outside it; or, so that encoding does not happen under
// that lock, call Reserve under it and Fill outside it. Callbacks run on the Log's writer thread in
// enqueue order; they must not block on the Log (no Append, TruncateAfter,
// GarbageCollect or Close from a callback; AppendAsync is fine).
//
// Failure: an I/O error while writing makes the Log fail-stop: that append and
// every later one get the error (the on-disk state is whatever recovery makes
// of it on the next Open).
//
// Lifetime: the Log owns its writer thread and file descriptors; the
// destructor calls Close(). Appends still queued at Close are completed first.
#ifndef KMEND_LIB_WAL_LOG_H_
#define KMEND_LIB_WAL_LOG_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/common.pb.h"
#include "proto/consensus.pb.h"
#include "proto/opid.pb.h"

namespace kmend::wal {

struct LogOptions {
  // A segment is closed (footer written) and a new one started once it holds
  // at least this many bytes. Kudu's default is 8 MiB.
  uint64_t segment_size_bytes = 8u << 20;
  // Codec for new segments: ZSTD (kmend's value 100), NO_COMPRESSION or LZ4.
  kmend::CompressionType compression = kmend::ZSTD;
  int zstd_level = 1;
  // fdatasync before acknowledging appends. Off only for tests/benchmarks.
  bool sync = true;
  // With sync: Open syncs the footer it writes to a segment a crash left
  // open. false: it does not, and the caller makes the filesystem durable
  // (io::SyncFilesystemOf) before it relies on the log, e.g. once for all
  // the replicas a tablet server opens at start-up: one journal commit
  // instead of one per replica (issue 15, restart after a crash). A crash
  // before that leaves what a crash between the footer's write and its sync
  // always could: the next Open closes the segment again.
  bool sync_recovered_footer = true;
  // fallocate each new segment to segment_size_bytes (zeros), as Kudu does, so
  // that fdatasync need not update the file size on every group.
  bool preallocate = true;
  // Written into each segment header. Empty: the directory's base name.
  std::string tablet_id;
  kmend::SchemaPB schema;
  uint32_t schema_version = 0;
};

// What Open found and did.
struct RecoveryInfo {
  int segments = 0;          // segment files read
  int64_t entries = 0;       // entries found (all segments)
  bool torn_tail = false;    // an incomplete final batch was cut off
  std::string torn_segment;  // its file
  uint64_t torn_offset = 0;  // where the file was truncated
  uint64_t torn_bytes = 0;   // bytes dropped
  std::string torn_reason;   // what was incomplete
};

// Where one REPLICATE entry's batch lives.
struct EntryLocation {
  uint64_t segment_sequence_number = 0;
  uint64_t batch_offset = 0;  // offset of the batch header in the segment
};

class Log {
 private:
  class Impl;

 public:
  // Called exactly once per AppendAsync with OK once the entries are durable,
  // or with the error that kept them from being so.
  using AppendCallback = std::function<void(const absl::Status&)>;

  // Opens (creating if needed) the WAL directory `dir` and recovers it.
  static absl::StatusOr<std::unique_ptr<Log>> Open(const std::string& dir,
                                                   const LogOptions& options);

  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  const RecoveryInfo& recovery() const { return recovery_; }
  const std::string& dir() const { return dir_; }

  // Appends `entries` (one batch) and returns once durable. Entries are
  // serialized before this returns control to the queue, so the caller keeps
  // ownership of the messages.
  absl::Status Append(absl::Span<const consensus::ReplicateMsg> entries);

  // Append in two halves, for a caller that writes the logs of several
  // tablets and then syncs each (the tablet server's round worker,
  // lib/consensus/raft_scheduler.h): Write returns once the entries are
  // written (in order, as Append's), without syncing them; Sync returns once
  // everything written before it is durable. Until then LastOpId() and
  // ReadEntries do not show the written entries, and a crash may lose them
  // (a segment roll or Close syncs them too). Nothing that depends on the
  // entries may leave the process before Sync returns OK; a failed Sync is
  // fail-stop, as a failed Append.
  absl::Status Write(absl::Span<const consensus::ReplicateMsg> entries);
  absl::Status Sync();

  // Encodes and enqueues `entries`; `done` is called once they are durable (or
  // failed). Validation errors (non-consecutive index, closed log) call `done`
  // before AppendAsync returns.
  void AppendAsync(absl::Span<const consensus::ReplicateMsg> entries, AppendCallback done);

  // Two-phase append, for callers that fix the order of appends under their
  // own lock (as a Raft leader assigning indexes does). Reserve() checks the
  // op ids of `entries` and takes the next place in the log; it does not
  // serialize anything, so it is cheap enough to call under that lock.
  // Fill() then encodes the entries (serialize, compress, checksum) outside
  // the lock, so that concurrent appenders encode in parallel, and completes
  // like AppendAsync. Batches are written in reservation order: a filled
  // batch waits until every earlier reservation is filled.
  //
  // Each successful Reserve must be followed by one Fill with entries of
  // exactly the reserved op ids. A Reservation destroyed unfilled, or filled
  // with other ids, makes the Log fail-stop (its order can no longer be
  // kept). Reservations must be filled or destroyed before Close(), which
  // waits for them.
  class Reservation {
   public:
    Reservation() = default;
    Reservation(Reservation&& other) noexcept { *this = std::move(other); }
    Reservation& operator=(Reservation&& other) noexcept;
    ~Reservation();

   private:
    friend class Log;
    Impl* impl_ = nullptr;
    void* task_ = nullptr;  // the queued, not yet ready task
  };
  absl::StatusOr<Reservation> Reserve(absl::Span<const consensus::ReplicateMsg> entries);
  void Fill(Reservation reservation, absl::Span<const consensus::ReplicateMsg> entries,
            AppendCallback done);

  // Durable entries with from_index <= index <= to_index, in order, stopping
  // early once more than max_bytes of serialized entries were collected (at
  // least one entry is always returned). NotFound if from_index was garbage
  // collected (below FirstIndex()); OutOfRange if from_index > LastOpId().index.
  // to_index beyond the end is clamped.
  absl::StatusOr<std::vector<consensus::ReplicateMsg>> ReadEntries(
      int64_t from_index, int64_t to_index, uint64_t max_bytes = UINT64_MAX) const;

  // The last durable entry's op id; term 0, index 0 when the log is empty.
  consensus::OpId LastOpId() const;
  // The index the next append must continue from, minus one (includes entries
  // queued or reserved but not yet durable). 0 when the log is empty and has
  // taken no append since Open (the next append may then start anywhere).
  int64_t LastQueuedIndex() const;
  // The first index still in the log; 0 when the log is empty.
  int64_t FirstIndex() const;
  // Segment files the log holds now (the one being written included); all
  // but the last may be deleted by GarbageCollect.
  int NumSegments() const;
  // Where a durable entry lives; NotFound if it does not.
  absl::StatusOr<EntryLocation> Locate(int64_t index) const;

  // Removes every entry with index > `index`, durably, after waiting for
  // queued appends. Scheme (docs/formats/wal.md, "Truncation"): close the
  // current segment; delete the segments whose entries are all > index,
  // highest sequence number first, fsyncing the directory; then rewrite the
  // segment holding `index` without the later entries into a temp file,
  // fsync it and rename it over the original, fsync the directory; then start
  // a new segment. Every crash point leaves a valid log whose entries are a
  // prefix of the old one, so entries > index never come back once this
  // returns. Afterwards LastQueuedIndex() == min(index, old last index).
  absl::Status TruncateAfter(int64_t index);

  // Deletes whole segments (never the one being written) whose entries all
  // have index < retention_index, lowest first. Returns how many were deleted.
  absl::StatusOr<int> GarbageCollect(int64_t retention_index);

  // Completes queued appends, writes the footer of the current segment,
  // stops the writer thread. Later calls are no-ops; appends after Close fail
  // with FailedPrecondition.
  absl::Status Close();

  // Counters for tests and benchmarks.
  struct Stats {
    uint64_t groups_written = 0;   // write+sync rounds (unsynced for Write)
    uint64_t batches_written = 0;  // appends acknowledged
    uint64_t bytes_written = 0;    // batch bytes (headers + payloads)
    uint64_t segments_rolled = 0;
    // Rolls put off because the next segment could not be created (no room
    // to preallocate it): the active segment grew past its target instead.
    uint64_t rolls_deferred = 0;
  };
  Stats stats() const;

 private:
  explicit Log(std::string dir);

  const std::string dir_;
  RecoveryInfo recovery_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kmend::wal

#endif  // KMEND_LIB_WAL_LOG_H_
