#include "lib/blocks/log_block_manager.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/format/pb_container.h"
#include "lib/fs/fs_manager.h"
#include "lib/io/fault_injection.h"
#include "lib/io/file.h"
#include "proto/fs.pb.h"

namespace kmend::blocks {
namespace {

using ::testing::HasSubstr;

std::string NewDataDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/lbmXXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  std::string root = tmpl + "/root";
  EXPECT_TRUE(fs::Format(root, {"", 4096}).ok());
  return fs::Layout(root).DataDir();
}

std::unique_ptr<LogBlockManager> OpenOrDie(const std::string& dir, BlockManagerOptions o = {}) {
  auto bm = LogBlockManager::Open(dir, o);
  EXPECT_TRUE(bm.ok()) << bm.status();
  return bm.ok() ? std::move(*bm) : nullptr;
}

TEST(LogBlockManagerTest, CreateReadReopen) {
  std::string dir = NewDataDir();
  std::vector<BlockId> ids;
  std::vector<std::string> contents = {"hello", std::string(5000, 'x'), "", "last block"};
  {
    auto bm = OpenOrDie(dir);
    EXPECT_EQ(bm->filesystem_block_size_bytes(), 4096u);
    std::vector<absl::string_view> views(contents.begin(), contents.end());
    auto created = bm->CreateBlocks(views);
    ASSERT_TRUE(created.ok()) << created.status();
    ids = *created;
    ASSERT_EQ(ids.size(), 4u);
    for (size_t i = 0; i < ids.size(); ++i) {
      auto r = bm->ReadBlock(ids[i]);
      ASSERT_TRUE(r.ok()) << r.status();
      EXPECT_EQ(*r, contents[i]);
      auto loc = bm->Locate(ids[i]);
      ASSERT_TRUE(loc.ok());
      EXPECT_EQ(loc->offset % 4096, 0) << "blocks start aligned";
      EXPECT_EQ(loc->length, static_cast<int64_t>(contents[i].size())) << "unaligned length";
    }
    // Block 2 (5000 bytes) occupies two filesystem blocks.
    EXPECT_EQ(bm->Locate(ids[2])->offset - bm->Locate(ids[1])->offset, 8192);
  }
  auto bm = OpenOrDie(dir);
  EXPECT_TRUE(bm->load_report().issues.empty());
  EXPECT_EQ(bm->load_report().containers, 1);
  EXPECT_EQ(bm->load_report().live_blocks, 4);
  EXPECT_EQ(bm->ListBlocks(), ids);
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(*bm->ReadBlock(ids[i]), contents[i]);
  // New ids continue after every id ever used, and the container is reused.
  auto more = bm->CreateBlock("more");
  ASSERT_TRUE(more.ok());
  EXPECT_GT(*more, ids.back());
  EXPECT_EQ(bm->Locate(*more)->container_id, bm->Locate(ids[0])->container_id);
  EXPECT_GT(bm->Locate(*more)->offset, bm->Locate(ids[3])->offset);
}

TEST(LogBlockManagerTest, MetadataIsAKuduStyleContainerOfBlockRecords) {
  std::string dir = NewDataDir();
  auto bm = OpenOrDie(dir);
  auto id = bm->CreateBlock("abc");
  ASSERT_TRUE(id.ok());
  auto loc = bm->Locate(*id);
  auto r = pbc::Reader::Open(io::JoinPath(dir, loc->container_id + ".metadata"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->pb_type(), "kmend.BlockRecordPB");
  BlockRecordPB rec;
  auto next = (*r)->ReadNextMessage(&rec);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(rec.op_type(), CREATE);
  EXPECT_EQ(rec.block_id().id(), *id);
  EXPECT_EQ(rec.length(), 3);
  EXPECT_GT(rec.timestamp_us(), 0u);
  auto data = io::ReadFileToString(io::JoinPath(dir, loc->container_id + ".data"));
  EXPECT_EQ(data->substr(rec.offset(), 3), "abc");
}

TEST(LogBlockManagerTest, DeleteWritesRecordAndPunchesHole) {
  std::string dir = NewDataDir();
  BlockId keep, gone;
  std::string data_path;
  {
    auto bm = OpenOrDie(dir);
    auto ids = bm->CreateBlocks({std::string(4096, 'a'), std::string(4096, 'b')});
    ASSERT_TRUE(ids.ok());
    gone = (*ids)[0];
    keep = (*ids)[1];
    data_path = io::JoinPath(dir, bm->Locate(gone)->container_id + ".data");
    ASSERT_TRUE(bm->DeleteBlock(gone).ok());
    EXPECT_FALSE(bm->HasBlock(gone));
    EXPECT_EQ(bm->ReadBlock(gone).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(bm->DeleteBlock(gone).code(), absl::StatusCode::kNotFound);
    // Deleting a batch with one unknown id deletes nothing.
    EXPECT_EQ(bm->DeleteBlocks({keep, 9999}).code(), absl::StatusCode::kNotFound);
    EXPECT_TRUE(bm->HasBlock(keep));
  }
  auto bm = OpenOrDie(dir);
  EXPECT_TRUE(bm->load_report().issues.empty());
  EXPECT_FALSE(bm->HasBlock(gone));
  EXPECT_EQ(*bm->ReadBlock(keep), std::string(4096, 'b'));
  // The deleted range reads back as zeros (hole), the file keeps its size.
  auto data = io::ReadFileToString(data_path);
  ASSERT_TRUE(data.ok());
  EXPECT_EQ(data->size(), 8192u);
  EXPECT_EQ(data->substr(0, 4096), std::string(4096, '\0'));
}

TEST(LogBlockManagerTest, FullContainerRollsOver) {
  std::string dir = NewDataDir();
  BlockManagerOptions o;
  o.container_max_size_bytes = 3 * 4096;
  o.sync = false;
  std::vector<BlockId> ids;
  {
    auto bm = OpenOrDie(dir, o);
    for (int i = 0; i < 7; ++i) {
      auto id = bm->CreateBlock(std::string(100, static_cast<char>('a' + i)));
      ASSERT_TRUE(id.ok()) << id.status();
      ids.push_back(*id);
    }
    std::set<std::string> containers;
    for (BlockId id : ids) containers.insert(bm->Locate(id)->container_id);
    EXPECT_EQ(containers.size(), 3u);  // 3 + 3 + 1 blocks
  }
  auto bm = OpenOrDie(dir, o);
  EXPECT_EQ(bm->load_report().containers, 3);
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(*bm->ReadBlock(ids[i]), std::string(100, static_cast<char>('a' + i)));
  }
}

TEST(LogBlockManagerTest, TornTailIsReportedThenCutBeforeAppending) {
  std::string dir = NewDataDir();
  std::string meta;
  BlockId first;
  {
    auto bm = OpenOrDie(dir);
    first = *bm->CreateBlock("first");
    meta = io::JoinPath(dir, bm->Locate(first)->container_id + ".metadata");
  }
  // A crash mid-append: half of a record's bytes.
  BlockRecordPB rec;
  rec.mutable_block_id()->set_id(77);
  rec.set_op_type(CREATE);
  rec.set_timestamp_us(1);
  rec.set_offset(4096);
  rec.set_length(5);
  std::string framed = pbc::EncodeRecord(pbc::kVersion2, rec.SerializeAsString());
  uint64_t size_before = *io::FileSize(meta);
  {
    int fd = ::open(meta.c_str(), O_WRONLY | O_APPEND);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, framed.data(), framed.size() / 2),
              static_cast<ssize_t>(framed.size() / 2));
    ::close(fd);
  }
  {
    auto bm = OpenOrDie(dir);
    ASSERT_EQ(bm->load_report().issues.size(), 1u);
    const ContainerIssue& issue = bm->load_report().issues[0];
    EXPECT_EQ(issue.kind, IssueKind::kTornMetadataTail);
    EXPECT_EQ(issue.offset, size_before);
    EXPECT_EQ(*bm->ReadBlock(first), "first");
    EXPECT_FALSE(bm->HasBlock(77));
    ASSERT_TRUE(bm->CreateBlock("second").ok());
  }
  auto bm = OpenOrDie(dir);
  EXPECT_TRUE(bm->load_report().issues.empty());
  EXPECT_EQ(bm->load_report().live_blocks, 2);
}

TEST(LogBlockManagerTest, ReadOnlyRefusesWritesAndLeavesTornTail) {
  std::string dir = NewDataDir();
  BlockId id;
  std::string meta;
  {
    auto bm = OpenOrDie(dir);
    id = *bm->CreateBlock("x");
    meta = io::JoinPath(dir, bm->Locate(id)->container_id + ".metadata");
  }
  {
    int fd = ::open(meta.c_str(), O_WRONLY | O_APPEND);
    ASSERT_EQ(::write(fd, "\x10\x00", 2), 2);
    ::close(fd);
  }
  uint64_t size = *io::FileSize(meta);
  BlockManagerOptions o;
  o.read_only = true;
  auto bm = OpenOrDie(dir, o);
  EXPECT_EQ(bm->CreateBlock("y").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(bm->DeleteBlock(id).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*bm->ReadBlock(id), "x");
  EXPECT_EQ(*io::FileSize(meta), size);
}

TEST(LogBlockManagerTest, ShortDataFileIsDataLossOnRead) {
  std::string dir = NewDataDir();
  BlockId id;
  std::string data_path;
  {
    auto bm = OpenOrDie(dir);
    ASSERT_TRUE(bm->CreateBlock("aaaa").ok());
    id = *bm->CreateBlock(std::string(3000, 'z'));
    data_path = io::JoinPath(dir, bm->Locate(id)->container_id + ".data");
    // Someone truncates the data file under the running manager.
    ASSERT_EQ(::truncate(data_path.c_str(), 4096 + 100), 0);
    auto r = bm->ReadBlock(id);
    EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss);
    EXPECT_THAT(std::string(r.status().message()), HasSubstr("not readable"));
  }
  // At the next open the record points past the end: reported, not served.
  auto bm = OpenOrDie(dir);
  ASSERT_EQ(bm->load_report().issues.size(), 1u);
  EXPECT_EQ(bm->load_report().issues[0].kind, IssueKind::kBlockPastEndOfData);
  EXPECT_EQ(bm->load_report().issues[0].block_id, id);
  EXPECT_FALSE(bm->HasBlock(id));
}

// A crash at any point of appending a CREATE record: for every length the
// .metadata file could have been cut to, the earlier block survives, the new
// block is live only if its record is complete, a partial record is reported
// as a torn tail at the record's offset, and appending then works again.
TEST(LogBlockManagerTest, EveryTruncationOfTheLastRecordRecovers) {
  std::string dir = NewDataDir();
  BlockId a, b;
  std::string meta;
  uint64_t s0, s1;
  {
    auto bm = OpenOrDie(dir);
    a = *bm->CreateBlock("block a");
    meta = io::JoinPath(dir, bm->Locate(a)->container_id + ".metadata");
    s0 = *io::FileSize(meta);
    b = *bm->CreateBlock("block b");
    s1 = *io::FileSize(meta);
  }
  const std::string full = *io::ReadFileToString(meta);
  for (uint64_t len = s0; len <= s1; ++len) {
    ASSERT_TRUE(io::WriteFileAtomically(meta, full.substr(0, len)).ok());
    auto bm = OpenOrDie(dir);
    ASSERT_NE(bm, nullptr);
    EXPECT_EQ(*bm->ReadBlock(a), "block a") << len;
    EXPECT_EQ(bm->HasBlock(b), len == s1) << len;
    const auto& issues = bm->load_report().issues;
    if (len == s0 || len == s1) {
      EXPECT_TRUE(issues.empty()) << len;
    } else {
      ASSERT_EQ(issues.size(), 1u) << len;
      EXPECT_EQ(issues[0].kind, IssueKind::kTornMetadataTail);
      EXPECT_EQ(issues[0].offset, s0);
    }
    // The next block never overwrites b's bytes, recorded or not.
    auto c = bm->CreateBlock("block c");
    ASSERT_TRUE(c.ok()) << c.status();
    EXPECT_GT(*c, b);
    EXPECT_GT(bm->Locate(*c)->offset, 4096 - 1);
    ASSERT_TRUE(io::WriteFileAtomically(meta, full).ok());  // next round starts from s1
  }
}

// Any single flipped byte in the .metadata file is detected at open: either a
// reported issue, or a header failure that fails Open; never a silently
// different set of blocks.
TEST(LogBlockManagerTest, FlippedMetadataBytesAreReported) {
  std::string dir = NewDataDir();
  std::string meta;
  std::vector<BlockId> ids;
  {
    auto bm = OpenOrDie(dir);
    ids = *bm->CreateBlocks({"one", "two"});
    meta = io::JoinPath(dir, bm->Locate(ids[0])->container_id + ".metadata");
  }
  const std::string good = *io::ReadFileToString(meta);
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] ^= 0x01;
    ASSERT_TRUE(io::WriteFileAtomically(meta, bad).ok());
    auto bm = LogBlockManager::Open(dir);
    ASSERT_TRUE(bm.ok()) << "byte " << i << ": " << bm.status();
    if ((*bm)->load_report().issues.empty()) {
      ADD_FAILURE() << "flip at byte " << i << " went unnoticed";
    } else {
      // Whatever was read before the damage is served as it was written.
      for (BlockId id : (*bm)->ListBlocks()) {
        EXPECT_EQ(*(*bm)->ReadBlock(id), id == ids[0] ? "one" : "two");
      }
    }
  }
  ASSERT_TRUE(io::WriteFileAtomically(meta, good).ok());
}

TEST(LogBlockManagerTest, AWriteThatRunsOutOfSpaceGivesTheSpaceBack) {
  std::string dir = NewDataDir();
  auto bm = OpenOrDie(dir);
  auto first = bm->CreateBlock(std::string(10000, 'a'));
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string container = bm->Locate(*first)->container_id;
  const std::string data_path = io::JoinPath(dir, container + ".data");
  // Space the file takes on disk (the next offset is block-aligned, so the
  // size may grow by padding that takes no space).
  auto allocated = [&data_path] {
    struct stat st;
    EXPECT_EQ(::stat(data_path.c_str(), &st), 0);
    return static_cast<int64_t>(st.st_blocks) * 512;
  };
  const int64_t allocated_before = allocated();
  {
    // The second block's write fails: the first went to disk, then no space.
    io::ScopedFaultInjector faults;
    io::FaultRule rule;
    rule.op = io::sys::Op::kWrite;
    rule.path_contains = ".data";
    rule.skip = 1;
    rule.fault.err = ENOSPC;
    faults.Add(rule);
    std::string b(20000, 'b'), c(30000, 'c');
    auto ids = bm->CreateBlocks({b, c});
    ASSERT_EQ(ids.status().code(), absl::StatusCode::kResourceExhausted) << ids.status();
    EXPECT_EQ(faults.faults_injected(), 1);
  }
  // Nothing names the bytes the failed call wrote: they are gone again.
  EXPECT_EQ(allocated(), allocated_before);
  EXPECT_LT(std::filesystem::file_size(data_path), 10000u + 20000u);
  // Once space returns the same container takes the next blocks, and every
  // block reads back.
  auto next = bm->CreateBlock(std::string(5000, 'd'));
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(bm->Locate(*next)->container_id, container);
  EXPECT_EQ(*bm->ReadBlock(*first), std::string(10000, 'a'));
  EXPECT_EQ(*bm->ReadBlock(*next), std::string(5000, 'd'));
  bm.reset();
  bm = OpenOrDie(dir);
  EXPECT_EQ(bm->ListBlocks().size(), 2u);
}

TEST(LogBlockManagerTest, OpenWithoutInstanceFails) {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/emptyXXXXXX";
  ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
  EXPECT_FALSE(LogBlockManager::Open(tmpl).ok());
}

}  // namespace
}  // namespace kmend::blocks
