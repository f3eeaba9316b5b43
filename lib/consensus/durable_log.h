// DurableLog: the driver's writable Raft log: the core reads it through the
// LogStorage interface, the driver writes it while handling a Ready. Two
// implementations: WalLog (lib/wal, durable) and MemoryDurableLog (tests,
// benchmarks).
//
// Thread safety: implementations are internally synchronized: the driver
// appends on its Ready thread while the core reads under the driver's lock.
// Visibility rule the core relies on: entries appear in LastIndex() only once
// Append (durably, for WalLog) or Write returned; the core counts them as
// persisted only at its Advance, which the driver calls after the Sync that
// follows a Write.
#ifndef KMEND_LIB_CONSENSUS_DURABLE_LOG_H_
#define KMEND_LIB_CONSENSUS_DURABLE_LOG_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "lib/raft/log_storage.h"
#include "proto/consensus.pb.h"

namespace kmend::consensus_driver {

class DurableLog : public raft::LogStorage {
 public:
  // Appends entries continuing the log; returns once durable.
  virtual absl::Status Append(const std::vector<consensus::ReplicateMsg>& entries) = 0;
  // Removes every entry with index > `index`, durably.
  virtual absl::Status TruncateAfter(int64_t index) = 0;
  // Append in two halves (the round worker, raft_scheduler.h): Write
  // appends without waiting for durability (the entries show in LastIndex()
  // at once, as the driver's in-flight Ready already promised them to the
  // core); Sync returns once everything written is durable. Nothing that
  // promises the entries (an acknowledgement, a vote) may leave before Sync
  // returned OK. Defaults: a log with nothing to sync.
  virtual absl::Status Write(const std::vector<consensus::ReplicateMsg>& entries) {
    return Append(entries);
  }
  virtual absl::Status Sync() { return absl::OkStatus(); }
};

// MemoryLogStorage behind a mutex. Not durable: "crash" means losing it.
class MemoryDurableLog : public DurableLog {
 public:
  int64_t FirstIndex() const override;
  int64_t LastIndex() const override;
  absl::StatusOr<int64_t> Term(int64_t index) const override;
  absl::Status Entries(int64_t lo, int64_t hi, int64_t max_bytes,
                       std::vector<consensus::ReplicateMsg>* out) const override;
  absl::Status Append(const std::vector<consensus::ReplicateMsg>& entries) override;
  absl::Status TruncateAfter(int64_t index) override;

 private:
  mutable absl::Mutex mu_;
  raft::MemoryLogStorage log_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_DURABLE_LOG_H_
