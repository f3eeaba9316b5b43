// End-to-end time of `kmend rebuild-replica` (tag "benchmark"): a real
// cluster of 3 tablet servers, one tablet of $KMEND_REBUILD_BENCH_ROWS rows
// (default 1,000,000 rows of ~100 incompressible bytes: ~100 MB of blocks
// plus its WAL), one replica corrupted on disk; then the command ksck would
// print, with --format=json, timed from the command to the replica RUNNING
// and caught up. Prints where the time went from the tool's JSON lines:
// facts + sizing (until the plan line), the copy (the server's own count,
// and until the first catching_up line), the catch-up, and the rate.
//
//   bazel test -c opt //testing/cluster:rebuild_replica_benchmark \
//       --test_tag_filters=benchmark --test_output=all
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/tablet/superblock.h"
#include "nlohmann/json.hpp"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

using std::chrono::seconds;

int64_t Rows() {
  const char* env = std::getenv("KMEND_REBUILD_BENCH_ROWS");
  return env != nullptr ? std::atoll(env) : 1'000'000;
}

std::string LoadAverage() {
  std::string s;
  auto text = io::ReadFileToString("/proc/loadavg");
  return text.ok() ? text->substr(0, text->find(' ', text->find(' ', text->find(' ') + 1) + 1))
                   : "?";
}

TEST(RebuildReplicaBenchmark, CommandToCaughtUp) {
  ClusterOptions opts;
  opts.num_tservers = 3;
  opts.extra_master_flags = {"--rereplication_failed_grace_ms=1h"};
  ExternalCluster cluster(opts);
  ASSERT_TRUE(cluster.Start().ok());
  auto uuids = GetTServerUuids(cluster);
  ASSERT_TRUE(uuids.ok());
  auto tablets = CreateTable(cluster, KeyValueTableRequest("t", "v", 1, 3));
  ASSERT_TRUE(tablets.ok()) << tablets.status();
  const std::string tablet = tablets->at(0);
  const std::string load_start = LoadAverage();

  // Rows in 5,000-row requests through the leader.
  const int64_t rows = Rows();
  const auto write_start = std::chrono::steady_clock::now();
  for (int64_t b = 0; b < rows; b += 5000) {
    ASSERT_TRUE(ExternalCluster::WaitFor(
                    [&] {
                      int leader = LeaderIndex(LiveReplicas(cluster, *uuids, {})[tablet], *uuids);
                      return leader >= 0 && UpsertHashedRows(cluster.TServerStub(leader).get(),
                                                             tablet, static_cast<int>(b),
                                                             static_cast<int>(std::min<int64_t>(
                                                                 5000, rows - b)))
                                                .ok();
                    },
                    seconds(60), absl::StrCat("rows from ", b))
                    .ok());
  }
  const double write_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - write_start).count();

  // Server 2: stop, damage one block (or, without flushed blocks, leave it:
  // the rebuild below is forced then), restart.
  const fs::Layout layout(cluster.tserver(2)->fs_root());
  {
    // A tablet server holding ~1M unflushed rows may take a while to stop
    // on a loaded machine.
    absl::Status stopped = cluster.tserver(2)->Shutdown(std::chrono::seconds(60));
    ASSERT_TRUE(stopped.ok()) << stopped;
  }
  bool corrupted = false;
  auto sb = tablet::LoadSuperBlock(layout, tablet);
  if (sb.ok() && !tablet::RowSetBlockIds(*sb).empty()) {
    blocks::BlockManagerOptions ro;
    ro.read_only = true;
    auto bm = blocks::LogBlockManager::Open(layout.DataDir(), ro);
    ASSERT_TRUE(bm.ok());
    auto loc = (*bm)->Locate(tablet::RowSetBlockIds(*sb).front());
    ASSERT_TRUE(loc.ok());
    const std::string path = io::JoinPath(layout.DataDir(), loc->container_id + ".data");
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0);
    char c = 0;
    ASSERT_EQ(::pread(fd, &c, 1, loc->offset + loc->length / 2), 1);
    c ^= 1;
    ASSERT_EQ(::pwrite(fd, &c, 1, loc->offset + loc->length / 2), 1);
    ::close(fd);
    corrupted = true;
  }
  ASSERT_TRUE(cluster.tserver(2)->Restart().ok());

  const auto start = std::chrono::steady_clock::now();
  ToolResult r = RunKmend(absl::StrCat("rebuild-replica --masters ", cluster.master_addresses(),
                                       " --tablet ", tablet, " --tserver ",
                                       cluster.tserver(2)->address(), " --yes --format=json",
                                       " --progress_interval=200ms", corrupted ? "" : " --force"),
                          cluster.base_dir());
  const double total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;

  double plan_s = 0, first_catch_up_s = -1, done_s = 0;
  int64_t bytes = 0, copy_ms = 0;
  for (absl::string_view line : absl::StrSplit(r.out, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line);
    if (j["event"] == "plan") {
      plan_s = j["elapsed_seconds"];
      bytes = j["bytes_to_copy"];
    } else if (j["event"] == "progress" && j["phase"] != "copying" && first_catch_up_s < 0) {
      first_catch_up_s = j["elapsed_seconds"];
    } else if (j["event"] == "result") {
      done_s = j["elapsed_seconds"];
      copy_ms = j["copy_elapsed_ms"];
    }
  }
  std::cout << "rebuild-replica end to end: " << rows << " rows written in " << write_s
            << " s; tablet " << bytes / 1e6 << " MB to copy (blocks + WAL)"
            << (corrupted ? ", one block corrupted" : ", no flushed block: forced") << "\n"
            << "  command -> caught up (process wall time): " << total_s << " s\n"
            << "  facts + plan + sizing (until the plan line): " << plan_s << " s\n"
            << "  copy on the server (its own count): " << copy_ms / 1e3 << " s = "
            << (copy_ms > 0 ? bytes / 1e6 / (copy_ms / 1e3) : 0) << " MB/s\n"
            << "  plan line -> first non-copying poll: " << (first_catch_up_s - plan_s) << " s\n"
            << "  first non-copying poll -> caught up: " << (done_s - first_catch_up_s) << " s\n"
            << "  load average: start " << load_start << ", end " << LoadAverage() << "\n";
  // The server's own split of "copy on the server": the copier's time
  // ("copied tablet ... in S s") and then opening the copied replica
  // (reading its blocks, replaying its WAL: "started: N rows"), with the
  // log's timestamps.
  auto log = io::ReadFileToString(cluster.tserver(2)->log_path());
  if (log.ok()) {
    std::cout << "  target server's log of the rebuild:\n";
    bool in_copy = false;
    for (absl::string_view line : absl::StrSplit(*log, '\n', absl::SkipEmpty())) {
      if (absl::StrContains(line, "StartTabletCopy")) in_copy = true;
      if (in_copy && (absl::StrContains(line, tablet) || absl::StrContains(line, "copy"))) {
        std::cout << "    " << line.substr(0, 300) << "\n";
      }
    }
  }
}

}  // namespace
}  // namespace kmend::testing
