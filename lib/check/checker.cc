#include "lib/check/checker.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kmend::check {

namespace {

using consensus::RaftConfigPB;
using consensus::RaftPeerPB;

// uuid -> member type, the part of a config that must agree everywhere.
std::map<std::string, int> Members(const RaftConfigPB& config) {
  std::map<std::string, int> members;
  for (const RaftPeerPB& p : config.peers()) members[p.permanent_uuid()] = p.member_type();
  return members;
}

std::string DescribeConfig(const RaftConfigPB& config) {
  std::vector<std::string> parts;
  for (const RaftPeerPB& p : config.peers()) {
    parts.push_back(
        absl::StrCat(p.member_type() == RaftPeerPB::VOTER ? "V:" : "N:", p.permanent_uuid()));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "} at index ",
                      config.has_opid_index() ? config.opid_index() : -1);
}

// Configs agree when they have the same members with the same types; the
// opid_index must match too when both sides know it.
bool SameConfig(const RaftConfigPB& a, const RaftConfigPB& b) {
  if (Members(a) != Members(b)) return false;
  if (a.has_opid_index() && b.has_opid_index() && a.opid_index() != b.opid_index()) return false;
  return true;
}

const RaftConfigPB& ActiveConfig(const ReplicaFacts& r) {
  return r.pending_config ? *r.pending_config : r.committed_config;
}

std::string OpIdString(const OpId& id) { return absl::StrCat(id.term, ".", id.index); }

// Verdict for one assumption about unknown replicas. `unknown_as_running`
// treats every UNKNOWN replica as a running follower with the master's config
// (and, when no known replica leads, one of them as the leader).
struct Verdict {
  Health health;
  std::string reason;
};

Verdict Judge(const TabletResult& t, int replication_factor, bool unknown_as_running) {
  int voters = 0, running_voters = 0;
  std::vector<std::string> down_voters;
  bool copying = false;
  int unknown_running = 0;
  for (const ReplicaResult& r : t.replicas) {
    if (!r.in_master_config) continue;
    if (r.state == ReplicaState::kCopying) copying = true;
    if (!r.voter) continue;
    ++voters;
    bool running = r.state == ReplicaState::kRunning ||
                   (unknown_as_running && r.state == ReplicaState::kUnknown);
    if (running) {
      ++running_voters;
      if (r.state == ReplicaState::kUnknown) ++unknown_running;
    } else {
      down_voters.push_back(r.ts_uuid);
    }
  }
  if (copying) return {Health::kRecovering, "a replica is being copied"};

  int majority = voters / 2 + 1;
  if (running_voters < majority) {
    return {Health::kUnavailable,
            absl::StrCat(running_voters, " of ", voters, " voters running, ", majority,
                         " needed for a majority (down: ", absl::StrJoin(down_voters, ", "), ")")};
  }

  // Leaders among running replicas: only claims at the highest term count; a
  // deposed leader at an older term has simply not heard of the new term yet.
  int64_t max_term = 0;
  for (const ReplicaResult& r : t.replicas) {
    if (r.state == ReplicaState::kRunning && r.facts) max_term = std::max(max_term, r.facts->term);
  }
  std::vector<std::string> leaders;
  for (const ReplicaResult& r : t.replicas) {
    if (r.state == ReplicaState::kRunning && r.facts && r.facts->role == Role::kLeader &&
        r.facts->term == max_term) {
      leaders.push_back(r.ts_uuid);
    }
  }
  bool leader_may_be_unknown = unknown_as_running && unknown_running > 0 && leaders.empty();
  if (leaders.size() > 1) {
    return {Health::kUnavailable,
            absl::StrCat(leaders.size(), " replicas claim leadership in term ", max_term, ": ",
                         absl::StrJoin(leaders, ", "))};
  }
  if (leaders.empty() && !leader_may_be_unknown) {
    return {Health::kUnavailable, "no leader among the running replicas"};
  }
  for (const ReplicaResult& r : t.replicas) {
    if (leaders.size() == 1 && r.ts_uuid == leaders[0] && r.facts &&
        !r.facts->write_refusal.empty()) {
      // Readable, not writable: unavailable for what a tablet is for.
      return {Health::kUnavailable,
              absl::StrCat("leader on ", r.ts_uuid, " refuses writes: ", r.facts->write_refusal)};
    }
  }

  int expected = std::max(voters, replication_factor);
  if (running_voters < expected) {
    return {Health::kUnderReplicated,
            voters < replication_factor
                ? absl::StrCat(voters, " voters in the config, table wants ", replication_factor)
                : absl::StrCat(running_voters, " of ", voters,
                               " voters running (down: ", absl::StrJoin(down_voters, ", "), ")")};
  }

  for (const ReplicaResult& r : t.replicas) {
    if (r.state != ReplicaState::kRunning || !r.facts) continue;
    if (!SameConfig(ActiveConfig(*r.facts), t.master_config)) {
      return {Health::kConsensusMismatch,
              absl::StrCat("replica on ", r.ts_uuid, " has config ",
                           DescribeConfig(ActiveConfig(*r.facts)), ", master has ",
                           DescribeConfig(t.master_config))};
    }
  }
  return {Health::kHealthy, ""};
}

ReplicaResult ClassifyReplica(const std::string& ts_uuid, const std::string& tablet_id,
                              const ClusterSnapshot& snap,
                              const std::map<std::string, const TabletServerFacts*>& servers) {
  ReplicaResult r;
  r.ts_uuid = ts_uuid;
  auto s = servers.find(ts_uuid);
  if (s == servers.end()) {
    r.state = ReplicaState::kDown;
    r.reason = "tablet server not registered with the master";
    return r;
  }
  const TabletServerFacts& ts = *s->second;
  r.ts_address = ts.address;
  r.server_reachable = ts.reachable;
  if (!ts.reachable) {
    if (ts.unauthorized) {
      // It answered, so it runs; what it holds is hidden from this caller.
      r.state = ReplicaState::kUnknown;
      r.reason = absl::StrCat("tablet server refused ksck (", ts.unreachable_reason, ")");
    } else if (ts.live_per_master) {
      r.state = ReplicaState::kUnknown;
      r.reason = absl::StrCat("could not reach tablet server (", ts.unreachable_reason,
                              ") although it heartbeats to the master");
    } else {
      r.state = ReplicaState::kDown;
      r.reason = absl::StrCat("tablet server unreachable (", ts.unreachable_reason,
                              ") and missing heartbeats");
    }
    return r;
  }
  auto by_ts = snap.replicas.find(ts_uuid);
  const ReplicaFacts* facts = nullptr;
  if (by_ts != snap.replicas.end()) {
    auto it = by_ts->second.find(tablet_id);
    if (it != by_ts->second.end()) facts = &it->second;
  }
  if (facts == nullptr) {
    r.state = ReplicaState::kDown;
    r.reason = "tablet server has no replica of this tablet";
    return r;
  }
  r.facts = *facts;
  switch (facts->data_state) {
    case DataState::kReady:
      r.state = ReplicaState::kRunning;
      break;
    case DataState::kCopying:
      r.state = ReplicaState::kCopying;
      r.reason = "being copied";
      break;
    case DataState::kUnknown:
      r.state = ReplicaState::kUnknown;
      r.reason = "tablet server reported no data state";
      break;
    default:
      r.state = ReplicaState::kDown;
      r.reason =
          absl::StrCat("replica is ", DataStateName(facts->data_state),
                       facts->data_state_reason.empty() ? "" : ": ", facts->data_state_reason);
  }
  return r;
}

// The unsafe-change-config fix of a tablet whose majority of voters is lost.
//
// Every running replica of the master's config is kept, non-voters included:
// a caught-up non-voter may hold more of the log than any surviving voter, so
// it is a survivor candidate like a voter, and the forced config makes every
// kept replica a VOTER. Replicas outside the master's config are not kept:
// they belong to a config that no longer counts.
//
// Invariant checked: the forced replica's last logged index is >= every kept
// replica's committed index, i.e. no entry a survivor saw committed is
// missing from the log that becomes the tablet's. Raft's log rule guarantees
// it (a leader of a newer term held every committed entry, and its own
// entries come after them); only earlier unsafe changes that reused indexes
// or terms can break it, and then forcing loses committed entries.
void AddForceSurvivorFix(TabletResult* t) {
  std::vector<const ReplicaResult*> kept;
  for (const ReplicaResult& r : t->replicas) {
    if (r.state == ReplicaState::kRunning && r.facts && r.in_master_config) kept.push_back(&r);
  }
  const ReplicaResult* survivor = ChooseSurvivor(kept);
  if (survivor == nullptr) {
    t->fix_note =
        "no voter or non-voter of this tablet is running: no replica survives to force; bring a "
        "down server back, or restore the tablet from a backup";
    return;
  }
  const OpId& survivor_log = survivor->facts->last_logged;
  std::vector<std::string> keep_uuids;
  for (const ReplicaResult* r : kept) keep_uuids.push_back(r->ts_uuid);
  std::sort(keep_uuids.begin(), keep_uuids.end());

  std::string why =
      absl::StrCat("a majority of voters is lost; ", survivor->ts_uuid,
                   " has the most up-to-date log (last logged ", OpIdString(survivor_log), ")");
  for (const ReplicaResult* r : kept) {
    if (r != survivor) {
      absl::StrAppend(&why, "; ", r->ts_uuid, " has ", OpIdString(r->facts->last_logged));
    }
  }
  for (const ReplicaResult* r : kept) {
    if (!r->voter) {
      absl::StrAppend(&why, "; ", r->ts_uuid,
                      " is a NON_VOTER; the forced config makes it a VOTER");
    }
  }
  absl::StrAppend(&why,
                  ". Forcing a config of the survivors lets them elect a leader; entries that "
                  "only the lost replicas had (after ",
                  OpIdString(survivor_log),
                  ") are lost. The master then re-replicates to the replication factor.");

  std::vector<std::string> warnings;
  for (const ReplicaResult* r : kept) {
    if (r->facts->last_committed.index > survivor_log.index) {
      warnings.push_back(absl::StrCat(
          r->ts_uuid, " reports index ", r->facts->last_committed.index,
          " committed, beyond the survivor's last logged index ", survivor_log.index,
          ": forcing ", survivor->ts_uuid,
          " loses committed entries (possible only after earlier unsafe changes reused indexes "
          "or terms); compare the replicas' logs before forcing"));
    }
  }
  for (const std::string& w : warnings) absl::StrAppend(&why, " WARNING: ", w, ".");

  t->fixes.push_back(
      {absl::StrCat("kmend unsafe-change-config --tserver ", survivor->ts_address, " --tablet ",
                    t->tablet_id, " --voters ", absl::StrJoin(keep_uuids, ","), " --yes"),
       why, warnings});
}

void AddFixes(TabletResult* t) {
  const ReplicaResult* leader = nullptr;
  std::vector<const ReplicaResult*> running_voters;
  for (const ReplicaResult& r : t->replicas) {
    if (r.state != ReplicaState::kRunning || !r.facts) continue;
    if (r.voter) running_voters.push_back(&r);
    if (r.facts->role == Role::kLeader &&
        (leader == nullptr || r.facts->term > leader->facts->term)) {
      leader = &r;
    }
  }
  switch (t->health) {
    case Health::kUnavailable: {
      if (leader != nullptr && !leader->facts->write_refusal.empty()) {
        t->fix_note = absl::StrCat(
            "free space in the leader's data directory (tablet server ", leader->ts_uuid,
            "): writes resume by themselves once it is above the reserve, without a restart; "
            "nothing here calls for forcing a config");
        return;
      }
      int voters = 0;
      for (const ReplicaResult& r : t->replicas) voters += r.voter ? 1 : 0;
      // Whether forcing is needed at all is a question of voters only: a
      // running non-voter does not count towards a majority.
      if (running_voters.size() >= static_cast<size_t>(voters / 2 + 1)) {
        t->fix_note =
            "a majority is running but no single leader: an election should settle it within a "
            "few seconds; if it persists, read the tablet servers' logs before forcing anything";
        return;
      }
      AddForceSurvivorFix(t);
      return;
    }
    case Health::kUnderReplicated:
    case Health::kConsensusMismatch: {
      // The copy source: the leader when its config agrees with the master's;
      // otherwise (a diverged replica may itself have won an election) the
      // running replica with the master's config and the most up-to-date log.
      const ReplicaResult* source = nullptr;
      if (leader != nullptr && SameConfig(ActiveConfig(*leader->facts), t->master_config)) {
        source = leader;
      } else {
        std::vector<const ReplicaResult*> agreeing;
        for (const ReplicaResult& r : t->replicas) {
          if (r.state == ReplicaState::kRunning && r.facts &&
              SameConfig(ActiveConfig(*r.facts), t->master_config)) {
            agreeing.push_back(&r);
          }
        }
        source = ChooseSurvivor(agreeing);
      }
      for (const ReplicaResult& r : t->replicas) {
        bool broken_here =
            (r.state == ReplicaState::kDown && r.server_reachable) ||
            (t->health == Health::kConsensusMismatch && r.state == ReplicaState::kRunning &&
             r.facts && !SameConfig(ActiveConfig(*r.facts), t->master_config));
        if (!broken_here || source == nullptr || &r == source) continue;
        t->fixes.push_back(
            {absl::StrCat("kmend rebuild-replica --tserver ", r.ts_address, " --tablet ",
                          t->tablet_id, " --source ", source->ts_address, " --yes"),
             absl::StrCat(
                 "replaces the replica on ", r.ts_uuid, " (",
                 r.reason.empty() ? "config differs from the master's" : r.reason,
                 ") with a copy of the one on ", source->ts_uuid,
                 source == leader ? " (the leader)" : " (its config matches the master's)")});
      }
      if (t->fixes.empty()) {
        t->fix_note =
            "the master re-replicates replicas whose server stays unreachable past its timeout; "
            "if the server is back, this clears by itself";
      }
      return;
    }
    case Health::kRecovering:
      t->fix_note = "a tablet copy is in progress; check again when it finishes";
      return;
    case Health::kUnknown:
      t->fix_note = "part of this tablet could not be checked; see the replicas' reasons";
      return;
    case Health::kHealthy:
      return;
  }
}

void CheckMasters(const ClusterSnapshot& snap, KsckResults* out) {
  int leaders = 0;
  const MasterFacts* leader = nullptr;  // meaningful when leaders == 1
  const MasterFacts* first_config = nullptr;
  for (const MasterFacts& m : snap.masters) {
    MasterResult mr{m, m.reachable};
    if (m.unauthorized) {
      out->problems.push_back({Severity::kUnknown, "masters", m.address,
                               absl::StrCat("master refused ksck (", m.unreachable_reason,
                                            "): its state is unknown")});
    } else if (!m.reachable) {
      out->problems.push_back({Severity::kError, "masters", m.address,
                               absl::StrCat("master unreachable: ", m.unreachable_reason)});
    }
    if (m.reachable && m.is_leader) {
      ++leaders;
      leader = &m;
    }
    if (m.reachable && m.catalog_config) {
      if (first_config == nullptr) {
        first_config = &m;
      } else if (!SameConfig(*m.catalog_config, *first_config->catalog_config)) {
        mr.ok = false;
        out->problems.push_back({Severity::kError, "masters", m.address,
                                 absl::StrCat("catalog config ", DescribeConfig(*m.catalog_config),
                                              " differs from ", first_config->address, "'s ",
                                              DescribeConfig(*first_config->catalog_config))});
      }
    }
    out->masters.push_back(mr);
  }
  // A follower applies the leader's catalog entries a moment later, so one
  // that is behind is a warning, not an error; one that stays behind over
  // several runs is cut off from the leader or needs a catalog copy.
  if (leaders == 1 && leader->catalog_version) {
    for (const MasterFacts& m : snap.masters) {
      if (!m.reachable || &m == leader || !m.catalog_version) continue;
      if (*m.catalog_version < *leader->catalog_version) {
        out->problems.push_back(
            {Severity::kWarning, "masters", m.address,
             absl::StrCat("catalog version ", *m.catalog_version, " is behind the leader's ",
                          *leader->catalog_version, " (", leader->address,
                          "): catching up, or cut off if it stays behind across runs")});
      }
    }
  }
  bool any_unreachable = std::any_of(snap.masters.begin(), snap.masters.end(),
                                     [](const MasterFacts& m) { return !m.reachable; });
  if (leaders != 1 && !(leaders == 0 && any_unreachable)) {
    out->problems.push_back(
        {Severity::kError, "masters", "",
         absl::StrCat(leaders, " masters claim leadership; expected exactly 1")});
  } else if (leaders == 0) {
    out->problems.push_back({Severity::kUnknown, "masters", "",
                             "no reachable master leads; the leader may be an unreachable one"});
  }
  if (!snap.catalog_read) {
    out->problems.push_back({Severity::kUnknown, "tables", "",
                             absl::StrCat("could not read the catalog: ", snap.catalog_error)});
  }
}

void CheckTabletServers(const ClusterSnapshot& snap, KsckResults* out) {
  for (const TabletServerFacts& ts : snap.tablet_servers) {
    TabletServerResult r{ts, "HEALTHY"};
    if (ts.unauthorized) {
      r.state = "UNKNOWN";
      out->problems.push_back({Severity::kUnknown, "tablet_servers", ts.address,
                               absl::StrCat("tablet server ", ts.uuid, " refused ksck (",
                                            ts.unreachable_reason, "): its replicas are unknown")});
    } else if (!ts.reachable && !ts.live_per_master) {
      r.state = "DEAD";
      out->problems.push_back({Severity::kError, "tablet_servers", ts.address,
                               absl::StrCat("tablet server ", ts.uuid, " is unreachable (",
                                            ts.unreachable_reason, ") and missing heartbeats")});
    } else if (!ts.reachable) {
      r.state = "UNREACHABLE";
      out->problems.push_back(
          {Severity::kUnknown, "tablet_servers", ts.address,
           absl::StrCat("could not reach tablet server ", ts.uuid, " (", ts.unreachable_reason,
                        "), but the master still receives its heartbeats")});
    } else if (!ts.reported_uuid.empty() && ts.reported_uuid != ts.uuid) {
      r.state = "WRONG_UUID";
      out->problems.push_back({Severity::kError, "tablet_servers", ts.address,
                               absl::StrCat("server at ", ts.address, " reports uuid ",
                                            ts.reported_uuid, ", master has it as ", ts.uuid)});
    } else {
      // A full data directory: the server runs, but its replicas refuse
      // client writes and it takes no new replicas until space is freed.
      for (const DataDirFacts& d : ts.data_dirs) {
        if (!d.full) continue;
        r.state = "DISK_FULL";
        out->problems.push_back(
            {Severity::kError, "tablet_servers", ts.address,
             absl::StrCat("data directory ", d.dir, " of tablet server ", ts.uuid, " is full: ",
                          d.available_bytes, " bytes free, ", d.reserved_bytes,
                          " reserved; its leaders refuse writes and it takes no new replicas "
                          "until space is freed")});
      }
    }
    out->tablet_servers.push_back(r);
  }
}

void CheckTablets(const ClusterSnapshot& snap, KsckResults* out) {
  std::map<std::string, const TabletServerFacts*> servers;
  for (const TabletServerFacts& ts : snap.tablet_servers) servers[ts.uuid] = &ts;

  for (const TableFacts& table : snap.tables) {
    TableResult tr;
    tr.name = table.name;
    tr.replication_factor = table.replication_factor;
    for (const TabletFacts& tablet : table.tablets) {
      TabletResult t;
      t.tablet_id = tablet.tablet_id;
      t.table_name = table.name;
      t.master_config = tablet.master_config;
      std::set<std::string> seen;
      for (const RaftPeerPB& p : tablet.master_config.peers()) {
        ReplicaResult r = ClassifyReplica(p.permanent_uuid(), tablet.tablet_id, snap, servers);
        r.in_master_config = true;
        r.voter = p.member_type() == RaftPeerPB::VOTER;
        seen.insert(p.permanent_uuid());
        t.replicas.push_back(std::move(r));
      }
      // Replicas the master does not list (e.g. a replaced replica that was not
      // tombstoned) still appear in the matrix, so a mismatch is visible.
      for (const auto& [ts_uuid, by_tablet] : snap.replicas) {
        if (seen.count(ts_uuid) || !by_tablet.count(tablet.tablet_id)) continue;
        const ReplicaFacts& f = by_tablet.at(tablet.tablet_id);
        if (f.data_state == DataState::kTombstoned || f.data_state == DataState::kDeleted) continue;
        ReplicaResult r = ClassifyReplica(ts_uuid, tablet.tablet_id, snap, servers);
        t.replicas.push_back(std::move(r));
      }

      Verdict worst = Judge(t, table.replication_factor, /*unknown_as_running=*/false);
      Verdict best = Judge(t, table.replication_factor, /*unknown_as_running=*/true);
      if (worst.health == best.health) {
        t.health = worst.health;
        t.reason = worst.reason;
      } else {
        t.health = Health::kUnknown;
        t.reason = absl::StrCat("some replicas could not be checked: at best ",
                                HealthName(best.health), best.reason.empty() ? "" : " (",
                                best.reason, best.reason.empty() ? "" : ")", ", at worst ",
                                HealthName(worst.health), " (", worst.reason, ")");
      }
      AddFixes(&t);
      // The unsafe flag of the config a replica runs under: a note, not a
      // problem (a recovered tablet is healthy), naming who to ask.
      std::vector<std::string> forced_on;
      const RaftConfigPB* forced = nullptr;
      for (const ReplicaResult& r : t.replicas) {
        if (r.state == ReplicaState::kRunning && r.facts &&
            ActiveConfig(*r.facts).unsafe_config_change()) {
          forced_on.push_back(r.ts_uuid);
          forced = &ActiveConfig(*r.facts);
        }
      }
      if (forced != nullptr) {
        out->notes.push_back(
            {t.tablet_id,
             absl::StrCat("tablet ", t.tablet_id, " of table ", table.name,
                          " runs under a config forced by an unsafe change (",
                          DescribeConfig(*forced), ", term ", forced->opid_term(),
                          "); who forced it is in the audit log of ",
                          absl::StrJoin(forced_on, ", "))});
      }

      if (t.health != Health::kHealthy) {
        out->problems.push_back(
            {t.health == Health::kUnknown ? Severity::kUnknown : Severity::kError, "tablets",
             t.tablet_id,
             absl::StrCat("tablet ", t.tablet_id, " of table ", table.name, " is ",
                          HealthName(t.health), ": ", t.reason)});
      }
      tr.by_health[static_cast<int>(t.health)]++;
      tr.health = std::max(tr.health, t.health);
      ++tr.tablets;
      out->tablets.push_back(std::move(t));
    }
    out->tables.push_back(tr);
  }
}

void CheckChecksums(const ClusterSnapshot& snap, KsckResults* out) {
  for (const auto& [tablet_id, by_replica] : snap.checksums) {
    ChecksumResult c;
    c.tablet_id = tablet_id;
    c.by_replica = by_replica;
    std::set<std::pair<int64_t, uint64_t>> seen;
    for (const auto& [uuid, f] : by_replica) {
      if (!f.ok) {
        c.unknown = true;
        out->problems.push_back({Severity::kUnknown, "checksums", tablet_id,
                                 absl::StrCat("replica of tablet ", tablet_id, " on ", uuid,
                                              ": checksum not computed: ", f.reason)});
        continue;
      }
      seen.insert({f.op_index, f.digest});
    }
    c.match = !c.unknown && seen.size() <= 1;
    if (seen.size() > 1) {
      std::vector<std::string> parts;
      for (const auto& [uuid, f] : by_replica) {
        if (f.ok) {
          parts.push_back(absl::StrCat(uuid, "=", absl::Hex(f.digest, absl::kZeroPad16), "@",
                                       f.op_index, " (", f.row_count, " rows)"));
        }
      }
      out->problems.push_back({Severity::kError, "checksums", tablet_id,
                               absl::StrCat("checksum mismatch for tablet ", tablet_id, ": ",
                                            absl::StrJoin(parts, ", "))});
    }
    out->checksums.push_back(std::move(c));
  }
}

}  // namespace

const ReplicaResult* ChooseSurvivor(const std::vector<const ReplicaResult*>& candidates) {
  const ReplicaResult* best = nullptr;
  for (const ReplicaResult* r : candidates) {
    if (!r->facts) continue;
    if (best == nullptr || best->facts->last_logged < r->facts->last_logged ||
        (best->facts->last_logged == r->facts->last_logged && r->ts_uuid < best->ts_uuid)) {
      best = r;
    }
  }
  return best;
}

KsckResults Check(const ClusterSnapshot& snapshot) {
  KsckResults out;
  CheckMasters(snapshot, &out);
  CheckTabletServers(snapshot, &out);
  CheckTablets(snapshot, &out);
  CheckChecksums(snapshot, &out);
  return out;
}

const char* HealthName(Health h) {
  switch (h) {
    case Health::kHealthy:
      return "HEALTHY";
    case Health::kUnknown:
      return "UNKNOWN";
    case Health::kRecovering:
      return "RECOVERING";
    case Health::kUnderReplicated:
      return "UNDER_REPLICATED";
    case Health::kConsensusMismatch:
      return "CONSENSUS_MISMATCH";
    case Health::kUnavailable:
      return "UNAVAILABLE";
  }
  return "?";
}

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kError:
      return "ERROR";
    case Severity::kWarning:
      return "WARNING";
    case Severity::kUnknown:
      return "UNKNOWN";
  }
  return "?";
}

const char* ReplicaStateName(ReplicaState s) {
  switch (s) {
    case ReplicaState::kRunning:
      return "RUNNING";
    case ReplicaState::kCopying:
      return "COPYING";
    case ReplicaState::kDown:
      return "DOWN";
    case ReplicaState::kUnknown:
      return "UNKNOWN";
  }
  return "?";
}

const char* DataStateName(DataState s) {
  switch (s) {
    case DataState::kUnknown:
      return "UNKNOWN";
    case DataState::kReady:
      return "READY";
    case DataState::kCopying:
      return "COPYING";
    case DataState::kTombstoned:
      return "TOMBSTONED";
    case DataState::kDeleted:
      return "DELETED";
    case DataState::kFailed:
      return "FAILED";
  }
  return "?";
}

const char* RoleName(Role r) {
  switch (r) {
    case Role::kUnknown:
      return "UNKNOWN";
    case Role::kLeader:
      return "LEADER";
    case Role::kFollower:
      return "FOLLOWER";
    case Role::kLearner:
      return "LEARNER";
    case Role::kNonParticipant:
      return "NON_PARTICIPANT";
  }
  return "?";
}

}  // namespace kmend::check
