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

  std::vector<const RaftPeerPB*> voters, non_voters;
  // Bad voters with their reasons; `failed_bad` are those on live servers
  // (FAILED there, or FAILED_UNRECOVERABLE in the leader's report).
  std::vector<std::pair<const RaftPeerPB*, std::string>> bad, failed_bad;
  for (const RaftPeerPB& p : config.peers()) {
    if (p.member_type() == RaftPeerPB::VOTER) {
      voters.push_back(&p);
      // The leader is live and leads: never bad.
      if (p.permanent_uuid() == leader_uuid) continue;
      std::string why = BadVoterReason(tablet_id, p.permanent_uuid(), servers, params);
      if (why.empty()) why = UnrecoverableVoterReason(p, servers);
      if (why.empty()) continue;
      bad.emplace_back(&p, why);
      if (!DeadTooLong(servers, p.permanent_uuid(), params.delay_ms)) {
        failed_bad.emplace_back(&p, why);
      }
    } else if (p.member_type() == RaftPeerPB::NON_VOTER) {
      non_voters.push_back(&p);
    }
  }
  auto set_peer = [&](const std::string& uuid) {
    a.peer_uuid = uuid;
    auto it = servers.find(uuid);
    if (it != servers.end()) a.peer_address = it->second.address;
  };
  auto in_config = [&](const std::string& uuid) {
    for (const RaftPeerPB& p : config.peers()) {
      if (p.permanent_uuid() == uuid) return true;
    }
    return false;
  };

  // 1. A replacement that died itself is dropped before anything else, so a
  // new one can be chosen.
  for (const RaftPeerPB* p : non_voters) {
    if (DeadTooLong(servers, p->permanent_uuid(), params.delay_ms)) {
      a.type = RereplicationAction::kRemove;
      set_peer(p->permanent_uuid());
      a.reason = "non-voter's server is dead";
      return a;
    }
  }
  // 2. Enough voters without the bad one: evict it.
  if (!bad.empty() && static_cast<int>(voters.size()) > params.replication_factor) {
    a.type = RereplicationAction::kRemove;
    set_peer(bad.front().first->permanent_uuid());
    a.reason = absl::StrCat(voters.size(), " voters > replication factor ",
                            params.replication_factor, " and ", bad.front().second);
    return a;
  }
  // 3. A FAILED leftover outside the config (evicted, or a failed copy whose
  // non-voter was removed) serves nothing and blocks its server as a target.
  for (const auto& [uuid, s] : servers) {
    const ReplicaView* r = LiveReplica(servers, uuid, tablet_id);
    if (r == nullptr || r->state != server::TABLET_DATA_FAILED || in_config(uuid)) continue;
    a.type = RereplicationAction::kDeleteFailed;
    set_peer(uuid);
    a.reason = "FAILED replica on a server outside the config";
    return a;
  }
  // 4. A replacement in progress: copy its data, let it catch up, promote it.
  for (const RaftPeerPB* p : non_voters) {
    if (!p->attrs().promote()) continue;
    const std::string& uuid = p->permanent_uuid();
    if (bad.empty() && static_cast<int>(voters.size()) >= params.replication_factor &&
        AllHealthy(voters, servers, tablet_id, leader_uuid)) {
      // The bad voter came back and serves again (or someone else removed
      // it): the replacement is not needed any more. Only on positive
      // health, so that a server blinking dead does not churn replacements.
      a.type = RereplicationAction::kRemove;
      set_peer(uuid);
      a.reason = "replacement no longer needed (no bad voter)";
      return a;
    }
    auto it = servers.find(uuid);
    if (it == servers.end() || !it->second.live || !it->second.reported) {
      a.reason = absl::StrCat("waiting for non-voter's server ", uuid, " to report");
      a.in_progress = true;
      return a;
    }
    const ServerView& target = it->second;
    auto rep = target.replicas.find(tablet_id);
    if (rep == target.replicas.end() || HoldsNoData(rep->second.state)) {
      if (target.copies_running >= params.max_copies_per_server) {
        a.reason = absl::StrCat("waiting for a copy slot on ", uuid, " (", target.copies_running,
                                " copies running, limit ", params.max_copies_per_server, ")");
        a.in_progress = true;
        return a;
      }
      a.type = RereplicationAction::kCopy;
      set_peer(uuid);
      a.reason = "non-voter holds no data yet";
      return a;
    }
    const ReplicaView& nv = rep->second;
    if (nv.state == server::TABLET_DATA_FAILED) {
      // Its copy does not serve; drop it (step 3 then deletes the leftover).
      a.type = RereplicationAction::kRemove;
      set_peer(uuid);
      a.reason = "non-voter's replica is FAILED";
      a.copy_failed = true;
      return a;
    }
    if (nv.state != server::TABLET_DATA_READY) {
      a.reason = "non-voter's replica is still copying; waiting";
      a.in_progress = true;
      return a;
    }
    // The leader's own view first (its report carries a health report per
    // peer of the active config): a peer it cannot catch up from its log
    // needs a new copy; one it has not heard from lately is not followed.
    const auto health = LeaderHealth(*p);
    if (health == consensus::HealthReportPB::FAILED_UNRECOVERABLE) {
      a.type = RereplicationAction::kRemove;
      set_peer(uuid);
      a.copy_failed = true;
      a.reason = "leader reports the non-voter FAILED_UNRECOVERABLE (it needs ops no longer "
                 "in the leader's log)";
      return a;
    }
    if (health != consensus::HealthReportPB::HEALTHY) {
      a.reason = absl::StrCat("leader reports the non-voter ",
                              consensus::HealthReportPB::HealthStatus_Name(health),
                              ", not HEALTHY; waiting");
      a.in_progress = true;
      return a;
    }
    // The catch-up gate. The copy returning only says the data arrived as of
    // the copy's moment; a voter that far behind would hold up commits (it
    // may be needed for the majority at once). Promote once the non-voter
    // follows the leader: it logged the entry that added it and committed
    // it (so the leader's replication reaches it), and its log is within
    // the allowed lag of the leader's committed index.
    const ReplicaView* lr = LiveReplica(servers, leader_uuid, tablet_id);
    const int64_t leader_committed = lr == nullptr ? -1 : lr->last_committed_index;
    if (leader_committed < 0) {
      a.reason = "waiting for the leader to report its committed index";
      a.in_progress = true;
      return a;
    }
    if (nv.last_committed_index < config.opid_index() ||
        nv.last_logged_index < leader_committed - params.promote_max_lag_ops) {
      a.reason = absl::StrCat("non-voter catching up: logged ", nv.last_logged_index,
                              ", committed ", nv.last_committed_index, "; leader committed ",
                              leader_committed, ", config at ", config.opid_index());
      a.in_progress = true;
      return a;
    }
    a.type = RereplicationAction::kPromote;
    set_peer(uuid);
    a.reason = absl::StrCat("non-voter is READY and caught up (logged ", nv.last_logged_index,
                            ", leader committed ", leader_committed, ")");
    return a;
  }
  const bool under = static_cast<int>(voters.size()) < params.replication_factor;
  if (bad.empty() && !under) return a;
  // 5. A live server that knows nothing of this tablet and has room for one
  // more incoming copy: fewest replicas, then smallest uuid (reproducible).
  std::string best;
  int64_t best_load = std::numeric_limits<int64_t>::max();
  int at_limit = 0;
  int backing_off = 0;
  for (const auto& [uuid, s] : servers) {
    if (!s.live || !s.reported || s.disk_full || in_config(uuid)) continue;
    auto rep = s.replicas.find(tablet_id);
    // A tombstoned leftover may be overwritten by a copy; anything else
    // there is a replica of some other config (or a FAILED one, deleted by
    // step 3 first): leave that server alone.
    if (rep != s.replicas.end() && !HoldsNoData(rep->second.state)) continue;
    if (s.recent_copy_failures.count(tablet_id) > 0) {
      ++backing_off;
      continue;
    }
    if (s.copies_running + s.copies_waiting >= params.max_copies_per_server) {
      ++at_limit;
      continue;
    }
    auto l = load.find(uuid);
    int64_t n = l == load.end() ? 0 : l->second;
    if (n < best_load) {
      best = uuid;
      best_load = n;
    }
  }
  if (!best.empty()) {
    a.type = RereplicationAction::kAddNonVoter;
    set_peer(best);
    a.reason = bad.empty()
                   ? absl::StrCat(voters.size(), " voters < replication factor ",
                                  params.replication_factor)
                   : absl::StrCat("replacing voter ", bad.front().first->permanent_uuid(), ": ",
                                  bad.front().second);
    return a;
  }
  if (at_limit > 0) {
    a.reason = absl::StrCat("all ", at_limit, " candidate servers are at their copy limit (",
                            params.max_copies_per_server, ")");
    return a;
  }
  // 6. Nowhere to add: evict a bad voter on a live server first, so that its
  // own server can take the replacement once the leftover is gone (a FAILED
  // one deleted by step 3, an unrecoverable READY one tombstoned by the
  // master's heartbeat answer). Only while the voters known healthy form a
  // majority both of the config now (the removal itself must commit, and
  // the bad voter acknowledges nothing) and of the config without it.
  if (!failed_bad.empty() && voters.size() > 1) {
    const RaftPeerPB* victim = failed_bad.front().first;
    int healthy = 0;
    for (const RaftPeerPB* p : voters) {
      if (p == victim) continue;
      if (p->permanent_uuid() == leader_uuid) {
        ++healthy;
        continue;
      }
      bool is_bad = false;
      for (const auto& b : bad) is_bad |= b.first == p;
      const ReplicaView* r = LiveReplica(servers, p->permanent_uuid(), tablet_id);
      const auto h = LeaderHealth(*p);
      // No report at all (the catalog's copy of the config) is not evidence
      // against it; an explicit FAILED from the leader is.
      if (!is_bad && r != nullptr && r->state == server::TABLET_DATA_READY &&
          (!p->has_health_report() || h == consensus::HealthReportPB::HEALTHY)) {
        ++healthy;
      }
    }
    const int now_majority = static_cast<int>(voters.size()) / 2 + 1;
    const int after_majority = static_cast<int>(voters.size() - 1) / 2 + 1;
    if (healthy >= now_majority && healthy >= after_majority) {
      a.type = RereplicationAction::kRemove;
      set_peer(victim->permanent_uuid());
      a.reason = absl::StrCat("no other server can host a replacement; evicting first (",
                              healthy, " healthy voters remain): ", failed_bad.front().second);
      return a;
    }
    a.reason = absl::StrCat("no other server can host a replacement, and evicting ",
                            victim->permanent_uuid(), " would leave ", healthy,
                            " healthy voters, short of a majority; waiting");
    return a;
  }
  a.reason = backing_off > 0
                 ? absl::StrCat("the only ", backing_off,
                                " candidate server(s) failed a copy of this tablet recently")
                 : "no live server without a replica of this tablet";
  return a;
}

}  // namespace kmend::master
