#include "lib/rebuild/plan.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kmend::rebuild {
namespace {

std::string Text(const check::OpId& id) { return absl::StrCat(id.term, ".", id.index); }

std::string Name(const PeerFacts& p) {
  return p.address.empty() ? p.uuid : absl::StrCat(p.uuid, " (", p.address, ")");
}

bool IsLeader(const PeerFacts& p) {
  return p.running && p.replica && p.replica->role == check::Role::kLeader;
}

std::set<std::string> Members(const consensus::RaftConfigPB& c) {
  std::set<std::string> out;
  for (const auto& p : c.peers()) out.insert(p.permanent_uuid());
  return out;
}

absl::Status Refuse(Refusal why, Refusal* out, const std::string& message) {
  if (out != nullptr) *out = why;
  return absl::FailedPreconditionError(message);
}

}  // namespace

const char* RefusalName(Refusal r) {
  switch (r) {
    case Refusal::kNone:
      return "none";
    case Refusal::kTargetUnknown:
      return "target_unknown";
    case Refusal::kTargetUnreachable:
      return "target_unreachable";
    case Refusal::kOnlyReadableCopy:
      return "only_readable_copy";
    case Refusal::kNoSource:
      return "no_source";
    case Refusal::kSourceNotRunning:
      return "source_not_running";
    case Refusal::kSourceBehind:
      return "source_behind";
    case Refusal::kSourceIsTarget:
      return "source_is_target";
    case Refusal::kTargetTermAhead:
      return "target_term_ahead";
    case Refusal::kTargetHealthy:
      return "target_healthy";
    case Refusal::kTargetTermUnknown:
      return "target_term_unknown";
    case Refusal::kSourceMismatch:
      return "source_mismatch";
    case Refusal::kCopyRunning:
      return "copy_running";
  }
  return "unknown";
}

Refusal RefusalFromName(const std::string& name) {
  for (Refusal r :
       {Refusal::kTargetUnknown, Refusal::kTargetUnreachable, Refusal::kOnlyReadableCopy,
        Refusal::kNoSource, Refusal::kSourceNotRunning, Refusal::kSourceBehind,
        Refusal::kSourceIsTarget, Refusal::kTargetTermAhead, Refusal::kTargetHealthy,
        Refusal::kTargetTermUnknown, Refusal::kSourceMismatch, Refusal::kCopyRunning}) {
    if (name == RefusalName(r)) return r;
  }
  return Refusal::kNone;
}

const PeerFacts* FindPeer(const TabletFacts& facts, const std::string& who) {
  for (const PeerFacts& p : facts.peers) {
    if (p.uuid == who || (!p.address.empty() && p.address == who)) return &p;
  }
  return nullptr;
}

std::string StateText(const PeerFacts& peer) {
  if (!peer.replica) return peer.reachable ? "NONE" : "UNKNOWN";
  return check::DataStateName(peer.replica->data_state);
}

absl::StatusOr<Plan> MakePlan(const TabletFacts& facts, const Request& request,
                              Refusal* refusal) {
  if (refusal != nullptr) *refusal = Refusal::kNone;
  const std::string tablet = absl::StrCat("tablet ", facts.tablet_id);

  // 1. The target.
  const PeerFacts* target = FindPeer(facts, request.target);
  if (target == nullptr || !target->in_config) {
    std::vector<std::string> members;
    for (const PeerFacts& p : facts.peers) {
      if (p.in_config) members.push_back(Name(p));
    }
    return Refuse(Refusal::kTargetUnknown, refusal,
                  absl::StrCat(request.target, " is not a member of ", tablet, "'s config (from ",
                               facts.config_from, ": ", absl::StrJoin(members, ", "),
                               "); a copy there would be deleted by the master"));
  }
  if (!target->reachable) {
    return Refuse(Refusal::kTargetUnreachable, refusal,
                  absl::StrCat("the target ", Name(*target), " did not answer (", target->error,
                               "); start its server first, or rebuild it offline (--fs_root)"));
  }

  // 2. Somebody else must hold a readable copy.
  std::vector<const PeerFacts*> others_running;
  for (const PeerFacts& p : facts.peers) {
    if (&p != target && p.running) others_running.push_back(&p);
  }
  if (others_running.empty()) {
    if (target->running) {
      return Refuse(Refusal::kOnlyReadableCopy, refusal,
                    absl::StrCat("the target ", Name(*target), " holds the only readable copy of ",
                                 tablet, ": no other replica is READY and running"));
    }
    return Refuse(Refusal::kNoSource, refusal,
                  absl::StrCat("no replica of ", tablet,
                               " is READY and running: there is nothing to copy from (see "
                               "`kmend ksck` and docs/runbooks/majority-lost.md)"));
  }

  Plan plan;
  plan.target = *target;
  plan.replaced_state = StateText(*target);
  if (target->running) plan.replaced_last_logged = target->replica->last_logged;

  // The leader: the running replica reporting LEADER with the highest term.
  const PeerFacts* leader = nullptr;
  for (const PeerFacts& p : facts.peers) {
    if (IsLeader(p) && (leader == nullptr || p.replica->term > leader->replica->term)) {
      leader = &p;
    }
  }
  if (leader != nullptr) {
    plan.leader_uuid = leader->uuid;
    plan.leader_committed = leader->replica->last_committed;
  }

  // 3. The source.
  const PeerFacts* source = nullptr;
  if (!request.source.empty()) {
    source = FindPeer(facts, request.source);
    if (source == nullptr || !source->in_config) {
      return Refuse(Refusal::kSourceNotRunning, refusal,
                    absl::StrCat("the source ", request.source, " is not a member of ", tablet,
                                 "'s config (from ", facts.config_from, ")"));
    }
    plan.source_reason = "given";
  } else if (leader != nullptr && leader != target) {
    source = leader;
    plan.source_reason = "the leader";
  } else {
    for (const PeerFacts* p : others_running) {
      if (!p->voter) continue;
      if (source == nullptr || source->replica->last_logged < p->replica->last_logged ||
          (p->replica->last_logged == source->replica->last_logged && p->uuid < source->uuid)) {
        source = p;
      }
    }
    if (source == nullptr) {
      return Refuse(Refusal::kNoSource, refusal,
                    absl::StrCat("no voter of ", tablet, " other than the target is running"));
    }
    plan.source_reason = "the voter with the highest last logged op id";
  }
  if (source == target) {
    return Refuse(Refusal::kSourceIsTarget, refusal,
                  absl::StrCat("the source and the target are the same replica (", Name(*target),
                               ")"));
  }
  if (!source->running) {
    return Refuse(Refusal::kSourceNotRunning, refusal,
                  absl::StrCat("the source ", Name(*source), " is not RUNNING (",
                               source->reachable ? StateText(*source) : source->error,
                               "): pick a running replica"));
  }
  const check::OpId& src_logged = source->replica->last_logged;
  if (leader != nullptr && source != leader && src_logged.index < plan.leader_committed.index) {
    return Refuse(Refusal::kSourceBehind, refusal,
                  absl::StrCat("the source ", Name(*source), " is behind: last logged ",
                               Text(src_logged), ", the leader ", leader->uuid, " committed ",
                               Text(plan.leader_committed), "; wait, or copy from the leader"));
  }
  if (leader == nullptr) {
    for (const PeerFacts* p : others_running) {
      if (p->voter && src_logged < p->replica->last_logged) {
        return Refuse(Refusal::kSourceBehind, refusal,
                      absl::StrCat("the source ", Name(*source), " (last logged ", Text(src_logged),
                                   ") is behind ", Name(*p), " (", Text(p->replica->last_logged),
                                   ") and there is no leader to say what is committed"));
      }
    }
  }
  plan.source = *source;
  plan.estimated_bytes = source->replica->on_disk_bytes;

  // 4. The target's log must not be ahead of the source's.
  if (plan.replaced_last_logged && plan.replaced_last_logged->term > src_logged.term) {
    std::string why = absl::StrCat("the target's last logged op ", Text(*plan.replaced_last_logged),
                                   " has a later term than the source's ", Text(src_logged),
                                   ": it may hold entries the source lacks");
    if (!request.force) {
      return Refuse(Refusal::kTargetTermAhead, refusal,
                    absl::StrCat(why, "; pick another source, or --force"));
    }
    plan.warnings.push_back(absl::StrCat("--force: ", why));
  }

  // 5. A healthy target, or the leader, is left alone unless forced.
  if (target->running) {
    std::string why;
    if (IsLeader(*target)) {
      why = absl::StrCat("the target ", Name(*target),
                         " is the leader (step it down first: a new leader is elected when it "
                         "stops)");
    } else if (Members(target->replica->committed_config) == Members(facts.config) &&
               leader != nullptr &&
               target->replica->last_logged.index >= plan.leader_committed.index) {
      why = absl::StrCat("the target ", Name(*target),
                         " looks healthy: READY, running, caught up (last logged ",
                         Text(target->replica->last_logged), "), config as the ",
                         facts.config_from, "'s");
    }
    if (!why.empty()) {
      if (!request.force) {
        return Refuse(Refusal::kTargetHealthy, refusal, absl::StrCat(why, "; --force to rebuild"));
      }
      plan.warnings.push_back(absl::StrCat("--force: ", why));
    }
  }
  return plan;
}

}  // namespace kmend::rebuild
