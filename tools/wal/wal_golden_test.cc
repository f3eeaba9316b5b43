// Golden files: small segments checked into testdata/wal/ and the exact
// output of `kmend-wal dump --entries=full` and `kmend-wal verify` on them.
// A change in the framing, the decoders or the output shows up as a diff.
//
// Regenerate (then review the diff):
//   bazel run //tools/wal:wal_golden_test -- --rewrite
#include <sys/wait.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "lib/wal/wal_test_util.h"

namespace kmend::wal {
namespace {

std::string g_tool;
bool g_rewrite = false;

// testdata/wal in the source tree (rewrite) or in the runfiles (check).
std::string Root() {
  if (g_rewrite) {
    const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    return io::JoinPath(ws != nullptr ? ws : ".", "testdata/wal");
  }
  return "testdata/wal";
}

std::string Output(const std::string& cwd, const std::string& args, int* exit_code) {
  std::string cmd = absl::StrCat("cd '", cwd, "' && '", g_tool, "' ", args, " 2>&1");
  FILE* p = ::popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

// The segments, made deterministically (no timestamps in these footers).
void MakeSegments(const std::string& root) {
  using testing::BuildSegment;
  using testing::MakeBatches;
  ASSERT_TRUE(io::CreateDirs(io::JoinPath(root, "closed_lz4")).ok());
  ASSERT_TRUE(io::CreateDirs(io::JoinPath(root, "crashed")).ok());
  testing::WriteFile(io::JoinPath(root, "closed_lz4/wal-000000001"),
                     BuildSegment(1, kmend::LZ4, MakeBatches(1, 3, 2, 24), true).bytes);
  testing::WriteFile(io::JoinPath(root, "crashed/wal-000000001"),
                     BuildSegment(1, kmend::ZSTD, MakeBatches(1, 2, 2, 24), true).bytes);
  auto torn = BuildSegment(2, kmend::NO_COMPRESSION, MakeBatches(5, 3, 1, 24), false);
  testing::WriteFile(io::JoinPath(root, "crashed/wal-000000002"),
                     torn.bytes.substr(0, torn.batch_offsets[2] + 9));
}

TEST(WalGoldenTest, DumpAndVerifyOutput) {
  ASSERT_FALSE(g_tool.empty());
  const std::string root = Root();
  if (g_rewrite) MakeSegments(root);
  // Uncompressed segments must come out byte-identical: the framing is pinned.
  // (LZ4/Zstd output may differ across library versions; those are only
  // checked through the dump.)
  {
    auto torn = testing::BuildSegment(2, kmend::NO_COMPRESSION, testing::MakeBatches(5, 3, 1, 24),
                                      false);
    EXPECT_EQ(testing::ReadFile(io::JoinPath(root, "crashed/wal-000000002")),
              torn.bytes.substr(0, torn.batch_offsets[2] + 9));
  }
  struct Case {
    const char* golden;
    const char* args;
    int exit_code;
  } cases[] = {
      {"dump.golden", "dump --entries=full closed_lz4 crashed", 0},
      {"verify.golden", "verify closed_lz4 crashed crashed/wal-000000001", 0},
      {"verify_strict.golden", "verify --strict crashed", 1},
  };
  for (const Case& c : cases) {
    int exit_code = -1;
    std::string out = Output(root, c.args, &exit_code);
    EXPECT_EQ(exit_code, c.exit_code) << c.args << "\n" << out;
    const std::string golden = io::JoinPath(root, c.golden);
    if (g_rewrite) {
      testing::WriteFile(golden, out);
      continue;
    }
    EXPECT_EQ(out, testing::ReadFile(golden))
        << c.golden << " differs; run `bazel run //tools/wal:wal_golden_test -- --rewrite` "
        << "and review the diff";
  }
}

}  // namespace
}  // namespace kmend::wal

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--rewrite") {
      kmend::wal::g_rewrite = true;
    } else {
      kmend::wal::g_tool = a;
    }
  }
  // popen runs with a different cwd: make the tool path absolute.
  if (!kmend::wal::g_tool.empty() && kmend::wal::g_tool[0] != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) != nullptr) {
      kmend::wal::g_tool = std::string(cwd) + "/" + kmend::wal::g_tool;
    }
  }
  return RUN_ALL_TESTS();
}
