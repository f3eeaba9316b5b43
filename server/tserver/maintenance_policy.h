// What a replica's maintenance does next (TabletReplica::RunMaintenance):
// whether to flush the memstore, and below which op index WAL segments may
// be deleted. Pure decisions over a snapshot of facts, like
// server/master/rereplication_policy: no locks, clocks or I/O, tested
// without a tablet or a log (maintenance_policy_test.cc).
//
// Thread safety: pure functions (SegmentOf is called synchronously).
#ifndef KMEND_SERVER_TSERVER_MAINTENANCE_POLICY_H_
#define KMEND_SERVER_TSERVER_MAINTENANCE_POLICY_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "absl/time/time.h"

namespace kmend::tserver {

// Flushing.
struct FlushFacts {
  bool forced = false;                // an explicit request (tests, shutdown paths)
  int64_t applied_index = 0;          // Tablet::applied_op_index
  int64_t last_flushed_index = 0;     // Tablet::last_flushed_op_index
  uint64_t memstore_bytes = 0;
  int64_t memstore_entries = 0;
  absl::Duration since_last_flush;    // since the last flush (or the first round)
  // Whether the WAL holds a segment before its last one (wal::Log::
  // NumSegments() >= 2): only those can a flush let WAL GC delete.
  // Unknown: true.
  bool wal_has_older_segments = true;
};
struct FlushPolicy {
  uint64_t threshold_bytes = 64 << 20;
  int64_t threshold_rows = 1'000'000;
  absl::Duration interval = absl::Minutes(2);
};

// Flush when something applied is unflushed and the flush is forced, the
// memstore reached a size or row threshold, or the oldest unflushed op has
// waited an interval. Nothing unflushed: never (a flush would write nothing).
// An empty memstore whose unflushed ops are only elections' NO_OPs and
// config changes, in a WAL of one segment, is not flushed at the interval
// either: the flush would write a superblock (synced) to let GC delete
// nothing; replaying those ops at a restart costs less. Thousands of idle
// replicas each flushing after every election were a synced-write burst
// on every tablet server two minutes after each leadership change.
bool ShouldFlush(const FlushFacts& facts, const FlushPolicy& policy);

// WAL retention.
struct PeerProgress {
  int64_t match_index = 0;        // 0: not known yet (a new leader probing)
  bool needs_tablet_copy = false; // the log no longer holds what it needs
};
struct RetentionFacts {
  int64_t flushed_index = 0;      // entries up to here are in column blocks
  int64_t wal_first_index = 0;    // the log's first and last entries
  int64_t wal_last_index = 0;
  // The other voters and learners, when this replica leads (empty otherwise).
  std::vector<PeerProgress> peers;
  // The sequence number of the segment holding an op index, nullopt when
  // the log cannot say; monotonic in the index.
  std::function<std::optional<uint64_t>(int64_t index)> segment_of;
};

// The index below which whole WAL segments may be deleted, or nullopt when
// nothing may be (nothing flushed, or no segment wholly below it):
//   1. at most the flushed index: the segment holding it is kept, so a
//      restart (or a copy) finds the term of the op rows were flushed through;
//   2. on a leader, at most what the slowest peer still needs (a peer whose
//      match index is unknown needs everything the log holds; a peer that
//      needs a tablet copy is ignored);
//   3. but a lagging peer keeps at most `max_segments_for_peers` segments
//      before the one holding the flushed index;
//   4. never past the last logged op (the log keeps one entry).
std::optional<int64_t> WalRetentionIndex(const RetentionFacts& facts,
                                         int max_segments_for_peers);

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_MAINTENANCE_POLICY_H_
