#include "lib/recover/planner.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/check/checker.h"
#include "lib/check/results.h"

namespace kmend::recover {

namespace {

using check::OpId;
using check::ReplicaResult;
using check::ReplicaState;
using check::TabletResult;

std::string OpIdString(const OpId& id) { return absl::StrCat(id.term, ".", id.index); }

// Why ksck would force this tablet, or not. Returns false for tablets whose
// running voters still make a majority.
bool MajorityLost(const TabletResult& t) {
  int voters = 0, running = 0;
  for (const ReplicaResult& r : t.replicas) {
    if (!r.in_master_config || !r.voter) continue;
    ++voters;
    running += r.state == ReplicaState::kRunning ? 1 : 0;
  }
  return running < voters / 2 + 1;
}

void PlanTablet(const TabletResult& t, int replication_factor, RecoveryPlan* plan,
                std::set<std::string>* dropped_servers) {
  std::vector<const ReplicaResult*> kept;
  for (const ReplicaResult& r : t.replicas) {
    if (r.in_master_config && r.state == ReplicaState::kRunning && r.facts) kept.push_back(&r);
  }
  const ReplicaResult* survivor = check::ChooseSurvivor(kept);
  if (survivor == nullptr) {
    plan->unrecoverable.push_back(
        {t.tablet_id, t.table_name,
         absl::StrCat("no replica of the catalog's config is running (", t.reason,
                      "): nothing survives to force; bring a down server back, or restore the "
                      "tablet from a backup")});
    return;
  }
  PlanEntry e;
  e.tablet_id = t.tablet_id;
  e.table_name = t.table_name;
  e.replication_factor = replication_factor;
  e.survivor_uuid = survivor->ts_uuid;
  e.survivor_address = survivor->ts_address;
  e.survivor_last_logged = survivor->facts->last_logged;
  e.forced_term_floor = std::max(survivor->facts->term, survivor->facts->last_logged.term);
  std::set<std::string> keep;
  for (const ReplicaResult* r : kept) keep.insert(r->ts_uuid);
  e.new_voters.assign(keep.begin(), keep.end());
  for (const auto& p : t.master_config.peers()) {
    if (!keep.count(p.permanent_uuid())) {
      e.dropped.push_back(p.permanent_uuid());
      dropped_servers->insert(p.permanent_uuid());
    }
  }
  std::sort(e.dropped.begin(), e.dropped.end());

  e.fingerprint.config_opid_term = t.master_config.opid_term();
  e.fingerprint.config_opid_index =
      t.master_config.has_opid_index() ? t.master_config.opid_index() : -1;
  for (const ReplicaResult* r : kept) {
    e.fingerprint.replicas.push_back({r->ts_uuid, r->facts->last_logged});
  }
  std::sort(e.fingerprint.replicas.begin(), e.fingerprint.replicas.end(),
            [](const ReplicaPrint& a, const ReplicaPrint& b) { return a.uuid < b.uuid; });

  // What the survivor may lack, as far as anyone still running (or the
  // catalog) knows.
  // Highest by index (then term): the indexes the survivor lacks are what
  // matters here, whatever term wrote them.
  auto higher = [](const OpId& a, const OpId& b) {
    return a.index != b.index ? a.index > b.index : a.term > b.term;
  };
  e.highest_known = e.survivor_last_logged;
  std::string highest_from = survivor->ts_uuid;
  for (const ReplicaResult* r : kept) {
    for (const OpId& id : {r->facts->last_logged, r->facts->last_committed}) {
      if (higher(id, e.highest_known)) {
        e.highest_known = id;
        highest_from = r->ts_uuid;
      }
    }
  }
  const OpId catalog{e.fingerprint.config_opid_term, e.fingerprint.config_opid_index};
  if (higher(catalog, e.highest_known)) {
    e.highest_known = catalog;
    highest_from = "the catalog's config";
  }
  if (e.highest_known.index > e.survivor_last_logged.index) {
    e.may_lose = absl::StrCat("indexes ", e.survivor_last_logged.index + 1, "..",
                              e.highest_known.index, " (", highest_from, " reports ",
                              OpIdString(e.highest_known), "; the survivor has ",
                              OpIdString(e.survivor_last_logged),
                              "), and any entry only the dead replicas had");
  } else {
    e.may_lose = absl::StrCat("only entries after ", OpIdString(e.survivor_last_logged),
                              " that the dead replicas alone had; how many is not known");
  }

  for (const ReplicaResult* r : kept) {
    if (r->facts->last_committed.index > e.survivor_last_logged.index) {
      e.warnings.push_back(absl::StrCat(
          r->ts_uuid, " reports index ", r->facts->last_committed.index,
          " committed, beyond the survivor's last logged index ", e.survivor_last_logged.index,
          ": forcing loses committed entries (possible only after earlier unsafe changes "
          "reused indexes or terms); compare the replicas' logs first"));
    }
  }
  // The master adopts a reported config only when Raft orders it after its
  // own: (term, index). The force lands at (floor + 1, last logged + 1).
  const OpId forced{e.forced_term_floor + 1, e.survivor_last_logged.index + 1};
  if (!(catalog < forced)) {
    e.warnings.push_back(absl::StrCat(
        "the catalog's config of this tablet is at ", OpIdString(catalog),
        ", not older than the forced config's ", OpIdString(forced),
        ": the master would keep its config (the lost majority reached terms the survivor "
        "never heard of); the tablet would stay CONSENSUS_MISMATCH"));
  }
  plan->entries.push_back(std::move(e));
}

}  // namespace

RecoveryPlan MakeRecoveryPlan(const check::ClusterSnapshot& snapshot) {
  RecoveryPlan plan;
  for (const auto& m : snapshot.masters) plan.masters.push_back(m.address);
  const check::KsckResults results = check::Check(snapshot);
  std::map<std::string, int> rf;
  for (const auto& table : results.tables) rf[table.name] = table.replication_factor;

  std::set<std::string> dropped_servers;
  for (const TabletResult& t : results.tablets) {
    ++plan.tablets_checked;
    if (t.health == check::Health::kUnknown) {
      // Listed when the voters known to run are below a majority: it may have
      // lost it, and only the unreachable replicas can tell.
      int voters = 0, running = 0;
      for (const ReplicaResult& r : t.replicas) {
        if (!r.in_master_config || !r.voter) continue;
        ++voters;
        running += r.state == ReplicaState::kRunning ? 1 : 0;
      }
      const bool may_be_lost = running < voters / 2 + 1;
      if (may_be_lost) plan.unknown.push_back({t.tablet_id, t.table_name, t.reason});
      continue;
    }
    if (t.health != check::Health::kUnavailable || !MajorityLost(t)) continue;
    PlanTablet(t, rf[t.table_name], &plan, &dropped_servers);
  }

  // Dead servers: every server ksck calls DEAD, and every server a plan entry
  // drops that is not registered at all.
  std::set<std::string> seen;
  for (const auto& ts : results.tablet_servers) {
    if (ts.state != "DEAD") continue;
    plan.dead_servers.push_back(
        {ts.facts.uuid, ts.facts.address,
         absl::StrCat("unreachable (", ts.facts.unreachable_reason,
                      ") and missing heartbeats")});
    seen.insert(ts.facts.uuid);
  }
  std::set<std::string> registered;
  for (const auto& ts : results.tablet_servers) registered.insert(ts.facts.uuid);
  for (const std::string& uuid : dropped_servers) {
    if (!seen.count(uuid) && !registered.count(uuid)) {
      plan.dead_servers.push_back({uuid, "", "not registered with the master"});
    }
  }
  auto by_uuid = [](const DeadServer& a, const DeadServer& b) { return a.uuid < b.uuid; };
  std::sort(plan.dead_servers.begin(), plan.dead_servers.end(), by_uuid);
  auto by_tablet = [](const auto& a, const auto& b) { return a.tablet_id < b.tablet_id; };
  std::sort(plan.entries.begin(), plan.entries.end(), by_tablet);
  std::sort(plan.unrecoverable.begin(), plan.unrecoverable.end(), by_tablet);
  std::sort(plan.unknown.begin(), plan.unknown.end(), by_tablet);
  return plan;
}

}  // namespace kmend::recover
