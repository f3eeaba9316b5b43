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

// Runs the probe through popen (`env` is put before it on the command
// line): the directory it printed ("" if none) and its wait status.
struct Probe {
  std::string dir;
  int status = -1;
};
Probe RunProbe(const std::string& env) {
  Probe p;
  const std::string cmd = env + RunfilePath("testing/cluster/janitor_probe");
  FILE* out = ::popen(cmd.c_str(), "r");
  if (out == nullptr) return p;
  char line[4096] = {0};
  if (::fgets(line, sizeof(line), out) != nullptr) p.dir = line;
  p.status = ::pclose(out);
  while (!p.dir.empty() && p.dir.back() == '\n') p.dir.pop_back();
  return p;
}

TEST(ClusterDirJanitorTest, RemovesTheDirectoryOfAKilledProcess) {
  const std::string probe = RunfilePath("testing/cluster/janitor_probe");
  ASSERT_TRUE(std::filesystem::exists(probe)) << probe;
  const Probe p = RunProbe("");
  ASSERT_FALSE(p.dir.empty()) << "the probe printed no directory";
  const std::string& dir = p.dir;
  const int status = p.status;
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
  const Probe p = RunProbe("KMEND_TEST_KEEP_DIR=1 ");
  ASSERT_FALSE(p.dir.empty()) << "the probe printed no directory";
  const std::string& dir = p.dir;
  // Give a janitor, if one wrongly had the directory, time to act.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_TRUE(std::filesystem::exists(dir + "/left-behind")) << dir;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace kmend::testing
