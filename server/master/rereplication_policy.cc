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
  return it != servers.end() && !it->second.live &&
         it->second.millis_since_heartbeat >= delay_ms;
}

}  // namespace

const char* ActionName(RereplicationAction::Type t) {
  switch (t) {
    case RereplicationAction::kNone: return "none";
    case RereplicationAction::kAddNonVoter: return "add non-voter";
    case RereplicationAction::kCopy: return "copy";
    case RereplicationAction::kPromote: return "promote";
    case RereplicationAction::kRemove: return "remove";
  }
  return "?";
}

RereplicationAction NextRereplicationStep(const std::string& tablet_id,
                                          const consensus::RaftConfigPB& config,
                                          const std::string& leader_uuid,
                                          int replication_factor,
                                          const std::map<std::string, ServerView>& servers,
                                          const std::map<std::string, int64_t>& load,
                                          int64_t delay_ms) {
  RereplicationAction a;
  a.tablet_id = tablet_id;
  a.cas_config_opid_index = config.opid_index();
  if (leader_uuid.empty()) return a;
  auto leader = servers.find(leader_uuid);
  if (leader == servers.end() || !leader->second.live) return a;
  a.leader_uuid = leader_uuid;
  a.leader_address = leader->second.address;

  std::vector<const RaftPeerPB*> voters, dead_voters, non_voters;
  for (const RaftPeerPB& p : config.peers()) {
    if (p.member_type() == RaftPeerPB::VOTER) {
      voters.push_back(&p);
      if (DeadTooLong(servers, p.permanent_uuid(), delay_ms)) dead_voters.push_back(&p);
    } else if (p.member_type() == RaftPeerPB::NON_VOTER) {
      non_voters.push_back(&p);
    }
  }
  auto set_peer = [&](const RaftPeerPB& p) {
    a.peer_uuid = p.permanent_uuid();
    auto it = servers.find(p.permanent_uuid());
    if (it != servers.end()) a.peer_address = it->second.address;
  };

  // A replacement that died itself is dropped before anything else, so a
  // new one can be chosen.
  for (const RaftPeerPB* p : non_voters) {
    if (DeadTooLong(servers, p->permanent_uuid(), delay_ms)) {
      a.type = RereplicationAction::kRemove;
      set_peer(*p);
      a.reason = "non-voter's server is dead";
      return a;
    }
  }
  // Enough voters without the dead one: evict it. Never the leader itself
  // (a dead server reports nothing, so it cannot be the live leader).
  if (!dead_voters.empty() && static_cast<int>(voters.size()) > replication_factor) {
    a.type = RereplicationAction::kRemove;
    set_peer(*dead_voters.front());
    a.reason = absl::StrCat(voters.size(), " voters > replication factor ", replication_factor,
                            " and this voter's server is dead");
    return a;
  }
  // A replacement in progress: copy its data, then promote it.
  for (const RaftPeerPB* p : non_voters) {
    if (!p->attrs().promote()) continue;
    auto it = servers.find(p->permanent_uuid());
    if (it == servers.end() || !it->second.live || !it->second.reported) return a;  // wait
    set_peer(*p);
    auto rep = it->second.replicas.find(tablet_id);
    if (rep == it->second.replicas.end() ||
        rep->second == server::TABLET_DATA_TOMBSTONED ||
        rep->second == server::TABLET_DATA_DELETED) {
      a.type = RereplicationAction::kCopy;
      a.reason = "non-voter holds no data yet";
    } else if (rep->second == server::TABLET_DATA_READY) {
      a.type = RereplicationAction::kPromote;
      a.reason = "non-voter's copy is READY";
    } else if (rep->second == server::TABLET_DATA_FAILED) {
      // Its copy does not serve; drop it (the next target skips a server
      // with a FAILED replica of this tablet).
      a.type = RereplicationAction::kRemove;
      a.reason = "non-voter's replica is FAILED";
    } else {
      a.peer_uuid.clear();
      a.peer_address.clear();
      a.reason = "non-voter's replica is still copying; waiting";
    }
    return a;
  }
  if (dead_voters.empty()) return a;
  // Pick a live server that knows nothing of this tablet: fewest replicas,
  // then smallest uuid (reproducible).
  std::string best;
  int64_t best_load = std::numeric_limits<int64_t>::max();
  for (const auto& [uuid, s] : servers) {
    if (!s.live || !s.reported) continue;
    bool in_config = false;
    for (const RaftPeerPB& p : config.peers()) in_config |= p.permanent_uuid() == uuid;
    if (in_config) continue;
    auto rep = s.replicas.find(tablet_id);
    // A tombstoned leftover may be overwritten by a copy; anything else
    // there is a replica of some other config: leave that server alone.
    if (rep != s.replicas.end() && rep->second != server::TABLET_DATA_TOMBSTONED &&
        rep->second != server::TABLET_DATA_DELETED) {
      continue;
    }
    auto l = load.find(uuid);
    int64_t n = l == load.end() ? 0 : l->second;
    if (n < best_load) {
      best = uuid;
      best_load = n;
    }
  }
  if (best.empty()) {
    a.reason = "no live server without a replica of this tablet";
    return a;
  }
  a.type = RereplicationAction::kAddNonVoter;
  a.peer_uuid = best;
  a.peer_address = servers.at(best).address;
  a.reason = absl::StrCat("voter ", dead_voters.front()->permanent_uuid(), " is dead");
  return a;
}

}  // namespace kmend::master
