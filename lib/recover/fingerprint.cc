#include "lib/recover/fingerprint.h"

#include <map>

#include "absl/strings/str_cat.h"

namespace kmend::recover {

namespace {

using check::OpId;

std::string OpIdString(const OpId& id) { return absl::StrCat(id.term, ".", id.index); }

const check::ReplicaFacts* FindReplica(const check::ClusterSnapshot& snap, const std::string& uuid,
                                       const std::string& tablet_id) {
  auto by_ts = snap.replicas.find(uuid);
  if (by_ts == snap.replicas.end()) return nullptr;
  auto it = by_ts->second.find(tablet_id);
  return it == by_ts->second.end() ? nullptr : &it->second;
}

const consensus::RaftConfigPB& ActiveConfig(const check::ReplicaFacts& r) {
  return r.pending_config ? *r.pending_config : r.committed_config;
}

bool IsMember(const consensus::RaftConfigPB& c, const std::string& uuid) {
  for (const auto& p : c.peers()) {
    if (p.permanent_uuid() == uuid) return true;
  }
  return false;
}

}  // namespace

PlanMatch MatchPlan(const RecoveryPlan& plan, const check::ClusterSnapshot& now) {
  PlanMatch out;
  std::map<std::string, const check::TabletFacts*> tablets;
  for (const auto& table : now.tables) {
    for (const auto& t : table.tablets) tablets[t.tablet_id] = &t;
  }
  std::map<std::string, const check::TabletServerFacts*> servers;
  for (const auto& ts : now.tablet_servers) servers[ts.uuid] = &ts;

  std::vector<const PlanEntry*> pending;
  for (const PlanEntry& e : plan.entries) {
    auto t = tablets.find(e.tablet_id);
    const check::ReplicaFacts* survivor = FindReplica(now, e.survivor_uuid, e.tablet_id);
    // Forced already: the survivor (or, if it cannot be asked, the catalog)
    // carries a config from a term above the survivor's when planned, and
    // the survivor is in it. Only a force moves a leaderless minority there.
    bool applied = false;
    if (survivor != nullptr) {
      const auto& c = ActiveConfig(*survivor);
      applied = c.opid_term() > e.forced_term_floor && IsMember(c, e.survivor_uuid);
    } else if (t != tablets.end()) {
      const auto& c = t->second->master_config;
      applied = c.opid_term() > e.forced_term_floor && IsMember(c, e.survivor_uuid);
    }
    if (applied) {
      out.applied.insert(e.tablet_id);
    } else {
      pending.push_back(&e);
    }
  }
  if (pending.empty()) return out;

  for (const DeadServer& d : plan.dead_servers) {
    auto s = servers.find(d.uuid);
    if (s == servers.end()) continue;  // still unknown to the master: still gone
    const check::TabletServerFacts& ts = *s->second;
    if (ts.reachable) {
      out.differences.push_back(absl::StrCat("tablet server ", d.uuid, " (", ts.address,
                                             "), taken as dead by the plan, answers again"));
    } else if (ts.live_per_master) {
      out.differences.push_back(absl::StrCat("tablet server ", d.uuid, " (", ts.address,
                                             "), taken as dead by the plan, heartbeats to the "
                                             "master again"));
    }
  }

  for (const PlanEntry* e : pending) {
    auto t = tablets.find(e->tablet_id);
    if (t == tablets.end()) {
      out.differences.push_back(
          absl::StrCat("tablet ", e->tablet_id, " (", e->table_name, ") is no longer in the catalog"));
      continue;
    }
    const consensus::RaftConfigPB& config = t->second->master_config;
    const OpId planned{e->fingerprint.config_opid_term, e->fingerprint.config_opid_index};
    const OpId seen{config.opid_term(), config.has_opid_index() ? config.opid_index() : -1};
    if (!(planned == seen)) {
      out.differences.push_back(absl::StrCat("tablet ", e->tablet_id, ": the catalog's config changed (",
                                             OpIdString(planned), " when planned, ",
                                             OpIdString(seen), " now)"));
    }
    std::map<std::string, OpId> printed;
    for (const ReplicaPrint& r : e->fingerprint.replicas) {
      printed[r.uuid] = r.last_logged;
      const check::ReplicaFacts* f = FindReplica(now, r.uuid, e->tablet_id);
      if (f == nullptr || f->data_state != check::DataState::kReady) {
        out.differences.push_back(absl::StrCat(
            "tablet ", e->tablet_id, ": the replica on ", r.uuid,
            r.uuid == e->survivor_uuid ? " (the survivor)" : " (kept by the plan)",
            f == nullptr ? " is not reported now"
                         : absl::StrCat(" is ", check::DataStateName(f->data_state), " now")));
      } else if (!(f->last_logged == r.last_logged)) {
        out.differences.push_back(absl::StrCat(
            "tablet ", e->tablet_id, ": the replica on ", r.uuid,
            r.uuid == e->survivor_uuid ? " (the survivor)" : "", " moved on: last logged ",
            OpIdString(r.last_logged), " when planned, ", OpIdString(f->last_logged), " now"));
      }
    }
    for (const auto& p : config.peers()) {
      if (printed.count(p.permanent_uuid())) continue;
      const check::ReplicaFacts* f = FindReplica(now, p.permanent_uuid(), e->tablet_id);
      auto s = servers.find(p.permanent_uuid());
      if (f != nullptr && f->data_state == check::DataState::kReady && s != servers.end() &&
          s->second->reachable) {
        out.differences.push_back(absl::StrCat("tablet ", e->tablet_id, ": the replica on ",
                                               p.permanent_uuid(),
                                               ", which the plan drops, runs now"));
      }
    }
  }
  return out;
}

}  // namespace kmend::recover
