// End-to-end time of `kmend rebuild-replica` (tag "benchmark"): a real
// cluster of 3 tablet servers, one tablet of $KMEND_REBUILD_BENCH_ROWS rows
// (default 1,000,000 rows of ~100 incompressible bytes: ~100 MB of blocks
// plus its WAL), one replica corrupted on disk; then the command ksck would
// print, with --format=json, timed from the command to the replica RUNNING
// and caught up. Prints where the time went from the tool's JSON lines:
// facts + sizing (until the plan line), the copy (the server's own count,
// split into fetch, replica start and tombstone), the catch-up, and the
// rate. Then the resume saving: the same rebuild again (--force, the
// replica being healthy now), paced so that a kill -9 of the target lands
// once about half the tablet is journaled; the target restarts and the same
// command, unpaced, resumes: bytes kept, bytes fetched and the time against
// the full copy's.
//
// Run (the first line's flags keep Bazel from treating the backslashes as
// a comment continuation):
//   bazel test -c opt //testing/cluster:rebuild_replica_benchmark
//       --test_tag_filters=benchmark --test_output=all
//       [--test_env=KMEND_REBUILD_BENCH_ROWS=N]
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <iostream>
#include <set>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/tablet/superblock.h"
#include "lib/tablet_copy/copy_journal.h"
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

// What one `rebuild-replica --format=json` run printed.
struct RunFigures {
  double plan_s = 0, first_catch_up_s = -1, done_s = 0;
  int64_t bytes = 0, copy_ms = 0, fetch_ms = -1, replica_start_ms = -1, tombstone_ms = -1;
  int64_t bytes_copied = 0, bytes_reused = 0;
  std::string resume_note;
  std::string source_uuid;
};

RunFigures Parse(const std::string& out) {
  RunFigures f;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;
    if (j["event"] == "plan") {
      f.plan_s = j["elapsed_seconds"];
      f.bytes = j["bytes_to_copy"];
      f.source_uuid = j["source"].value("uuid", "");
    } else if (j["event"] == "progress" && j["phase"] != "copying" && f.first_catch_up_s < 0) {
      f.first_catch_up_s = j["elapsed_seconds"];
    } else if (j["event"] == "result") {
      f.done_s = j["elapsed_seconds"];
      f.copy_ms = j["copy_elapsed_ms"];
      f.fetch_ms = j.value("fetch_ms", int64_t{-1});
      f.replica_start_ms = j.value("replica_start_ms", int64_t{-1});
      f.tombstone_ms = j.value("tombstone_ms", int64_t{-1});
      f.bytes_copied = j["bytes_copied"];
      f.bytes_reused = j["bytes_reused"];
      f.resume_note = j.value("resume_note", "");
    }
  }
  return f;
}

TEST(RebuildReplicaBenchmark, CommandToCaughtUp) {
  const int64_t rows = Rows();
  ClusterOptions opts;
  opts.num_tservers = 3;
  opts.extra_master_flags = {"--rereplication_failed_grace_ms=1h"};
  // One flush once every row is in (the reference server's flush rewrites
  // the whole tablet, so flushes during the load would only cost time):
  // the copy is then mostly column blocks, which is what a resume keeps.
  opts.extra_tserver_flags = {absl::StrCat("--flush_threshold_rows=", rows),
                              "--flush_threshold_mb=100000"};
  ExternalCluster cluster(opts);
  ASSERT_TRUE(cluster.Start().ok());
  auto uuids = GetTServerUuids(cluster);
  ASSERT_TRUE(uuids.ok());
  auto tablets = CreateTable(cluster, KeyValueTableRequest("t", "v", 1, 3));
  ASSERT_TRUE(tablets.ok()) << tablets.status();
  const std::string tablet = tablets->at(0);
  const std::string load_start = LoadAverage();

  // Rows in 5,000-row requests through the leader.
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

  // Every replica flushed (at most the 2-minute flush interval).
  absl::Status flushed = ExternalCluster::WaitFor(
      [&] {
        for (int i = 0; i < 3; ++i) {
          auto sb = tablet::LoadSuperBlock(fs::Layout(cluster.tserver(i)->fs_root()), tablet);
          if (!sb.ok() || tablet::RowSetBlockIds(*sb).empty()) return false;
        }
        return true;
      },
      seconds(180), "every replica flushed");
  std::cout << "flushed: " << (flushed.ok() ? "yes" : flushed.ToString()) << "\n";

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

  const RunFigures full = Parse(r.out);
  const double plan_s = full.plan_s, first_catch_up_s = full.first_catch_up_s,
               done_s = full.done_s;
  const int64_t bytes = full.bytes, copy_ms = full.copy_ms;
  std::cout << "rebuild-replica end to end: " << rows << " rows written in " << write_s
            << " s; tablet " << bytes / 1e6 << " MB to copy (blocks + WAL)"
            << (corrupted ? ", one block corrupted" : ", no flushed block: forced") << "\n"
            << "  command -> caught up (process wall time): " << total_s << " s\n"
            << "  facts + plan + sizing (until the plan line): " << plan_s << " s\n"
            << "  copy on the server (its own count): " << copy_ms / 1e3 << " s = "
            << (copy_ms > 0 ? bytes / 1e6 / (copy_ms / 1e3) : 0) << " MB/s\n"
            << "    of which fetch (session, chunks, sync, metadata): " << full.fetch_ms / 1e3
            << " s = " << (full.fetch_ms > 0 ? bytes / 1e6 / (full.fetch_ms / 1e3) : 0)
            << " MB/s; replica start (blocks verified, WAL replayed): "
            << full.replica_start_ms / 1e3 << " s; tombstone: " << full.tombstone_ms / 1e3
            << " s\n"
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

  // The resume saving. Paced to the bytes over ~20 s (at least 1 MB/s), so
  // that the journal (stored at least every second) grows while the test
  // watches it. The same source both times: a resume keeps only blocks
  // offered again by the server they came from.
  const std::string again = absl::StrCat(
      "rebuild-replica --masters ", cluster.master_addresses(), " --tablet ", tablet,
      " --tserver ", cluster.tserver(2)->address(), " --source ", full.source_uuid,
      " --yes --format=json --progress_interval=200ms");
  const int64_t pace = std::max<int64_t>(bytes / 20, 1'000'000);
  ToolResult interrupted;
  std::thread tool([&] {
    interrupted = RunKmend(absl::StrCat(again, " --force --wait=300s --max_bytes_per_sec=", pace),
                           cluster.base_dir());
  });
  // Killed once a block is journaled and at least a third of the bytes
  // were fetched (blocks are journaled whole: the largest may be most of
  // the tablet).
  int64_t journaled = 0;
  absl::Status some = ExternalCluster::WaitFor(
      [&] {
        auto j = tablet_copy::LoadJournal(layout, tablet);
        if (!j.ok() || !j->has_value()) return false;
        journaled = 0;
        for (const auto& b : (*j)->blocks()) journaled += b.size_bytes();
        auto st = cluster.GetStatus(cluster.tserver(2), seconds(2));
        int64_t done = 0;
        if (st.ok()) {
          for (const auto& r : st->replicas()) {
            if (r.tablet_id() == tablet) done = r.copy().bytes_done();
          }
        }
        return journaled > 0 && done >= bytes / 3;
      },
      seconds(120), "a block journaled and a third of the bytes fetched");
  EXPECT_TRUE(some.ok()) << some;
  EXPECT_TRUE(cluster.tserver(2)->KillNine().ok());
  EXPECT_TRUE(cluster.tserver(2)->Restart().ok());
  tool.join();
  ASSERT_TRUE(some.ok());
  ASSERT_NE(interrupted.exit_code, 0) << interrupted.out << interrupted.err;

  const auto resume_start = std::chrono::steady_clock::now();
  ToolResult resumed = RunKmend(again, cluster.base_dir());
  const double resume_total_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - resume_start).count();
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out << resumed.err;
  const RunFigures res = Parse(resumed.out);
  const int64_t fetched = res.bytes_copied - res.bytes_reused;
  std::cout << "resume after kill -9 of the target (" << journaled / 1e6
            << " MB journaled when killed): " << res.resume_note << "\n"
            << "  kept " << res.bytes_reused / 1e6 << " MB, fetched " << fetched / 1e6
            << " MB of " << res.bytes_copied / 1e6 << " MB ("
            << (res.bytes_copied > 0 ? 100.0 * res.bytes_reused / res.bytes_copied : 0)
            << "% not fetched again)\n"
            << "  resumed copy on the server: " << res.copy_ms / 1e3 << " s (fetch "
            << res.fetch_ms / 1e3 << " s, replica start " << res.replica_start_ms / 1e3
            << " s) vs the full copy's " << copy_ms / 1e3 << " s (fetch " << full.fetch_ms / 1e3
            << " s)\n"
            << "  command -> caught up: " << resume_total_s << " s vs " << total_s
            << " s for the full rebuild\n"
            << "  load average at the end: " << LoadAverage() << "\n";
  EXPECT_GT(res.bytes_reused, 0) << resumed.out;
}

}  // namespace
}  // namespace kmend::testing
