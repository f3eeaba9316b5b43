// The master's plain C++ logic, without gRPC: registry and failure
// detection on a fake clock, placement, and the catalog with its store.
#include <stdlib.h>

#include <set>

#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "server/common/clock.h"
#include "server/master/catalog_manager.h"
#include "server/master/catalog_store.h"
#include "server/master/placement.h"
#include "server/master/ts_registry.h"

namespace kmend::master {
namespace {

TServerRegistrationPB Reg(const std::string& uuid, int port) {
  TServerRegistrationPB r;
  r.set_permanent_uuid(uuid);
  r.mutable_rpc_address()->set_host("127.0.0.1");
  r.mutable_rpc_address()->set_port(port);
  return r;
}

HeartbeatRequestPB Hb(const std::string& uuid, int64_t seq,
                      const std::vector<std::string>& tablets = {}) {
  HeartbeatRequestPB h;
  h.set_permanent_uuid(uuid);
  h.set_sequence_number(seq);
  for (const auto& t : tablets) {
    auto* r = h.add_replicas();
    r->set_tablet_id(t);
    r->set_data_state(server::TABLET_DATA_READY);
  }
  return h;
}

TEST(TServerRegistryTest, DeadAfterTimeoutLiveAgainAfterHeartbeat) {
  server::FakeClock clock;
  TServerRegistry reg(&clock, /*unresponsive_timeout_ms=*/3000);
  ASSERT_TRUE(reg.Register(Reg("a", 1)).ok());
  ASSERT_TRUE(reg.Register(Reg("b", 2)).ok());
  EXPECT_EQ(reg.LiveServers().size(), 2u);

  clock.AdvanceMillis(2000);
  ASSERT_TRUE(reg.Heartbeat(Hb("a", 0)).ok());
  clock.AdvanceMillis(1000);  // b: exactly at the timeout, still live
  EXPECT_EQ(reg.LiveServers().size(), 2u);
  clock.AdvanceMillis(1);
  auto live = reg.LiveServers();
  ASSERT_EQ(live.size(), 1u);
  EXPECT_EQ(live[0].registration.permanent_uuid(), "a");
  auto b = reg.Get("b");
  ASSERT_TRUE(b.has_value());
  EXPECT_FALSE(b->live);
  EXPECT_EQ(b->millis_since_heartbeat, 3001);

  auto changes = reg.CheckLiveness();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].uuid, "b");
  EXPECT_FALSE(changes[0].now_live);
  EXPECT_TRUE(reg.CheckLiveness().empty());  // reported once

  ASSERT_TRUE(reg.Heartbeat(Hb("b", 0)).ok());
  EXPECT_TRUE(reg.Get("b")->live);
  changes = reg.CheckLiveness();
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_TRUE(changes[0].now_live);
}

TEST(TServerRegistryTest, HeartbeatFromUnknownServerMustRegister) {
  server::FakeClock clock;
  TServerRegistry reg(&clock, 1000);
  EXPECT_EQ(reg.Heartbeat(Hb("x", 0)).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(TServerRegistryTest, RegistrationNeedsUuidAndAddress) {
  server::FakeClock clock;
  TServerRegistry reg(&clock, 1000);
  EXPECT_EQ(reg.Register(Reg("", 1)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reg.Register(Reg("a", 0)).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(reg.List().empty());
}

TEST(TServerRegistryTest, ReportsReplaceAndStaleHeartbeatsAreIgnored) {
  server::FakeClock clock;
  TServerRegistry reg(&clock, 1000);
  ASSERT_TRUE(reg.Register(Reg("a", 1)).ok());
  ASSERT_TRUE(reg.Heartbeat(Hb("a", 5, {"t1", "t2"})).ok());
  EXPECT_EQ(reg.Get("a")->replicas->size(), 2u);
  // A delayed duplicate with an older sequence number must not roll back.
  ReportOutcome outcome = ReportOutcome::kApplied;
  ASSERT_TRUE(reg.Heartbeat(Hb("a", 4, {}), &outcome).ok());
  EXPECT_EQ(outcome, ReportOutcome::kNeedsFullReport);
  EXPECT_EQ(reg.Get("a")->replicas->size(), 2u);
  ASSERT_TRUE(reg.Heartbeat(Hb("a", 6, {"t2"}), &outcome).ok());
  EXPECT_EQ(outcome, ReportOutcome::kApplied);
  auto a = reg.Get("a");
  ASSERT_EQ(a->replicas->size(), 1u);
  EXPECT_EQ(a->replicas->begin()->first, "t2");
  // Re-registration (a restart) restarts the sequence.
  ASSERT_TRUE(reg.Register(Reg("a", 9)).ok());
  ASSERT_TRUE(reg.Heartbeat(Hb("a", 0, {"t3"})).ok());
  EXPECT_EQ(reg.Get("a")->replicas->begin()->first, "t3");
  EXPECT_EQ(reg.Get("a")->registration.rpc_address().port(), 9u);
}

// An incremental report: what changed since report `base`.
HeartbeatRequestPB Delta(const std::string& uuid, int64_t seq, int64_t base,
                         const std::vector<std::string>& changed,
                         const std::vector<std::string>& removed = {}) {
  HeartbeatRequestPB h = Hb(uuid, seq, changed);
  h.set_is_full_report(false);
  h.set_base_sequence_number(base);
  for (const auto& id : removed) h.add_removed_tablet_ids(id);
  return h;
}

std::vector<std::string> Ids(const TServerRegistry& reg, const std::string& uuid) {
  std::vector<std::string> out;
  for (const auto& [id, r] : *reg.Get(uuid)->replicas) out.push_back(id);
  return out;
}

// Issue 15: incremental replica reports.
TEST(TServerRegistryTest, AnIncrementalReportOnTheLastAppliedReportUpsertsAndRemoves) {
  server::FakeClock clock;
  TServerRegistry reg(&clock, 1000);
  ASSERT_TRUE(reg.Register(Reg("a", 1)).ok());
  ReportOutcome outcome = ReportOutcome::kNeedsFullReport;
  ASSERT_TRUE(reg.Heartbeat(Hb("a", 0, {"t1", "t2", "t3"}), &outcome).ok());
  ASSERT_EQ(outcome, ReportOutcome::kApplied);
  const auto before = reg.Get("a")->replicas;

  HeartbeatRequestPB d = Delta("a", 1, /*base=*/0, {"t2", "t4"}, {"t3"});
  d.mutable_replicas(0)->set_data_state(server::TABLET_DATA_TOMBSTONED);
  ASSERT_TRUE(reg.Heartbeat(d, &outcome).ok());
  ASSERT_EQ(outcome, ReportOutcome::kApplied);
  EXPECT_EQ(Ids(reg, "a"), (std::vector<std::string>{"t1", "t2", "t4"}));
  auto now = reg.Get("a")->replicas;
  EXPECT_EQ(now->at("t2")->data_state(), server::TABLET_DATA_TOMBSTONED);
  // Copy-on-write: a reader's earlier view is untouched, and unchanged
  // reports are shared, not copied.
  EXPECT_EQ(before->size(), 3u);
  EXPECT_EQ(before->at("t2")->data_state(), server::TABLET_DATA_READY);
  EXPECT_EQ(before->at("t1").get(), now->at("t1").get());

  // An empty incremental report (an idle server) applies and keeps the view.
  ASSERT_TRUE(reg.Heartbeat(Delta("a", 2, /*base=*/1, {}), &outcome).ok());
  EXPECT_EQ(outcome, ReportOutcome::kApplied);
  EXPECT_EQ(reg.Get("a")->replicas.get(), now.get());
}

TEST(TServerRegistryTest, AnIncrementalReportWithAGapAsksForAFullReport) {
  server::FakeClock clock;
  TServerRegistry reg(&clock, 1000);
  ASSERT_TRUE(reg.Register(Reg("a", 1)).ok());
  ReportOutcome outcome = ReportOutcome::kApplied;
  // Before any full report since registering: nothing to apply it to.
  ASSERT_TRUE(reg.Heartbeat(Delta("a", 0, /*base=*/-1, {"t1"}), &outcome).ok());
  EXPECT_EQ(outcome, ReportOutcome::kNeedsFullReport);
  EXPECT_TRUE(reg.Get("a")->replicas->empty());
  EXPECT_FALSE(reg.Get("a")->reported);

  ASSERT_TRUE(reg.Heartbeat(Hb("a", 1, {"t1"}), &outcome).ok());
  ASSERT_EQ(outcome, ReportOutcome::kApplied);
  // Report 2 applied, but the server never got the answer: it sends 3 on
  // its last acknowledged base, 1. Applying it would lose 2's changes.
  ASSERT_TRUE(reg.Heartbeat(Delta("a", 2, /*base=*/1, {"t2"}), &outcome).ok());
  ASSERT_EQ(outcome, ReportOutcome::kApplied);
  ASSERT_TRUE(reg.Heartbeat(Delta("a", 3, /*base=*/1, {}, {"t1"}), &outcome).ok());
  EXPECT_EQ(outcome, ReportOutcome::kNeedsFullReport);
  EXPECT_EQ(Ids(reg, "a"), (std::vector<std::string>{"t1", "t2"}));
  // Heartbeats still count for liveness while reports are refused.
  clock.AdvanceMillis(900);
  ASSERT_TRUE(reg.Heartbeat(Delta("a", 4, /*base=*/1, {}), &outcome).ok());
  EXPECT_EQ(outcome, ReportOutcome::kNeedsFullReport);
  clock.AdvanceMillis(900);
  EXPECT_TRUE(reg.Get("a")->live);

  // The full report puts it right; incremental reports on it apply again.
  ASSERT_TRUE(reg.Heartbeat(Hb("a", 5, {"t2", "t5"}), &outcome).ok());
  ASSERT_EQ(outcome, ReportOutcome::kApplied);
  ASSERT_TRUE(reg.Heartbeat(Delta("a", 6, /*base=*/5, {"t6"}), &outcome).ok());
  EXPECT_EQ(outcome, ReportOutcome::kApplied);
  EXPECT_EQ(Ids(reg, "a"), (std::vector<std::string>{"t2", "t5", "t6"}));

  // A re-registration (the server restarted, or this master forgot it)
  // invalidates every base.
  ASSERT_TRUE(reg.Register(Reg("a", 1)).ok());
  ASSERT_TRUE(reg.Heartbeat(Delta("a", 7, /*base=*/6, {}), &outcome).ok());
  EXPECT_EQ(outcome, ReportOutcome::kNeedsFullReport);
}

TEST(PlacementTest, SpreadsOverLeastLoaded) {
  ServerLoad load{{"a", 5}, {"b", 0}, {"c", 0}, {"d", 1}};
  auto plan = PlaceReplicas(2, 2, &load);
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->size(), 2u);
  EXPECT_EQ((*plan)[0], (std::vector<std::string>{"b", "c"}));
  // b and c now hold 1 each, like d: ties break by uuid.
  EXPECT_EQ((*plan)[1], (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(load["b"], 2);
  EXPECT_EQ(load["a"], 5);
}

TEST(PlacementTest, ReplicasOfATabletAreDistinctAndCountsEven) {
  ServerLoad load{{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}, {"e", 0}};
  auto plan = PlaceReplicas(10, 3, &load);
  ASSERT_TRUE(plan.ok());
  for (const auto& t : *plan) {
    EXPECT_EQ(std::set<std::string>(t.begin(), t.end()).size(), 3u);
  }
  for (const auto& [uuid, n] : load) EXPECT_EQ(n, 6) << uuid;
}

TEST(PlacementTest, TooFewServers) {
  ServerLoad load{{"a", 0}, {"b", 0}};
  EXPECT_EQ(PlaceReplicas(1, 3, &load).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(PlaceReplicas(0, 1, &load).status().code(), absl::StatusCode::kInvalidArgument);
}

CreateTableRequestPB TableReq(const std::string& name, int tablets, int replicas) {
  CreateTableRequestPB req;
  req.set_name(name);
  auto* c = req.mutable_schema()->add_columns();
  c->set_name("id");
  c->set_type(INT64);
  c->set_is_key(true);
  c = req.mutable_schema()->add_columns();
  c->set_name("v");
  c->set_type(DOUBLE);
  c->set_is_nullable(true);
  req.set_num_tablets(tablets);
  req.set_num_replicas(replicas);
  return req;
}

std::map<std::string, HostPortPB> Servers(int n) {
  std::map<std::string, HostPortPB> out;
  for (int i = 0; i < n; ++i) {
    HostPortPB hp;
    hp.set_host("127.0.0.1");
    hp.set_port(7000 + i);
    out[std::string(1, static_cast<char>('a' + i))] = hp;
  }
  return out;
}

class CatalogTest : public ::testing::Test {
 protected:
  CatalogTest() {
    auto store = std::make_unique<MemoryCatalogStore>();
    store_ = store.get();
    catalog_ = std::make_unique<CatalogManager>(std::move(store), &clock_);
    EXPECT_TRUE(catalog_->Load().ok());
  }
  server::FakeClock clock_;
  MemoryCatalogStore* store_;
  std::unique_ptr<CatalogManager> catalog_;
};

TEST_F(CatalogTest, ATabletRefusedForSpaceIsPlacedAnewUnderANewId) {
  auto t = catalog_->CreateTable(TableReq("orders", 1, 3), Servers(3));
  ASSERT_TRUE(t.ok()) << t.status();
  const SysTabletPB old = t->tablets.at(0);
  const std::string refused = old.config().peers(1).permanent_uuid();
  auto moved = catalog_->ReplaceUnannouncedTablet(old.tablet_id(), Servers(4), {refused});
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_NE(moved->tablet_id(), old.tablet_id());
  EXPECT_EQ(moved->partition().SerializeAsString(), old.partition().SerializeAsString());
  ASSERT_EQ(moved->config().peers_size(), 3);
  std::set<std::string> peers;
  for (const auto& p : moved->config().peers()) peers.insert(p.permanent_uuid());
  EXPECT_EQ(peers.count(refused), 0u);
  EXPECT_EQ(peers.count("d"), 1u);  // the only server outside the old config
  // The catalog lists the new tablet, not the old one, and persisted it.
  auto table = catalog_->GetTable("orders", "");
  ASSERT_TRUE(table.ok()) << table.status();
  ASSERT_EQ(table->tablets.size(), 1u);
  EXPECT_EQ(table->tablets[0].tablet_id(), moved->tablet_id());
  EXPECT_EQ(store_->stored().tablets(0).tablet_id(), moved->tablet_id());
  // Two refusals, one server left outside the config: said, nothing changed.
  std::set<std::string> two;
  for (const auto& p : moved->config().peers()) {
    if (p.permanent_uuid() != "d" && two.size() < 2) two.insert(p.permanent_uuid());
  }
  auto again = catalog_->ReplaceUnannouncedTablet(moved->tablet_id(), Servers(4), two);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kFailedPrecondition) << again.status();
  EXPECT_EQ(catalog_->GetTable("orders", "")->tablets[0].tablet_id(), moved->tablet_id());
}

TEST_F(CatalogTest, CreateTablePlacesHashPartitionsAndPersists) {
  auto t = catalog_->CreateTable(TableReq("orders", 4, 3), Servers(3));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->tablets.size(), 4u);
  EXPECT_EQ(store_->saves(), 1);
  EXPECT_EQ(store_->stored().tables_size(), 1);
  EXPECT_EQ(store_->stored().tablets_size(), 4);
  for (int b = 0; b < 4; ++b) {
    const SysTabletPB& tablet = t->tablets[b];
    ASSERT_EQ(tablet.partition().hash_buckets_size(), 1);
    EXPECT_EQ(tablet.partition().hash_buckets(0), b);
    EXPECT_EQ(tablet.partition().has_partition_key_start(), b > 0);
    EXPECT_EQ(tablet.partition().has_partition_key_end(), b < 3);
    EXPECT_EQ(tablet.config().opid_index(), -1);
    ASSERT_EQ(tablet.config().peers_size(), 3);
    for (const auto& p : tablet.config().peers()) {
      EXPECT_EQ(p.member_type(), consensus::RaftPeerPB::VOTER);
      EXPECT_TRUE(p.has_last_known_addr());
    }
  }
  auto counts = catalog_->ReplicaCounts();
  EXPECT_EQ(counts["a"], 4);
  EXPECT_EQ(counts["c"], 4);
  const auto& hash = t->table.partition_schema().hash_schema(0);
  EXPECT_EQ(hash.num_buckets(), 4);
  ASSERT_EQ(hash.columns_size(), 1);
  EXPECT_EQ(hash.columns(0).name(), "id");
}

TEST_F(CatalogTest, RejectsBadRequestsWithoutPersisting) {
  EXPECT_EQ(catalog_->CreateTable(TableReq("", 1, 1), Servers(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog_->CreateTable(TableReq("t", 0, 1), Servers(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog_->CreateTable(TableReq("t", 1, 0), Servers(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(catalog_->CreateTable(TableReq("t", 1, 3), Servers(2)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto no_key = TableReq("t", 1, 1);
  no_key.mutable_schema()->mutable_columns(0)->set_is_key(false);
  EXPECT_EQ(catalog_->CreateTable(no_key, Servers(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto bad_hash = TableReq("t", 1, 1);
  bad_hash.add_hash_columns("v");
  EXPECT_EQ(catalog_->CreateTable(bad_hash, Servers(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->saves(), 0);
}

TEST_F(CatalogTest, NamesAreUniqueAmongRunningTables) {
  ASSERT_TRUE(catalog_->CreateTable(TableReq("t", 1, 1), Servers(1)).ok());
  EXPECT_EQ(catalog_->CreateTable(TableReq("t", 1, 1), Servers(1)).status().code(),
            absl::StatusCode::kAlreadyExists);
  auto deleted = catalog_->DeleteTable("t", "");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(deleted->table.state(), DELETED);
  EXPECT_TRUE(catalog_->ListTables("").empty());
  EXPECT_EQ(catalog_->GetTable("t", "").status().code(), absl::StatusCode::kNotFound);
  // Still reachable by id, as DELETED.
  auto by_id = catalog_->GetTable("", deleted->table.table_id());
  ASSERT_TRUE(by_id.ok());
  EXPECT_EQ(by_id->table.state(), DELETED);
  EXPECT_TRUE(catalog_->CreateTable(TableReq("t", 1, 1), Servers(1)).ok());
  EXPECT_EQ(catalog_->DeleteTable("nope", "").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CatalogTest, FailedSaveChangesNothing) {
  store_->FailNextSave(absl::UnavailableError("disk full"));
  auto t = catalog_->CreateTable(TableReq("t", 2, 1), Servers(1));
  EXPECT_EQ(t.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(t.status().message().find("persisting the catalog"), std::string::npos);
  EXPECT_TRUE(catalog_->ListTables("").empty());
  EXPECT_EQ(catalog_->num_tablets(), 0);
}

TEST_F(CatalogTest, TombstonesDeletedAndForeignReplicasOnly) {
  auto t1 = catalog_->CreateTable(TableReq("t1", 1, 1), Servers(1));  // on "a"
  auto t2 = catalog_->CreateTable(TableReq("t2", 1, 1), Servers(1));  // on "a"
  ASSERT_TRUE(t1.ok() && t2.ok());
  std::string id1 = t1->tablets[0].tablet_id(), id2 = t2->tablets[0].tablet_id();
  ASSERT_TRUE(catalog_->DeleteTable("t1", "").ok());
  // "a" hosts both: only the deleted table's tablet goes.
  auto drop = catalog_->TabletsToTombstone("a", {{id1, {0, -1}}, {id2, {0, -1}}, {"unknown", {0, -1}}});
  EXPECT_EQ(drop, std::vector<std::string>{id1});
  // "b" is not in t2's config: its stale copy goes, unless its config is
  // newer than the catalog's view.
  EXPECT_EQ(catalog_->TabletsToTombstone("b", {{id2, {0, -1}}}), std::vector<std::string>{id2});
  EXPECT_TRUE(catalog_->TabletsToTombstone("b", {{id2, {0, 7}}}).empty());
}

TEST_F(CatalogTest, TakesNewerReportedConfigsOnly) {
  auto t = catalog_->CreateTable(TableReq("t", 1, 3), Servers(3));
  ASSERT_TRUE(t.ok());
  std::string id = t->tablets[0].tablet_id();
  consensus::RaftConfigPB same = t->tablets[0].config();
  auto n = catalog_->UpdateConfigs({{id, same}, {"unknown", same}});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(store_->saves(), 1);  // nothing persisted for no change

  consensus::RaftConfigPB newer = same;
  newer.set_opid_index(12);
  newer.mutable_peers()->RemoveLast();
  newer.mutable_peers(0)->mutable_health_report()->set_overall_health(
      consensus::HealthReportPB::HEALTHY);
  n = catalog_->UpdateConfigs({{id, newer}});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  auto got = catalog_->GetTablet(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->config().opid_index(), 12);
  EXPECT_EQ(got->config().peers_size(), 2);
  EXPECT_FALSE(got->config().peers(0).has_health_report());
  EXPECT_EQ(store_->saves(), 2);

  // An older report (a lagging replica) never rolls the catalog back.
  consensus::RaftConfigPB older = same;
  older.set_opid_index(5);
  n = catalog_->UpdateConfigs({{id, older}});
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0);
  EXPECT_EQ(catalog_->GetTablet(id)->config().opid_index(), 12);
  // The server dropped from the config is now told to tombstone its copy
  // (its own config, index -1, is older than the catalog's).
  std::string dropped = same.peers(2).permanent_uuid();
  EXPECT_EQ(catalog_->TabletsToTombstone(dropped, {{id, {0, -1}}}), std::vector<std::string>{id});
}

// An unsafe config change reuses indexes: the survivor C lacked the lost
// majority's config at index 10 (term 3), so its forced config is {C} at
// index 5, term 4. Raft's order (term, then index) makes it the newest; the
// dropped A and B, returning with their term-3 config at index 10, are told
// to tombstone their replicas instead of restoring the old config.
TEST_F(CatalogTest, AdoptsAForcedConfigAtAHigherTermAndLowerIndex) {
  auto t = catalog_->CreateTable(TableReq("t", 1, 3), Servers(3));
  ASSERT_TRUE(t.ok());
  const std::string id = t->tablets[0].tablet_id();
  consensus::RaftConfigPB abc = t->tablets[0].config();
  abc.set_opid_index(10);
  abc.set_opid_term(3);
  ASSERT_EQ(*catalog_->UpdateConfigs({{id, abc}}), 1);
  const std::string a = abc.peers(0).permanent_uuid();
  const std::string b = abc.peers(1).permanent_uuid();
  const std::string c = abc.peers(2).permanent_uuid();

  consensus::RaftConfigPB forced;
  *forced.add_peers() = abc.peers(2);
  forced.set_opid_index(5);
  forced.set_opid_term(4);
  forced.set_unsafe_config_change(true);
  auto n = catalog_->UpdateConfigs({{id, forced}});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(*n, 1);
  auto got = catalog_->GetTablet(id);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->config().opid_index(), 5);
  EXPECT_EQ(got->config().opid_term(), 4);
  EXPECT_TRUE(got->config().unsafe_config_change());
  ASSERT_EQ(got->config().peers_size(), 1);
  EXPECT_EQ(got->config().peers(0).permanent_uuid(), c);

  // A and B come back reporting the old majority's config: not adopted...
  EXPECT_EQ(*catalog_->UpdateConfigs({{id, abc}}), 0);
  EXPECT_EQ(catalog_->GetTablet(id)->config().opid_term(), 4);
  // ...and their replicas are to be tombstoned; C keeps its own.
  const raft::ConfigVersion old_majority{3, 10};
  EXPECT_EQ(catalog_->TabletsToTombstone(a, {{id, old_majority}}), std::vector<std::string>{id});
  EXPECT_EQ(catalog_->TabletsToTombstone(b, {{id, old_majority}}), std::vector<std::string>{id});
  EXPECT_TRUE(catalog_->TabletsToTombstone(c, {{id, {4, 5}}}).empty());
  // A config newer than the forced one (the new leader's next change) wins.
  consensus::RaftConfigPB next = forced;
  next.set_opid_index(7);
  next.set_unsafe_config_change(false);
  EXPECT_EQ(*catalog_->UpdateConfigs({{id, next}}), 1);
}

TEST(FileCatalogStoreTest, RoundTripsAndReportsDamage) {
  std::string dir = std::string(getenv("TEST_TMPDIR")) + "/catalog";
  ASSERT_TRUE(io::CreateDirs(dir).ok());
  FileCatalogStore store(dir);
  auto empty = store.Load();
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(empty->tables_size(), 0);

  server::FakeClock clock;
  {
    CatalogManager catalog(std::make_unique<FileCatalogStore>(dir), &clock);
    ASSERT_TRUE(catalog.Load().ok());
    ASSERT_TRUE(catalog.CreateTable(TableReq("t", 3, 1), Servers(2)).ok());
  }
  CatalogManager reloaded(std::make_unique<FileCatalogStore>(dir), &clock);
  ASSERT_TRUE(reloaded.Load().ok());
  EXPECT_EQ(reloaded.num_tablets(), 3);
  EXPECT_EQ(reloaded.version(), 1);

  // Flip a byte in the middle of the file: Load must fail, not crash.
  auto bytes = io::ReadFileToString(store.path());
  ASSERT_TRUE(bytes.ok());
  std::string damaged = *bytes;
  damaged[damaged.size() - 10] ^= 0x40;
  ASSERT_TRUE(io::WriteFileAtomically(store.path(), damaged).ok());
  auto bad = store.Load();
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("master-catalog"), std::string::npos) << bad.status();
}

}  // namespace
}  // namespace kmend::master
