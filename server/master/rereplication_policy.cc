#include "server/master/rereplication_policy.h"

#include <limits>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kmend::master {
namespace {

using consensus::RaftPeerPB;

// Known, not live, and silent for at least delay_ms.
bool DeadTooLong(const std::map<std::string, ServerView>& servers, const std::string& uuid,
                 int64_t delay_ms) {
  auto it = servers.find(uuid);
  // Maintenance mode: a planned absence is never "too long".
  return it != servers.end() && !it->second.live && !it->second.in_maintenance &&
         it->second.millis_since_heartbeat >= delay_ms;
}

// The replica of `tablet_id` on a live server that has reported, or null.
const ReplicaView* LiveReplica(const std::map<std::string, ServerView>& servers,
                               const std::string& uuid, const std::string& tablet_id) {
  auto it = servers.find(uuid);
  if (it == servers.end() || !it->second.live || !it->second.reported) return nullptr;
  auto r = it->second.replicas.find(tablet_id);
  return r == it->second.replicas.end() ? nullptr : &r->second;
}

bool HoldsNoData(server::ReplicaDataState s) {
  return s == server::TABLET_DATA_TOMBSTONED || s == server::TABLET_DATA_DELETED;
}

// Every voter READY on a live, reported server (the leader counts as such)
// and not reported anything but HEALTHY by the leader (no report: no
// evidence either way; the executor carries the leader's reports over).
bool AllHealthy(const std::vector<const consensus::RaftPeerPB*>& voters,
                const std::map<std::string, ServerView>& servers, const std::string& tablet_id,
                const std::string& leader_uuid) {
  for (const consensus::RaftPeerPB* p : voters) {
    if (p->permanent_uuid() == leader_uuid) continue;
    const ReplicaView* r = LiveReplica(servers, p->permanent_uuid(), tablet_id);
    if (r == nullptr || r->state != server::TABLET_DATA_READY) return false;
    if (p->has_health_report() &&
        p->health_report().overall_health() != consensus::HealthReportPB::HEALTHY) {
      return false;
    }
  }
  return true;
}

consensus::HealthReportPB::HealthStatus LeaderHealth(const RaftPeerPB& p) {
  return p.has_health_report() ? p.health_report().overall_health()
                               : consensus::HealthReportPB::UNKNOWN;
}

// A voter the leader cannot catch up from its log (it needs ops the leader
// garbage-collected) whose server is live again: it will never acknowledge
// anything, so it is as bad as a FAILED replica. While its server is down
// the dead delay governs instead (the operator's choice of how long to wait
// for a restart), so "" then.
std::string UnrecoverableVoterReason(const RaftPeerPB& p,
                                     const std::map<std::string, ServerView>& servers) {
  if (LeaderHealth(p) != consensus::HealthReportPB::FAILED_UNRECOVERABLE) return "";
  auto it = servers.find(p.permanent_uuid());
  if (it == servers.end() || !it->second.live) return "";
  return absl::StrCat("leader reports voter ", p.permanent_uuid(),
                      " FAILED_UNRECOVERABLE (it needs ops no longer in the leader's log)");
}

}  // namespace

const char* ActionName(RereplicationAction::Type t) {
  switch (t) {
    case RereplicationAction::kNone: return "none";
    case RereplicationAction::kAddNonVoter: return "add non-voter";
    case RereplicationAction::kCopy: return "copy";
    case RereplicationAction::kPromote: return "promote";
    case RereplicationAction::kRemove: return "remove";
    case RereplicationAction::kDeleteFailed: return "delete FAILED replica";
  }
  return "?";
}

std::string BadVoterReason(const std::string& tablet_id, const std::string& uuid,
                           const std::map<std::string, ServerView>& servers,
                           const RereplicationParams& params) {
  if (DeadTooLong(servers, uuid, params.delay_ms)) {
    return absl::StrCat("server ", uuid, " silent for ", servers.at(uuid).millis_since_heartbeat,
                        " ms (delay ", params.delay_ms, " ms)");
  }
  const ReplicaView* r = LiveReplica(servers, uuid, tablet_id);
  if (r != nullptr && r->state == server::TABLET_DATA_FAILED &&
      r->failed_for_ms >= params.failed_grace_ms) {
    return absl::StrCat("replica on live server ", uuid, " FAILED for ", r->failed_for_ms,
                        " ms (grace ", params.failed_grace_ms, " ms)");
  }
  return "";
}

// The steps of NextRereplicationStep, one function each, in priority
// order. Each returns true when it decided the pass (`*a` is then the answer:
// a step, or kNone with the reason being waited on) and false to let the
// next step look.
namespace {

// What every step reads: the inputs plus the config split into voters and
// non-voters, and the bad voters with their reasons. Invariant: the leader
// is live and never among `bad`.
struct TabletFacts {
  const std::string& tablet_id;
  const consensus::RaftConfigPB& config;
  const std::string& leader_uuid;
  const std::map<std::string, ServerView>& servers;
  const std::map<std::string, int64_t>& load;
  const RereplicationParams& params;
  std::vector<const RaftPeerPB*> voters, non_voters;
  // Bad voters with their reasons; `failed_bad` are those on live servers
  // (FAILED there, or FAILED_UNRECOVERABLE in the leader's report).
  std::vector<std::pair<const RaftPeerPB*, std::string>> bad, failed_bad;

  bool InConfig(const std::string& uuid) const {
    for (const RaftPeerPB& p : config.peers()) {
      if (p.permanent_uuid() == uuid) return true;
    }
    return false;
  }
  void SetPeer(const std::string& uuid, RereplicationAction* a) const {
    a->peer_uuid = uuid;
    auto it = servers.find(uuid);
    if (it != servers.end()) a->peer_address = it->second.address;
  }
};

void ClassifyPeers(TabletFacts* f) {
  for (const RaftPeerPB& p : f->config.peers()) {
    if (p.member_type() == RaftPeerPB::VOTER) {
      f->voters.push_back(&p);
      // The leader is live and leads: never bad.
      if (p.permanent_uuid() == f->leader_uuid) continue;
      std::string why = BadVoterReason(f->tablet_id, p.permanent_uuid(), f->servers, f->params);
      if (why.empty()) why = UnrecoverableVoterReason(p, f->servers);
      if (why.empty()) continue;
      f->bad.emplace_back(&p, why);
      if (!DeadTooLong(f->servers, p.permanent_uuid(), f->params.delay_ms)) {
        f->failed_bad.emplace_back(&p, why);
      }
    } else if (p.member_type() == RaftPeerPB::NON_VOTER) {
      f->non_voters.push_back(&p);
    }
  }
}

// 1. A replacement that died itself is dropped before anything else, so a
// new one can be chosen.
bool RemoveDeadNonVoter(const TabletFacts& f, RereplicationAction* a) {
  for (const RaftPeerPB* p : f.non_voters) {
    if (DeadTooLong(f.servers, p->permanent_uuid(), f.params.delay_ms)) {
      a->type = RereplicationAction::kRemove;
      f.SetPeer(p->permanent_uuid(), a);
      a->reason = "non-voter's server is dead";
      return true;
    }
  }
  return false;
}

// 2. Enough voters without the bad one: evict it.
bool RemoveBadVoterAboveFactor(const TabletFacts& f, RereplicationAction* a) {
  if (f.bad.empty() || static_cast<int>(f.voters.size()) <= f.params.replication_factor) {
    return false;
  }
  a->type = RereplicationAction::kRemove;
  f.SetPeer(f.bad.front().first->permanent_uuid(), a);
  a->reason = absl::StrCat(f.voters.size(), " voters > replication factor ",
                           f.params.replication_factor, " and ", f.bad.front().second);
  return true;
}

// 3. A FAILED leftover outside the config (evicted, or a failed copy whose
// non-voter was removed) serves nothing and blocks its server as a target.
bool DeleteFailedLeftover(const TabletFacts& f, RereplicationAction* a) {
  for (const auto& [uuid, s] : f.servers) {
    const ReplicaView* r = LiveReplica(f.servers, uuid, f.tablet_id);
    if (r == nullptr || r->state != server::TABLET_DATA_FAILED || f.InConfig(uuid)) continue;
    a->type = RereplicationAction::kDeleteFailed;
    f.SetPeer(uuid, a);
    a->reason = "FAILED replica on a server outside the config";
    return true;
  }
  return false;
}

// 4a. The replacement `p` on `target`, which holds no data yet: copy into it
// when a copy slot is free.
void CopyIntoReplacement(const TabletFacts& f, const std::string& uuid, const ServerView& target,
                         RereplicationAction* a) {
  if (target.copies_running >= f.params.max_copies_per_server) {
    a->reason = absl::StrCat("waiting for a copy slot on ", uuid, " (", target.copies_running,
                             " copies running, limit ", f.params.max_copies_per_server, ")");
    a->in_progress = true;
    return;
  }
  a->type = RereplicationAction::kCopy;
  f.SetPeer(uuid, a);
  a->reason = "non-voter holds no data yet";
}

// 4b. The replacement `p` whose replica `nv` is READY: promote it once the
// leader reports it HEALTHY and it is caught up; drop it if the leader
// cannot catch it up.
void PromoteWhenCaughtUp(const TabletFacts& f, const RaftPeerPB& p, const ReplicaView& nv,
                         RereplicationAction* a) {
  const std::string& uuid = p.permanent_uuid();
  // The leader's own view first (its report carries a health report per
  // peer of the active config): a peer it cannot catch up from its log
  // needs a new copy; one it has not heard from lately is not followed.
  const auto health = LeaderHealth(p);
  if (health == consensus::HealthReportPB::FAILED_UNRECOVERABLE) {
    a->type = RereplicationAction::kRemove;
    f.SetPeer(uuid, a);
    a->copy_failed = true;
    a->reason = "leader reports the non-voter FAILED_UNRECOVERABLE (it needs ops no longer "
                "in the leader's log)";
    return;
  }
  if (health != consensus::HealthReportPB::HEALTHY) {
    a->reason = absl::StrCat("leader reports the non-voter ",
                             consensus::HealthReportPB::HealthStatus_Name(health),
                             ", not HEALTHY; waiting");
    a->in_progress = true;
    return;
  }
  // The catch-up gate. The copy returning only says the data arrived as of
  // the copy's moment; a voter that far behind would hold up commits (it
  // may be needed for the majority at once). Promote once the non-voter
  // follows the leader: it logged the entry that added it and committed
  // it (so the leader's replication reaches it), and its log is within
  // the allowed lag of the leader's committed index.
  const ReplicaView* lr = LiveReplica(f.servers, f.leader_uuid, f.tablet_id);
  const int64_t leader_committed = lr == nullptr ? -1 : lr->last_committed_index;
  if (leader_committed < 0) {
    a->reason = "waiting for the leader to report its committed index";
    a->in_progress = true;
    return;
  }
  if (nv.last_committed_index < f.config.opid_index() ||
      nv.last_logged_index < leader_committed - f.params.promote_max_lag_ops) {
    a->reason = absl::StrCat("non-voter catching up: logged ", nv.last_logged_index,
                             ", committed ", nv.last_committed_index, "; leader committed ",
                             leader_committed, ", config at ", f.config.opid_index());
    a->in_progress = true;
    return;
  }
  a->type = RereplicationAction::kPromote;
  f.SetPeer(uuid, a);
  a->reason = absl::StrCat("non-voter is READY and caught up (logged ", nv.last_logged_index,
                           ", leader committed ", leader_committed, ")");
}

// 4. A replacement in progress (the first NON_VOTER marked promote): copy
// its data, let it catch up, promote it; or drop it when it failed or is
// not needed any more. Always decides when there is one.
bool AdvanceReplacement(const TabletFacts& f, RereplicationAction* a) {
  for (const RaftPeerPB* p : f.non_voters) {
    if (!p->attrs().promote()) continue;
    const std::string& uuid = p->permanent_uuid();
    if (f.bad.empty() && static_cast<int>(f.voters.size()) >= f.params.replication_factor &&
        AllHealthy(f.voters, f.servers, f.tablet_id, f.leader_uuid)) {
      // The bad voter came back and serves again (or someone else removed
      // it): the replacement is not needed any more. Only on positive
      // health, so that a server blinking dead does not churn replacements.
      a->type = RereplicationAction::kRemove;
      f.SetPeer(uuid, a);
      a->reason = "replacement no longer needed (no bad voter)";
      return true;
    }
    auto it = f.servers.find(uuid);
    if (it == f.servers.end() || !it->second.live || !it->second.reported) {
      a->reason = absl::StrCat("waiting for non-voter's server ", uuid, " to report");
      a->in_progress = true;
      return true;
    }
    const ServerView& target = it->second;
    auto rep = target.replicas.find(f.tablet_id);
    if (rep == target.replicas.end() || HoldsNoData(rep->second.state)) {
      CopyIntoReplacement(f, uuid, target, a);
      return true;
    }
    const ReplicaView& nv = rep->second;
    if (nv.state == server::TABLET_DATA_FAILED) {
      // Its copy does not serve; drop it (step 3 then deletes the leftover).
      a->type = RereplicationAction::kRemove;
      f.SetPeer(uuid, a);
      a->reason = "non-voter's replica is FAILED";
      a->copy_failed = true;
      return true;
    }
    if (nv.state != server::TABLET_DATA_READY) {
      a->reason = "non-voter's replica is still copying; waiting";
      a->in_progress = true;
      return true;
    }
    PromoteWhenCaughtUp(f, *p, nv, a);
    return true;
  }
  return false;
}

// Why step 5 found no target, for step 6 and the final reason.
struct NoTarget {
  int at_limit = 0;     // candidates at their copy limit
  int backing_off = 0;  // candidates that failed a copy of this tablet lately
};

// 5. A live server that knows nothing of this tablet and has room for one
// more incoming copy: fewest replicas, then smallest uuid (reproducible).
// Decides when it finds one, or when some candidate is only at its limit.
bool AddReplacement(const TabletFacts& f, NoTarget* none, RereplicationAction* a) {
  std::string best;
  int64_t best_load = std::numeric_limits<int64_t>::max();
  for (const auto& [uuid, s] : f.servers) {
    if (!s.live || !s.reported || s.disk_full || f.InConfig(uuid)) continue;
    auto rep = s.replicas.find(f.tablet_id);
    // A tombstoned leftover may be overwritten by a copy; anything else
    // there is a replica of some other config (or a FAILED one, deleted by
    // step 3 first): leave that server alone.
    if (rep != s.replicas.end() && !HoldsNoData(rep->second.state)) continue;
    if (s.recent_copy_failures.count(f.tablet_id) > 0) {
      ++none->backing_off;
      continue;
    }
    if (s.copies_running + s.copies_waiting >= f.params.max_copies_per_server) {
      ++none->at_limit;
      continue;
    }
    auto l = f.load.find(uuid);
    int64_t n = l == f.load.end() ? 0 : l->second;
    if (n < best_load) {
      best = uuid;
      best_load = n;
    }
  }
  if (!best.empty()) {
    a->type = RereplicationAction::kAddNonVoter;
    f.SetPeer(best, a);
    a->reason = f.bad.empty()
                    ? absl::StrCat(f.voters.size(), " voters < replication factor ",
                                   f.params.replication_factor)
                    : absl::StrCat("replacing voter ", f.bad.front().first->permanent_uuid(),
                                   ": ", f.bad.front().second);
    return true;
  }
  if (none->at_limit > 0) {
    a->reason = absl::StrCat("all ", none->at_limit,
                             " candidate servers are at their copy limit (",
                             f.params.max_copies_per_server, ")");
    return true;
  }
  return false;
}

// 6. Nowhere to add: evict a bad voter on a live server first, so that its
// own server can take the replacement once the leftover is gone (a FAILED
// one deleted by step 3, an unrecoverable READY one tombstoned by the
// master's heartbeat answer). Only while the voters known healthy form a
// majority both of the config now (the removal itself must commit, and
// the bad voter acknowledges nothing) and of the config without it.
bool EvictBeforeAdd(const TabletFacts& f, RereplicationAction* a) {
  if (f.failed_bad.empty() || f.voters.size() <= 1) return false;
  const RaftPeerPB* victim = f.failed_bad.front().first;
  int healthy = 0;
  for (const RaftPeerPB* p : f.voters) {
    if (p == victim) continue;
    if (p->permanent_uuid() == f.leader_uuid) {
      ++healthy;
      continue;
    }
    bool is_bad = false;
    for (const auto& b : f.bad) is_bad |= b.first == p;
    const ReplicaView* r = LiveReplica(f.servers, p->permanent_uuid(), f.tablet_id);
    const auto h = LeaderHealth(*p);
    // No report at all (the catalog's copy of the config) is not evidence
    // against it; an explicit FAILED from the leader is.
    if (!is_bad && r != nullptr && r->state == server::TABLET_DATA_READY &&
        (!p->has_health_report() || h == consensus::HealthReportPB::HEALTHY)) {
      ++healthy;
    }
  }
  const int now_majority = static_cast<int>(f.voters.size()) / 2 + 1;
  const int after_majority = static_cast<int>(f.voters.size() - 1) / 2 + 1;
  if (healthy >= now_majority && healthy >= after_majority) {
    a->type = RereplicationAction::kRemove;
    f.SetPeer(victim->permanent_uuid(), a);
    a->reason = absl::StrCat("no other server can host a replacement; evicting first (", healthy,
                             " healthy voters remain): ", f.failed_bad.front().second);
    return true;
  }
  a->reason = absl::StrCat("no other server can host a replacement, and evicting ",
                           victim->permanent_uuid(), " would leave ", healthy,
                           " healthy voters, short of a majority; waiting");
  return true;
}

}  // namespace

RereplicationAction NextRereplicationStep(const std::string& tablet_id,
                                          const consensus::RaftConfigPB& config,
                                          const std::string& leader_uuid,
                                          const std::map<std::string, ServerView>& servers,
                                          const std::map<std::string, int64_t>& load,
                                          const RereplicationParams& params) {
  RereplicationAction a;
  a.tablet_id = tablet_id;
  a.cas_config_opid_index = config.opid_index();
  if (leader_uuid.empty()) return a;
  auto leader = servers.find(leader_uuid);
  if (leader == servers.end() || !leader->second.live) return a;
  a.leader_uuid = leader_uuid;
  a.leader_address = leader->second.address;

  TabletFacts f{tablet_id, config, leader_uuid, servers, load, params, {}, {}, {}, {}};
  ClassifyPeers(&f);
  if (RemoveDeadNonVoter(f, &a) || RemoveBadVoterAboveFactor(f, &a) ||
      DeleteFailedLeftover(f, &a) || AdvanceReplacement(f, &a)) {
    return a;
  }
  const bool under = static_cast<int>(f.voters.size()) < params.replication_factor;
  if (f.bad.empty() && !under) return a;
  NoTarget none;
  if (AddReplacement(f, &none, &a) || EvictBeforeAdd(f, &a)) return a;
  a.reason = none.backing_off > 0
                 ? absl::StrCat("the only ", none.backing_off,
                                " candidate server(s) failed a copy of this tablet recently")
                 : "no live server without a replica of this tablet";
  return a;
}

}  // namespace kmend::master
