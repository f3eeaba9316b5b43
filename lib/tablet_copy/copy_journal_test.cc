#include "lib/tablet_copy/copy_journal.h"

#include <cstdlib>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"

namespace kmend::tablet_copy {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

tserver::TabletCopyJournalPB Journal(const std::string& source) {
  tserver::TabletCopyJournalPB j;
  j.set_tablet_id("0123456789abcdef0123456789abcdef");
  j.set_source_uuid(source);
  for (uint64_t id : {10, 11, 12}) {
    auto* b = j.add_blocks();
    b->set_source_block_id(id);
    b->set_size_bytes(100 * id);
    b->set_crc32c(static_cast<uint32_t>(id));
    b->set_local_block_id(id + 1000);
  }
  return j;
}

TEST(CopyJournalTest, TheSameBlocksFromTheSameSourceAreKept) {
  ResumePlan p = MatchJournal(Journal("src"), "src", {{10, 1000}, {11, 1100}, {12, 1200}, {13, 5}});
  EXPECT_EQ(p.keep.size(), 3u);
  EXPECT_TRUE(p.drop.empty());
  EXPECT_EQ(p.bytes_kept, 3300);
  EXPECT_THAT(p.note, HasSubstr("resuming: 3 of 3"));
}

TEST(CopyJournalTest, ABlockNoLongerOfferedOrResizedIsDropped) {
  ResumePlan p = MatchJournal(Journal("src"), "src", {{10, 1000}, {11, 999}});
  EXPECT_EQ(p.keep.size(), 1u);
  EXPECT_THAT(p.drop, UnorderedElementsAre(1011u, 1012u));
  EXPECT_THAT(p.note, HasSubstr("2 changed on the source"));
}

TEST(CopyJournalTest, ChangedFilesStartOverAndSaySo) {
  ResumePlan p = MatchJournal(Journal("src"), "src", {{20, 1000}, {21, 1100}});
  EXPECT_TRUE(p.keep.empty());
  EXPECT_EQ(p.drop.size(), 3u);
  EXPECT_THAT(p.note, HasSubstr("starting over: the source's files changed"));
}

TEST(CopyJournalTest, AnotherSourceStartsOver) {
  ResumePlan p = MatchJournal(Journal("src"), "other", {{10, 1000}, {11, 1100}, {12, 1200}});
  EXPECT_TRUE(p.keep.empty());
  EXPECT_EQ(p.drop.size(), 3u);
  EXPECT_THAT(p.note, HasSubstr("another server (src)"));
}

TEST(CopyJournalTest, StoredJournalReadsBackAndDeletes) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const std::string root = std::string(tmp ? tmp : "/tmp") + "/journal_root";
  fs::Layout layout(root);
  ASSERT_TRUE(io::CreateDirs(layout.TabletMetaDir()).ok());
  const auto j = Journal("src");
  auto none = LoadJournal(layout, j.tablet_id());
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(StoreJournal(layout, j).ok());
  auto back = LoadJournal(layout, j.tablet_id());
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_TRUE(back->has_value());
  EXPECT_EQ((*back)->blocks_size(), 3);
  ASSERT_TRUE(DeleteJournal(layout, j.tablet_id()).ok());
  EXPECT_FALSE(io::FileExists(JournalPath(layout, j.tablet_id())));
  EXPECT_TRUE(DeleteJournal(layout, j.tablet_id()).ok());
}

}  // namespace
}  // namespace kmend::tablet_copy
