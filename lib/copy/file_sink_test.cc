// FileSink: streamed, durable, and resumable from a recorded prefix.
#include "lib/copy/file_sink.h"

#include <unistd.h>

#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "lib/format/crc32c.h"
#include "lib/io/file.h"

namespace kmend::copy {
namespace {

std::string Path(const std::string& name) {
  const std::string dir = ::testing::TempDir() + "/file_sink";
  EXPECT_TRUE(io::CreateDirs(dir).ok());
  const std::string p = dir + "/" + name;
  ::unlink(p.c_str());
  return p;
}

TEST(FileSinkTest, AppendsAndFinishMakesEverythingDurable) {
  const std::string p = Path("whole");
  auto sink = FileSink::Create(p, {});
  ASSERT_TRUE(sink.ok()) << sink.status();
  ASSERT_TRUE((*sink)->Append("hello ").ok());
  ASSERT_TRUE((*sink)->Append("world").ok());
  EXPECT_EQ((*sink)->durable_bytes(), 0u);
  ASSERT_TRUE((*sink)->Finish().ok());
  EXPECT_EQ((*sink)->durable_bytes(), 11u);
  EXPECT_EQ((*sink)->durable_crc32c(), crc32c::Value("hello world"));
  EXPECT_EQ(*io::ReadFileToString(p), "hello world");
  EXPECT_FALSE((*sink)->Append("x").ok());
}

TEST(FileSinkTest, ReportsEachDurablePrefix) {
  const std::string p = Path("prefixes");
  std::vector<std::pair<uint64_t, uint32_t>> reported;
  FileSink::Options o;
  o.sync_every_bytes = 4;
  o.on_durable = [&](uint64_t b, uint32_t c) { reported.emplace_back(b, c); };
  auto sink = FileSink::Create(p, o);
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Append("ab").ok());
  EXPECT_TRUE(reported.empty());
  ASSERT_TRUE((*sink)->Append("cdef").ok());
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_EQ(reported[0], std::make_pair(uint64_t{6}, crc32c::Value("abcdef")));
  ASSERT_TRUE((*sink)->Finish().ok());
  EXPECT_EQ(reported.back().first, 6u);
}

TEST(FileSinkTest, ResumeKeepsAVerifiedPrefixAndCutsTheRest) {
  const std::string p = Path("resume");
  ASSERT_TRUE(io::WriteFileAtomically(p, "abcdefTORN").ok());
  auto sink = FileSink::Resume(p, 6, crc32c::Value("abcdef"), {});
  ASSERT_TRUE(sink.ok()) << sink.status();
  EXPECT_EQ((*sink)->durable_bytes(), 6u);
  EXPECT_EQ((*sink)->durable_crc32c(), crc32c::Value("abcdef"));
  ASSERT_TRUE((*sink)->Append("gh").ok());
  ASSERT_TRUE((*sink)->Finish().ok());
  EXPECT_EQ(*io::ReadFileToString(p), "abcdefgh");
  EXPECT_EQ((*sink)->durable_crc32c(), crc32c::Value("abcdefgh"));
}

TEST(FileSinkTest, ResumeStartsOverWhenThePrefixIsNotTheRecordedOne) {
  const std::string p = Path("foreign");
  ASSERT_TRUE(io::WriteFileAtomically(p, "abXdef").ok());
  auto sink = FileSink::Resume(p, 6, crc32c::Value("abcdef"), {});
  ASSERT_TRUE(sink.ok());
  EXPECT_EQ((*sink)->durable_bytes(), 0u);
  ASSERT_TRUE((*sink)->Finish().ok());
  EXPECT_EQ(*io::ReadFileToString(p), "");
  // Shorter than recorded, and missing: also from zero.
  ASSERT_TRUE(io::WriteFileAtomically(p, "abc").ok());
  auto shorter = FileSink::Resume(p, 6, crc32c::Value("abcdef"), {});
  ASSERT_TRUE(shorter.ok());
  EXPECT_EQ((*shorter)->durable_bytes(), 0u);
  const std::string missing = Path("missing");
  auto fresh = FileSink::Resume(missing, 6, 0, {});
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ((*fresh)->durable_bytes(), 0u);
}

}  // namespace
}  // namespace kmend::copy
