#include "testing/raftsim/simulation.h"

#include <algorithm>
#include <cstdlib>
#include <functional>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/raft/config.h"
#include "testing/raftsim/cluster.h"

namespace kmend::raftsim {

const char* ScenarioName(Scenario scenario) {
  switch (scenario) {
    case Scenario::kFaults: return "faults";
    case Scenario::kUnsafe: return "unsafe";
    case Scenario::kOneVoter: return "one-voter";
  }
  return "unknown";
}

namespace {

template <typename T>
T Pick(Cluster& c, const std::vector<T>& options) {
  return options[c.RandomBelow(options.size())];
}

struct Plan {
  int nodes = 3;         // pool size
  int voters = 3;        // initial voters
  bool membership = false;
  bool log_gc = false;  // replicas GC their logs; laggards need tablet copies
  double crash_rate = 0;
  double restart_rate = 0.1;
  double partition_rate = 0;
  double propose_rate = 0.3;
  int safety_units = 250;
  int liveness_units = 400;
};

class Run {
 public:
  Run(uint64_t seed, Scenario scenario) : seed_(seed), scenario_(scenario) {
    // All options from one generator seeded by `seed`; the cluster gets its
    // own stream derived from it.
    std::mt19937_64 g(seed);
    Cluster probe({"x"}, 1, g());
    plan_.nodes = Pick<int>(probe, {3, 5});
    plan_.voters = plan_.nodes;
    if (scenario == Scenario::kFaults && probe.Chance(0.35)) {
      plan_.membership = true;
      plan_.nodes = 5;
      plan_.voters = 3;
    }
    std::vector<std::string> uuids;
    for (int i = 0; i < plan_.nodes; ++i) uuids.push_back(absl::StrCat("n", i));
    raft::CoreOptions o = Cluster::DefaultOptions();
    o.pre_vote = !probe.Chance(0.1);
    o.check_quorum = o.pre_vote ? !probe.Chance(0.1) : true;
    // Small batches split a new leader's catch-up from its NO_OP, which is
    // where counting previous-term entries would go wrong (figure 8).
    o.max_entries_per_message = Pick<int>(probe, {1, 2, 8});
    o.max_inflight_messages = Pick<int>(probe, {1, 4});
    if (scenario == Scenario::kOneVoter) {
      plan_.nodes = 3;
      plan_.voters = 1;
      uuids.resize(3);
      // Entries the core makes (NO_OPs) get a timestamp that differs on every
      // call, hence on every incarnation of a leader: a re-elected leader's
      // NO_OP at a reused (term, index) is then a different entry.
      auto clock = std::make_shared<uint64_t>(0);
      o.timestamp_source = [clock] { return ++*clock; };
    }
    // Quiescence (docs/design/scale.md) on half of the seeds, drawn from a
    // stream of its own so the other choices of a seed do not move.
    quiesce_ = (std::mt19937_64(seed ^ 0x51E5CE0DULL)() & 1) != 0;
    // RAFTSIM_QUIESCE=0/1 forces it (replaying a seed both ways).
    if (const char* q = std::getenv("RAFTSIM_QUIESCE"); q != nullptr && *q != '\0') {
      quiesce_ = *q == '1';
    }
    o.quiesce = quiesce_;
    election_ticks_ = o.election_ticks;
    cluster_ = std::make_unique<Cluster>(uuids, plan_.voters, g(), o);
    Cluster& c = *cluster_;
    c.faults.loss = Pick<double>(probe, {0, 0.02, 0.1, 0.3});
    c.faults.duplicate = Pick<double>(probe, {0, 0.05, 0.2});
    c.faults.delay_max = Pick<int>(probe, {0, 1, 2, 4});
    c.crash_after_persist = Pick<double>(probe, {0, 0, 0.002});
    plan_.crash_rate = Pick<double>(probe, {0, 0.005, 0.02});
    plan_.partition_rate = Pick<double>(probe, {0, 0.01, 0.04});
    plan_.log_gc = scenario == Scenario::kFaults && probe.Chance(0.3);
    if (scenario == Scenario::kOneVoter) {
      // Crashes around persistence are the point of this scenario.
      c.crash_after_persist = Pick<double>(probe, {0.05, 0.2});
      plan_.crash_rate = Pick<double>(probe, {0.005, 0.02});
      plan_.partition_rate = 0;
    }
    c.auto_tablet_copy = plan_.log_gc;
    result_.description = absl::StrCat(
        "nodes=", plan_.nodes, " voters=", plan_.voters, " membership=", plan_.membership,
        " pre_vote=", o.pre_vote, " check_quorum=", o.check_quorum,
        " loss=", c.faults.loss, " dup=", c.faults.duplicate,
        " delay_max=", c.faults.delay_max, " crash=", plan_.crash_rate,
        " crash_after_persist=", c.crash_after_persist, " partition=", plan_.partition_rate,
        " log_gc=", plan_.log_gc,
        " batch=", o.max_entries_per_message, " inflight=", o.max_inflight_messages,
        " quiesce=", o.quiesce,
        " scenario=", ScenarioName(scenario));
  }

  SimResult Go() {
    SafetyPhase();
    if (Failed()) return Finish();
    if (scenario_ == Scenario::kUnsafe) {
      UnsafePhase();
    } else {
      LivenessPhase(AllUuids());
    }
    return Finish();
  }

 private:
  bool AnySurvivorHasLeader(const std::vector<std::string>& alive) {
    for (const std::string& u : alive) {
      SimNode& n = cluster_->node(u);
      if (n.up() && (n.core()->role() == raft::Role::kLeader ||
                     n.core()->GetStatus().leader_lease)) {
        return true;
      }
    }
    return false;
  }

  bool Failed() const { return !cluster_->checker().ok() || !result_.failures.empty(); }

  std::vector<std::string> AllUuids() const {
    std::vector<std::string> out;
    for (const SimNode* n : cluster_->nodes()) out.push_back(n->uuid());
    return out;
  }

  void Step() {
    Cluster& c = *cluster_;
    c.TickAll();
    ++result_.steps;
    if (const std::string l = c.Leader(); !l.empty() && c.core(l)->quiesced()) {
      ++result_.quiesced_steps;
    }
    for (SimNode* n : c.nodes()) {
      for (const std::string& e : n->TakeEvents()) {
        if (absl::StrContains(e, "the first forgiven")) ++result_.forgiven_step_downs;
      }
    }
    CheckLeaderReads();
  }

  // Linearizable leader reads: a replica that would serve one now
  // (CheckLeaderRead OK) has applied every entry anyone applied, so no
  // replica may have applied an entry of a later term (a newer leader's).
  void CheckLeaderReads() {
    Cluster& c = *cluster_;
    int64_t newest_applied_term = 0;
    for (const SimNode* n : c.nodes()) {
      // Applied in log order, so the last entry has the highest term.
      if (!n->applied().empty()) {
        newest_applied_term = std::max(newest_applied_term, n->applied().back().id().term());
      }
    }
    for (SimNode* n : c.nodes()) {
      if (!n->up() || !n->core()->CheckLeaderRead().ok()) continue;
      if (n->core()->term() < newest_applied_term) {
        result_.failures.push_back(absl::StrCat(
            "stale read: ", n->uuid(), " would serve leader reads at term ", n->core()->term(),
            " while an entry of term ", newest_applied_term, " is applied elsewhere"));
      }
    }
  }

  void SafetyPhase() {
    Cluster& c = *cluster_;
    std::vector<std::string> uuids = AllUuids();
    for (int t = 0; t < plan_.safety_units && !Failed(); ++t) {
      Step();
      std::string leader = c.Leader();
      if (!leader.empty() && c.Chance(plan_.propose_rate)) {
        (void)c.ProposeAt(leader, absl::StrCat("s", seed_, "-", proposals_++));
      }
      if (plan_.membership && !leader.empty() && c.Chance(0.03)) MembershipChange(leader);
      if (scenario_ == Scenario::kOneVoter && !leader.empty() && c.Chance(0.05)) {
        AddNonVoter(leader);
      }
      if (!leader.empty() && c.Chance(0.01)) {
        std::vector<std::string> voters = raft::VoterUuids(c.core(leader)->active_config());
        (void)c.core(leader)->TransferLeadership(Pick(c, voters));
        ++result_.transfers;
      }
      if (!leader.empty() && c.Chance(0.003)) (void)c.core(leader)->StepDown();
      // A leader read wakes a quiesced leader (the driver's CheckLeaderRead).
      if (quiesce_ && !leader.empty() && c.Chance(0.02)) c.core(leader)->Wake();
      if (plan_.log_gc && c.Chance(0.05)) {
        SimNode& n = c.node(uuids[c.RandomBelow(uuids.size())]);
        if (n.up()) {
          const int64_t applied = n.core()->log().applied();
          const int64_t keep = static_cast<int64_t>(c.RandomBelow(8));
          if (applied - keep >= n.storage().FirstIndex()) {
            if (!n.CompactThrough(applied - keep).ok()) {
              result_.failures.push_back(absl::StrCat("log GC on ", n.uuid(), " failed"));
            }
          }
        }
      }
      if (c.Chance(plan_.crash_rate)) {
        const std::string& u = uuids[c.RandomBelow(uuids.size())];
        if (c.node(u).up()) {
          c.Crash(u);
          ++result_.crashes;
        }
      }
      for (const std::string& u : uuids) {
        if (!c.node(u).up() && c.Chance(plan_.restart_rate)) c.Restart(u);
      }
      if (c.Chance(plan_.partition_rate)) {
        if (c.Chance(0.4)) {
          c.HealNetwork();
        } else {
          // Cut a random minority or majority side off from the rest. With
          // quiesce (and so server liveness), half of the cuts drop only the
          // groups' messages: the servers still hear each other, and a
          // leader on the short side gets check-quorum's second window.
          // (Only quiesce seeds draw the extra chance: the others replay as
          // before.)
          const bool groups_only = quiesce_ && c.Chance(0.5);
          std::vector<std::string> side;
          for (const std::string& u : uuids) {
            if (c.Chance(0.4)) side.push_back(u);
          }
          for (const std::string& a : side) {
            for (const std::string& b : uuids) {
              if (std::find(side.begin(), side.end(), b) != side.end()) continue;
              if (groups_only) {
                c.CutGroupsOnly(a, b);
              } else {
                c.Cut(a, b);
              }
            }
          }
        }
      }
    }
  }

  // Adds a node outside the config as a NON_VOTER (never promoted: the
  // group keeps exactly one voter).
  void AddNonVoter(const std::string& leader) {
    Cluster& c = *cluster_;
    for (const SimNode* n : c.nodes()) {
      if (raft::IsMember(c.core(leader)->active_config(), n->uuid())) continue;
      raft::ConfigChange ch;
      ch.type = raft::ChangeType::kAddNonVoter;
      ch.uuid = n->uuid();
      if (c.core(leader)->ProposeConfigChange(ch).ok()) ++result_.config_changes;
      return;
    }
  }

  void MembershipChange(const std::string& leader) {
    Cluster& c = *cluster_;
    const consensus::RaftConfigPB& config = c.core(leader)->active_config();
    std::vector<std::string> non_voters, removable, outside;
    for (const auto& p : config.peers()) {
      if (p.member_type() == consensus::RaftPeerPB::NON_VOTER) {
        non_voters.push_back(p.permanent_uuid());
      }
      if (p.permanent_uuid() != leader) removable.push_back(p.permanent_uuid());
    }
    for (const SimNode* n : c.nodes()) {
      if (!raft::IsMember(config, n->uuid())) outside.push_back(n->uuid());
    }
    raft::ConfigChange ch;
    const uint64_t choice = c.RandomBelow(4);
    if (choice == 0 && !non_voters.empty()) {
      ch.type = raft::ChangeType::kPromote;
      ch.uuid = Pick(c, non_voters);
    } else if (choice <= 1 && !outside.empty()) {
      ch.type = c.Chance(0.7) ? raft::ChangeType::kAddNonVoter : raft::ChangeType::kAddVoter;
      ch.uuid = Pick(c, outside);
    } else if (config.peers_size() > 2 && !removable.empty()) {
      ch.type = raft::ChangeType::kRemovePeer;
      ch.uuid = Pick(c, removable);
    } else {
      return;
    }
    if (c.core(leader)->ProposeConfigChange(ch).ok()) ++result_.config_changes;
  }

  // Heals everything and requires progress among `members`: a leader whose
  // committed config's members are all in `members` commits a new entry and
  // every such member applies it.
  void LivenessPhase(const std::vector<std::string>& members) {
    Cluster& c = *cluster_;
    c.HealNetwork();
    c.faults = NetworkFaults{0, 0, 1};
    c.crash_after_persist = 0;
    for (const std::string& u : members) c.Restart(u);
    std::string marker = absl::StrCat("live-", seed_);
    int64_t marker_index = -1;
    std::string marker_leader;
    for (int t = 0; t < plan_.liveness_units && !Failed(); ++t) {
      Step();
      std::string leader = c.Leader();
      if (leader.empty()) continue;
      if (marker_index < 0 || marker_leader != leader) {
        auto id = c.ProposeAt(leader, marker + "-" + std::to_string(t));
        if (id.ok()) {
          marker_index = id->index();
          marker_leader = leader;
        }
        continue;
      }
      // Done when every member of the leader's committed config applied it.
      const consensus::RaftConfigPB& config = c.core(leader)->committed_config();
      if (c.core(leader)->has_pending_config()) continue;
      bool all = true;
      for (const auto& p : config.peers()) {
        SimNode& n = c.node(p.permanent_uuid());
        if (!n.up() || n.core()->log().applied() < marker_index) all = false;
      }
      if (all) return;
    }
    if (!Failed()) {
      std::string state;
      for (const SimNode* n : c.nodes()) {
        if (n->up()) absl::StrAppend(&state, n->core()->GetStatus().ToString());
      }
      result_.failures.push_back(absl::StrCat("liveness: no entry committed and applied by ",
                                              "every member within ", plan_.liveness_units,
                                              " ticks after healing\n", state));
    }
  }

  void UnsafePhase() {
    Cluster& c = *cluster_;
    // Stop the faults, let the cluster settle a little, then lose a majority.
    c.HealNetwork();
    for (const std::string& u : AllUuids()) c.Restart(u);
    std::vector<std::string> uuids = AllUuids();
    for (size_t i = uuids.size(); i > 1; --i) std::swap(uuids[i - 1], uuids[c.RandomBelow(i)]);
    const size_t survivors = 1 + c.RandomBelow((uuids.size() - 1) / 2);
    std::vector<std::string> alive(uuids.begin(), uuids.begin() + survivors);
    std::vector<std::string> dead(uuids.begin() + survivors, uuids.end());
    for (int t = 0; t < 20; ++t) {
      Step();
      std::string leader = c.Leader();
      if (!leader.empty()) (void)c.ProposeAt(leader, absl::StrCat("pre-", t));
    }
    for (const std::string& u : dead) {
      c.Crash(u);
      c.checker().Abandon(u);
    }
    // The operator acts long after the majority died: nothing they sent is
    // still in flight. (A message from a dead leader at the forced term
    // would be a second leader of that term: the hazard raft.md describes.)
    std::set<std::string> dead_set(dead.begin(), dead.end());
    c.DropQueued([&](const consensus::RaftMessagePB& m) {
      return dead_set.count(m.from_uuid()) > 0;
    });
    // What survives may lack committed entries: the history restarts here.
    c.checker().StartNewEpoch();
    // A survivor holding committed entries the new leader lacks refuses its
    // appends (committed_conflict) and gets a tablet copy; its earlier state
    // machine is discarded with it, so the history restarts again.
    c.auto_tablet_copy = true;
    c.on_tablet_copy = [&c](const std::string&) { c.checker().StartNewEpoch(); };
    std::vector<std::string> sorted_alive = alive;
    std::sort(sorted_alive.begin(), sorted_alive.end());
    consensus::RaftConfigPB forced = Cluster::MakeConfig(sorted_alive);
    // As Kudu's procedure: force the config on one survivor, the one with the
    // most up-to-date log (so it holds every entry any survivor knows
    // committed); it then leads the others named in the new config.
    // Forcing each survivor independently could give two different entries
    // the same op id (docs/design/raft.md).
    for (const std::string& u : alive) {
      if (!c.node(u).up()) c.Restart(u);
    }
    // The core refuses to force a replica that heard from a leader within an
    // election timeout (its group may be alive). An operator waits until the
    // survivors lost their leader; so does the simulation.
    c.crash_after_persist = 0;  // the survivors stay up while the operator waits
    for (int t = 0; t < 4 * election_ticks_ && AnySurvivorHasLeader(alive); ++t) c.TickAll();
    // Without check-quorum a leader that lost its majority never steps down:
    // the operator, who knows the majority is dead, forces.
    const bool force = AnySurvivorHasLeader(alive);
    std::string chosen = alive[0];
    for (const std::string& u : alive) {
      const raft::RaftLog& a = c.core(u)->log();
      const raft::RaftLog& b = c.core(chosen)->log();
      if (a.LastTerm() > b.LastTerm() ||
          (a.LastTerm() == b.LastTerm() && a.LastIndex() > b.LastIndex())) {
        chosen = u;
      }
    }
    auto id = c.core(chosen)->UnsafeChangeConfig(forced, force);
    if (!id.ok()) {
      result_.failures.push_back(
          absl::StrCat("unsafe change on ", chosen, ": ", id.status().message()));
      return;
    }
    LivenessPhase(alive);
  }

  SimResult Finish() {
    Cluster& c = *cluster_;
    if (scenario_ != Scenario::kUnsafe && !plan_.log_gc) {
      // No log GC and no unsafe change here: a tablet copy request means a
      // replica's committed entries conflicted with a leader: a safety bug.
      for (const SimNode* n : c.nodes()) {
        for (const std::string& peer : n->tablet_copy_requests()) {
          result_.failures.push_back(
              absl::StrCat(n->uuid(), " asked for a tablet copy of ", peer));
        }
      }
    }
    result_.tablet_copies = c.tablet_copies();
    for (const std::string& v : c.checker().violations()) result_.failures.push_back(v);
    result_.ok = result_.failures.empty();
    result_.applied_entries = c.checker().max_applied_index();
    for (const SimNode* n : c.nodes()) {
      if (n->up()) result_.max_term = std::max(result_.max_term, n->core()->term());
    }
    return result_;
  }

  uint64_t seed_;
  bool quiesce_ = false;
  Scenario scenario_;
  Plan plan_;
  int election_ticks_ = 10;
  std::unique_ptr<Cluster> cluster_;
  SimResult result_;
  int64_t proposals_ = 0;
};

}  // namespace

namespace {
// Crashes `old` and counts the ticks until another leader is elected (at
// most 1,000) into `r`.
FailoverResult CrashAndCount(Cluster& c, const std::string& old, FailoverResult r) {
  c.Crash(old);
  for (int t = 1; t <= 1000; ++t) {
    c.TickAll();
    if (!c.Leader().empty()) {
      r.ticks = t;
      r.ok = true;
      return r;
    }
  }
  return r;
}
}  // namespace

namespace {
// A 3-node cluster of `seed`: elects a first leader, runs `before_crash` on
// it (which may record into the result, or return false to give up), then
// crashes the leader and counts the ticks to the next one.
FailoverResult MeasureFailoverAfter(
    uint64_t seed, bool quiesce,
    const std::function<bool(Cluster&, const std::string& leader, FailoverResult*)>&
        before_crash) {
  FailoverResult r;
  raft::CoreOptions o = Cluster::DefaultOptions();
  o.quiesce = quiesce;
  Cluster c({"n0", "n1", "n2"}, 3, seed, o);
  for (int t = 0; t < 200 && c.Leader().empty(); ++t) c.TickAll();
  const std::string old = c.Leader();
  if (old.empty() || !before_crash(c, old, &r)) return r;
  return CrashAndCount(c, old, r);
}
}  // namespace

FailoverResult MeasureFailover(uint64_t seed, bool quiesce) {
  return MeasureFailoverAfter(seed, quiesce, [](Cluster& c, const std::string& old,
                                                FailoverResult* r) {
    // Idle long enough to quiesce, then a seed-dependent phase in the tick grid.
    const int idle =
        50 + static_cast<int>(c.RandomBelow(Cluster::DefaultOptions().heartbeat_ticks * 2));
    for (int t = 0; t < idle; ++t) c.TickAll();
    r->quiesced_before = c.core(old)->quiesced();
    return true;
  });
}

FailoverResult MeasureFailoverJustQuiesced(uint64_t seed) {
  return MeasureFailoverAfter(seed, /*quiesce=*/true, [](Cluster& c, const std::string& old,
                                                         FailoverResult* r) {
    // Busy for a seed-dependent while, then crash in the tick the leader
    // quiesces: its last heartbeat (the quiesce one) may or may not be
    // delivered before the crash.
    const int busy = 5 + static_cast<int>(c.RandomBelow(10));
    for (int t = 0; t < busy; ++t) {
      if (!c.ProposeAt(old, "w" + std::to_string(t)).ok()) return false;
      c.TickAll();
    }
    for (int t = 0; t < 50 && !c.core(old)->quiesced(); ++t) c.Tick(old);
    r->quiesced_before = c.core(old)->quiesced();
    // One follower sees the quiesce heartbeat, the other does not (lost, or
    // the crash came first): it stays active and counts from that heartbeat.
    std::vector<std::string> followers;
    for (const char* u : {"n0", "n1", "n2"}) {
      if (u != old) followers.push_back(u);
    }
    const std::string missed = followers[c.RandomBelow(2)];
    c.DropQueued([&missed](const consensus::RaftMessagePB& m) {
      return m.to_uuid() == missed && m.has_append_request() && m.append_request().quiesce();
    });
    c.DeliverDue();
    return true;
  });
}

SimResult RunSimulation(uint64_t seed, Scenario scenario) {
  Run run(seed, scenario);
  return run.Go();
}

}  // namespace kmend::raftsim
