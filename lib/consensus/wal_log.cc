#include "lib/consensus/wal_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kmend::consensus_driver {

absl::StatusOr<std::unique_ptr<WalLog>> WalLog::Open(wal::Log* log, int64_t cache_bytes) {
  std::unique_ptr<WalLog> w(new WalLog(log, cache_bytes));
  absl::MutexLock l(&w->mu_);
  const int64_t first = log->FirstIndex();
  const int64_t last = log->LastOpId().index();
  if (first == 0 || last == 0) {
    return w;  // empty: the log starts at index 1 after op 0.0
  }
  w->base_index_ = first - 1;
  w->base_term_ = first == 1 ? 0 : -1;
  for (int64_t lo = first; lo <= last;) {
    absl::StatusOr<std::vector<consensus::ReplicateMsg>> batch =
        log->ReadEntries(lo, last, 16 << 20);
    if (!batch.ok()) {
      return absl::Status(batch.status().code(),
                          absl::StrCat("replaying the WAL in ", log->dir(), " at index ", lo,
                                       ": ", batch.status().message()));
    }
    if (batch->empty()) break;
    for (consensus::ReplicateMsg& e : *batch) {
      if (e.id().index() != lo) {
        return absl::DataLossError(absl::StrCat("WAL ", log->dir(), ": expected index ", lo,
                                                ", found ", e.id().index()));
      }
      w->terms_.push_back(e.id().term());
      w->cache_bytes_ += static_cast<int64_t>(e.ByteSizeLong());
      w->cache_.push_back(std::move(e));
      ++lo;
    }
    w->TrimCacheLocked();
  }
  return w;
}

void WalLog::TrimCacheLocked() {
  while (cache_bytes_ > cache_bytes_max_ && !cache_.empty()) {
    cache_bytes_ -= static_cast<int64_t>(cache_.front().ByteSizeLong());
    cache_.pop_front();
  }
}

int64_t WalLog::FirstIndex() const {
  absl::MutexLock l(&mu_);
  return base_index_ + 1;
}

int64_t WalLog::LastIndex() const {
  absl::MutexLock l(&mu_);
  return base_index_ + static_cast<int64_t>(terms_.size());
}

absl::StatusOr<int64_t> WalLog::Term(int64_t index) const {
  absl::MutexLock l(&mu_);
  const int64_t last = base_index_ + static_cast<int64_t>(terms_.size());
  if (index > last) {
    return absl::OutOfRangeError(
        absl::StrCat("WAL ", log_->dir(), ": index ", index, " past the last index ", last));
  }
  if (index < base_index_ || (index == base_index_ && base_term_ < 0)) {
    return absl::NotFoundError(absl::StrCat("WAL ", log_->dir(), ": term of index ", index,
                                            " unknown: first held index is ",
                                            base_index_ + 1));
  }
  if (index == base_index_) return base_term_;
  return terms_[index - base_index_ - 1];
}

absl::Status WalLog::Entries(int64_t lo, int64_t hi, int64_t max_bytes,
                             std::vector<consensus::ReplicateMsg>* out) const {
  int64_t cache_first;
  {
    absl::MutexLock l(&mu_);
    const int64_t last = base_index_ + static_cast<int64_t>(terms_.size());
    if (lo <= base_index_) {
      return absl::NotFoundError(absl::StrCat("WAL ", log_->dir(), ": index ", lo,
                                              " garbage-collected: first held index is ",
                                              base_index_ + 1));
    }
    if (hi > last + 1 || lo > hi) {
      return absl::OutOfRangeError(absl::StrCat("WAL ", log_->dir(), ": range [", lo, ", ",
                                                hi, ") past the last index ", last));
    }
    if (lo == hi) return absl::OkStatus();
    cache_first = cache_.empty() ? last + 1 : cache_.front().id().index();
    if (lo >= cache_first) {
      int64_t bytes = 0;
      for (int64_t i = lo; i < hi; ++i) {
        const consensus::ReplicateMsg& e = cache_[i - cache_first];
        bytes += static_cast<int64_t>(e.ByteSizeLong());
        if (i > lo && bytes > max_bytes) break;
        out->push_back(e);
      }
      return absl::OkStatus();
    }
  }
  // Older than the cache: read the segments (durable entries only, which all
  // of [lo, hi) are).
  absl::StatusOr<std::vector<consensus::ReplicateMsg>> read =
      log_->ReadEntries(lo, std::min(hi, cache_first) - 1, static_cast<uint64_t>(max_bytes));
  if (!read.ok()) return read.status();
  int64_t bytes = 0;
  int64_t next = lo;
  for (auto& e : *read) {
    bytes += static_cast<int64_t>(e.ByteSizeLong());
    out->push_back(std::move(e));
    ++next;
  }
  if (next < cache_first || next >= hi) return absl::OkStatus();  // byte limit or done
  // Continue from the cache (it may have moved on meanwhile: stop at a gap).
  absl::MutexLock l(&mu_);
  const int64_t first_cached = cache_.empty() ? INT64_MAX : cache_.front().id().index();
  for (int64_t i = next; i < hi && i >= first_cached &&
                         i - first_cached < static_cast<int64_t>(cache_.size());
       ++i) {
    const consensus::ReplicateMsg& e = cache_[i - first_cached];
    bytes += static_cast<int64_t>(e.ByteSizeLong());
    if (bytes > max_bytes) break;
    out->push_back(e);
  }
  return absl::OkStatus();
}

absl::Status WalLog::Append(const std::vector<consensus::ReplicateMsg>& entries) {
  return AppendOrWrite(entries, /*sync=*/true);
}

absl::Status WalLog::Write(const std::vector<consensus::ReplicateMsg>& entries) {
  return AppendOrWrite(entries, /*sync=*/false);
}

absl::Status WalLog::Sync() { return log_->Sync(); }

absl::Status WalLog::AppendOrWrite(const std::vector<consensus::ReplicateMsg>& entries,
                                   bool sync) {
  if (entries.empty()) return absl::OkStatus();
  {
    absl::MutexLock l(&mu_);
    const int64_t expected = base_index_ + static_cast<int64_t>(terms_.size()) + 1;
    if (entries.front().id().index() != expected && !(terms_.empty() && base_index_ == 0)) {
      return absl::FailedPreconditionError(
          absl::StrCat("WAL ", log_->dir(), ": append at index ", entries.front().id().index(),
                       ", expected ", expected));
    }
  }
  absl::Status s = sync ? log_->Append(absl::MakeConstSpan(entries))
                        : log_->Write(absl::MakeConstSpan(entries));
  if (!s.ok()) return s;
  absl::MutexLock l(&mu_);
  if (terms_.empty() && base_index_ == 0) {
    base_index_ = entries.front().id().index() - 1;
    base_term_ = base_index_ == 0 ? 0 : -1;
  }
  for (const consensus::ReplicateMsg& e : entries) {
    terms_.push_back(e.id().term());
    cache_bytes_ += static_cast<int64_t>(e.ByteSizeLong());
    cache_.push_back(e);
  }
  TrimCacheLocked();
  return absl::OkStatus();
}

absl::Status WalLog::TruncateAfter(int64_t index) {
  absl::Status s = log_->TruncateAfter(index);
  if (!s.ok()) return s;
  absl::MutexLock l(&mu_);
  const int64_t keep = std::max<int64_t>(0, index - base_index_);
  if (keep < static_cast<int64_t>(terms_.size())) terms_.resize(keep);
  while (!cache_.empty() && cache_.back().id().index() > index) {
    cache_bytes_ -= static_cast<int64_t>(cache_.back().ByteSizeLong());
    cache_.pop_back();
  }
  return absl::OkStatus();
}

absl::StatusOr<int> WalLog::GarbageCollect(int64_t retention_index) {
  absl::StatusOr<int> deleted = log_->GarbageCollect(retention_index);
  if (!deleted.ok() || *deleted == 0) return deleted;
  const int64_t first = log_->FirstIndex();
  absl::MutexLock l(&mu_);
  const int64_t last = base_index_ + static_cast<int64_t>(terms_.size());
  // first == 0: no entry left on disk (only the empty segment being written).
  int64_t new_base = first == 0 ? last : std::min(first - 1, last);
  if (new_base <= base_index_) return deleted;
  const int64_t drop = new_base - base_index_;
  base_term_ = terms_[drop - 1];
  terms_.erase(terms_.begin(), terms_.begin() + drop);
  base_index_ = new_base;
  while (!cache_.empty() && cache_.front().id().index() <= base_index_) {
    cache_bytes_ -= static_cast<int64_t>(cache_.front().ByteSizeLong());
    cache_.pop_front();
  }
  return deleted;
}

}  // namespace kmend::consensus_driver
