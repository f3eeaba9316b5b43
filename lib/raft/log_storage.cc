#include "lib/raft/log_storage.h"

#include "absl/strings/str_cat.h"

namespace kmend::raft {

MemoryLogStorage::MemoryLogStorage(const consensus::OpId& base)
    : base_index_(base.index()), base_term_(base.term()) {}

absl::StatusOr<int64_t> MemoryLogStorage::Term(int64_t index) const {
  if (index < base_index_) {
    return absl::NotFoundError(absl::StrCat("log index ", index,
                                            " compacted: first held index is ",
                                            FirstIndex()));
  }
  if (index > LastIndex()) {
    return absl::OutOfRangeError(
        absl::StrCat("log index ", index, " past the last index ", LastIndex()));
  }
  if (index == base_index_) return base_term_;
  return At(index).id().term();
}

absl::Status MemoryLogStorage::Entries(int64_t lo, int64_t hi, int64_t max_bytes,
                                       std::vector<consensus::ReplicateMsg>* out) const {
  if (lo < FirstIndex()) {
    return absl::NotFoundError(absl::StrCat("log index ", lo,
                                            " compacted: first held index is ",
                                            FirstIndex()));
  }
  if (hi > LastIndex() + 1 || lo > hi) {
    return absl::OutOfRangeError(absl::StrCat("log range [", lo, ", ", hi,
                                              ") past the last index ", LastIndex()));
  }
  int64_t bytes = 0;
  for (int64_t i = lo; i < hi; ++i) {
    const consensus::ReplicateMsg& e = At(i);
    bytes += static_cast<int64_t>(e.ByteSizeLong());
    if (i > lo && bytes > max_bytes) break;
    out->push_back(e);
  }
  return absl::OkStatus();
}

absl::Status MemoryLogStorage::TruncateAfter(int64_t index) {
  if (index < base_index_) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cannot truncate after index ", index, ": first held index is ", FirstIndex()));
  }
  if (index < LastIndex()) entries_.resize(index - base_index_);
  return absl::OkStatus();
}

absl::Status MemoryLogStorage::Append(const std::vector<consensus::ReplicateMsg>& entries) {
  int64_t expected = LastIndex() + 1;
  for (const consensus::ReplicateMsg& e : entries) {
    if (e.id().index() != expected) {
      return absl::InvalidArgumentError(absl::StrCat(
          "append: expected entry index ", expected, ", found ", e.id().index()));
    }
    ++expected;
  }
  entries_.insert(entries_.end(), entries.begin(), entries.end());
  return absl::OkStatus();
}

absl::Status MemoryLogStorage::CompactThrough(int64_t index) {
  if (index < base_index_ || index > LastIndex()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot compact through index ", index,
                                                   ": log holds [", FirstIndex(), ", ",
                                                   LastIndex(), "]"));
  }
  if (index == base_index_) return absl::OkStatus();
  base_term_ = At(index).id().term();
  entries_.erase(entries_.begin(), entries_.begin() + (index - base_index_));
  base_index_ = index;
  return absl::OkStatus();
}

}  // namespace kmend::raft
