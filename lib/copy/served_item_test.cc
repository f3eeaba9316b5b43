// ServedItem/ReadChunk: the one way a copy source cuts a chunk.
#include "lib/copy/served_item.h"

#include <unistd.h>

#include <string>

#include "gtest/gtest.h"
#include "lib/format/crc32c.h"
#include "lib/io/file.h"

namespace kmend::copy {
namespace {

TEST(ServedItemTest, InMemoryChunksAreCutByCapAndRequestAndCarryTheirCrc) {
  const ServedItem item = ServedItem::InMemory("0123456789");
  EXPECT_EQ(*item.crc32c, crc32c::Value("0123456789"));
  auto c = ReadChunk(item, "x", 2, /*max_length=*/0, /*cap=*/4);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data, "2345");
  EXPECT_EQ(c->offset, 2u);
  EXPECT_EQ(c->total_size_bytes, 10);
  EXPECT_EQ(c->crc32c, crc32c::Value("2345"));
  EXPECT_EQ(ReadChunk(item, "x", 2, 3, 4)->data, "234");
  EXPECT_EQ(ReadChunk(item, "x", 8, 0, 4)->data, "89");
}

TEST(ServedItemTest, OffsetsAtOrPastTheEndAreOutOfRangeExceptForAnEmptyItem) {
  const ServedItem item = ServedItem::InMemory("abc");
  EXPECT_EQ(ReadChunk(item, "x", 3, 0, 4).status().code(), absl::StatusCode::kOutOfRange);
  auto past = ReadChunk(item, "item x", 4, 0, 4);
  EXPECT_EQ(past.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_NE(past.status().message().find("item x: offset 4"), std::string::npos) << past.status();
  auto empty = ReadChunk(ServedItem::InMemory(""), "x", 0, 0, 4);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->data.empty());
}

TEST(ServedItemTest, FileRangeIsReadThroughTheDescriptorEvenAfterUnlink) {
  const std::string path = ::testing::TempDir() + "/served_item_file";
  ASSERT_TRUE(io::WriteFileAtomically(path, "headerPAYLOADtrailer").ok());
  auto file = OpenFile::Open(path);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ(*(*file)->Size(), 20u);
  ServedItem item;
  item.file = *file;
  item.base_offset = 6;
  item.size = 7;
  ASSERT_EQ(::unlink(path.c_str()), 0);
  auto c = ReadChunk(item, "x", 0, 0, 100);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data, "PAYLOAD");
  EXPECT_EQ(ReadChunk(item, "x", 3, 2, 100)->data, "LO");
}

}  // namespace
}  // namespace kmend::copy
