// Reading durable entries back (ReadEntries), for Raft peers that fall behind
// and for local replay.
//
// Invariants relied on: index_ and segments_ change only under seg_mu_
// exclusive, and only describe durable batches; a reader copies the
// shared_ptrs of the segments it needs under seg_mu_ shared and reads without
// it, so a segment deleted by GC or replaced by truncation meanwhile stays
// readable through its open descriptor.
#include <algorithm>
#include <memory>
#include <shared_mutex>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/wal/format.h"
#include "lib/wal/log_internal.h"
#include "lib/wal/segment_reader.h"

namespace kmend::wal {

using log_internal::IndexRun;
using log_internal::SegmentFile;

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

}  // namespace kmend::wal
