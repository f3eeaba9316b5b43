// Runs the real kmend-wal binary on WALs made by the Log and on damaged
// copies, checking exit codes and output.
#include <sys/wait.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "lib/wal/log.h"
#include "lib/wal/wal_test_util.h"
#include "nlohmann/json.hpp"

namespace kmend::wal {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string g_tool;

struct ToolRun {
  int exit_code = -1;
  std::string out;
};

ToolRun RunTool(const std::string& args) {
  ToolRun r;
  std::string cmd = absl::StrCat(g_tool, " ", args, " 2>&1");
  FILE* p = ::popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

// A closed two-segment WAL with entries 1..40 (4 per batch).
std::string MakeWal(const std::string& name) {
  std::string dir = testing::FreshDir(name);
  LogOptions o;
  o.segment_size_bytes = 4096;
  o.sync = false;
  auto log = Log::Open(dir, o);
  EXPECT_TRUE(log.ok());
  for (int64_t i = 1; i <= 40; i += 4) {
    std::vector<consensus::ReplicateMsg> b;
    for (int64_t j = i; j < i + 4; ++j) b.push_back(testing::MakeEntry(1, j, 200));
    EXPECT_TRUE((*log)->Append(b).ok());
  }
  EXPECT_TRUE((*log)->Close().ok());
  return dir;
}

TEST(WalToolTest, VerifyCleanWal) {
  std::string dir = MakeWal("tool_clean");
  ToolRun r = RunTool("verify " + dir);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(": OK ("));
  EXPECT_THAT(r.out, HasSubstr("40 entries, replicate 1..40"));
}

TEST(WalToolTest, DumpIdsAndFullAndJson) {
  std::string dir = MakeWal("tool_dump");
  ToolRun ids = RunTool("dump " + dir);
  EXPECT_EQ(ids.exit_code, 0) << ids.out;
  EXPECT_THAT(ids.out, HasSubstr("REPLICATE 1.17 NO_OP"));
  EXPECT_THAT(ids.out, HasSubstr("codec ZSTD"));
  EXPECT_THAT(ids.out, Not(HasSubstr("payload_for_tests")));

  ToolRun full = RunTool("dump --entries=full " + io::JoinPath(dir, "wal-000000001"));
  EXPECT_EQ(full.exit_code, 0) << full.out;
  EXPECT_THAT(full.out, HasSubstr("payload_for_tests"));

  ToolRun none = RunTool("dump --entries=none " + dir);
  EXPECT_THAT(none.out, Not(HasSubstr("REPLICATE")));

  ToolRun js = RunTool("dump --format=json --entries=full " + dir);
  ASSERT_EQ(js.exit_code, 0) << js.out;
  auto doc = nlohmann::json::parse(js.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << js.out;
  EXPECT_EQ(doc["schema_version"], 1);
  EXPECT_EQ(doc["command"], "dump");
  const auto& log = doc["logs"][0];
  EXPECT_EQ(log["summary"]["entries"], 40);
  EXPECT_EQ(log["summary"]["last_replicate"]["index"], 40);
  EXPECT_GE(log["segments"].size(), 2u);
  const auto& e = log["segments"][0]["batches"][0]["entries"][0];
  EXPECT_EQ(e["index"], 1);
  EXPECT_EQ(e["entry"]["replicate"]["op_type"], "NO_OP");
}

TEST(WalToolTest, VerifyReportsCorruptionWithOffset) {
  std::string dir = MakeWal("tool_corrupt");
  std::string path = io::JoinPath(dir, "wal-000000001");
  std::string bytes = testing::ReadFile(path);
  // The first batch starts right after the header; damage its payload.
  uint32_t header_len;
  std::memcpy(&header_len, bytes.data() + 8, 4);
  uint64_t first_batch = 12 + header_len;
  bytes[first_batch + 30] ^= 0x10;
  testing::WriteFile(path, bytes);
  ToolRun r = RunTool("verify " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("CORRUPT"));
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat(path, ": offset ", first_batch,
                                            ": batch payload crc mismatch")));
  ToolRun js = RunTool("verify --format=json " + dir);
  EXPECT_EQ(js.exit_code, 1);
  auto doc = nlohmann::json::parse(js.out, nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << js.out;
  EXPECT_EQ(doc["logs"][0]["ok"], false);
  EXPECT_EQ(doc["logs"][0]["summary"]["problems"][0]["kind"], "corruption");
  EXPECT_EQ(doc["logs"][0]["summary"]["problems"][0]["offset"], first_batch);
}

TEST(WalToolTest, TornTailIsAWarningUnlessStrict) {
  std::string dir = testing::FreshDir("tool_torn");
  auto seg = testing::BuildSegment(1, kmend::ZSTD, testing::MakeBatches(1, 3, 2), false);
  testing::WriteFile(io::JoinPath(dir, "wal-000000001"),
                     seg.bytes.substr(0, seg.batch_offsets[2] + 7));
  ToolRun r = RunTool("verify " + dir);
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr(absl::StrCat("warning: torn tail in ", dir, "/wal-000000001 at offset ",
                                            seg.batch_offsets[2])));
  ToolRun strict = RunTool("verify --strict " + dir);
  EXPECT_EQ(strict.exit_code, 1) << strict.out;
  EXPECT_THAT(strict.out, HasSubstr("TORN TAIL"));
}

TEST(WalToolTest, GapIsAProblemAndMissingPathIsAnError) {
  std::string dir = testing::FreshDir("tool_gap");
  testing::WriteFile(io::JoinPath(dir, "wal-000000001"),
                     testing::BuildSegment(1, kmend::LZ4, testing::MakeBatches(1, 2, 2), true).bytes);
  testing::WriteFile(io::JoinPath(dir, "wal-000000002"),
                     testing::BuildSegment(2, kmend::ZSTD, testing::MakeBatches(7, 2, 2), true).bytes);
  ToolRun r = RunTool("verify " + dir);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_THAT(r.out, HasSubstr("sequence: "));
  EXPECT_THAT(r.out, HasSubstr("op index gap: entry 1.7 follows index 4"));

  ToolRun missing = RunTool("verify " + dir + "/nope");
  EXPECT_EQ(missing.exit_code, 2) << missing.out;
  ToolRun usage = RunTool("dump --entries=bogus " + dir);
  EXPECT_EQ(usage.exit_code, 2) << usage.out;
}

}  // namespace
}  // namespace kmend::wal

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc > 1) kmend::wal::g_tool = argv[1];
  return RUN_ALL_TESTS();
}
