// A test process killed before its ExternalCluster's destructor runs (a
// benchmark's timeout, a crash) still leaves no cluster directory behind:
// the per-process janitor in external_cluster.cc removes it.
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::testing {
namespace {

TEST(ClusterDirJanitorTest, RemovesTheDirectoryOfAKilledProcess) {
  const std::string probe = RunfilePath("testing/cluster/janitor_probe");
  ASSERT_TRUE(std::filesystem::exists(probe)) << probe;
  FILE* out = ::popen(probe.c_str(), "r");
  ASSERT_NE(out, nullptr);
  char line[4096] = {0};
  const bool got = ::fgets(line, sizeof(line), out) != nullptr;
  const int status = ::pclose(out);
  ASSERT_TRUE(got) << "the probe printed no directory";
  std::string dir(line);
  while (!dir.empty() && dir.back() == '\n') dir.pop_back();
  ASSERT_FALSE(dir.empty());
  // The probe died by SIGKILL, so its destructors never ran (popen's shell
  // reports that as exit 128 + 9, or passes the signal on).
  const bool killed = (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ||
                      (WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGKILL);
  ASSERT_TRUE(killed) << "status " << status;
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = !std::filesystem::exists(dir);
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(gone) << dir << " is still there 10 s after its process was killed";
}

TEST(ClusterDirJanitorTest, KeepDirLeavesTheDirectoryOfAKilledProcess) {
  const std::string probe = RunfilePath("testing/cluster/janitor_probe");
  const std::string cmd = "KMEND_TEST_KEEP_DIR=1 " + probe;
  FILE* out = ::popen(cmd.c_str(), "r");
  ASSERT_NE(out, nullptr);
  char line[4096] = {0};
  const bool got = ::fgets(line, sizeof(line), out) != nullptr;
  ::pclose(out);
  ASSERT_TRUE(got);
  std::string dir(line);
  while (!dir.empty() && dir.back() == '\n') dir.pop_back();
  // Give a janitor, if one wrongly had the directory, time to act.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(std::filesystem::exists(dir + "/left-behind")) << dir;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace kmend::testing
