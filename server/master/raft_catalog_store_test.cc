// RaftCatalogStore in process: the entry codec, then three stores each over
// its own RaftDriver (real WAL and cmeta in a temp dir) on the in-memory
// network: replication to every master, refusal on followers, the
// compare-and-set on stale catalogs, the snapshot file and restart from it,
// and the upgrade from a file-backed catalog. Waits use generous deadlines;
// nothing asserts on timing.
#include "server/master/raft_catalog_store.h"

#include <stdlib.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/consensus/in_memory_network.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"
#include "server/master/catalog_manager.h"

namespace kmend::master {
namespace {

constexpr absl::Duration kWait = absl::Seconds(30);

std::string TempDir() {
  const char* tmp = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(tmp != nullptr ? tmp : "/tmp") + "/catalog-store.XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

SysCatalogPB CatalogAt(int64_t version, const std::string& table) {
  SysCatalogPB c;
  c.set_version(version);
  c.add_tables()->mutable_info()->set_name(table);
  return c;
}

TEST(CatalogEntryTest, RoundTripDropsAppliedIndex) {
  SysCatalogPB c = CatalogAt(7, "t");
  c.set_applied_index(99);
  consensus::ReplicateMsg m = EncodeCatalogEntry(c);
  EXPECT_EQ(m.op_type(), consensus::WRITE_OP);
  auto back = DecodeCatalogEntry(m);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->version(), 7);
  EXPECT_FALSE(back->has_applied_index());
  EXPECT_EQ(back->tables(0).info().name(), "t");
}

TEST(CatalogEntryTest, RejectsEntriesOfOtherShapes) {
  consensus::ReplicateMsg noop;
  noop.set_op_type(consensus::NO_OP);
  EXPECT_EQ(DecodeCatalogEntry(noop).status().code(), absl::StatusCode::kDataLoss);

  consensus::ReplicateMsg two = EncodeCatalogEntry(CatalogAt(1, "t"));
  *two.mutable_kmend_write()->add_ops() = two.kmend_write().ops(0);
  auto s = DecodeCatalogEntry(two).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("expected 1 row operation, found 2"), std::string::npos) << s;

  consensus::ReplicateMsg key = EncodeCatalogEntry(CatalogAt(1, "t"));
  key.mutable_kmend_write()->mutable_ops(0)->mutable_cells(0)->set_string_value("other");
  EXPECT_EQ(DecodeCatalogEntry(key).status().code(), absl::StatusCode::kDataLoss);

  consensus::ReplicateMsg garbage = EncodeCatalogEntry(CatalogAt(1, "t"));
  garbage.mutable_kmend_write()->mutable_ops(0)->mutable_cells(1)->set_string_value("\xff\xff");
  s = DecodeCatalogEntry(garbage).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.message().find("does not parse as SysCatalogPB"), std::string::npos) << s;
}

// One master's replica: its store and driver.
struct Node {
  std::unique_ptr<RaftCatalogStore> store;
  std::unique_ptr<consensus_driver::Transport> transport;
  std::unique_ptr<consensus_driver::RaftDriver> driver;
};

class CatalogGroup {
 public:
  CatalogGroup(std::string root, std::vector<std::string> uuids)
      : root_(std::move(root)), uuids_(std::move(uuids)) {
    config_.set_opid_index(-1);
    for (const std::string& u : uuids_) {
      auto* p = config_.add_peers();
      p->set_permanent_uuid(u);
      p->set_member_type(consensus::RaftPeerPB::VOTER);
    }
  }
  ~CatalogGroup() {
    for (const std::string& u : uuids_) Stop(u);
  }

  std::string SnapshotPath(const std::string& uuid) const {
    return io::JoinPath(root_, uuid + "-master-catalog");
  }

  absl::Status Start(const std::string& uuid) {
    Node& n = nodes_[uuid];
    auto store = RaftCatalogStore::Open(SnapshotPath(uuid), absl::Seconds(10));
    if (!store.ok()) return store.status();
    n.store = std::move(*store);
    consensus_driver::DriverOptions o;
    o.core.tablet_id = kSysCatalogTabletId;
    o.core.self_uuid = uuid;
    o.core.random_seed = std::hash<std::string>()(uuid) + restarts_++;
    o.tick_interval = absl::Milliseconds(10);
    o.wal_dir = io::JoinPath(root_, "wal-" + uuid);
    o.wal_options.preallocate = false;
    o.wal_options.segment_size_bytes = segment_size_bytes_;
    o.cmeta_path = io::JoinPath(root_, "cmeta-" + uuid);
    o.bootstrap_config = config_;
    o.applied_index = n.store->snapshot_index();
    RaftCatalogStore* s = n.store.get();
    o.apply = [s](const consensus::ReplicateMsg& m) { s->Apply(m); };
    n.transport = net_.TransportFor(uuid);
    auto d = consensus_driver::RaftDriver::Open(std::move(o), n.transport.get());
    if (!d.ok()) return d.status();
    n.driver = std::move(*d);
    n.store->SetDriver(n.driver.get());
    consensus_driver::RaftDriver* p = n.driver.get();
    net_.Register(uuid, [p](const consensus::RaftMessagePB& m) { (void)p->Receive(m); });
    return absl::OkStatus();
  }

  void Stop(const std::string& uuid) {
    auto it = nodes_.find(uuid);
    if (it == nodes_.end()) return;
    net_.Unregister(uuid);
    it->second.driver.reset();  // before the store its apply points into
    nodes_.erase(it);
  }

  void set_segment_size_bytes(uint64_t n) { segment_size_bytes_ = n; }
  RaftCatalogStore* store(const std::string& uuid) { return nodes_.at(uuid).store.get(); }
  consensus_driver::RaftDriver* driver(const std::string& uuid) {
    return nodes_.at(uuid).driver.get();
  }

  // The leader once its term's NO_OP is applied (what the master waits for).
  std::string WaitForReadyLeader() {
    absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      for (auto& [u, n] : nodes_) {
        raft::RaftStatus st = n.driver->GetStatus();
        if (st.role == raft::Role::kLeader && st.committed.term() == st.term &&
            n.store->applied_index() >= st.committed.index()) {
          return u;
        }
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return "";
  }

  bool WaitForVersionEverywhere(int64_t version) {
    absl::Time deadline = absl::Now() + kWait;
    while (absl::Now() < deadline) {
      bool all = true;
      for (auto& [u, n] : nodes_) all = all && n.store->applied().version() == version;
      if (all) return true;
      absl::SleepFor(absl::Milliseconds(5));
    }
    return false;
  }

 private:
  const std::string root_;
  const std::vector<std::string> uuids_;
  consensus::RaftConfigPB config_;
  consensus_driver::InMemoryNetwork net_;
  std::map<std::string, Node> nodes_;
  int restarts_ = 0;
  uint64_t segment_size_bytes_ = 8u << 20;
};

class RaftCatalogStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = TempDir();
    ASSERT_FALSE(root_.empty());
  }
  std::string root_;
};

TEST_F(RaftCatalogStoreTest, LeaderSavesReachEveryMasterAndFollowersRefuse) {
  CatalogGroup g(root_, {"A", "B", "C"});
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  std::string leader = g.WaitForReadyLeader();
  ASSERT_FALSE(leader.empty());

  ASSERT_TRUE(g.store(leader)->Save(CatalogAt(1, "first")).ok());
  ASSERT_TRUE(g.store(leader)->Save(CatalogAt(2, "second")).ok());
  ASSERT_TRUE(g.WaitForVersionEverywhere(2));
  for (const char* u : {"A", "B", "C"}) {
    auto c = g.store(u)->Load();
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->tables(0).info().name(), "second") << u;
  }

  std::string follower = leader == "A" ? "B" : "A";
  absl::Status s = g.store(follower)->Save(CatalogAt(3, "from a follower"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("is not the leader"), std::string::npos) << s;
  EXPECT_EQ(g.store(follower)->applied().version(), 2);
}

TEST_F(RaftCatalogStoreTest, StaleCatalogIsRejectedEverywhereAndAsksForReload) {
  CatalogGroup g(root_, {"A", "B", "C"});
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  std::string leader = g.WaitForReadyLeader();
  ASSERT_FALSE(leader.empty());
  ASSERT_TRUE(g.store(leader)->Save(CatalogAt(1, "kept")).ok());
  EXPECT_FALSE(g.store(leader)->TakeNeedsReload());

  // A leader whose in-memory catalog is behind (still at version 0) proposes
  // version 1 again: committed, but no master applies it.
  absl::Status s = g.store(leader)->Save(CatalogAt(1, "stale"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_NE(s.message().find("rejected"), std::string::npos) << s;
  EXPECT_TRUE(g.store(leader)->TakeNeedsReload());
  EXPECT_FALSE(g.store(leader)->TakeNeedsReload());  // once

  // A version jumping ahead is rejected the same way.
  EXPECT_FALSE(g.store(leader)->Save(CatalogAt(5, "ahead")).ok());
  ASSERT_TRUE(g.store(leader)->Save(CatalogAt(2, "next")).ok());
  ASSERT_TRUE(g.WaitForVersionEverywhere(2));
  for (const char* u : {"A", "B", "C"}) {
    EXPECT_EQ(g.store(u)->applied().tables(0).info().name(), "next") << u;
  }
}

TEST_F(RaftCatalogStoreTest, NewLeaderAfterLeaderLossKeepsEveryCommittedChange) {
  CatalogGroup g(root_, {"A", "B", "C"});
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  std::string first = g.WaitForReadyLeader();
  ASSERT_FALSE(first.empty());
  // Through a CatalogManager, as the master does.
  ASSERT_TRUE(g.store(first)->Save(CatalogAt(1, "t1")).ok());
  ASSERT_TRUE(g.WaitForVersionEverywhere(1));
  g.Stop(first);

  std::string second = g.WaitForReadyLeader();
  ASSERT_FALSE(second.empty());
  ASSERT_NE(second, first);
  auto loaded = g.store(second)->Load();
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->version(), 1);
  ASSERT_TRUE(g.store(second)->Save(CatalogAt(2, "t2")).ok());

  // The old leader comes back from its WAL and snapshot and catches up.
  ASSERT_TRUE(g.Start(first).ok());
  ASSERT_TRUE(g.WaitForVersionEverywhere(2));
  EXPECT_EQ(g.store(first)->applied().tables(0).info().name(), "t2");
}

TEST_F(RaftCatalogStoreTest, SnapshotFileCarriesTheAppliedIndexAndRestartStartsFromIt) {
  int64_t index = 0;
  {
    CatalogGroup g(root_, {"A"});
    ASSERT_TRUE(g.Start("A").ok());
    ASSERT_TRUE(g.driver("A")->Campaign().ok());
    ASSERT_EQ(g.WaitForReadyLeader(), "A");
    ASSERT_TRUE(g.store("A")->Save(CatalogAt(1, "a")).ok());
    ASSERT_TRUE(g.store("A")->Save(CatalogAt(2, "b")).ok());
    index = g.store("A")->applied_index();
    // Apply leaves the file alone; WriteSnapshot writes it.
    EXPECT_FALSE(io::FileExists(g.SnapshotPath("A")));
    ASSERT_TRUE(g.store("A")->WriteSnapshot().ok());
    EXPECT_EQ(g.store("A")->durable_snapshot_index(), index);

    SysCatalogPB file;
    ASSERT_TRUE(pbc::ReadSingleMessageFile(g.SnapshotPath("A"), &file).ok());
    EXPECT_EQ(file.version(), 2);
    EXPECT_EQ(file.applied_index(), index);
  }
  CatalogGroup g(root_, {"A"});
  ASSERT_TRUE(g.Start("A").ok());
  EXPECT_EQ(g.store("A")->snapshot_index(), index);
  EXPECT_EQ(g.store("A")->applied().version(), 2);
  ASSERT_TRUE(g.driver("A")->Campaign().ok());
  ASSERT_EQ(g.WaitForReadyLeader(), "A");
  ASSERT_TRUE(g.store("A")->Save(CatalogAt(3, "c")).ok());
}

TEST_F(RaftCatalogStoreTest, FileCatalogOfASingleMasterIsTheInitialState) {
  // A data dir from before the catalog was replicated: only master-catalog.
  FileCatalogStore old_store(root_);
  ASSERT_TRUE(old_store.Save(CatalogAt(4, "old")).ok());
  auto store = RaftCatalogStore::Open(old_store.path());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->snapshot_index(), 0);
  EXPECT_EQ((*store)->applied().version(), 4);

  // And the file a Raft store writes still reads as a catalog.
  consensus::ReplicateMsg m = EncodeCatalogEntry(CatalogAt(5, "new"));
  m.mutable_id()->set_term(1);
  m.mutable_id()->set_index(2);
  (*store)->Apply(m);
  ASSERT_TRUE((*store)->WriteSnapshot().ok());
  auto reread = old_store.Load();
  ASSERT_TRUE(reread.ok());
  EXPECT_EQ(reread->version(), 5);
  EXPECT_EQ(reread->applied_index(), 2);
}

// A catalog no log entry produced (master rebuild, a pre-replication file)
// reaches a master with an empty catalog through the leader's base entry;
// without it B would reject every later entry (version 0 + 1 != 5).
TEST_F(RaftCatalogStoreTest, ACatalogNotInTheLogReachesAnEmptyMasterThroughABaseEntry) {
  FileCatalogStore rebuilt(root_);
  ASSERT_TRUE(rebuilt.Save(CatalogAt(4, "rebuilt")).ok());
  ASSERT_TRUE(std::filesystem::copy_file(rebuilt.path(), io::JoinPath(root_, "A-master-catalog")));
  CatalogGroup g(root_, {"A", "B"});
  ASSERT_TRUE(g.Start("A").ok());
  ASSERT_TRUE(g.Start("B").ok());
  EXPECT_TRUE(g.store("A")->needs_base_entry());
  EXPECT_FALSE(g.store("B")->needs_base_entry());  // empty: nothing to carry
  ASSERT_TRUE(g.driver("A")->Campaign().ok());
  ASSERT_EQ(g.WaitForReadyLeader(), "A");
  ASSERT_TRUE(g.store("A")->WriteBaseEntryIfNeeded().ok());
  ASSERT_TRUE(g.WaitForVersionEverywhere(5));
  EXPECT_EQ(g.store("B")->applied().tables(0).info().name(), "rebuilt");
  EXPECT_FALSE(g.store("B")->applied().base_entry());
  EXPECT_FALSE(g.store("A")->needs_base_entry());
  // Once is enough: nothing more is proposed, and ordinary changes follow.
  const int64_t index = g.store("A")->applied_index();
  ASSERT_TRUE(g.store("A")->WriteBaseEntryIfNeeded().ok());
  EXPECT_EQ(g.store("A")->applied_index(), index);
  ASSERT_TRUE(g.store("A")->Save(CatalogAt(6, "next")).ok());
  ASSERT_TRUE(g.WaitForVersionEverywhere(6));
}

TEST_F(RaftCatalogStoreTest, TheNeedForABaseEntrySurvivesASnapshotAndABaseEntryNeverGoesBack) {
  FileCatalogStore rebuilt(root_);
  ASSERT_TRUE(rebuilt.Save(CatalogAt(1, "rebuilt")).ok());
  {
    auto store = RaftCatalogStore::Open(rebuilt.path());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->needs_base_entry());
    // A new leader's NO_OP applies and the snapshot is written before the
    // base entry commits: the file must still say the log lacks the catalog.
    consensus::ReplicateMsg noop;
    noop.set_op_type(consensus::NO_OP);
    noop.mutable_id()->set_term(1);
    noop.mutable_id()->set_index(1);
    (*store)->Apply(noop);
    ASSERT_TRUE((*store)->WriteSnapshot().ok());
  }
  auto store = RaftCatalogStore::Open(rebuilt.path());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->snapshot_index(), 1);
  EXPECT_TRUE((*store)->needs_base_entry());
  EXPECT_FALSE((*store)->applied().needs_base_entry());

  // A base entry is accepted over a lower version only.
  SysCatalogPB base = CatalogAt(3, "base");
  base.set_base_entry(true);
  consensus::ReplicateMsg m = EncodeCatalogEntry(base);
  m.mutable_id()->set_term(1);
  m.mutable_id()->set_index(2);
  (*store)->Apply(m);
  EXPECT_EQ((*store)->applied().version(), 3);
  EXPECT_FALSE((*store)->needs_base_entry());
  SysCatalogPB stale = CatalogAt(2, "stale");
  stale.set_base_entry(true);
  m = EncodeCatalogEntry(stale);
  m.mutable_id()->set_term(1);
  m.mutable_id()->set_index(3);
  (*store)->Apply(m);
  EXPECT_EQ((*store)->applied().version(), 3);
  EXPECT_EQ((*store)->applied().tables(0).info().name(), "base");
}

TEST_F(RaftCatalogStoreTest, CatalogManagerOnTheLeaderCreatesTablesEverywhere) {
  CatalogGroup g(root_, {"A", "B", "C"});
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  std::string leader = g.WaitForReadyLeader();
  ASSERT_FALSE(leader.empty());

  // The manager owns a store; this one forwards to the leader's.
  class Forward : public CatalogStore {
   public:
    explicit Forward(RaftCatalogStore* s) : s_(s) {}
    absl::StatusOr<SysCatalogPB> Load() override { return s_->Load(); }
    absl::Status Save(const SysCatalogPB& c) override { return s_->Save(c); }

   private:
    RaftCatalogStore* s_;
  };
  server::FakeClock clock;
  CatalogManager manager(std::make_unique<Forward>(g.store(leader)), &clock);
  ASSERT_TRUE(manager.Load().ok());
  CreateTableRequestPB req;
  req.set_name("users");
  auto* col = req.mutable_schema()->add_columns();
  col->set_name("id");
  col->set_type(kmend::INT64);
  col->set_is_key(true);
  req.set_num_tablets(2);
  req.set_num_replicas(1);
  std::map<std::string, HostPortPB> live;
  live["ts1"].set_host("127.0.0.1");
  live["ts1"].set_port(7050);
  auto created = manager.CreateTable(req, live);
  ASSERT_TRUE(created.ok()) << created.status();
  ASSERT_TRUE(g.WaitForVersionEverywhere(manager.version()));
  for (const char* u : {"A", "B", "C"}) {
    SysCatalogPB c = g.store(u)->applied();
    ASSERT_EQ(c.tables_size(), 1) << u;
    EXPECT_EQ(c.tables(0).info().name(), "users");
    EXPECT_EQ(c.tablets_size(), 2);
  }
}

TEST(CatalogLogRetentionTest, KeepsEntriesBehindTheSnapshotAndWhatPeersNeed) {
  raft::RaftStatus follower;
  follower.uuid = "A";
  follower.role = raft::Role::kFollower;
  EXPECT_EQ(CatalogLogRetentionIndex(follower, 500, 100), 401);
  EXPECT_EQ(CatalogLogRetentionIndex(follower, 50, 100), 1);  // never below 1

  raft::RaftStatus leader = follower;
  leader.role = raft::Role::kLeader;
  leader.peers = {{.uuid = "A", .match_index = 900},
                  {.uuid = "B", .match_index = 450},
                  {.uuid = "C", .match_index = 380}};
  // C (down, or slow) still needs 381 onwards.
  EXPECT_EQ(CatalogLogRetentionIndex(leader, 500, 100), 381);
  leader.peers[2].match_index = 480;
  EXPECT_EQ(CatalogLogRetentionIndex(leader, 500, 100), 401);

  // Capped for lagging peers: C at 380 holds back at most 50 more entries;
  // a peer Raft says needs a copy holds back nothing.
  leader.peers[2].match_index = 100;
  EXPECT_EQ(CatalogLogRetentionIndex(leader, 500, 100, 50), 351);
  EXPECT_EQ(CatalogLogRetentionIndex(leader, 500, 100, 1000), 101);
  leader.peers[2].state = raft::PeerStatus::State::kNeedsTabletCopy;
  EXPECT_EQ(CatalogLogRetentionIndex(leader, 500, 100, 1000), 401);
}

TEST_F(RaftCatalogStoreTest, WalSegmentsBelowTheRetentionIndexGoAndRestartStillWorks) {
  CatalogGroup g(root_, {"A", "B", "C"});
  g.set_segment_size_bytes(4096);
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  std::string leader = g.WaitForReadyLeader();
  ASSERT_FALSE(leader.empty());
  const std::string pad(600, 'x');
  for (int v = 1; v <= 60; ++v) {
    ASSERT_TRUE(g.store(leader)->Save(CatalogAt(v, absl::StrCat("t", v, pad))).ok()) << v;
  }
  ASSERT_TRUE(g.WaitForVersionEverywhere(60));
  for (const char* u : {"A", "B", "C"}) {
    // Every peer has everything (applied), so only the snapshot bound and
    // the 10 retained entries matter.
    ASSERT_TRUE(g.store(u)->WriteSnapshot().ok());
    raft::RaftStatus st = g.driver(u)->GetStatus();
    int64_t keep = CatalogLogRetentionIndex(st, g.store(u)->durable_snapshot_index(), 10);
    EXPECT_GT(keep, 40) << u;
    auto deleted = g.driver(u)->GarbageCollectLog(keep);
    ASSERT_TRUE(deleted.ok()) << deleted.status();
    EXPECT_GT(*deleted, 0) << u;
    EXPECT_GT(g.driver(u)->wal()->FirstIndex(), 1) << u;
    EXPECT_LE(g.driver(u)->wal()->FirstIndex(), keep) << u;
  }
  // Restarting every master from snapshot + the WAL left keeps the catalog
  // and the group keeps committing. The last changes are only in the WAL
  // (no snapshot since): they are replayed once committed again.
  for (const char* u : {"A", "B", "C"}) g.Stop(u);
  for (const char* u : {"A", "B", "C"}) ASSERT_TRUE(g.Start(u).ok());
  for (const char* u : {"A", "B", "C"}) EXPECT_EQ(g.store(u)->applied().version(), 60) << u;
  leader = g.WaitForReadyLeader();
  ASSERT_FALSE(leader.empty());
  ASSERT_TRUE(g.store(leader)->Save(CatalogAt(61, "after gc")).ok());
  ASSERT_TRUE(g.WaitForVersionEverywhere(61));
}

}  // namespace
}  // namespace kmend::master
