// RaftLog: the core's whole view of the log: the persisted part (a
// LogStorage the driver writes) followed by the unstable part (entries the
// core accepted that the driver has not yet persisted), as etcd's raftLog.
//
// Invariants:
//   - unstable entries have consecutive indexes starting at offset();
//   - entries of storage with index >= offset() are obsolete (a conflict
//     replaced them) until the driver truncates them, so reads at index >=
//     offset() use the unstable part only;
//   - committed() <= LastIndex() and committed() never decreases.
// Not thread-safe; owned by RaftCore.
#ifndef KMEND_LIB_RAFT_RAFT_LOG_H_
#define KMEND_LIB_RAFT_RAFT_LOG_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/raft/log_storage.h"
#include "proto/consensus.pb.h"

namespace kmend::raft {

class RaftLog {
 public:
  // `storage` must outlive the RaftLog.
  explicit RaftLog(const LogStorage* storage);

  int64_t FirstIndex() const { return storage_->FirstIndex(); }
  int64_t LastIndex() const;
  // Term at index; 0 for an index past the end; NotFound for a compacted one.
  absl::StatusOr<int64_t> Term(int64_t index) const;
  // Term(index) with errors mapped to 0 (compacted or missing: no match).
  int64_t TermOrZero(int64_t index) const;
  int64_t LastTerm() const { return TermOrZero(LastIndex()); }
  bool MatchTerm(int64_t index, int64_t term) const;

  // Entries [lo, hi) up to roughly max_bytes (at least one when lo < hi).
  absl::Status Entries(int64_t lo, int64_t hi, int64_t max_bytes,
                       std::vector<consensus::ReplicateMsg>* out) const;

  // True when (term, index) is at least as up to date as this log (5.4.1).
  bool IsUpToDate(int64_t index, int64_t term) const;

  // Appends entries after (prev_index, prev_term) as a follower: returns the
  // new last index the leader's request proves matching (prev_index +
  // entries.size()) or nullopt when prev doesn't match. Conflicting entries
  // are replaced; matching ones are kept (duplicates and reordered requests
  // never truncate). *first_replaced gets the lowest index that was replaced,
  // or stays unchanged.
  std::optional<int64_t> MaybeAppend(int64_t prev_index, int64_t prev_term,
                                     const std::vector<consensus::ReplicateMsg>& entries,
                                     int64_t* first_replaced);
  // Appends entries that continue the log (leader path).
  void Append(const std::vector<consensus::ReplicateMsg>& entries);

  // The largest index <= index whose term is <= term (etcd's
  // findConflictByTerm), or FirstIndex() - 1 at worst.
  int64_t FindConflictByTerm(int64_t index, int64_t term) const;

  int64_t committed() const { return committed_; }
  int64_t applied() const { return applied_; }
  void CommitTo(int64_t index);
  void SetCommittedOnStartup(int64_t index) { committed_ = index; }
  void SetApplied(int64_t index) { applied_ = index; }

  // Unstable part, for the Ready.
  int64_t offset() const { return offset_; }
  const std::vector<consensus::ReplicateMsg>& unstable() const { return unstable_; }
  // Index after which the driver must truncate its storage before appending
  // unstable(), if some persisted entries were replaced.
  std::optional<int64_t> PendingTruncation() const;
  // The driver persisted entries through (index, term): drop them from the
  // unstable part if they are still there with that term.
  void StableTo(int64_t index, int64_t term);
  // Last index that is persisted and not replaced.
  int64_t StableLastIndex() const;

 private:
  void TruncateAndAppend(const std::vector<consensus::ReplicateMsg>& entries, size_t from);

  const LogStorage* storage_;
  std::vector<consensus::ReplicateMsg> unstable_;
  int64_t offset_;
  int64_t committed_ = 0;
  int64_t applied_ = 0;
};

}  // namespace kmend::raft

#endif  // KMEND_LIB_RAFT_RAFT_LOG_H_
