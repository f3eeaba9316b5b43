#include "lib/blocks/check.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/format/pb_container.h"
#include "lib/fs/fs_manager.h"
#include "lib/io/file.h"
#include "proto/fs.pb.h"

namespace kmend::blocks {
namespace {

using ::testing::HasSubstr;

class CheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = getenv("TEST_TMPDIR");
    std::string tmpl = std::string(base ? base : "/tmp") + "/chkXXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    ASSERT_TRUE(fs::Format(tmpl + "/root", {"", 4096}).ok());
    dir_ = fs::Layout(tmpl + "/root").DataDir();
    auto bm = LogBlockManager::Open(dir_);
    ASSERT_TRUE(bm.ok());
    auto ids = (*bm)->CreateBlocks({"block one", std::string(5000, 'b')});
    ASSERT_TRUE(ids.ok());
    ids_ = *ids;
    container_ = (*bm)->Locate(ids_[0])->container_id;
    meta_ = io::JoinPath(dir_, container_ + ".metadata");
    data_ = io::JoinPath(dir_, container_ + ".data");
  }

  void AppendRaw(const std::string& bytes) {
    int fd = ::open(meta_.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
    ::close(fd);
  }
  void AppendRecord(const BlockRecordPB& rec) {
    AppendRaw(pbc::EncodeRecord(pbc::kVersion2, rec.SerializePartialAsString()));
  }
  static BlockRecordPB Record(BlockId id, BlockRecordType type) {
    BlockRecordPB rec;
    rec.mutable_block_id()->set_id(id);
    rec.set_op_type(type);
    rec.set_timestamp_us(123);
    return rec;
  }

  // Runs Check and expects exactly one issue of `kind`.
  ContainerIssue ExpectOneIssue(IssueKind kind) {
    auto report = Check(dir_);
    EXPECT_TRUE(report.ok()) << report.status();
    if (!report.ok()) return {};
    EXPECT_EQ(report->issues.size(), 1u);
    if (report->issues.size() != 1) {
      for (auto& i : report->issues) ADD_FAILURE() << IssueKindName(i.kind) << ": " << i.detail;
      return {};
    }
    EXPECT_EQ(report->issues[0].kind, kind) << IssueKindName(report->issues[0].kind);
    return report->issues[0];
  }

  std::string dir_, container_, meta_, data_;
  std::vector<BlockId> ids_;
};

TEST_F(CheckTest, CleanDirectory) {
  auto report = Check(dir_);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->clean());
  EXPECT_EQ(report->containers, 1);
  EXPECT_EQ(report->live_blocks, 2);
  EXPECT_EQ(report->live_bytes, 5009u);
}

TEST_F(CheckTest, TornTailReportedWithOffsetAndRepaired) {
  uint64_t size = *io::FileSize(meta_);
  std::string rec = pbc::EncodeRecord(pbc::kVersion2, Record(50, DELETE).SerializeAsString());
  AppendRaw(rec.substr(0, rec.size() - 3));
  ContainerIssue i = ExpectOneIssue(IssueKind::kTornMetadataTail);
  EXPECT_EQ(i.offset, size);
  EXPECT_EQ(i.path, meta_);

  // Dry run: the plan, nothing changed.
  auto plan = Repair(dir_);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_FALSE(plan->applied);
  ASSERT_EQ(plan->actions.size(), 1u);
  EXPECT_EQ(plan->actions[0].kind, RepairAction::Kind::kTruncateMetadata);
  EXPECT_EQ(plan->actions[0].truncate_to, size);
  EXPECT_FALSE(plan->actions[0].done);
  EXPECT_EQ(*io::FileSize(meta_), size + rec.size() - 3);

  auto done = Repair(dir_, /*apply=*/true);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_TRUE(done->applied);
  EXPECT_TRUE(done->actions[0].done);
  EXPECT_EQ(*io::FileSize(meta_), size);
  EXPECT_TRUE(Check(dir_)->clean());
}

TEST_F(CheckTest, CreateWithoutRange) {
  AppendRecord(Record(10, CREATE));
  ContainerIssue i = ExpectOneIssue(IssueKind::kCreateWithoutRange);
  EXPECT_EQ(i.block_id, 10u);
}

TEST_F(CheckTest, CreateNegativeRange) {
  BlockRecordPB r = Record(11, CREATE);
  r.set_offset(-4096);
  r.set_length(10);
  AppendRecord(r);
  ExpectOneIssue(IssueKind::kCreateNegativeRange);
}

TEST_F(CheckTest, BlockPastEndOfData) {
  BlockRecordPB r = Record(12, CREATE);
  r.set_offset(3 * 4096);
  r.set_length(100);
  AppendRecord(r);
  ContainerIssue i = ExpectOneIssue(IssueKind::kBlockPastEndOfData);
  EXPECT_THAT(i.detail, HasSubstr("past the end"));
  // A zero-length block at the end is fine (Kudu's rule: length > 0).
}

TEST_F(CheckTest, DuplicateCreate) {
  BlockRecordPB r = Record(ids_[0], CREATE);
  r.set_offset(0);
  r.set_length(3);
  AppendRecord(r);
  ContainerIssue i = ExpectOneIssue(IssueKind::kDuplicateCreate);
  EXPECT_EQ(i.block_id, ids_[0]);
}

TEST_F(CheckTest, DeleteUnknownBlock) {
  AppendRecord(Record(999, DELETE));
  ContainerIssue i = ExpectOneIssue(IssueKind::kDeleteUnknownBlock);
  EXPECT_EQ(i.block_id, 999u);
}

TEST_F(CheckTest, UnknownRecordType) {
  AppendRecord(Record(13, UNKNOWN));
  ExpectOneIssue(IssueKind::kUnknownRecordType);
}

TEST_F(CheckTest, UnparsableRecord) {
  // A well-framed record whose bytes are not a BlockRecordPB (required
  // fields missing).
  AppendRaw(pbc::EncodeRecord(pbc::kVersion2, std::string("\x18\x05", 2)));
  ExpectOneIssue(IssueKind::kUnparsableRecord);
}

TEST_F(CheckTest, CorruptMetadataIsReportedAndNotRepaired) {
  auto bytes = io::ReadFileToString(meta_);
  std::string b = *bytes;
  b[b.size() - 10] ^= 0x01;  // inside the last record's data
  ASSERT_TRUE(io::WriteFileAtomically(meta_, b).ok());
  ContainerIssue i = ExpectOneIssue(IssueKind::kCorruptMetadata);
  EXPECT_GT(i.offset, 0u);
  auto plan = Repair(dir_);
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->actions.empty());
}

TEST_F(CheckTest, OrphanContainersAreReportedAndDeletedOnlyWhenAsked) {
  // Kudu's rule 1: metadata shorter than 12 bytes and empty data.
  std::string id1(32, 'a');
  ASSERT_TRUE(io::WriteFileAtomically(io::JoinPath(dir_, id1 + ".metadata"), "kudu").ok());
  ASSERT_TRUE(io::WriteFileAtomically(io::JoinPath(dir_, id1 + ".data"), "").ok());
  // Kudu's rule 2: no .data and no live blocks.
  std::string id2(32, 'b');
  {
    auto w = pbc::Writer::Create(io::JoinPath(dir_, id2 + ".metadata"), BlockRecordPB());
    ASSERT_TRUE(w.ok());
    ASSERT_TRUE((*w)->Close().ok());
  }
  auto report = Check(dir_);
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->issues.size(), 2u);
  for (const ContainerIssue& i : report->issues) {
    EXPECT_EQ(i.kind, IssueKind::kOrphanContainer) << i.detail;
  }
  auto plan = Repair(dir_);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->actions.size(), 3u);  // id1's two files, id2's metadata
  EXPECT_TRUE(io::FileExists(io::JoinPath(dir_, id1 + ".data")));
  ASSERT_TRUE(Repair(dir_, true).ok());
  EXPECT_FALSE(io::FileExists(io::JoinPath(dir_, id1 + ".data")));
  EXPECT_FALSE(io::FileExists(io::JoinPath(dir_, id2 + ".metadata")));
  auto after = Check(dir_);
  EXPECT_TRUE(after->clean());
  EXPECT_EQ(after->live_blocks, 2);
}

TEST_F(CheckTest, MissingDataFile) {
  ASSERT_EQ(::unlink(data_.c_str()), 0);
  ContainerIssue i = ExpectOneIssue(IssueKind::kMissingDataFile);
  EXPECT_EQ(i.path, data_);
  // Not an orphan: it names live blocks, so repair must not delete it.
  EXPECT_TRUE(Repair(dir_)->actions.empty());
}

TEST_F(CheckTest, MissingMetadataFile) {
  ASSERT_EQ(::unlink(meta_.c_str()), 0);
  ExpectOneIssue(IssueKind::kMissingMetadataFile);
  EXPECT_TRUE(Repair(dir_)->actions.empty());
}

TEST_F(CheckTest, TempFilesAreListedAndRemoved) {
  std::string tmp = io::JoinPath(dir_, container_ + ".metadata.kudutmp.AbC123");
  ASSERT_TRUE(io::WriteFileAtomically(tmp, "junk").ok());
  auto report = Check(dir_);
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->clean());
  EXPECT_EQ(report->temp_files.size(), 1u);
  ASSERT_TRUE(Repair(dir_, true).ok());
  EXPECT_FALSE(io::FileExists(tmp));
}

TEST_F(CheckTest, CheckChangesNothing) {
  AppendRaw("\x01\x02\x03");
  auto before_meta = io::ReadFileToString(meta_);
  auto before_names = io::ListDir(dir_);
  ASSERT_TRUE(Check(dir_).ok());
  ASSERT_TRUE(Repair(dir_, false).ok());
  EXPECT_EQ(*io::ReadFileToString(meta_), *before_meta);
  EXPECT_EQ(*io::ListDir(dir_), *before_names);
}

// The bytes shown in docs/formats/block_container.md.
TEST(BlockRecordFormatTest, WorkedExampleBytes) {
  auto hex = [](const std::string& s) {
    std::string out;
    char buf[4];
    for (unsigned char c : s) {
      snprintf(buf, sizeof(buf), "%02x ", c);
      out += buf;
    }
    if (!out.empty()) out.pop_back();
    return out;
  };
  BlockRecordPB create;
  create.mutable_block_id()->set_id(1);
  create.set_op_type(CREATE);
  create.set_timestamp_us(1764063000000000ull);
  create.set_offset(0);
  create.set_length(49);
  EXPECT_EQ(hex(pbc::EncodeRecord(pbc::kVersion2, create.SerializeAsString())),
            "1a 00 00 00 9d ba 20 e8 0a 09 09 01 00 00 00 00 00 00 00 10 01 18 80 ec e7 e3 fe 8c "
            "91 03 20 00 28 31 66 db 85 78");
  BlockRecordPB del;
  del.mutable_block_id()->set_id(1);
  del.set_op_type(DELETE);
  del.set_timestamp_us(1764063000000000ull);
  EXPECT_EQ(hex(pbc::EncodeRecord(pbc::kVersion2, del.SerializeAsString())),
            "16 00 00 00 88 e8 46 65 0a 09 09 01 00 00 00 00 00 00 00 10 02 18 80 ec e7 e3 fe 8c "
            "91 03 57 db db 5c");
}

}  // namespace
}  // namespace kmend::blocks
