#include "lib/fs/fs_manager.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/format/pb_container.h"
#include "lib/fs/layout.h"
#include "lib/fs/uuid.h"
#include "lib/io/file.h"

namespace kmend::fs {
namespace {

using ::testing::HasSubstr;

std::string NewTempDir() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/fsXXXXXX";
  EXPECT_NE(mkdtemp(tmpl.data()), nullptr);
  return tmpl;
}

TEST(LayoutTest, Paths) {
  Layout l("/srv/ts1/");
  EXPECT_EQ(l.root(), "/srv/ts1");
  EXPECT_EQ(l.InstancePath(), "/srv/ts1/instance");
  EXPECT_EQ(l.LockPath(), "/srv/ts1/.kmend.lock");
  EXPECT_EQ(l.DataDir(), "/srv/ts1/data");
  EXPECT_EQ(l.BlockManagerInstancePath(), "/srv/ts1/data/block_manager_instance");
  EXPECT_EQ(l.TabletMetaPath("ab"), "/srv/ts1/tablet-meta/ab");
  EXPECT_EQ(l.ConsensusMetaPath("ab"), "/srv/ts1/consensus-meta/ab");
  EXPECT_EQ(l.WalDir("ab"), "/srv/ts1/wals/ab");
}

TEST(UuidTest, CanonicalAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    std::string u = NewUuid();
    EXPECT_TRUE(IsCanonicalUuid(u)) << u;
    EXPECT_TRUE(seen.insert(u).second);
  }
  EXPECT_FALSE(IsCanonicalUuid("ABCDEF0123456789abcdef0123456789"));
  EXPECT_FALSE(IsCanonicalUuid("abc"));
}

TEST(FsManagerTest, FormatThenOpen) {
  std::string root = NewTempDir() + "/ts";
  auto f = Format(root, {"", 4096});
  ASSERT_TRUE(f.ok()) << f.status();
  Layout l(root);
  for (const std::string& p : {l.InstancePath(), l.BlockManagerInstancePath(), l.TabletMetaDir(),
                               l.ConsensusMetaDir(), l.WalsDir()}) {
    EXPECT_TRUE(io::FileExists(p)) << p;
  }
  auto o = Open(root);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->uuid, f->uuid);
  EXPECT_EQ(o->data_dir_uuid, f->data_dir_uuid);
  EXPECT_EQ(o->filesystem_block_size_bytes, 4096u);
  EXPECT_THAT(o->instance.format_stamp(), HasSubstr("Formatted at "));

  // The instance file is a PB container of kmend.InstanceMetadataPB.
  auto r = pbc::Reader::Open(l.InstancePath());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)->pb_type(), "kmend.InstanceMetadataPB");

  auto tablets = ListTablets(l);
  ASSERT_TRUE(tablets.ok());
  EXPECT_TRUE(tablets->empty());
}

TEST(FsManagerTest, FormatUsesGivenUuidAndFileSystemBlockSize) {
  std::string root = NewTempDir();
  std::string uuid = NewUuid();
  auto f = Format(root, {uuid, 0});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->uuid, uuid);
  EXPECT_GE(f->filesystem_block_size_bytes, 512u);
  EXPECT_EQ(f->filesystem_block_size_bytes & (f->filesystem_block_size_bytes - 1), 0u);
  EXPECT_EQ(Format(NewTempDir(), {"not-a-uuid", 0}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(FsManagerTest, RefusesToFormatTwice) {
  std::string root = NewTempDir();
  ASSERT_TRUE(Format(root).ok());
  auto again = Format(root);
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_THAT(std::string(again.status().message()), HasSubstr("refusing"));

  // A half-formatted root (crash before the instance file) is refused too.
  std::string half = NewTempDir();
  ASSERT_TRUE(io::CreateDirs(half + "/data").ok());
  EXPECT_EQ(Format(half).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST(FsManagerTest, OpenUnformattedIsNotFound) {
  EXPECT_EQ(Open(NewTempDir()).status().code(), absl::StatusCode::kNotFound);
}

TEST(FsManagerTest, OpenDetectsDisagreeingInstanceFiles) {
  std::string a = NewTempDir(), b = NewTempDir();
  ASSERT_TRUE(Format(a).ok());
  ASSERT_TRUE(Format(b).ok());
  // Move b's data directory instance into a: it names another server.
  auto bmi = io::ReadFileToString(Layout(b).BlockManagerInstancePath());
  ASSERT_TRUE(bmi.ok());
  ASSERT_TRUE(io::WriteFileAtomically(Layout(a).BlockManagerInstancePath(), *bmi).ok());
  auto o = Open(a);
  EXPECT_EQ(o.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("instance_uuid"));
}

TEST(FsManagerTest, OpenDetectsBadFields) {
  std::string root = NewTempDir();
  ASSERT_TRUE(Format(root).ok());
  Layout l(root);
  DirInstanceMetadataPB d;
  ASSERT_TRUE(pbc::ReadSingleMessageFile(l.BlockManagerInstancePath(), &d).ok());

  DirInstanceMetadataPB wrong_type = d;
  wrong_type.set_dir_type("file");
  ASSERT_TRUE(pbc::WriteSingleMessageFile(l.BlockManagerInstancePath(), wrong_type).ok());
  EXPECT_THAT(std::string(Open(root).status().message()), HasSubstr("dir_type"));

  DirInstanceMetadataPB bad_bs = d;
  bad_bs.set_filesystem_block_size_bytes(3000);
  ASSERT_TRUE(pbc::WriteSingleMessageFile(l.BlockManagerInstancePath(), bad_bs).ok());
  EXPECT_THAT(std::string(Open(root).status().message()), HasSubstr("power of two"));

  DirInstanceMetadataPB unlisted = d;
  unlisted.mutable_dir_set()->clear_all_uuids();
  ASSERT_TRUE(pbc::WriteSingleMessageFile(l.BlockManagerInstancePath(), unlisted).ok());
  EXPECT_THAT(std::string(Open(root).status().message()), HasSubstr("all_uuids"));

  ASSERT_TRUE(pbc::WriteSingleMessageFile(l.BlockManagerInstancePath(), d).ok());
  EXPECT_TRUE(Open(root).ok());

  // A damaged instance file is DataLoss naming it.
  auto inst = io::ReadFileToString(l.InstancePath());
  ASSERT_TRUE(inst.ok());
  std::string damaged = *inst;
  damaged[damaged.size() - 6] ^= 0x40;
  ASSERT_TRUE(io::WriteFileAtomically(l.InstancePath(), damaged).ok());
  auto o = Open(root);
  EXPECT_EQ(o.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("instance"));
}

TEST(FsManagerTest, ListTabletsIgnoresOtherNames) {
  std::string root = NewTempDir();
  ASSERT_TRUE(Format(root).ok());
  Layout l(root);
  std::string t1 = NewUuid(), t2 = NewUuid();
  for (const std::string& n : {t1, t2, t1 + ".kudutmp.abc123", std::string("README")}) {
    ASSERT_TRUE(io::WriteFileAtomically(l.TabletMetaPath(n), "x").ok());
  }
  auto tablets = ListTablets(l);
  ASSERT_TRUE(tablets.ok());
  std::vector<std::string> expected = {t1, t2};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(*tablets, expected);
}

}  // namespace
}  // namespace kmend::fs
