// LogStorage: the core's narrow, read-only view of the persisted Raft log
// (etcd's Storage). The driver owns the storage and writes to it while
// handling a Ready; the core only reads.
//
// Index ranges: entries [FirstIndex(), LastIndex()] are readable; Term() also
// answers for FirstIndex() - 1 (the op id just before the first entry: 0/0
// for a log that starts at index 1, or the last op a tablet copy covered).
// An empty log has LastIndex() == FirstIndex() - 1.
//
// Thread safety: implementations need not be thread-safe; the core calls them
// from the thread that drives it, and the driver must not write while the
// core reads (it holds the core's lock for both).
#ifndef KMEND_LIB_RAFT_LOG_STORAGE_H_
#define KMEND_LIB_RAFT_LOG_STORAGE_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/consensus.pb.h"
#include "proto/opid.pb.h"

namespace kmend::raft {

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  virtual int64_t FirstIndex() const = 0;
  virtual int64_t LastIndex() const = 0;

  // The term of the entry at `index`, for index in [FirstIndex() - 1,
  // LastIndex()]. OutOfRange for an index past the end, NotFound for an index
  // no longer held (compacted: the caller needs a tablet copy).
  virtual absl::StatusOr<int64_t> Term(int64_t index) const = 0;

  // Appends entries [lo, hi) to *out, stopping early (but after at least one
  // entry) once their total byte size would pass max_bytes. Same errors as
  // Term() for indexes out of [FirstIndex(), LastIndex()].
  virtual absl::Status Entries(int64_t lo, int64_t hi, int64_t max_bytes,
                               std::vector<consensus::ReplicateMsg>* out) const = 0;
};

// LogStorage in memory: the reference implementation, used by tests, the
// simulation and the in-memory benchmark. Mutators are for the driver.
// Not thread-safe.
class MemoryLogStorage : public LogStorage {
 public:
  // An empty log starting at index 1 (preceded by op 0.0).
  MemoryLogStorage() = default;
  // An empty log whose first entry will be base.index + 1 (after a tablet
  // copy that covered everything through `base`).
  explicit MemoryLogStorage(const consensus::OpId& base);

  int64_t FirstIndex() const override { return base_index_ + 1; }
  int64_t LastIndex() const override {
    return base_index_ + static_cast<int64_t>(entries_.size());
  }
  absl::StatusOr<int64_t> Term(int64_t index) const override;
  absl::Status Entries(int64_t lo, int64_t hi, int64_t max_bytes,
                       std::vector<consensus::ReplicateMsg>* out) const override;

  // Discards every entry with index > `index` (no-op when there are none).
  // InvalidArgument when index < FirstIndex() - 1.
  absl::Status TruncateAfter(int64_t index);
  // Appends entries that must continue the log: the first one's index must be
  // LastIndex() + 1 and indexes must be consecutive (InvalidArgument if not).
  absl::Status Append(const std::vector<consensus::ReplicateMsg>& entries);

  // Drops entries up to and including `index` (log GC), keeping its term as
  // the base. InvalidArgument outside [FirstIndex() - 1, LastIndex()].
  absl::Status CompactThrough(int64_t index);

  // Direct access for checkers: the entry at index (must be in range).
  const consensus::ReplicateMsg& At(int64_t index) const {
    return entries_[index - base_index_ - 1];
  }

 private:
  int64_t base_index_ = 0;
  int64_t base_term_ = 0;
  std::vector<consensus::ReplicateMsg> entries_;
};

}  // namespace kmend::raft

#endif  // KMEND_LIB_RAFT_LOG_STORAGE_H_
