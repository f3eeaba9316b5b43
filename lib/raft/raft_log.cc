#include "lib/raft/raft_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kmend::raft {

RaftLog::RaftLog(const LogStorage* storage)
    : storage_(storage), offset_(storage->LastIndex() + 1) {
  committed_ = storage->FirstIndex() - 1;
  applied_ = committed_;
}

int64_t RaftLog::LastIndex() const {
  if (!unstable_.empty()) return offset_ + static_cast<int64_t>(unstable_.size()) - 1;
  return std::min(storage_->LastIndex(), offset_ - 1);
}

int64_t RaftLog::StableLastIndex() const {
  return std::min(storage_->LastIndex(), offset_ - 1);
}

absl::StatusOr<int64_t> RaftLog::Term(int64_t index) const {
  if (index >= offset_) {
    int64_t i = index - offset_;
    if (i < static_cast<int64_t>(unstable_.size())) return unstable_[i].id().term();
    return 0;
  }
  if (index > storage_->LastIndex()) return 0;
  return storage_->Term(index);
}

int64_t RaftLog::TermOrZero(int64_t index) const {
  absl::StatusOr<int64_t> t = Term(index);
  return t.ok() ? *t : 0;
}

bool RaftLog::MatchTerm(int64_t index, int64_t term) const {
  absl::StatusOr<int64_t> t = Term(index);
  if (!t.ok()) return false;
  if (index > LastIndex()) return false;
  return *t == term;
}

absl::Status RaftLog::Entries(int64_t lo, int64_t hi, int64_t max_bytes,
                              std::vector<consensus::ReplicateMsg>* out) const {
  if (lo > hi || hi > LastIndex() + 1) {
    return absl::OutOfRangeError(absl::StrCat("log range [", lo, ", ", hi,
                                              ") past the last index ", LastIndex()));
  }
  size_t start = out->size();
  if (lo < offset_) {
    int64_t stable_hi = std::min(hi, offset_);
    absl::Status s = storage_->Entries(lo, stable_hi, max_bytes, out);
    if (!s.ok()) return s;
    // Storage stopped early on the byte limit: don't continue past the gap.
    if (static_cast<int64_t>(out->size() - start) < stable_hi - lo) return absl::OkStatus();
  }
  int64_t bytes = 0;
  for (size_t i = start; i < out->size(); ++i) bytes += (*out)[i].ByteSizeLong();
  for (int64_t i = std::max(lo, offset_); i < hi; ++i) {
    const consensus::ReplicateMsg& e = unstable_[i - offset_];
    bytes += static_cast<int64_t>(e.ByteSizeLong());
    if (out->size() > start && bytes > max_bytes) break;
    out->push_back(e);
  }
  return absl::OkStatus();
}

bool RaftLog::IsUpToDate(int64_t index, int64_t term) const {
  int64_t last_term = LastTerm();
  return term > last_term || (term == last_term && index >= LastIndex());
}

std::optional<int64_t> RaftLog::MaybeAppend(
    int64_t prev_index, int64_t prev_term,
    const std::vector<consensus::ReplicateMsg>& entries, int64_t* first_replaced) {
  if (prev_index < FirstIndex() - 1) {
    // The prefix is compacted here, hence committed and identical: skip the
    // entries we no longer hold (possible after a tablet copy).
    size_t skip = 0;
    while (skip < entries.size() && entries[skip].id().index() < FirstIndex()) ++skip;
    if (skip == 0 && !entries.empty()) return std::nullopt;
    if (entries.empty()) return std::nullopt;
    const consensus::ReplicateMsg& last_skipped = entries[skip - 1];
    std::vector<consensus::ReplicateMsg> rest(entries.begin() + skip, entries.end());
    std::optional<int64_t> r = MaybeAppend(last_skipped.id().index(),
                                           last_skipped.id().term(), rest, first_replaced);
    return r;
  }
  // Our committed prefix matches any legitimate leader's log (the core
  // checks for the illegitimate case first), also where we no longer know
  // the term (a garbage-collected WAL's first index - 1).
  if (prev_index > committed_ && !MatchTerm(prev_index, prev_term)) return std::nullopt;
  // Find the first entry that is not already in the log with the same term.
  size_t i = 0;
  for (; i < entries.size(); ++i) {
    const consensus::OpId& id = entries[i].id();
    if (!MatchTerm(id.index(), id.term())) break;
  }
  if (i < entries.size()) {
    int64_t idx = entries[i].id().index();
    if (idx <= LastIndex()) *first_replaced = idx;
    // Never replace committed entries: a correct leader can't ask for it.
    if (idx <= committed_) return std::nullopt;
    TruncateAndAppend(entries, i);
  }
  return prev_index + static_cast<int64_t>(entries.size());
}

void RaftLog::Append(const std::vector<consensus::ReplicateMsg>& entries) {
  if (entries.empty()) return;
  TruncateAndAppend(entries, 0);
}

void RaftLog::TruncateAndAppend(const std::vector<consensus::ReplicateMsg>& entries,
                                size_t from) {
  int64_t after = entries[from].id().index();
  int64_t end = offset_ + static_cast<int64_t>(unstable_.size());
  if (after == end) {
    // Plain append.
  } else if (after <= offset_) {
    // Replaces (part of) the persisted log too.
    offset_ = after;
    unstable_.clear();
  } else {
    unstable_.resize(after - offset_);
  }
  unstable_.insert(unstable_.end(), entries.begin() + from, entries.end());
}

int64_t RaftLog::FindConflictByTerm(int64_t index, int64_t term) const {
  index = std::min(index, LastIndex());
  for (; index >= FirstIndex(); --index) {
    absl::StatusOr<int64_t> t = Term(index);
    if (!t.ok()) break;
    if (*t <= term) return index;
  }
  return FirstIndex() - 1;
}

void RaftLog::CommitTo(int64_t index) {
  if (index > committed_) committed_ = std::min(index, LastIndex());
}

std::optional<int64_t> RaftLog::PendingTruncation() const {
  if (offset_ <= storage_->LastIndex()) return offset_ - 1;
  return std::nullopt;
}

void RaftLog::StableTo(int64_t index, int64_t term) {
  if (index < offset_) return;
  int64_t i = index - offset_;
  if (i >= static_cast<int64_t>(unstable_.size())) return;
  if (unstable_[i].id().term() != term) return;
  unstable_.erase(unstable_.begin(), unstable_.begin() + i + 1);
  offset_ = index + 1;
}

}  // namespace kmend::raft
