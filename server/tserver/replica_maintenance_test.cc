// TabletReplica's flush + WAL GC (RunMaintenance), the copy anchor, and the
// start-up recovery of an interrupted copy, on a real data directory with a
// running Raft driver (one voter; peers that never answer stand for lagging
// followers).
#include <stdlib.h>

#include <cerrno>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/consensus/in_memory_network.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/layout.h"
#include "lib/io/fault_injection.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/tablet/superblock.h"
#include "lib/tablet/test_spec.h"
#include "server/tserver/raft_router.h"
#include "server/tserver/tablet_manager.h"

namespace kmend::tserver {
namespace {

constexpr char kTablet[] = "00112233445566778899aabbccddeeff";

class ReplicaMaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = std::string(getenv("TEST_TMPDIR")) + "/rm.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    auto info = fs::Format(root_);
    ASSERT_TRUE(info.ok()) << info.status();
    uuid_ = info->uuid;
    auto bm = blocks::LogBlockManager::Open(layout().DataDir());
    ASSERT_TRUE(bm.ok()) << bm.status();
    bm_ = *std::move(bm);
    transport_ = net_.TransportFor(uuid_);
  }
  void TearDown() override { StopManager(); }

  fs::Layout layout() const { return fs::Layout(root_); }

  ReplicaRuntime Runtime(int max_segments_for_peers = 16) {
    ReplicaRuntime rt;
    rt.server_uuid = uuid_;
    rt.block_manager = bm_.get();
    rt.transport = transport_.get();
    rt.router = &router_;
    rt.tick_interval = absl::Milliseconds(10);
    // Flushes only when the test asks (force), so that counts are exact.
    rt.flush_threshold_bytes = uint64_t{1} << 40;
    rt.flush_threshold_rows = int64_t{1} << 40;
    rt.flush_interval = absl::Hours(24);
    rt.wal_segment_size_bytes = 16 << 10;
    rt.wal_max_segments_retained_for_peers = max_segments_for_peers;
    return rt;
  }

  void StartManager(ReplicaRuntime rt) {
    manager_ = std::make_unique<TabletManager>(layout(), uuid_);
    manager_->SetRuntime(std::move(rt));
    ASSERT_TRUE(manager_->Open().ok());
  }
  void StopManager() {
    if (manager_ != nullptr) manager_->ShutdownAll();
    manager_.reset();
  }

  // A tablet on this server alone (the only voter), plus non-voters that
  // never answer.
  void Create(int ghosts = 0) {
    CreateTabletRequestPB req;
    req.set_tablet_id(kTablet);
    req.set_table_id("tableid");
    req.set_table_name("t");
    *req.mutable_schema() = tablet::KeyValueTestSchema("v");
    auto* config = req.mutable_initial_config();
    config->set_opid_index(-1);
    auto* p = config->add_peers();
    p->set_permanent_uuid(uuid_);
    p->set_member_type(consensus::RaftPeerPB::VOTER);
    for (int i = 0; i < ghosts; ++i) {
      p = config->add_peers();
      p->set_permanent_uuid(absl::StrCat("ghost", i));
      p->set_member_type(consensus::RaftPeerPB::NON_VOTER);
    }
    ASSERT_TRUE(manager_->CreateTablet(req).ok());
  }

  std::shared_ptr<TabletReplica> Replica() {
    auto r = manager_->Lookup(kTablet);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : nullptr;
  }

  // Polls (bounded) until the replica leads its one-voter group.
  ::testing::AssertionResult WaitLeader() {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      auto d = Replica()->driver();
      if (d.ok() && (*d)->GetStatus().role == raft::Role::kLeader) {
        return ::testing::AssertionSuccess();
      }
      absl::SleepFor(absl::Milliseconds(10));
    }
    return ::testing::AssertionFailure() << "no leader within 20 s";
  }

  // Upserts rows [first, first + n) in batches of 50, with values that do
  // not compress much, so that the WAL spans many 16 KiB segments.
  void Write(int first, int n) {
    for (int b = first; b < first + n; b += 50) {
      WriteRequestPB req;
      req.set_tablet_id(kTablet);
      for (int i = b; i < std::min(first + n, b + 50); ++i) {
        RowOpPB* op = req.mutable_ops()->add_ops();
        op->set_type(RowOpPB::UPSERT);
        op->add_cells()->set_int64_value(i);
        uint64_t h = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(i + 1);
        std::string v;
        for (int k = 0; k < 12; ++k) {
          h ^= h >> 29;
          h *= 0xbf58476d1ce4e5b9ull;
          absl::StrAppend(&v, absl::Hex(h, absl::kZeroPad16));
        }
        op->add_cells()->set_string_value(v);
      }
      WriteResponsePB resp;
      absl::Status s = Replica()->Write(req, &resp);
      ASSERT_TRUE(s.ok()) << s;
      ASSERT_EQ(resp.rows_applied(), req.ops().ops_size());
    }
  }

  int SegmentFiles() {
    auto names = io::ListDir(layout().WalDir(kTablet));
    if (!names.ok()) return -1;
    int n = 0;
    for (const std::string& name : *names) n += absl::StartsWith(name, "wal-");
    return n;
  }

  ChecksumResponsePB Checksum() {
    ChecksumRequestPB req;
    req.set_tablet_id(kTablet);
    ChecksumResponsePB resp;
    absl::Status s = Replica()->Checksum(req, &resp);
    EXPECT_TRUE(s.ok()) << s;
    return resp;
  }

  std::string root_, uuid_;
  std::unique_ptr<blocks::LogBlockManager> bm_;
  consensus_driver::InMemoryNetwork net_;
  std::unique_ptr<consensus_driver::Transport> transport_;
  RaftRouter router_;
  std::unique_ptr<TabletManager> manager_;
};

TEST_F(ReplicaMaintenanceTest, FlushDeletesWalSegmentsAndRestartReplaysOnlyTheRest) {
  StartManager(Runtime());
  Create();
  ASSERT_TRUE(WaitLeader());
  Write(0, 2000);
  const int segments_before = SegmentFiles();
  ASSERT_GT(segments_before, 5);

  ASSERT_TRUE(Replica()->RunMaintenance(/*force_flush=*/true).ok());
  TabletReplica::MaintenanceStats st = Replica()->maintenance_stats();
  EXPECT_EQ(st.flushes, 1);
  EXPECT_EQ(st.rows_flushed, 2000);
  EXPECT_GT(st.bytes_flushed, 0u);
  EXPECT_GT(st.wal_segments_deleted, 0);
  // (The writer may have started one more, empty segment meanwhile.)
  EXPECT_LE(SegmentFiles(), segments_before + 1 - st.wal_segments_deleted);
  EXPECT_LT(SegmentFiles(), segments_before);
  auto sb = tablet::LoadSuperBlock(layout(), kTablet);
  ASSERT_TRUE(sb.ok()) << sb.status();
  const int64_t flushed = sb->last_flushed_op_index();
  EXPECT_EQ(st.last_gc_retention_index, flushed);
  const wal::Log* wal = (*Replica()->driver())->wal();
  const int64_t first_index = wal->FirstIndex();
  // Only segments wholly below the flushed op went: the one holding it stays.
  EXPECT_GT(first_index, 1);
  EXPECT_LE(first_index, flushed);

  // A second round with nothing new flushes nothing and deletes nothing.
  ASSERT_TRUE(Replica()->RunMaintenance(true).ok());
  EXPECT_EQ(Replica()->maintenance_stats().flushes, 1);
  EXPECT_EQ(Replica()->maintenance_stats().wal_segments_deleted, st.wal_segments_deleted);

  // Rows after the flush live only in the WAL (and the memstore).
  Write(1990, 30);
  const ChecksumResponsePB before = Checksum();
  EXPECT_EQ(before.row_count(), 2020);

  StopManager();
  StartManager(Runtime());
  ASSERT_TRUE(WaitLeader());
  // The restart replayed from the flushed point: the log starts where GC
  // left it, the rows below come from the blocks; nothing is lost.
  EXPECT_EQ((*Replica()->driver())->wal()->FirstIndex(), first_index);
  // Ops of the previous term are applied once the new term's first op
  // commits: wait (bounded) until the replica is back where it was.
  ChecksumResponsePB after = Checksum();
  for (int i = 0; i < 2000 && after.op_index() < before.op_index(); ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    after = Checksum();
  }
  EXPECT_EQ(after.row_count(), before.row_count());
  EXPECT_EQ(after.digest(), before.digest());
  EXPECT_GE(after.op_index(), before.op_index());
}

TEST_F(ReplicaMaintenanceTest, LaggingPeerKeepsSegmentsOnlyWithinTheLimit) {
  StartManager(Runtime(/*max_segments_for_peers=*/1000));
  Create(/*ghosts=*/1);
  ASSERT_TRUE(WaitLeader());
  Write(0, 1500);
  const int segments = SegmentFiles();
  ASSERT_GT(segments, 5);
  // The ghost non-voter never answered (match index 0): within the limit,
  // everything it would need is kept despite the flush.
  ASSERT_TRUE(Replica()->RunMaintenance(true).ok());
  EXPECT_EQ(Replica()->maintenance_stats().flushes, 1);
  EXPECT_EQ(Replica()->maintenance_stats().wal_segments_deleted, 0);
  EXPECT_EQ(SegmentFiles(), segments);
  EXPECT_EQ((*Replica()->driver())->wal()->FirstIndex(), 1);

  // With a limit of 2 segments the ghost is too far behind: only the 2
  // segments before the one holding the flushed op stay (the ghost will
  // need a tablet copy).
  StopManager();
  StartManager(Runtime(/*max_segments_for_peers=*/2));
  ASSERT_TRUE(WaitLeader());
  ASSERT_TRUE(Replica()->RunMaintenance().ok());
  TabletReplica::MaintenanceStats st = Replica()->maintenance_stats();
  EXPECT_GT(st.wal_segments_deleted, 0);
  auto sb = tablet::LoadSuperBlock(layout(), kTablet);
  ASSERT_TRUE(sb.ok());
  const int64_t flushed = sb->last_flushed_op_index();
  const wal::Log* wal = (*Replica()->driver())->wal();
  EXPECT_GT(st.last_gc_retention_index, 1);
  EXPECT_LT(st.last_gc_retention_index, flushed);
  EXPECT_EQ(wal->FirstIndex(), st.last_gc_retention_index);
  auto oldest = wal->Locate(wal->FirstIndex());
  auto holding_flushed = wal->Locate(flushed);
  ASSERT_TRUE(oldest.ok() && holding_flushed.ok());
  EXPECT_EQ(holding_flushed->segment_sequence_number - oldest->segment_sequence_number, 2u);
}

TEST_F(ReplicaMaintenanceTest, CopyAnchorHoldsOffFlushAndGc) {
  StartManager(Runtime());
  Create();
  ASSERT_TRUE(WaitLeader());
  Write(0, 1000);
  const int segments = SegmentFiles();
  {
    std::shared_ptr<void> anchor = TabletReplica::AnchorForCopy(Replica());
    ASSERT_TRUE(Replica()->RunMaintenance(true).ok());
    EXPECT_EQ(Replica()->maintenance_stats().flushes, 0);
    EXPECT_EQ(SegmentFiles(), segments);
    // Anchors nest: released only when the last one goes.
    std::shared_ptr<void> second = TabletReplica::AnchorForCopy(Replica());
    anchor.reset();
    ASSERT_TRUE(Replica()->RunMaintenance(true).ok());
    EXPECT_EQ(Replica()->maintenance_stats().flushes, 0);
  }
  ASSERT_TRUE(Replica()->RunMaintenance(true).ok());
  EXPECT_EQ(Replica()->maintenance_stats().flushes, 1);
  EXPECT_LT(SegmentFiles(), segments);
}

TEST_F(ReplicaMaintenanceTest, CopyingAtStartUpIsRecoveredToTombstoned) {
  StartManager(Runtime());
  Create();
  ASSERT_TRUE(WaitLeader());
  Write(0, 500);
  ASSERT_TRUE(Replica()->RunMaintenance(true).ok());
  StopManager();
  ASSERT_FALSE(bm_->ListBlocks().empty());

  // What a crash in the middle of a tablet copy leaves: state COPYING, the
  // blocks it wrote, WAL files, temp files of atomic writes in progress.
  ASSERT_TRUE(tablet::SetDataState(layout(), kTablet, tablet::TABLET_DATA_COPYING).ok());
  const std::string wal_tmp =
      io::JoinPath(layout().WalDir(kTablet), "wal-000000009.copy.123.kudutmp");
  const std::string meta_tmp =
      io::JoinPath(layout().TabletMetaDir(), absl::StrCat(kTablet, ".kudutmp.x1"));
  ASSERT_TRUE(io::WriteFileAtomically(wal_tmp, "partial").ok());
  ASSERT_TRUE(io::WriteFileAtomically(meta_tmp, "partial").ok());
  ASSERT_GT(SegmentFiles(), 0);

  StartManager(Runtime());
  EXPECT_EQ(Replica()->data_state(), tablet::TABLET_DATA_TOMBSTONED);
  EXPECT_FALSE(io::FileExists(wal_tmp));
  EXPECT_FALSE(io::FileExists(meta_tmp));
  EXPECT_EQ(SegmentFiles(), 0);
  EXPECT_TRUE(bm_->ListBlocks().empty());
  EXPECT_TRUE(io::FileExists(layout().ConsensusMetaPath(kTablet)));
  auto sb = tablet::LoadSuperBlock(layout(), kTablet);
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sb->tablet_data_state(), tablet::TABLET_DATA_TOMBSTONED);
  EXPECT_EQ(sb->rowsets_size(), 0);
}

TEST_F(ReplicaMaintenanceTest, TombstoneStoresTheReasonAndDeletesBlocks) {
  StartManager(Runtime());
  Create();
  ASSERT_TRUE(WaitLeader());
  Write(0, 200);
  ASSERT_TRUE(Replica()->RunMaintenance(true).ok());
  ASSERT_FALSE(bm_->ListBlocks().empty());
  ASSERT_TRUE(manager_->DeleteTablet(kTablet, /*tombstone=*/true, "evicted", std::nullopt).ok());
  auto sb = tablet::LoadSuperBlock(layout(), kTablet);
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sb->tablet_data_state(), tablet::TABLET_DATA_TOMBSTONED);
  EXPECT_EQ(sb->failure_reason(), "evicted");
  EXPECT_EQ(Replica()->Status().data_state_reason(), "evicted");
  EXPECT_TRUE(bm_->ListBlocks().empty());
  EXPECT_FALSE(io::FileExists(layout().WalDir(kTablet)));
}

// Issue 19: a persist that fails for lack of space stops the replica, which
// reports FAILED (not HEALTHY) with the reason and refuses writes with a
// RESOURCE_EXHAUSTED error naming the free space, without persisting FAILED;
// once space returns, maintenance re-opens it from disk as after a crash and
// it takes writes again, with every acknowledged row present. Before, the
// replica kept reporting RUNNING and refused writes until a restart.
// One upsert of (key, value) into the test tablet.
WriteRequestPB OneRowWrite(int64_t key, const std::string& value) {
  WriteRequestPB req;
  req.set_tablet_id(kTablet);
  RowOpPB* op = req.mutable_ops()->add_ops();
  op->set_type(RowOpPB::UPSERT);
  op->add_cells()->set_int64_value(key);
  op->add_cells()->set_string_value(value);
  return req;
}

TEST_F(ReplicaMaintenanceTest, NoSpaceStopsTheReplicaHonestlyAndItReopensOnceSpaceReturns) {
  StartManager(Runtime());
  Create();
  ASSERT_TRUE(WaitLeader());
  Write(0, 200);
  const WriteRequestPB req = OneRowWrite(100000, "refused");
  {
    io::ScopedFaultInjector full;
    for (io::sys::Op o : {io::sys::Op::kWrite, io::sys::Op::kAllocate}) {
      full.Add({o, layout().WalDir(kTablet), 0, -1, {ENOSPC}});
    }
    WriteResponsePB resp;
    absl::Status s = Replica()->Write(req, &resp);
    ASSERT_FALSE(s.ok());
    server::ReplicaStatusPB st = Replica()->Status();
    EXPECT_EQ(st.data_state(), server::TABLET_DATA_FAILED);
    EXPECT_TRUE(absl::StrContains(st.data_state_reason(), "No space left on device"))
        << st.data_state_reason();
    // Maintenance while the disk is still full: stopped, still FAILED, and
    // writes refused with the typed error.
    EXPECT_EQ(Replica()->RunMaintenance().code(), absl::StatusCode::kResourceExhausted);
    s = Replica()->Write(req, &resp);
    EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
    EXPECT_TRUE(absl::StrContains(s.message(), "bytes free in")) << s;
    EXPECT_EQ(Replica()->Status().data_state(), server::TABLET_DATA_FAILED);
    // Not persisted: the condition is transient.
    absl::StatusOr<tablet::TabletSuperBlockPB> sb = tablet::LoadSuperBlock(layout(), kTablet);
    ASSERT_TRUE(sb.ok()) << sb.status();
    EXPECT_EQ(sb->tablet_data_state(), tablet::TABLET_DATA_READY);
  }
  // Space is back: the next maintenance round re-opens it from disk.
  ASSERT_TRUE(Replica()->RunMaintenance().ok());
  ASSERT_TRUE(WaitLeader());
  EXPECT_EQ(Replica()->Status().data_state(), server::TABLET_DATA_READY);
  Write(200, 100);
  EXPECT_EQ(Checksum().row_count(), 300);
}

// An I/O error (not a full disk) under the WAL: the replica stops and reports
// FAILED at once. Transient, the next maintenance round re-opens it from disk
// (never retrying the failed write: the page cache may have dropped it) with
// every acknowledged row; persistent, the re-open fails too and the replica
// is persisted FAILED with the reason, for the master to re-replicate.
TEST_F(ReplicaMaintenanceTest, AnIoErrorFailsTheReplicaAndOnlyAPersistentOneIsPersisted) {
  StartManager(Runtime());
  Create();
  ASSERT_TRUE(WaitLeader());
  Write(0, 100);
  const WriteRequestPB req = OneRowWrite(100000, "lost to EIO");
  {
    io::ScopedFaultInjector eio;
    eio.Add({io::sys::Op::kWrite, layout().WalDir(kTablet), 0, 1, {EIO}});
    WriteResponsePB resp;
    ASSERT_FALSE(Replica()->Write(req, &resp).ok());
    server::ReplicaStatusPB st = Replica()->Status();
    EXPECT_EQ(st.data_state(), server::TABLET_DATA_FAILED);
    EXPECT_TRUE(absl::StrContains(st.data_state_reason(), "Input/output error"))
        << st.data_state_reason();
  }
  // Transient: re-opened from disk, the acknowledged rows all there.
  ASSERT_TRUE(Replica()->RunMaintenance().ok());
  ASSERT_TRUE(WaitLeader());
  EXPECT_EQ(Replica()->Status().data_state(), server::TABLET_DATA_READY);
  Write(100, 50);
  // The refused row never made it: 100 acknowledged before, 50 after.
  EXPECT_EQ(Checksum().row_count(), 150);

  {
    // Persistent: every write and read of the WAL fails from now on.
    io::ScopedFaultInjector eio;
    for (io::sys::Op o : {io::sys::Op::kWrite, io::sys::Op::kRead, io::sys::Op::kOpen,
                          io::sys::Op::kAllocate}) {
      eio.Add({o, layout().WalDir(kTablet), 0, -1, {EIO}});
    }
    WriteResponsePB resp;
    ASSERT_FALSE(Replica()->Write(req, &resp).ok());
    EXPECT_FALSE(Replica()->RunMaintenance().ok());
    server::ReplicaStatusPB st = Replica()->Status();
    EXPECT_EQ(st.data_state(), server::TABLET_DATA_FAILED);
    absl::StatusOr<tablet::TabletSuperBlockPB> sb = tablet::LoadSuperBlock(layout(), kTablet);
    ASSERT_TRUE(sb.ok()) << sb.status();
    EXPECT_EQ(sb->tablet_data_state(), tablet::TABLET_DATA_FAILED);
    EXPECT_TRUE(absl::StrContains(sb->failure_reason(), "Input/output error"))
        << sb->failure_reason();
  }
}

}  // namespace
}  // namespace kmend::tserver
