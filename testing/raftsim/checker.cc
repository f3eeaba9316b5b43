#include "testing/raftsim/checker.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kmend::raftsim {

void SafetyChecker::Fail(std::string what) {
  if (violations_.size() < 20) violations_.push_back(std::move(what));
}

void SafetyChecker::CheckLeaders() {
  for (const SimNode* n : *nodes_) {
    if (!n->up() || n->core()->role() != raft::Role::kLeader) continue;
    if (abandoned_.count(n->uuid())) continue;
    auto [it, inserted] = leader_of_term_.emplace(n->core()->term(), n->uuid());
    if (!inserted && it->second != n->uuid()) {
      Fail(absl::StrCat("election safety: term ", n->core()->term(), " has two leaders: ",
                        it->second, " and ", n->uuid()));
    }
  }
}

void SafetyChecker::AfterReady(const SimNode& node) {
  if (abandoned_.count(node.uuid())) return;
  const raft::MemoryLogStorage& log = node.storage();
  // Log matching, incrementally: each newly persisted entry against every
  // other log holding an entry of the same index and term.
  for (int64_t i = node.last_persisted_lo(); i <= node.last_persisted_hi(); ++i) {
    const int64_t term = log.At(i).id().term();
    for (const SimNode* other : *nodes_) {
      if (other == &node || abandoned_.count(other->uuid())) continue;
      const raft::MemoryLogStorage& olog = other->storage();
      if (i < olog.FirstIndex() || i > olog.LastIndex()) continue;
      if (olog.At(i).id().term() != term) continue;
      if (other->prefix_hash(i) != node.prefix_hash(i)) {
        int64_t j = std::max(log.FirstIndex(), olog.FirstIndex());
        while (j < i && EntryKey(log.At(j)) == EntryKey(olog.At(j))) ++j;
        Fail(absl::StrCat("log matching: ", node.uuid(), " and ", other->uuid(),
                          " have entry ", term, ".", i, " but their logs differ at index ", j,
                          " (", log.At(j).ShortDebugString(), " vs ",
                          olog.At(j).ShortDebugString(), ")"));
      }
    }
  }
  // State machine safety.
  int64_t max_term = 0;
  for (const SimNode* n : *nodes_) {
    if (abandoned_.count(n->uuid())) continue;
    max_term = std::max(max_term, n->hard_state().term);
    if (n->up()) max_term = std::max(max_term, n->core()->term());
  }
  for (const consensus::ReplicateMsg& e : node.last_applied()) {
    std::string key = EntryKey(e);
    auto [it, inserted] = applied_.emplace(e.id().index(), key);
    if (inserted) applied_term_bound_[e.id().index()] = max_term;
    if (!inserted && it->second != key) {
      Fail(absl::StrCat("state machine safety: ", node.uuid(), " applied a different entry (",
                        e.id().term(), ".", e.id().index(), ") at index ", e.id().index()));
    }
  }
  // Leader completeness, at election time.
  if (check_completeness_ && node.became_leader() && node.up()) {
    const raft::RaftLog& rlog = node.core()->log();
    for (const auto& [index, key] : applied_) {
      if (index < rlog.FirstIndex()) continue;
      if (applied_term_bound_[index] >= node.core()->term()) continue;
      consensus::ReplicateMsg e;
      e.ParseFromString(key);
      if (index > rlog.LastIndex() || rlog.TermOrZero(index) != e.id().term()) {
        Fail(absl::StrCat("leader completeness: new leader ", node.uuid(), " at term ",
                          node.core()->term(), " lacks applied entry ", e.id().term(), ".",
                          index));
        break;
      }
    }
  }
}

}  // namespace kmend::raftsim
