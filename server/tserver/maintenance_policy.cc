#include "server/tserver/maintenance_policy.h"

#include <algorithm>
#include <cstdint>

namespace kmend::tserver {

bool ShouldFlush(const FlushFacts& f, const FlushPolicy& p) {
  const bool unflushed = f.applied_index > f.last_flushed_index;
  if (!unflushed) return false;
  if (f.forced || f.memstore_bytes >= p.threshold_bytes || f.memstore_entries >= p.threshold_rows) {
    return true;
  }
  const bool worth_it = f.memstore_entries > 0 || f.wal_has_older_segments;
  return worth_it && f.since_last_flush >= p.interval;
}

namespace {

// Rule 3: the smallest index in [lo, hi] whose segment is at or past
// `oldest_kept` (segment_of is monotonic; segment_of(hi) is known to be).
int64_t FirstIndexInSegmentAtOrAfter(const RetentionFacts& f, uint64_t oldest_kept, int64_t lo,
                                     int64_t hi) {
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    const std::optional<uint64_t> at = f.segment_of(mid);
    if (!at || *at < oldest_kept) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace

std::optional<int64_t> WalRetentionIndex(const RetentionFacts& f, int max_segments_for_peers) {
  if (f.flushed_index <= 0) return std::nullopt;
  int64_t retention = f.flushed_index;  // rule 1
  int64_t peers_need = INT64_MAX;       // rule 2
  for (const PeerProgress& p : f.peers) {
    if (p.needs_tablet_copy) continue;
    peers_need = std::min(peers_need, std::max(p.match_index, f.wal_first_index));
  }
  if (peers_need < retention) {
    retention = peers_need;
    // Rule 3: beyond max segments, the bound moves up to the first op of
    // the oldest segment kept.
    const std::optional<uint64_t> have = f.segment_of ? f.segment_of(f.flushed_index)
                                                      : std::nullopt;
    const uint64_t max_kept = static_cast<uint64_t>(std::max(max_segments_for_peers, 0));
    if (have && *have > max_kept) {
      retention = FirstIndexInSegmentAtOrAfter(f, *have - max_kept, retention, f.flushed_index);
    }
  }
  retention = std::min(retention, f.wal_last_index);  // rule 4
  if (retention <= f.wal_first_index) return std::nullopt;  // nothing wholly below
  return retention;
}

}  // namespace kmend::tserver
