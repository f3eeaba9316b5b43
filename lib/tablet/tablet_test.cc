#include "lib/tablet/tablet.h"

#include <stdlib.h>

#include <atomic>
#include <random>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/blocks/check.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/uuid.h"
#include "lib/io/file.h"
#include "lib/tablet/partition.h"
#include "lib/tablet/rowset.h"
#include "lib/tablet/superblock.h"
#include "lib/tablet/test_spec.h"
#include "lib/tablet/verify.h"

namespace kmend::tablet {
namespace {

using ::testing::HasSubstr;

kmend::RowOpPB Op(kmend::RowOpPB::Type type, int64_t k, std::optional<std::string> v = "",
                  bool flag = false) {
  kmend::RowOpPB op;
  op.set_type(type);
  op.add_cells()->set_int64_value(k);
  if (type == kmend::RowOpPB::DELETE) return op;
  kmend::CellPB* cell = op.add_cells();
  if (v) cell->set_string_value(*v);
  op.add_cells()->set_double_value(k * 0.5);
  op.add_cells()->set_bool_value(flag);
  return op;
}

kmend::WriteOpsPB Batch(std::initializer_list<kmend::RowOpPB> ops) {
  kmend::WriteOpsPB b;
  for (const auto& op : ops) *b.add_ops() = op;
  return b;
}

class TabletTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/tabXXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl + "/root";
    ASSERT_TRUE(fs::Format(root_, {"", 4096}).ok());
    OpenBlockManager();
    spec_ = AllTypesTestSpec(fs::NewUuid(), "tbl", "demo");
    auto t = Tablet::Create(layout(), bm_.get(), spec_);
    ASSERT_TRUE(t.ok()) << t.status();
    tablet_ = std::move(*t);
  }

  fs::Layout layout() const { return fs::Layout(root_); }
  void OpenBlockManager() {
    tablet_.reset();
    bm_.reset();
    blocks::BlockManagerOptions o;
    o.sync = false;  // tests: durability order is unchanged, only fdatasync skipped
    auto bm = blocks::LogBlockManager::Open(layout().DataDir(), o);
    ASSERT_TRUE(bm.ok()) << bm.status();
    bm_ = std::move(*bm);
  }
  // Simulates a restart: new block manager, tablet reopened from disk.
  absl::Status Reopen() {
    OpenBlockManager();
    auto t = Tablet::Open(layout(), bm_.get(), spec_.tablet_id);
    if (!t.ok()) return t.status();
    tablet_ = std::move(*t);
    return absl::OkStatus();
  }
  std::string Key(int64_t k) { return *EncodeKey(tablet_->schema(), {Value(k)}); }
  std::vector<int64_t> Keys(const ScanResult& r) {
    std::vector<int64_t> out;
    for (const Row& row : r.rows) out.push_back(std::get<int64_t>(row[0]));
    return out;
  }
  std::vector<int64_t> AllKeys() { return Keys(tablet_->Scan({})); }

  std::string root_;
  TabletSpec spec_;
  std::unique_ptr<blocks::LogBlockManager> bm_;
  std::unique_ptr<Tablet> tablet_;
};

TEST_F(TabletTest, ApplySemantics) {
  auto r = tablet_->Apply(
      Batch({Op(kmend::RowOpPB::INSERT, 2, "two"), Op(kmend::RowOpPB::INSERT, 1, std::nullopt),
             Op(kmend::RowOpPB::INSERT, 2, "again")}),
      1);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->row_status.size(), 3u);
  EXPECT_TRUE(r->row_status[0].ok());
  EXPECT_TRUE(r->row_status[1].ok());
  EXPECT_EQ(r->row_status[2].code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r->row_status[2].message(), "key (2) already exists");
  EXPECT_EQ(r->rows_applied, 2);

  r = tablet_->Apply(
      Batch({Op(kmend::RowOpPB::UPSERT, 2, "TWO"), Op(kmend::RowOpPB::UPSERT, 3, "three"),
             Op(kmend::RowOpPB::DELETE, 1), Op(kmend::RowOpPB::DELETE, 9)}),
      2);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->row_status[0].ok());
  EXPECT_TRUE(r->row_status[1].ok());
  EXPECT_TRUE(r->row_status[2].ok());
  EXPECT_EQ(r->row_status[3].code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(AllKeys(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(std::get<std::string>((*tablet_->Get(Key(2)))[1]), "TWO");
  EXPECT_FALSE(tablet_->Get(Key(1)).has_value());

  // Insert after delete works; bad cells are per-row InvalidArgument.
  kmend::RowOpPB bad = Op(kmend::RowOpPB::INSERT, 5);
  bad.mutable_cells(2)->set_string_value("not a double");
  r = tablet_->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1, "one"), bad}), 3);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->row_status[0].ok());
  EXPECT_EQ(r->row_status[1].code(), absl::StatusCode::kInvalidArgument);

  // Op indexes only move forward.
  EXPECT_EQ(tablet_->Apply(Batch({}), 3).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(tablet_->MarkApplied(2).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(tablet_->MarkApplied(4).ok());
  EXPECT_EQ(tablet_->applied_op_index(), 4);
}

TEST_F(TabletTest, ScanRangesLimitsAndContinuation) {
  kmend::WriteOpsPB b;
  for (int64_t k : {5, -3, 10, 0, 7, 100, -100}) *b.add_ops() = Op(kmend::RowOpPB::INSERT, k);
  ASSERT_TRUE(tablet_->Apply(b, 1).ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  ASSERT_TRUE(
      tablet_->Apply(Batch({Op(kmend::RowOpPB::DELETE, 7), Op(kmend::RowOpPB::INSERT, 6)}), 2)
          .ok());
  EXPECT_EQ(AllKeys(), (std::vector<int64_t>{-100, -3, 0, 5, 6, 10, 100}));
  EXPECT_EQ(Keys(tablet_->Scan({Key(0), Key(10), 0})), (std::vector<int64_t>{0, 5, 6}));

  std::vector<int64_t> paged;
  ScanSpec spec;
  spec.limit = 3;
  while (true) {
    ScanResult r = tablet_->Scan(spec);
    for (int64_t k : Keys(r)) paged.push_back(k);
    if (!r.more) break;
    EXPECT_EQ(r.rows.size(), 3u);
    spec.start_key = r.last_key + std::string(1, '\0');
  }
  EXPECT_EQ(paged, AllKeys());
  EXPECT_EQ(tablet_->CountRows(), 7);
}

TEST_F(TabletTest, FlushThenReopenKeepsRowsAndIndex) {
  ASSERT_TRUE(tablet_
                  ->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1, "a", true),
                                 Op(kmend::RowOpPB::INSERT, 2, std::nullopt)}),
                          7)
                  .ok());
  TabletChecksum before = tablet_->Checksum();
  auto f = tablet_->Flush();
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_TRUE(f->flushed);
  EXPECT_EQ(f->flushed_op_index, 7);
  EXPECT_EQ(f->rows, 2);
  EXPECT_EQ(f->blocks_written, 4);
  EXPECT_EQ(tablet_->memstore_entries(), 0);
  EXPECT_EQ(tablet_->last_flushed_op_index(), 7);
  // Nothing new: a second flush is a no-op.
  EXPECT_FALSE(tablet_->Flush()->flushed);

  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(tablet_->last_flushed_op_index(), 7);
  EXPECT_EQ(tablet_->applied_op_index(), 7);
  TabletChecksum after = tablet_->Checksum();
  EXPECT_EQ(after.digest, before.digest);
  EXPECT_EQ(after.row_count, 2);
  Row r1 = *tablet_->Get(Key(1));
  EXPECT_EQ(RowToString(r1), "(1, \"a\", 0.5, true)");
  EXPECT_TRUE(IsNull((*tablet_->Get(Key(2)))[1]));
}

// Deletes of flushed rows are memstore tombstones until the next flush
// rewrites the rowset without them.
TEST_F(TabletTest, DeletesOfFlushedRows) {
  ASSERT_TRUE(tablet_
                  ->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1), Op(kmend::RowOpPB::INSERT, 2),
                                 Op(kmend::RowOpPB::INSERT, 3)}),
                          1)
                  .ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::DELETE, 2)}), 2).ok());
  EXPECT_EQ(AllKeys(), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(tablet_->memstore_entries(), 1);
  // A delete of the deleted key fails; re-insert succeeds.
  auto r = tablet_->Apply(Batch({Op(kmend::RowOpPB::DELETE, 2)}), 3);
  EXPECT_EQ(r->row_status[0].code(), absl::StatusCode::kNotFound);

  // Without a flush, a restart shows the flushed state (the WAL replays op 2).
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(AllKeys(), (std::vector<int64_t>{1, 2, 3}));
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::DELETE, 2)}), 2).ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(AllKeys(), (std::vector<int64_t>{1, 3}));
  EXPECT_EQ(tablet_->superblock().rowsets_size(), 1);
  // The previous rowset's blocks were deleted: only the live rowset's remain.
  EXPECT_EQ(bm_->ListBlocks().size(), 4u);
  EXPECT_EQ(tablet_->superblock().orphaned_blocks_size(), 4);  // cleared at the next write
}

TEST_F(TabletTest, DeletingEverythingLeavesNoRowset) {
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1)}), 1).ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::DELETE, 1)}), 2).ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  EXPECT_EQ(tablet_->superblock().rowsets_size(), 0);
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(tablet_->CountRows(), 0);
  EXPECT_TRUE(bm_->ListBlocks().empty());
}

TEST_F(TabletTest, FlushOfIndexOnlyAdvancesLastFlushed) {
  ASSERT_TRUE(tablet_->MarkApplied(5).ok());
  auto f = tablet_->Flush();
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f->flushed);
  EXPECT_EQ(f->blocks_written, 0);
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(tablet_->last_flushed_op_index(), 5);
}

TEST_F(TabletTest, WritesAfterFlushStayInMemstore) {
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1)}), 1).ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::UPSERT, 1, "new")}), 2).ok());
  EXPECT_EQ(tablet_->memstore_entries(), 1);
  EXPECT_GT(tablet_->memstore_bytes(), 0u);
  EXPECT_EQ(std::get<std::string>((*tablet_->Get(Key(1)))[1]), "new");
}

// The checksum depends only on the live rows, not on the order of writes or
// on which of them were flushed.
TEST_F(TabletTest, ChecksumIsOrderIndependent) {
  ASSERT_TRUE(
      tablet_
          ->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1, "x"), Op(kmend::RowOpPB::INSERT, 2, "y")}),
                  1)
          .ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  ASSERT_TRUE(tablet_
                  ->Apply(Batch({Op(kmend::RowOpPB::INSERT, 3, "z"), Op(kmend::RowOpPB::DELETE, 1),
                                 Op(kmend::RowOpPB::INSERT, 1, "x")}),
                          2)
                  .ok());
  TabletChecksum a = tablet_->Checksum();

  // A second tablet, same rows, other order, never flushed.
  TabletSpec other = spec_;
  other.tablet_id = fs::NewUuid();
  auto t2 = Tablet::Create(layout(), bm_.get(), other);
  ASSERT_TRUE(t2.ok());
  ASSERT_TRUE(
      (*t2)
          ->Apply(Batch({Op(kmend::RowOpPB::INSERT, 3, "z"), Op(kmend::RowOpPB::INSERT, 2, "y"),
                         Op(kmend::RowOpPB::INSERT, 1, "x")}),
                  1)
          .ok());
  TabletChecksum b = (*t2)->Checksum();
  EXPECT_EQ(a.digest, b.digest);
  EXPECT_EQ(a.row_count, 3);
  EXPECT_EQ(b.row_count, 3);
  ASSERT_TRUE((*t2)->Apply(Batch({Op(kmend::RowOpPB::UPSERT, 2, "Y")}), 2).ok());
  EXPECT_NE((*t2)->Checksum().digest, a.digest);
}

// A crash after a flush wrote its blocks but before the superblock rename:
// the old superblock still loads, and the new blocks show up as unreferenced.
TEST_F(TabletTest, CrashBeforeSuperblockRenameKeepsOldState) {
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1)}), 1).ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::INSERT, 2)}), 2).ok());
  TabletChecksum flushed_state;
  {
    // Step 1 of a flush (blocks written and synced), then "crash".
    KeyedRows rows;
    for (int64_t k : {1, 2}) rows.emplace_back(Key(k), *tablet_->Get(Key(k)));
    auto rs = WriteRowSet(tablet_->schema(), rows, 2, bm_.get());
    ASSERT_TRUE(rs.ok()) << rs.status();
  }
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(AllKeys(), (std::vector<int64_t>{1}));
  EXPECT_EQ(tablet_->last_flushed_op_index(), 1);
  auto unref = FindUnreferencedBlocks(root_, bm_.get());
  ASSERT_TRUE(unref.ok()) << unref.status();
  EXPECT_EQ(unref->size(), 4u);
  // The block containers themselves are sound.
  auto check = blocks::Check(layout().DataDir());
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->clean());
  auto v = Verify(root_, spec_.tablet_id, bm_.get());
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->ok());

  // Garbage collection: dry run lists, apply deletes; the tablet is intact.
  auto dry = DeleteUnreferencedBlocks(root_, bm_.get());
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(*dry, *unref);
  EXPECT_EQ(bm_->ListBlocks().size(), 8u);
  auto applied = DeleteUnreferencedBlocks(root_, bm_.get(), /*apply=*/true);
  ASSERT_TRUE(applied.ok()) << applied.status();
  EXPECT_EQ(bm_->ListBlocks().size(), 4u);
  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(AllKeys(), (std::vector<int64_t>{1}));
}

// The receiving side of a tablet copy: blocks stored under new ids, the
// superblock remapped, COPYING first and READY last.
TEST_F(TabletTest, CopiedTabletWithRemappedBlocksOpens) {
  ASSERT_TRUE(
      tablet_
          ->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1, "a"), Op(kmend::RowOpPB::INSERT, 2, "b")}),
                  4)
          .ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  TabletSuperBlockPB source = tablet_->superblock();
  const uint64_t digest = tablet_->Checksum().digest;

  // A second server root.
  std::string root2 = root_ + "-copy";
  ASSERT_TRUE(fs::Format(root2, {"", 4096}).ok());
  fs::Layout layout2(root2);
  auto bm2 = *blocks::LogBlockManager::Open(layout2.DataDir());
  ASSERT_TRUE(bm2->CreateBlock("an unrelated block, so that ids differ").ok());
  std::map<uint64_t, uint64_t> mapping;
  for (uint64_t id : RowSetBlockIds(source)) {
    auto id2 = bm2->CreateBlock(*bm_->ReadBlock(id));
    ASSERT_TRUE(id2.ok());
    mapping[id] = *id2;
  }
  TabletSuperBlockPB copied = source;
  std::map<uint64_t, uint64_t> partial = mapping;
  partial.erase(partial.begin());
  EXPECT_EQ(RemapBlockIds(partial, &copied).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(copied.SerializeAsString(), source.SerializeAsString());
  ASSERT_TRUE(RemapBlockIds(mapping, &copied).ok());
  copied.set_tablet_data_state(TABLET_DATA_COPYING);
  ASSERT_TRUE(StoreSuperBlock(layout2, copied).ok());
  EXPECT_EQ(Tablet::Open(layout2, bm2.get(), spec_.tablet_id).status().code(),
            absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(SetDataState(layout2, spec_.tablet_id, TABLET_DATA_READY).ok());
  auto t2 = Tablet::Open(layout2, bm2.get(), spec_.tablet_id);
  ASSERT_TRUE(t2.ok()) << t2.status();
  EXPECT_EQ((*t2)->Checksum().digest, digest);
  EXPECT_EQ((*t2)->last_flushed_op_index(), 4);
}

// A crash after the superblock rename but before the old blocks were deleted:
// Open deletes them (they are listed in orphaned_blocks).
TEST_F(TabletTest, CrashAfterRenameDeletesOrphanedBlocksAtOpen) {
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1)}), 1).ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  TabletSuperBlockPB sb = tablet_->superblock();
  std::vector<uint64_t> old_blocks = RowSetBlockIds(sb);
  KeyedRows rows;
  rows.emplace_back(Key(1), *tablet_->Get(Key(1)));
  rows.emplace_back(Key(2), Row{int64_t{2}, Value(), 1.0, false});
  auto rs = WriteRowSet(tablet_->schema(), rows, 2, bm_.get());
  ASSERT_TRUE(rs.ok());
  sb.clear_rowsets();
  *sb.add_rowsets() = *rs;
  for (uint64_t id : old_blocks) sb.add_orphaned_blocks()->set_id(id);
  sb.set_last_flushed_op_index(2);
  ASSERT_TRUE(StoreSuperBlock(layout(), sb).ok());

  ASSERT_TRUE(Reopen().ok());
  EXPECT_EQ(AllKeys(), (std::vector<int64_t>{1, 2}));
  for (uint64_t id : old_blocks) EXPECT_FALSE(bm_->HasBlock(id)) << id;
  EXPECT_TRUE(FindUnreferencedBlocks(root_, bm_.get())->empty());
}

TEST_F(TabletTest, CorruptBlockFailsOpenWithDataLossAndVerifyNamesIt) {
  ASSERT_TRUE(tablet_
                  ->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1, "hello"),
                                 Op(kmend::RowOpPB::INSERT, 2, "world")}),
                          1)
                  .ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  const uint64_t victim = tablet_->superblock().rowsets(0).columns(1).block().id();
  auto loc = bm_->Locate(victim);
  ASSERT_TRUE(loc.ok());
  const std::string data_path = io::JoinPath(layout().DataDir(), loc->container_id + ".data");
  tablet_.reset();
  bm_.reset();
  std::string data = *io::ReadFileToString(data_path);
  data[loc->offset + 30] ^= 0x04;
  ASSERT_TRUE(io::WriteFileAtomically(data_path, data).ok());

  absl::Status s = Reopen();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr(BlockIdToString(victim)));
  EXPECT_THAT(std::string(s.message()), HasSubstr("crc mismatch"));
  EXPECT_THAT(std::string(s.message()), HasSubstr(spec_.tablet_id));

  auto v = Verify(root_, spec_.tablet_id);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->ok());
  ASSERT_EQ(v->block_problems.size(), 1u);
  EXPECT_EQ(v->block_problems[0].block_id, victim);
  EXPECT_EQ(v->blocks_checked, 4);

  // The server's reaction: mark the replica FAILED; Open then refuses it.
  ASSERT_TRUE(
      SetDataState(layout(), spec_.tablet_id, TABLET_DATA_FAILED, std::string(s.message())).ok());
  EXPECT_EQ(Reopen().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(TabletTest, MissingBlockIsDataLoss) {
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1)}), 1).ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  const uint64_t victim = tablet_->superblock().rowsets(0).columns(0).block().id();
  ASSERT_TRUE(bm_->DeleteBlock(victim).ok());
  absl::Status s = Reopen();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(s.message()), HasSubstr("missing"));
  auto v = Verify(root_, spec_.tablet_id);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->block_problems.size(), 1u);
  EXPECT_EQ(v->block_problems[0].problem, "missing from the block manager");
}

TEST_F(TabletTest, VerifyReportsUnloadableSuperblock) {
  ASSERT_TRUE(io::WriteFileAtomically(layout().TabletMetaPath(spec_.tablet_id), "garbage").ok());
  auto v = Verify(root_, spec_.tablet_id);
  ASSERT_TRUE(v.ok());
  EXPECT_FALSE(v->superblock_error.empty());
  EXPECT_FALSE(v->ok());
}

TEST_F(TabletTest, CreateRefusesDuplicatesAndBadIds) {
  EXPECT_EQ(Tablet::Create(layout(), bm_.get(), spec_).status().code(),
            absl::StatusCode::kAlreadyExists);
  TabletSpec bad = spec_;
  bad.tablet_id = "nope";
  EXPECT_EQ(Tablet::Create(layout(), bm_.get(), bad).status().code(),
            absl::StatusCode::kInvalidArgument);
  auto listed = fs::ListTablets(layout());
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(*listed, std::vector<std::string>{spec_.tablet_id});
}

TEST_F(TabletTest, TombstoneDeletesDataAndAllowsRecreate) {
  ASSERT_TRUE(tablet_->Apply(Batch({Op(kmend::RowOpPB::INSERT, 1)}), 1).ok());
  ASSERT_TRUE(tablet_->Flush().ok());
  EXPECT_EQ(bm_->ListBlocks().size(), 4u);
  tablet_.reset();
  kmend::consensus::OpId last;
  last.set_term(3);
  last.set_index(9);
  ASSERT_TRUE(Tablet::Tombstone(layout(), bm_.get(), spec_.tablet_id, &last, "replaced").ok());
  EXPECT_TRUE(bm_->ListBlocks().empty());
  auto sb = LoadSuperBlock(layout(), spec_.tablet_id);
  ASSERT_TRUE(sb.ok());
  EXPECT_EQ(sb->tablet_data_state(), TABLET_DATA_TOMBSTONED);
  // The reason travels in the same (single) superblock write.
  EXPECT_EQ(sb->failure_reason(), "replaced");
  EXPECT_EQ(sb->rowsets_size(), 0);
  EXPECT_EQ(sb->tombstone_last_logged_opid().index(), 9);
  EXPECT_EQ(Reopen().code(), absl::StatusCode::kFailedPrecondition);

  // A tombstoned tablet may be created again (e.g. as a tablet copy target).
  TabletSpec copy = spec_;
  copy.initial_state = TABLET_DATA_COPYING;
  auto t = Tablet::Create(layout(), bm_.get(), copy);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ((*t)->superblock().tablet_data_state(), TABLET_DATA_COPYING);
  // ... but not one that is live (COPYING here).
  EXPECT_EQ(Tablet::Create(layout(), bm_.get(), spec_).status().code(),
            absl::StatusCode::kAlreadyExists);
  // A crash during the copy: the server tombstones the COPYING replica.
  ASSERT_TRUE(Tablet::Tombstone(layout(), bm_.get(), spec_.tablet_id).ok());
  EXPECT_EQ(LoadSuperBlock(layout(), spec_.tablet_id)->tablet_data_state(), TABLET_DATA_TOMBSTONED);
}

// Many random operations with flushes and restarts in between agree with a
// plain std::map model.
TEST_F(TabletTest, RandomOpsMatchModel) {
  std::mt19937_64 rng(1234);
  std::map<int64_t, std::string> model;
  int64_t index = 0;
  for (int round = 0; round < 30; ++round) {
    kmend::WriteOpsPB b;
    std::map<int64_t, std::string> next = model;
    for (int i = 0; i < 20; ++i) {
      int64_t k = static_cast<int64_t>(rng() % 50);
      std::string v = std::to_string(rng() % 1000);
      switch (rng() % 3) {
        case 0:
          *b.add_ops() = Op(kmend::RowOpPB::INSERT, k, v);
          next.emplace(k, v);
          break;
        case 1:
          *b.add_ops() = Op(kmend::RowOpPB::UPSERT, k, v);
          next[k] = v;
          break;
        case 2:
          *b.add_ops() = Op(kmend::RowOpPB::DELETE, k);
          next.erase(k);
          break;
      }
    }
    ASSERT_TRUE(tablet_->Apply(b, ++index).ok());
    model = next;
    if (round % 4 == 3) {
      ASSERT_TRUE(tablet_->Flush().ok());
    }
    if (round % 7 == 6) {
      ASSERT_TRUE(tablet_->Flush().ok());
      ASSERT_TRUE(Reopen().ok());
    }
    ScanResult r = tablet_->Scan({});
    ASSERT_EQ(r.rows.size(), model.size()) << "round " << round;
    size_t i = 0;
    for (const auto& [k, v] : model) {
      EXPECT_EQ(std::get<int64_t>(r.rows[i][0]), k);
      EXPECT_EQ(std::get<std::string>(r.rows[i][1]), v);
      ++i;
    }
  }
  for (const auto& [k, v] : model) {
    int b = HashBucket(Key(k), 4);
    EXPECT_GE(b, 0);
    EXPECT_LT(b, 4);
  }
}

// Applies and scans keep going while another thread flushes; whatever the
// interleaving, the final rows are those of the ops applied, and they survive
// a final flush and restart.
TEST_F(TabletTest, ConcurrentApplyScanAndFlush) {
  std::atomic<bool> done{false};
  std::thread flusher([&] {
    while (!done.load()) {
      auto f = tablet_->Flush();
      ASSERT_TRUE(f.ok()) << f.status();
    }
  });
  std::thread scanner([&] {
    while (!done.load()) {
      ScanResult r = tablet_->Scan({});
      // Keys are always in order, whatever is being flushed.
      for (size_t i = 1; i < r.rows.size(); ++i) {
        ASSERT_LT(std::get<int64_t>(r.rows[i - 1][0]), std::get<int64_t>(r.rows[i][0]));
      }
    }
  });
  std::map<int64_t, std::string> model;
  for (int64_t index = 1; index <= 300; ++index) {
    const int64_t k = index % 37;
    kmend::WriteOpsPB b;
    if (index % 5 == 0) {
      *b.add_ops() = Op(kmend::RowOpPB::DELETE, k);
      model.erase(k);
    } else {
      *b.add_ops() = Op(kmend::RowOpPB::UPSERT, k, std::to_string(index));
      model[k] = std::to_string(index);
    }
    ASSERT_TRUE(tablet_->Apply(b, index).ok());
  }
  done = true;
  flusher.join();
  scanner.join();
  auto check = [&] {
    ScanResult r = tablet_->Scan({});
    ASSERT_EQ(r.rows.size(), model.size());
    size_t i = 0;
    for (const auto& [k, v] : model) {
      EXPECT_EQ(std::get<int64_t>(r.rows[i][0]), k);
      EXPECT_EQ(std::get<std::string>(r.rows[i][1]), v);
      ++i;
    }
  };
  check();
  ASSERT_TRUE(tablet_->Flush().ok());
  EXPECT_EQ(tablet_->memstore_entries(), 0);
  TabletChecksum before = tablet_->Checksum();
  ASSERT_TRUE(Reopen().ok());
  check();
  EXPECT_EQ(tablet_->Checksum().digest, before.digest);
  EXPECT_EQ(tablet_->last_flushed_op_index(), 300);
}

}  // namespace
}  // namespace kmend::tablet
