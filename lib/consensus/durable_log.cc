#include "lib/consensus/durable_log.h"

namespace kmend::consensus_driver {

int64_t MemoryDurableLog::FirstIndex() const {
  absl::MutexLock l(&mu_);
  return log_.FirstIndex();
}

int64_t MemoryDurableLog::LastIndex() const {
  absl::MutexLock l(&mu_);
  return log_.LastIndex();
}

absl::StatusOr<int64_t> MemoryDurableLog::Term(int64_t index) const {
  absl::MutexLock l(&mu_);
  return log_.Term(index);
}

absl::Status MemoryDurableLog::Entries(int64_t lo, int64_t hi, int64_t max_bytes,
                                       std::vector<consensus::ReplicateMsg>* out) const {
  absl::MutexLock l(&mu_);
  return log_.Entries(lo, hi, max_bytes, out);
}

absl::Status MemoryDurableLog::Append(const std::vector<consensus::ReplicateMsg>& entries) {
  absl::MutexLock l(&mu_);
  return log_.Append(entries);
}

absl::Status MemoryDurableLog::TruncateAfter(int64_t index) {
  absl::MutexLock l(&mu_);
  return log_.TruncateAfter(index);
}

}  // namespace kmend::consensus_driver
