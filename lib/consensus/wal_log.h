// WalLog: a DurableLog over one tablet's write-ahead log (lib/wal). Keeps the
// term of every entry in memory (the core asks for terms constantly) and the
// most recent entries up to a byte budget (what a leader sends to followers
// that keep up); older entries are read back from the segments.
//
// Start-up: Open reads the whole WAL once to learn the terms: this is the
// replay the driver does before creating the core.
//
// Limitation: after the WAL's first segments are garbage-collected the term
// of FirstIndex() - 1 is unknown (Kudu's segments don't record it); Term()
// returns NotFound for it, which makes a leader ask for a tablet copy for a
// peer needing exactly that point.
//
// Thread safety: internally synchronized (see durable_log.h).
// Lifetime: the wal::Log must outlive the WalLog.
#ifndef KMEND_LIB_CONSENSUS_WAL_LOG_H_
#define KMEND_LIB_CONSENSUS_WAL_LOG_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/consensus/durable_log.h"
#include "lib/wal/log.h"

namespace kmend::consensus_driver {

class WalLog : public DurableLog {
 public:
  static absl::StatusOr<std::unique_ptr<WalLog>> Open(wal::Log* log,
                                                      int64_t cache_bytes = 64 << 20);

  int64_t FirstIndex() const override;
  int64_t LastIndex() const override;
  absl::StatusOr<int64_t> Term(int64_t index) const override;
  absl::Status Entries(int64_t lo, int64_t hi, int64_t max_bytes,
                       std::vector<consensus::ReplicateMsg>* out) const override;
  absl::Status Append(const std::vector<consensus::ReplicateMsg>& entries) override;
  absl::Status TruncateAfter(int64_t index) override;
  absl::Status Write(const std::vector<consensus::ReplicateMsg>& entries) override;
  absl::Status Sync() override;

  // Deletes the WAL segments whose entries all have index < retention_index
  // (wal::Log::GarbageCollect: never the segment being written), then moves
  // FirstIndex() up to what is left. The term of the new FirstIndex() - 1 is
  // still known (kept from memory), so a peer whose log ends exactly there
  // can still be served. Returns how many segments were deleted.
  absl::StatusOr<int> GarbageCollect(int64_t retention_index);

 private:
  WalLog(wal::Log* log, int64_t cache_bytes) : log_(log), cache_bytes_max_(cache_bytes) {}
  void TrimCacheLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Append (sync) or Write (no sync): checks the index, writes, then keeps
  // the terms and the cache.
  absl::Status AppendOrWrite(const std::vector<consensus::ReplicateMsg>& entries, bool sync);

  wal::Log* const log_;
  const int64_t cache_bytes_max_;
  mutable absl::Mutex mu_;
  int64_t base_index_ ABSL_GUARDED_BY(mu_) = 0;   // FirstIndex() - 1
  int64_t base_term_ ABSL_GUARDED_BY(mu_) = 0;    // -1: unknown (GC'd)
  std::vector<int64_t> terms_ ABSL_GUARDED_BY(mu_);  // of base_index_+1...
  std::deque<consensus::ReplicateMsg> cache_ ABSL_GUARDED_BY(mu_);  // a suffix
  int64_t cache_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_WAL_LOG_H_
