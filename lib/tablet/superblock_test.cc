#include "lib/tablet/superblock.h"

#include <stdlib.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/format/pb_container.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/uuid.h"
#include "lib/io/file.h"

namespace kmend::tablet {
namespace {

using ::testing::HasSubstr;

class SuperBlockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/sbXXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl + "/root";
    ASSERT_TRUE(fs::Format(root_, {"", 4096}).ok());
    tablet_id_ = fs::NewUuid();
    sb_.set_table_id("table-1");
    sb_.set_tablet_id(tablet_id_);
    sb_.set_last_durable_mrs_id(1);
    sb_.set_table_name("t");
    auto* c = sb_.mutable_schema()->add_columns();
    c->set_id(0);
    c->set_name("k");
    c->set_type(kmend::INT64);
    c->set_is_key(true);
    c = sb_.mutable_schema()->add_columns();
    c->set_id(1);
    c->set_name("v");
    c->set_type(kmend::STRING);
    c->set_is_nullable(true);
    sb_.set_schema_version(0);
    sb_.set_tablet_data_state(TABLET_DATA_READY);
    sb_.set_last_flushed_op_index(17);
    RowSetDataPB* rs = sb_.add_rowsets();
    rs->set_id(1);
    rs->set_last_durable_dms_id(0);
    rs->add_columns()->mutable_block()->set_id(5);
    rs->add_columns()->mutable_block()->set_id(6);
  }

  fs::Layout layout() const { return fs::Layout(root_); }

  std::string root_;
  std::string tablet_id_;
  TabletSuperBlockPB sb_;
};

TEST_F(SuperBlockTest, StoreLoadRoundTrip) {
  ASSERT_TRUE(StoreSuperBlock(layout(), sb_).ok());
  auto loaded = LoadSuperBlock(layout(), tablet_id_);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  EXPECT_EQ(loaded->SerializeAsString(), sb_.SerializeAsString());
  EXPECT_EQ(loaded->last_flushed_op_index(), 17);
  EXPECT_EQ(RowSetBlockIds(*loaded), (std::vector<uint64_t>{5, 6}));
  auto r = pbc::Reader::Open(layout().TabletMetaPath(tablet_id_));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->pb_type(), "kmend.tablet.TabletSuperBlockPB");
}

TEST_F(SuperBlockTest, KmendFieldsUseNumbersKuduLacks) {
  // Field numbers are part of the on-disk format; pin them.
  const auto* d = TabletSuperBlockPB::descriptor();
  EXPECT_EQ(d->FindFieldByName("last_flushed_op_index")->number(), 1000);
  EXPECT_EQ(d->FindFieldByName("tablet_data_state")->number(), 10);
  EXPECT_EQ(d->FindFieldByName("orphaned_blocks")->number(), 11);
  EXPECT_EQ(d->FindFieldByName("txn_metadata")->number(), 20);
  EXPECT_EQ(TABLET_DATA_FAILED, 100);
  EXPECT_EQ(TABLET_DATA_TOMBSTONED, 3);
  EXPECT_EQ(ColumnDataPB::descriptor()->FindFieldByName("block")->number(), 2);
}

TEST_F(SuperBlockTest, SetDataState) {
  ASSERT_TRUE(StoreSuperBlock(layout(), sb_).ok());
  ASSERT_TRUE(SetDataState(layout(), tablet_id_, TABLET_DATA_FAILED, "block 5: crc mismatch").ok());
  auto s = LoadSuperBlock(layout(), tablet_id_);
  EXPECT_EQ(s->tablet_data_state(), TABLET_DATA_FAILED);
  EXPECT_EQ(s->failure_reason(), "block 5: crc mismatch");
  ASSERT_TRUE(SetDataState(layout(), tablet_id_, TABLET_DATA_TOMBSTONED).ok());
  s = LoadSuperBlock(layout(), tablet_id_);
  EXPECT_EQ(s->tablet_data_state(), TABLET_DATA_TOMBSTONED);
  EXPECT_FALSE(s->has_failure_reason());
  EXPECT_EQ(DataStateName(TABLET_DATA_FAILED), "FAILED");
}

TEST_F(SuperBlockTest, ValidationRejectsInconsistentSuperblocks) {
  TabletSuperBlockPB wrong_cols = sb_;
  wrong_cols.mutable_rowsets(0)->mutable_columns()->RemoveLast();
  EXPECT_THAT(std::string(StoreSuperBlock(layout(), wrong_cols).message()),
              HasSubstr("1 column blocks, schema has 2 columns"));

  TabletSuperBlockPB dup = sb_;
  dup.mutable_rowsets(0)->mutable_columns(1)->mutable_block()->set_id(5);
  EXPECT_THAT(std::string(StoreSuperBlock(layout(), dup).message()), HasSubstr("named twice"));

  TabletSuperBlockPB bad_id = sb_;
  bad_id.set_tablet_id("x");
  EXPECT_EQ(StoreSuperBlock(layout(), bad_id).code(), absl::StatusCode::kInvalidArgument);

  TabletSuperBlockPB bad_schema = sb_;
  bad_schema.mutable_schema()->mutable_columns(0)->set_is_key(false);
  EXPECT_THAT(std::string(ValidateSuperBlock(bad_schema, "p").message()),
              HasSubstr("field schema"));
}

TEST_F(SuperBlockTest, DamagedOrMisnamedFilesAreDataLoss) {
  EXPECT_EQ(LoadSuperBlock(layout(), tablet_id_).status().code(), absl::StatusCode::kNotFound);
  ASSERT_TRUE(StoreSuperBlock(layout(), sb_).ok());
  const std::string path = layout().TabletMetaPath(tablet_id_);
  std::string bytes = *io::ReadFileToString(path);

  std::string damaged = bytes;
  damaged[damaged.size() - 8] ^= 0x20;
  ASSERT_TRUE(io::WriteFileAtomically(path, damaged).ok());
  auto r = LoadSuperBlock(layout(), tablet_id_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status().message()), HasSubstr(tablet_id_));

  // The same superblock under another tablet's name.
  std::string other = fs::NewUuid();
  ASSERT_TRUE(io::WriteFileAtomically(layout().TabletMetaPath(other), bytes).ok());
  auto m = LoadSuperBlock(layout(), other);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("file name"));
}

}  // namespace
}  // namespace kmend::tablet
