// Durability under kill -9: a real child process (wal_crash_helper) appends
// from several threads and prints each index once Append acknowledged it; we
// SIGKILL it at a seeded random moment, reopen the WAL, and check that every
// acknowledged entry is present and intact and that the log is a consecutive
// run from index 1. Repeated over the same directory, so each round also
// recovers the previous round's crash.
//
// Flags: --rounds=N (default 6) and --seed=S; the soak target runs many more.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <cstdlib>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "lib/wal/log.h"
#include "lib/wal/log_reader.h"
#include "lib/wal/wal_test_util.h"

namespace kmend::wal {
namespace {

std::string g_helper;
int g_rounds = 6;
uint64_t g_seed = 20261125;

// Runs the helper for about `run_ms`, SIGKILLs it, and returns the indexes
// it acknowledged.
std::set<int64_t> RunAndKill(const std::string& dir, int threads, int run_ms) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) ADD_FAILURE() << "pipe";
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], 1);
    std::string t = std::to_string(threads);
    ::execl(g_helper.c_str(), g_helper.c_str(), dir.c_str(), t.c_str(), "65536",
            static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(pipefd[1]);
  std::string out;
  char buf[4096];
  // Read until the deadline; the child's pace does not matter, only that
  // it is killed at some point while appending.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(run_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{pipefd[0], POLLIN, 0};
    int rc = ::poll(&p, 1, 10);
    if (rc > 0) {
      ssize_t n = ::read(pipefd[0], buf, sizeof(buf));
      if (n <= 0) break;  // child died on its own
      out.append(buf, n);
    }
  }
  ::kill(pid, SIGKILL);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFSIGNALED(status)) << "helper exited by itself, status " << status;
  ssize_t n;
  while ((n = ::read(pipefd[0], buf, sizeof(buf))) > 0) out.append(buf, n);
  ::close(pipefd[0]);
  std::set<int64_t> acked;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    int64_t i;
    if (absl::SimpleAtoi(line, &i)) acked.insert(i);
  }
  return acked;
}

TEST(WalCrashTest, EveryAcknowledgedEntrySurvivesKill9) {
  ASSERT_FALSE(g_helper.empty()) << "pass the helper binary's path";
  std::string dir = testing::FreshDir("crash");
  std::mt19937_64 rng(g_seed);
  std::cerr << "SEED=" << g_seed << " rounds=" << g_rounds << "\n";
  std::set<int64_t> all_acked;
  int torn_rounds = 0;
  for (int round = 0; round < g_rounds; ++round) {
    int threads = 1 + static_cast<int>(rng() % 8);
    int run_ms = 100 + static_cast<int>(rng() % 600);
    std::set<int64_t> acked = RunAndKill(dir, threads, run_ms);
    all_acked.insert(acked.begin(), acked.end());

    auto log = Log::Open(dir, LogOptions{});
    ASSERT_TRUE(log.ok()) << "round " << round << ": " << log.status();
    if ((*log)->recovery().torn_tail) ++torn_rounds;
    ASSERT_FALSE(all_acked.empty()) << "round " << round << ": nothing acknowledged";
    const int64_t last = (*log)->LastOpId().index();
    ASSERT_GE(last, *all_acked.rbegin()) << "round " << round;
    // Everything from the first retained index on is there, in order, intact
    // (earlier rounds garbage-collected the old part).
    const int64_t first = (*log)->FirstIndex();
    if (!acked.empty()) {
      ASSERT_LE(first, *acked.begin()) << "round " << round;
    }
    auto entries = (*log)->ReadEntries(first, last);
    ASSERT_TRUE(entries.ok()) << entries.status();
    ASSERT_EQ(entries->size(), static_cast<size_t>(last - first + 1));
    for (size_t i = 0; i < entries->size(); ++i) {
      ASSERT_EQ((*entries)[i].id().index(), first + static_cast<int64_t>(i));
      ASSERT_TRUE(testing::EntryIntact((*entries)[i])) << "entry " << first + i;
    }
    // Keep the log short so that the next Open's scan stays quick.
    ASSERT_TRUE((*log)->GarbageCollect(last - 2000).ok());
    ASSERT_TRUE((*log)->Close().ok());
    std::cerr << "round " << round << ": threads=" << threads << " run_ms=" << run_ms
              << " acked=" << acked.size() << " last=" << last
              << (( *log)->recovery().torn_tail ? " (torn tail cut)" : "") << "\n";
  }
  // A fresh reader agrees with the Log.
  auto summary = ReadLog(dir, ReadLogOptions{true}, nullptr);
  ASSERT_TRUE(summary.ok());
  EXPECT_TRUE(summary->problems.empty()) << summary->problems[0].status;
  std::cerr << "rounds with a torn tail: " << torn_rounds << "\n";
}

}  // namespace
}  // namespace kmend::wal

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--rounds=", 0) == 0) {
      kmend::wal::g_rounds = std::atoi(a.c_str() + 9);
    } else if (a.rfind("--seed=", 0) == 0) {
      kmend::wal::g_seed = std::strtoull(a.c_str() + 7, nullptr, 10);
    } else {
      kmend::wal::g_helper = a;
    }
  }
  return RUN_ALL_TESTS();
}
