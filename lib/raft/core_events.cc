// RaftCore: the events it reports for the server's log (Ready::events).
//
// One sentence per election step and leadership change of this replica, as
// Kudu logs them per tablet: a pre-election or election started and why, how
// a round ended (who granted, refused, or did not answer), a win, a step-down
// and why, a new leader followed. Without them an election storm or a slow
// failover can only be inferred from side effects (issue 15's storms left no
// election line in any log; the nemesis soak's 15 s failovers took a debug
// build to explain). The core stays free of I/O: it only collects the text,
// and the driver hands it to whoever logs.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/raft/core.h"

namespace kmend::raft {

namespace {
// A replica that cannot hand out Readies (none taken for a long while) keeps
// at most this many; the rest are dropped, not queued without bound.
constexpr size_t kMaxPendingEvents = 64;
}  // namespace

void RaftCore::Event(std::string text) {
  if (events_.size() >= kMaxPendingEvents) return;
  events_.push_back(std::move(text));
}

std::string RaftCore::VoteSummary() const {
  std::vector<std::string> granted, refused, silent;
  for (const std::string& v : VoterUuids(active_config())) {
    if (v == options_.self_uuid) continue;
    auto it = votes_.find(v);
    if (it == votes_.end()) {
      silent.push_back(v);
    } else {
      (it->second ? granted : refused).push_back(v);
    }
  }
  std::vector<std::string> parts;
  if (!granted.empty()) parts.push_back(absl::StrCat("granted by ", absl::StrJoin(granted, ", ")));
  if (!refused.empty()) parts.push_back(absl::StrCat("refused by ", absl::StrJoin(refused, ", ")));
  if (!silent.empty()) {
    parts.push_back(absl::StrCat("no answer from ", absl::StrJoin(silent, ", ")));
  }
  if (parts.empty()) return "no other voters";
  return absl::StrJoin(parts, "; ");
}

void RaftCore::ReportUnfinishedRound() {
  if (role_ != Role::kPreCandidate && role_ != Role::kCandidate) return;
  const bool pre = role_ == Role::kPreCandidate;
  // A pre-candidate asks for term_ + 1; a candidate is at its term.
  Event(absl::StrCat(pre ? "pre-election" : "election", " for term ", pre ? term_ + 1 : term_,
                     " lost: ", VoteSummary()));
}

}  // namespace kmend::raft
