#include "lib/check/checker.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/check/render.h"

namespace kmend::check {
namespace {

using consensus::RaftConfigPB;
using consensus::RaftPeerPB;
using ::testing::HasSubstr;
using ::testing::Not;

// Builds a snapshot of one master, `n` tablet servers ts0..ts{n-1} and one
// table "t" of RF 3 with tablets placed on ts0, ts1, ts2, all healthy, ts0
// leading in term 2. Tests then break what they test.
class SnapshotBuilder {
 public:
  explicit SnapshotBuilder(int servers = 3, int tablets = 1, int rf = 3) {
    MasterFacts m;
    m.address = "127.0.0.1:7051";
    m.reachable = true;
    m.uuid = "master0";
    m.is_leader = true;
    snap_.masters.push_back(m);
    snap_.catalog_read = true;
    for (int i = 0; i < servers; ++i) {
      TabletServerFacts ts;
      ts.uuid = Uuid(i);
      ts.address = absl::StrCat("127.0.0.1:", 7100 + i);
      ts.live_per_master = true;
      ts.reachable = true;
      ts.reported_uuid = ts.uuid;
      snap_.tablet_servers.push_back(ts);
    }
    TableFacts table;
    table.name = "t";
    table.replication_factor = rf;
    for (int k = 0; k < tablets; ++k) {
      TabletFacts tablet;
      tablet.tablet_id = absl::StrCat("tablet", k);
      tablet.table_name = "t";
      *tablet.master_config.mutable_peers() = Config(rf).peers();
      tablet.master_config.set_opid_index(1);
      table.tablets.push_back(tablet);
      for (int i = 0; i < rf; ++i) {
        ReplicaFacts r;
        r.data_state = DataState::kReady;
        r.role = i == 0 ? Role::kLeader : Role::kFollower;
        r.term = 2;
        r.leader_uuid = Uuid(0);
        r.committed_config = tablet.master_config;
        r.last_logged = {2, 10};
        r.last_committed = {2, 10};
        r.last_applied = {2, 10};
        snap_.replicas[Uuid(i)][tablet.tablet_id] = r;
      }
    }
    snap_.tables.push_back(table);
  }

  static std::string Uuid(int i) { return absl::StrCat("ts", i, "uuid00000000000000000000000000"); }

  RaftConfigPB Config(int voters) {
    RaftConfigPB c;
    for (int i = 0; i < voters; ++i) {
      RaftPeerPB* p = c.add_peers();
      p->set_permanent_uuid(Uuid(i));
      p->set_member_type(RaftPeerPB::VOTER);
    }
    return c;
  }

  // The server is gone: unreachable and no longer heartbeating.
  SnapshotBuilder& Kill(int i) {
    snap_.tablet_servers[i].reachable = false;
    snap_.tablet_servers[i].live_per_master = false;
    snap_.tablet_servers[i].unreachable_reason = "connection refused";
    snap_.replicas.erase(Uuid(i));
    return *this;
  }

  // ksck cannot reach it, but the master still hears from it.
  SnapshotBuilder& Unreachable(int i) {
    snap_.tablet_servers[i].reachable = false;
    snap_.tablet_servers[i].unreachable_reason = "deadline exceeded";
    snap_.replicas.erase(Uuid(i));
    return *this;
  }

  // Adds the replica on server `i` (which must exist and hold no replica of
  // the tablet yet) to tablet `tablet` as a NON_VOTER, in the master's config
  // and in every replica's committed config, as a caught-up follower.
  SnapshotBuilder& AddNonVoter(int i, int tablet = 0) {
    TabletFacts& t = snap_.tables[0].tablets.at(tablet);
    RaftPeerPB* p = t.master_config.add_peers();
    p->set_permanent_uuid(Uuid(i));
    p->set_member_type(RaftPeerPB::NON_VOTER);
    ReplicaFacts r = Replica(0, tablet);
    r.role = Role::kLearner;
    r.committed_config = t.master_config;
    for (auto& [ts, by_tablet] : snap_.replicas) {
      auto it = by_tablet.find(t.tablet_id);
      if (it != by_tablet.end()) it->second.committed_config = t.master_config;
    }
    snap_.replicas[Uuid(i)][t.tablet_id] = r;
    return *this;
  }

  ReplicaFacts& Replica(int ts, int tablet = 0) {
    return snap_.replicas[Uuid(ts)][absl::StrCat("tablet", tablet)];
  }

  ClusterSnapshot& snapshot() { return snap_; }

 private:
  ClusterSnapshot snap_;
};

TabletResult OnlyTablet(const KsckResults& r) {
  EXPECT_EQ(r.tablets.size(), 1u);
  return r.tablets.at(0);
}

TEST(CheckerTest, HealthyClusterHasNoProblems) {
  SnapshotBuilder b(3, 4);
  KsckResults r = Check(b.snapshot());
  EXPECT_TRUE(r.healthy());
  ASSERT_EQ(r.tables.size(), 1u);
  EXPECT_EQ(r.tables[0].health, Health::kHealthy);
  EXPECT_EQ(r.tables[0].by_health[static_cast<int>(Health::kHealthy)], 4);
  EXPECT_THAT(RenderPlain(r, {}), HasSubstr("\nOK\n"));
}

TEST(CheckerTest, OneServerDownIsUnderReplicated) {
  SnapshotBuilder b;
  b.Kill(2);
  KsckResults r = Check(b.snapshot());
  EXPECT_FALSE(r.healthy());
  EXPECT_EQ(OnlyTablet(r).health, Health::kUnderReplicated);
  EXPECT_EQ(r.tables[0].health, Health::kUnderReplicated);
  EXPECT_EQ(r.tablet_servers[2].state, "DEAD");
  // The dead server's replica cannot be rebuilt in place: the master's
  // re-replication is the fix, and the note says so.
  EXPECT_TRUE(OnlyTablet(r).fixes.empty());
  EXPECT_THAT(OnlyTablet(r).fix_note, HasSubstr("re-replicates"));
}

// A data directory of 100 MiB as its server would report it.
DataDirFacts Dir(const std::string& path, int64_t available, int64_t reserved) {
  DataDirFacts d;
  d.dir = path;
  d.capacity_bytes = 100 << 20;
  d.available_bytes = available;
  d.reserved_bytes = reserved;
  d.full = available < reserved;
  return d;
}

TEST(CheckerTest, AFullDataDirectoryMakesTheServerDiskFullAndItsLeaderUnavailable) {
  SnapshotBuilder b;
  b.snapshot().tablet_servers[0].data_dirs.push_back(
      Dir("/data/ts0", /*available=*/1 << 20, /*reserved=*/4 << 20));
  b.Replica(0).write_refusal = "disk full on /data/ts0: 1048576 bytes free, 4194304 reserved";
  KsckResults r = Check(b.snapshot());
  EXPECT_FALSE(r.healthy());
  EXPECT_EQ(r.tablet_servers[0].state, "DISK_FULL");
  EXPECT_EQ(r.tablet_servers[1].state, "HEALTHY");
  const TabletResult& t = OnlyTablet(r);
  EXPECT_EQ(t.health, Health::kUnavailable);
  EXPECT_THAT(t.reason, HasSubstr("refuses writes: disk full on /data/ts0"));
  // Never a forced config for a full disk: the note says to free space.
  EXPECT_TRUE(t.fixes.empty());
  EXPECT_THAT(t.fix_note, HasSubstr("free space"));
  bool named = false;
  for (const Problem& p : r.problems) {
    named |= p.section == "tablet_servers" && p.message.find("/data/ts0") != std::string::npos &&
             p.message.find("1048576 bytes free") != std::string::npos;
  }
  EXPECT_TRUE(named);
  EXPECT_THAT(RenderJson(r).dump(), HasSubstr("\"write_refusal\""));
}

TEST(CheckerTest, ADirectoryAboveItsReserveIsHealthy) {
  SnapshotBuilder b;
  b.snapshot().tablet_servers[0].data_dirs.push_back(
      Dir("/data/ts0", /*available=*/50 << 20, /*reserved=*/1 << 20));
  KsckResults r = Check(b.snapshot());
  EXPECT_TRUE(r.healthy());
  EXPECT_THAT(RenderJson(r).dump(), HasSubstr("\"available_bytes\":52428800"));
}

TEST(CheckerTest, FailedReplicaOnLiveServerGetsRebuildCommand) {
  SnapshotBuilder b;
  b.Replica(1).data_state = DataState::kFailed;
  b.Replica(1).data_state_reason = "block 17: crc mismatch";
  KsckResults r = Check(b.snapshot());
  const TabletResult& t = OnlyTablet(r);
  EXPECT_EQ(t.health, Health::kUnderReplicated);
  ASSERT_EQ(t.fixes.size(), 1u);
  EXPECT_EQ(t.fixes[0].command,
            "kmend rebuild-replica --tserver 127.0.0.1:7101 --tablet tablet0 --source "
            "127.0.0.1:7100 --yes");
  EXPECT_THAT(t.fixes[0].why, HasSubstr("crc mismatch"));
}

TEST(CheckerTest, TwoOfThreeDownIsUnavailableAndNamesTheSurvivor) {
  SnapshotBuilder b;
  b.Kill(0).Kill(1);
  b.Replica(2).role = Role::kFollower;
  KsckResults r = Check(b.snapshot());
  const TabletResult& t = OnlyTablet(r);
  EXPECT_EQ(t.health, Health::kUnavailable);
  ASSERT_EQ(t.fixes.size(), 1u);
  EXPECT_EQ(t.fixes[0].command,
            absl::StrCat("kmend unsafe-change-config --tserver 127.0.0.1:7102 --tablet tablet0 "
                         "--voters ",
                         SnapshotBuilder::Uuid(2), " --yes"));
  EXPECT_THAT(t.fixes[0].why, HasSubstr("are lost"));
  std::string plain = RenderPlain(r, {});
  EXPECT_THAT(plain, HasSubstr("fix: kmend unsafe-change-config"));
  EXPECT_THAT(plain, HasSubstr("\nFAILED\n"));
}

TEST(CheckerTest, SurvivorIsTheMostUpToDateLogByTermThenIndex) {
  // Five voters, three lost. ts3 logged further (index 100) but only in term
  // 5; ts4 has a term-6 entry at 90, so a term-6 leader existed whose log did
  // not hold ts3's entries 91-100: they were never committed. Raft's rule
  // picks ts4.
  SnapshotBuilder b(5, 1, 5);
  b.Kill(0).Kill(1).Kill(2);
  b.Replica(3).last_logged = {5, 100};
  b.Replica(4).last_logged = {6, 90};
  b.Replica(3).role = b.Replica(4).role = Role::kFollower;
  const TabletResult& t = OnlyTablet(Check(b.snapshot()));
  ASSERT_EQ(t.health, Health::kUnavailable);
  ASSERT_EQ(t.fixes.size(), 1u);
  EXPECT_THAT(t.fixes[0].command, HasSubstr("--tserver 127.0.0.1:7104"));
  EXPECT_THAT(t.fixes[0].command, HasSubstr(absl::StrCat("--voters ", SnapshotBuilder::Uuid(3), ",",
                                                         SnapshotBuilder::Uuid(4))));
}

TEST(CheckerTest, SurvivorTiesGoToTheSmallestUuid) {
  SnapshotBuilder b(5, 1, 5);
  b.Kill(0).Kill(1).Kill(2);
  b.Replica(3).last_logged = b.Replica(4).last_logged = {4, 50};
  b.Replica(3).role = b.Replica(4).role = Role::kFollower;
  const TabletResult& t = OnlyTablet(Check(b.snapshot()));
  ASSERT_EQ(t.fixes.size(), 1u);
  EXPECT_THAT(t.fixes[0].command, HasSubstr("--tserver 127.0.0.1:7103"));
}

// Three voters with ts0 and ts1 lost; the voter on ts2 (last logged 2.10) and
// the non-voter on ts3 (last logged `non_voter_last_logged`) survive.
TabletResult VoterAndNonVoterSurvive(OpId non_voter_last_logged) {
  SnapshotBuilder b(4);
  b.AddNonVoter(3);
  b.Kill(0).Kill(1);
  b.Replica(2).role = Role::kFollower;
  b.Replica(3).last_logged = non_voter_last_logged;
  return OnlyTablet(Check(b.snapshot()));
}

std::string MadeAVoter(int ts) {
  return SnapshotBuilder::Uuid(ts) + " is a NON_VOTER; the forced config makes it a VOTER";
}

TEST(CheckerTest, CaughtUpNonVoterCanBeTheSurvivorAndBecomesAVoter) {
  // The non-voter logged further than the one running voter: forcing the
  // voter would drop entries 11-15 that a surviving replica holds, so the
  // non-voter is forced and both are kept.
  TabletResult t = VoterAndNonVoterSurvive({2, 15});
  // The majority test counts voters only: the running non-voter does not
  // make 2 of 3.
  ASSERT_EQ(t.health, Health::kUnavailable);
  EXPECT_THAT(t.reason, HasSubstr("1 of 3 voters running"));
  ASSERT_EQ(t.fixes.size(), 1u);
  EXPECT_EQ(t.fixes[0].command,
            absl::StrCat("kmend unsafe-change-config --tserver 127.0.0.1:7103 --tablet tablet0 "
                         "--voters ",
                         SnapshotBuilder::Uuid(2), ",", SnapshotBuilder::Uuid(3), " --yes"));
  EXPECT_THAT(t.fixes[0].why, HasSubstr(MadeAVoter(3)));
  EXPECT_TRUE(t.fixes[0].warnings.empty());
}

TEST(CheckerTest, KeptNonVoterIsNamedWhenAVoterIsTheSurvivor) {
  TabletResult t = VoterAndNonVoterSurvive({2, 8});
  ASSERT_EQ(t.fixes.size(), 1u);
  EXPECT_THAT(t.fixes[0].command, HasSubstr("--tserver 127.0.0.1:7102"));
  EXPECT_THAT(t.fixes[0].command, HasSubstr(absl::StrCat("--voters ", SnapshotBuilder::Uuid(2), ",",
                                                         SnapshotBuilder::Uuid(3), " --yes")));
  EXPECT_THAT(t.fixes[0].why, HasSubstr(MadeAVoter(3)));
  EXPECT_THAT(t.fixes[0].why, Not(HasSubstr(MadeAVoter(2))));
}

TEST(CheckerTest, OnlyANonVoterRunningIsForced) {
  SnapshotBuilder b(4);
  b.AddNonVoter(3);
  b.Kill(0).Kill(1).Kill(2);
  const TabletResult& t = OnlyTablet(Check(b.snapshot()));
  ASSERT_EQ(t.health, Health::kUnavailable);
  ASSERT_EQ(t.fixes.size(), 1u);
  EXPECT_THAT(t.fixes[0].command,
              HasSubstr(absl::StrCat("--tserver 127.0.0.1:7103 --tablet tablet0 --voters ",
                                     SnapshotBuilder::Uuid(3), " --yes")));
}

TEST(CheckerTest, CommittedIndexBeyondTheSurvivorsLogIsReported) {
  // Only reachable after earlier unsafe changes reused indexes: ts3 holds a
  // term-6 entry at 90 (so Raft's rule picks it), yet ts4 reports index 95
  // committed. Forcing ts3 would lose entries ts4 saw committed.
  SnapshotBuilder b(5, 1, 5);
  b.Kill(0).Kill(1).Kill(2);
  b.Replica(3).role = b.Replica(4).role = Role::kFollower;
  b.Replica(3).last_logged = b.Replica(3).last_committed = {6, 90};
  b.Replica(4).last_logged = {5, 100};
  b.Replica(4).last_committed = {5, 95};
  KsckResults r = Check(b.snapshot());
  const TabletResult& t = OnlyTablet(r);
  ASSERT_EQ(t.fixes.size(), 1u);
  EXPECT_THAT(t.fixes[0].command, HasSubstr("--tserver 127.0.0.1:7103"));
  std::string violation = absl::StrCat(SnapshotBuilder::Uuid(4),
                                       " reports index 95 committed, beyond the survivor's last "
                                       "logged index 90");
  EXPECT_THAT(t.fixes[0].why, HasSubstr(violation));
  ASSERT_EQ(t.fixes[0].warnings.size(), 1u);
  EXPECT_THAT(t.fixes[0].warnings[0], HasSubstr(violation));
  nlohmann::json j = RenderJson(r);
  EXPECT_THAT(j["tablets"][0]["fixes"][0]["warnings"][0].get<std::string>(), HasSubstr(violation));
}

TEST(CheckerTest, EveryReplicaLostHasNoCommandButSaysSo) {
  SnapshotBuilder b;
  b.Kill(0).Kill(1).Kill(2);
  const TabletResult& t = OnlyTablet(Check(b.snapshot()));
  EXPECT_EQ(t.health, Health::kUnavailable);
  EXPECT_TRUE(t.fixes.empty());
  EXPECT_THAT(t.fix_note, HasSubstr("no replica survives"));
}

TEST(CheckerTest, NoLeaderIsUnavailableWithoutForcing) {
  SnapshotBuilder b;
  b.Replica(0).role = Role::kFollower;
  const TabletResult& t = OnlyTablet(Check(b.snapshot()));
  EXPECT_EQ(t.health, Health::kUnavailable);
  EXPECT_THAT(t.reason, HasSubstr("no leader"));
  EXPECT_TRUE(t.fixes.empty());
}

TEST(CheckerTest, TwoLeadersInOneTermIsUnavailable) {
  SnapshotBuilder b;
  b.Replica(1).role = Role::kLeader;
  const TabletResult& t = OnlyTablet(Check(b.snapshot()));
  EXPECT_EQ(t.health, Health::kUnavailable);
  EXPECT_THAT(t.reason, HasSubstr("2 replicas claim leadership in term 2"));
}

TEST(CheckerTest, DeposedLeaderAtOlderTermDoesNotCount) {
  SnapshotBuilder b;
  b.Replica(0).role = Role::kLeader;
  b.Replica(0).term = 2;
  b.Replica(1).role = Role::kLeader;
  b.Replica(1).term = 3;
  b.Replica(2).term = 3;
  EXPECT_EQ(OnlyTablet(Check(b.snapshot())).health, Health::kHealthy);
}

TEST(CheckerTest, DivergedConfigIsConsensusMismatch) {
  SnapshotBuilder b;
  RaftConfigPB diverged = b.Config(2);
  diverged.set_opid_index(7);
  b.Replica(2).committed_config = diverged;
  KsckResults r = Check(b.snapshot());
  const TabletResult& t = OnlyTablet(r);
  EXPECT_EQ(t.health, Health::kConsensusMismatch);
  EXPECT_THAT(t.reason, HasSubstr(SnapshotBuilder::Uuid(2)));
  ASSERT_EQ(t.fixes.size(), 1u);
  EXPECT_THAT(t.fixes[0].command, HasSubstr("rebuild-replica --tserver 127.0.0.1:7102"));
}

TEST(CheckerTest, DivergedLeaderIsRebuiltFromAReplicaThatAgreesWithTheMaster) {
  // The replica with the diverged config won an election (its config needs
  // fewer votes): the copy source must be a replica with the master's config.
  SnapshotBuilder b;
  RaftConfigPB diverged = b.Config(2);
  b.Replica(0).role = Role::kFollower;
  b.Replica(1).role = Role::kLeader;
  b.Replica(1).committed_config = diverged;
  b.Replica(2).last_logged = {2, 11};
  KsckResults r = Check(b.snapshot());
  TabletResult t = OnlyTablet(r);
  EXPECT_EQ(t.health, Health::kConsensusMismatch);
  ASSERT_EQ(t.fixes.size(), 1u);
  EXPECT_EQ(t.fixes[0].command,
            "kmend rebuild-replica --tserver 127.0.0.1:7101 --tablet tablet0 --source "
            "127.0.0.1:7102 --yes");
}

TEST(CheckerTest, PendingConfigIsTheActiveOne) {
  SnapshotBuilder b;
  RaftConfigPB pending = b.Config(3);
  pending.set_opid_index(12);
  b.Replica(0).pending_config = pending;
  EXPECT_EQ(OnlyTablet(Check(b.snapshot())).health, Health::kConsensusMismatch);
}

TEST(CheckerTest, CopyingReplicaIsRecovering) {
  SnapshotBuilder b;
  b.Replica(2).data_state = DataState::kCopying;
  const TabletResult& t = OnlyTablet(Check(b.snapshot()));
  EXPECT_EQ(t.health, Health::kRecovering);
}

TEST(CheckerTest, UnreachableButHeartbeatingServerMakesTabletUnknownNotBroken) {
  SnapshotBuilder b;
  b.Unreachable(2);
  KsckResults r = Check(b.snapshot());
  const TabletResult& t = OnlyTablet(r);
  EXPECT_EQ(t.health, Health::kUnknown);
  EXPECT_THAT(t.reason, HasSubstr("at best HEALTHY"));
  EXPECT_THAT(t.reason, HasSubstr("at worst UNDER_REPLICATED"));
  EXPECT_EQ(r.tablet_servers[2].state, "UNREACHABLE");
  EXPECT_FALSE(r.healthy());
  EXPECT_EQ(r.tables[0].health, Health::kUnknown);
}

// Issue 18: what ksck may not see is UNKNOWN ("not authorized"), never
// broken, even when the master has also lost the server's heartbeats.
TEST(CheckerTest, ServerThatRefusesKsckMakesItsReplicasUnknownNeverDown) {
  SnapshotBuilder b;
  b.Kill(2);
  b.snapshot().tablet_servers[2].live_per_master = false;
  b.snapshot().tablet_servers[2].unauthorized = true;
  b.snapshot().tablet_servers[2].unreachable_reason = "not authorized: identity \"x\"";
  KsckResults r = Check(b.snapshot());
  const TabletResult& t = OnlyTablet(r);
  EXPECT_EQ(t.health, Health::kUnknown);
  EXPECT_EQ(t.replicas[2].state, ReplicaState::kUnknown);
  EXPECT_THAT(t.replicas[2].reason, HasSubstr("not authorized"));
  EXPECT_EQ(r.tablet_servers[2].state, "UNKNOWN");
  for (const Problem& p : r.problems) EXPECT_EQ(p.severity, Severity::kUnknown) << p.message;
  EXPECT_FALSE(r.healthy());
}

TEST(CheckerTest, EveryMasterRefusingIsUnknownNotAnError) {
  SnapshotBuilder b(0, 0);
  ClusterSnapshot& s = b.snapshot();
  s.tables.clear();
  s.masters[0].reachable = false;
  s.masters[0].is_leader = false;
  s.masters[0].unauthorized = true;
  s.masters[0].unreachable_reason = "not authorized: identity \"reader\"";
  s.catalog_read = false;
  s.catalog_unauthorized = true;
  s.catalog_error = "not authorized: no master let this identity read its status";
  KsckResults r = Check(s);
  EXPECT_FALSE(r.healthy());
  ASSERT_FALSE(r.problems.empty());
  for (const Problem& p : r.problems) {
    EXPECT_EQ(p.severity, Severity::kUnknown) << p.message;
  }
  EXPECT_THAT(r.problems.back().message, HasSubstr("not authorized"));
}

TEST(CheckerTest, UnknownReplicaThatCannotChangeTheVerdictDoesNotHideIt) {
  // Two servers dead for sure, the third unreachable: whatever the third is
  // doing, a majority is lost.
  SnapshotBuilder b(5, 1, 5);
  b.Kill(0).Kill(1).Kill(2).Unreachable(3);
  b.Replica(4).role = Role::kFollower;
  EXPECT_EQ(OnlyTablet(Check(b.snapshot())).health, Health::kUnavailable);
}

TEST(CheckerTest, TableTakesItsWorstTablet) {
  SnapshotBuilder b(3, 3);
  b.Replica(2, 1).data_state = DataState::kCopying;
  b.Replica(0, 2).role = Role::kFollower;  // tablet2: no leader
  KsckResults r = Check(b.snapshot());
  EXPECT_EQ(r.tables[0].health, Health::kUnavailable);
  EXPECT_EQ(r.tables[0].by_health[static_cast<int>(Health::kRecovering)], 1);
  EXPECT_EQ(r.tables[0].by_health[static_cast<int>(Health::kUnavailable)], 1);
  EXPECT_EQ(r.tables[0].by_health[static_cast<int>(Health::kHealthy)], 1);
}

TEST(CheckerTest, WrongUuidIsAnError) {
  SnapshotBuilder b;
  b.snapshot().tablet_servers[1].reported_uuid = "somebodyelse";
  KsckResults r = Check(b.snapshot());
  EXPECT_EQ(r.tablet_servers[1].state, "WRONG_UUID");
  EXPECT_FALSE(r.healthy());
}

TEST(CheckerTest, ChecksumMismatchNamesTheReplicas) {
  SnapshotBuilder b;
  auto& sums = b.snapshot().checksums["tablet0"];
  sums[SnapshotBuilder::Uuid(0)] = {true, "", 0xabc, 10, 5};
  sums[SnapshotBuilder::Uuid(1)] = {true, "", 0xabc, 10, 5};
  sums[SnapshotBuilder::Uuid(2)] = {true, "", 0xdef, 10, 5};
  KsckResults r = Check(b.snapshot());
  ASSERT_EQ(r.checksums.size(), 1u);
  EXPECT_FALSE(r.checksums[0].match);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_THAT(r.problems[0].message, HasSubstr("checksum mismatch"));
  EXPECT_THAT(r.problems[0].message, HasSubstr(SnapshotBuilder::Uuid(2) + "=0000000000000def"));
}

TEST(CheckerTest, ChecksumNotComputedIsUnknown) {
  SnapshotBuilder b;
  auto& sums = b.snapshot().checksums["tablet0"];
  sums[SnapshotBuilder::Uuid(0)] = {true, "", 0xabc, 10, 5};
  sums[SnapshotBuilder::Uuid(1)] = {false, "deadline exceeded", 0, 0, 0};
  KsckResults r = Check(b.snapshot());
  EXPECT_TRUE(r.checksums[0].unknown);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].severity, Severity::kUnknown);
}

TEST(CheckerTest, MastersMustAgreeOnCatalogConfigAndHaveOneLeader) {
  SnapshotBuilder b;
  MasterFacts m2 = b.snapshot().masters[0];
  m2.address = "127.0.0.1:7052";
  m2.is_leader = true;
  RaftConfigPB a = b.Config(3), c = b.Config(2);
  b.snapshot().masters[0].catalog_config = a;
  m2.catalog_config = c;
  b.snapshot().masters.push_back(m2);
  KsckResults r = Check(b.snapshot());
  ASSERT_EQ(r.problems.size(), 2u);
  EXPECT_THAT(r.problems[0].message, HasSubstr("catalog config"));
  EXPECT_THAT(r.problems[1].message, HasSubstr("2 masters claim leadership"));
}

TEST(CheckerTest, MasterBehindTheLeadersCatalogVersionIsAWarning) {
  SnapshotBuilder b;
  b.snapshot().masters[0].is_leader = true;
  b.snapshot().masters[0].catalog_version = 12;
  MasterFacts follower = b.snapshot().masters[0];
  follower.address = "127.0.0.1:7052";
  follower.is_leader = false;
  follower.catalog_version = 9;
  b.snapshot().masters.push_back(follower);
  MasterFacts same = follower;
  same.address = "127.0.0.1:7053";
  same.catalog_version = 12;
  b.snapshot().masters.push_back(same);
  KsckResults r = Check(b.snapshot());
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_EQ(r.problems[0].severity, Severity::kWarning);
  EXPECT_EQ(r.problems[0].subject, "127.0.0.1:7052");
  EXPECT_THAT(r.problems[0].message, HasSubstr("catalog version 9 is behind the leader's 12"));
  EXPECT_EQ(RenderJson(r)["masters"][1]["catalog_version"], 9);
}

TEST(CheckerTest, JsonCarriesSchemaVersionAndEverySection) {
  SnapshotBuilder b;
  b.Kill(0).Kill(1);
  nlohmann::json j = RenderJson(Check(b.snapshot()));
  EXPECT_EQ(j["schema_version"], kResultsSchemaVersion);
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["tablets"][0]["health"], "UNAVAILABLE");
  EXPECT_EQ(j["tablets"][0]["replicas"].size(), 3u);
  EXPECT_EQ(j["tablets"][0]["replicas"][2]["last_logged"]["index"], 10);
  EXPECT_THAT(j["tablets"][0]["fixes"][0]["command"].get<std::string>(),
              HasSubstr("unsafe-change-config"));
  EXPECT_EQ(j["tablet_servers"][0]["state"], "DEAD");
  EXPECT_FALSE(j["problems"].empty());
}

}  // namespace
}  // namespace kmend::check

namespace kmend::check {
namespace {

// A forced config (Raft's unsafe flag) on a healthy tablet is a note naming
// the replicas, never a problem.
TEST(CheckerTest, AForcedConfigIsANoteNotAProblem) {
  SnapshotBuilder b;
  for (int i = 0; i < 3; ++i) {
    b.snapshot().replicas[SnapshotBuilder::Uuid(i)]["tablet0"].committed_config
        .set_unsafe_config_change(true);
  }
  KsckResults r = Check(b.snapshot());
  EXPECT_TRUE(r.healthy());
  ASSERT_EQ(r.notes.size(), 1u);
  EXPECT_EQ(r.notes[0].tablet_id, "tablet0");
  EXPECT_THAT(r.notes[0].message, HasSubstr("forced by an unsafe change"));
  EXPECT_THAT(r.notes[0].message, HasSubstr(SnapshotBuilder::Uuid(0)));
  EXPECT_THAT(RenderPlain(r, {}), HasSubstr("Notes (1)"));
  EXPECT_EQ(RenderJson(r)["notes"][0]["tablet_id"], "tablet0");
  EXPECT_TRUE(Check(SnapshotBuilder().snapshot()).notes.empty());
}

}  // namespace
}  // namespace kmend::check
