#include "lib/recover/force_safety.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kmend::recover {

namespace {
int VoterCount(const ForcePlan& plan) {
  int voters = 0;
  for (const auto& p : plan.current.committed_config().peers()) {
    voters += p.member_type() == consensus::RaftPeerPB::VOTER ? 1 : 0;
  }
  return voters;
}
}  // namespace

bool MajorityLost(const ForcePlan& plan) {
  int running = 0;
  for (const VoterProbe& v : plan.voters) running += v.running ? 1 : 0;
  return running < VoterCount(plan) / 2 + 1;
}

absl::Status JudgeSafety(const ForcePlan& plan) {
  const int voters = VoterCount(plan);
  std::vector<std::string> running, with_leader;
  for (const VoterProbe& v : plan.voters) {
    if (!v.running) continue;
    running.push_back(v.uuid);
    // A leader that lost its majority keeps its role until check-quorum
    // steps it down: a couple of ticks after its lease lapsed, or one more
    // election timeout when its voters' servers are still heard (check-
    // quorum's second window, docs/design/raft.md); the server refuses to
    // force a leader, so wait for the step-down too.
    const bool still_leader = v.leader_uuid == v.uuid;
    if (v.leader_lease || still_leader) {
      with_leader.push_back(
          v.leader_uuid == v.uuid
              ? absl::StrCat(v.uuid, " is the leader")
              : absl::StrCat(v.uuid, " heard from leader ",
                             v.leader_uuid.empty() ? "?" : v.leader_uuid, " ",
                             v.ms_since_leader_contact, " ms ago"));
    }
  }
  std::vector<std::string> why;
  if (!with_leader.empty()) {
    why.push_back(absl::StrCat("the tablet has a live leader (", absl::StrJoin(with_leader, "; "),
                               ")"));
  }
  const int majority = voters / 2 + 1;
  if (static_cast<int>(running.size()) >= majority) {
    why.push_back(absl::StrCat(running.size(), " of ", voters, " voters are running (",
                               absl::StrJoin(running, ", "),
                               "): a majority can still elect a "
                               "leader"));
  }
  if (why.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to force the config: the tablet's Raft group looks alive: ",
      absl::StrJoin(why, "; "),
      ". Forcing now would make a second leader, and the master would then discard what the "
      "real majority committed. Wait for the election timeout, or use a safe config change; "
      "--force overrides only when you know the other replicas are gone for good"));
}

}  // namespace kmend::recover
