// The reference server at N tablets (issue 15): one master and three tablet
// servers as real processes on loopback, server defaults (500 ms
// heartbeats, 100 ms Raft tick), a table of N tablets with RF=3 (tables of
// at most 1,000 tablets, the master's per-table limit), nothing written.
// For each N it measures:
//   create    CreateTable calls until every tablet has a leader that all
//             three replicas agree on (GetStatus of each tablet server);
//             "RPC" is the CreateTable calls alone (catalog change and the
//             CreateTablet fan-out), the rest is elections;
//   idle CPU  user+system time of the four processes over the idle window
//             (/proc/<pid>/stat), as % of one core, in 2 s slices: median
//             and spread of the slices;
//   threads   /proc/<pid>/task of each tablet server (max) and the master;
//   describe  DescribeTable of the largest table against the leader
//             master, 5 calls (the master answers from memory);
//   ksck      `kmend ksck` end to end (process start to exit), 5 runs;
//   restart   tablet server 0 killed (SIGKILL) and started again until it
//             serves every replica again: all N RUNNING and each knows a
//             leader (its own term's); KMEND_SCALE_RESTARTS times on the
//             same cluster (median and spread), with the time until its
//             RPC server listened in parentheses;
//   tools     the repair half at N (after the restarts): tablet server 0
//             shut down (SIGTERM), then `kmend recover plan` against the
//             cluster without it (every tablet keeps a majority: nothing
//             to plan, exit 0) and `kmend fsck` of its data directory
//             (every replica's superblock, cmeta, WAL and blocks; exit 0
//             after a clean stop), each end to end, once.
// The machine's load average is printed with every line: figures taken on a
// shared machine are noisy, compare runs taken side by side.
//
//   bazel test //bench/scale:scale_bench --test_tag_filters=benchmark
//       --test_output=all --test_env=KMEND_SCALE_TABLETS=30,100,300
//   or, built: KMEND_SERVER_BIN=bazel-bin/server/kmend-server
//              bazel-bin/bench/scale/scale_bench   (runfiles find kmend)
// Environment: KMEND_SCALE_TABLETS (comma-separated N, default "30,100"),
// KMEND_SCALE_IDLE_S (idle window, default 20), KMEND_SCALE_SETTLE_S (wait
// between "every tablet led" and the idle window, default 10), KMEND_SCALE_OUT (append one
// JSON line per N to this file), KMEND_SCALE_TSERVER_FLAGS (extra tablet
// server flags, space-separated, e.g. "--raft_quiesce=false" to measure
// without quiescence; printed with the figures), KMEND_SCALE_RESTARTS
// (restarts of tablet server 0, default 1), KMEND_SCALE_LOG_DIR (copy the
// tablet servers' logs there as n<N>-ts<i>.log, for where the time went),
// KMEND_SCALE_SAVE_DATA (after the restarts, SIGKILL tablet server 0 and
// copy its data directory there as n<N>-ts0: replay its start-up alone with
// `kmend-server tserver --fs_root=<a copy>`; the copy is not sparse, so
// thin it with `cp -a --sparse=always`).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "grpcpp/grpcpp.h"
#include "proto/master.grpc.pb.h"
#include "proto/status.grpc.pb.h"
#include "bench/common/process_cpu.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::bench {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxTabletsPerTable = 1000;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string LoadAverage() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return absl::StrCat(a, " ", b, " ", c);
}

using bench::CpuTicks;

int Threads(pid_t pid) {
  int n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator(absl::StrCat("/proc/", pid, "/task"), ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

struct Spread {
  double median = 0, min = 0, max = 0;
};

Spread Summarize(std::vector<double> v) {
  Spread s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.min = v.front();
  s.max = v.back();
  s.median = v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
  return s;
}

std::string Fmt(const Spread& s, const char* unit) {
  return absl::StrFormat("%.3g%s [%.3g..%.3g]", s.median, unit, s.min, s.max);
}

// Replicas on one tablet server: how many, how many lead, how many are
// RUNNING and know a leader.
struct ServerView {
  int replicas = 0;
  int leaders = 0;
  int serving = 0;
  int64_t max_term = 0;
};

absl::StatusOr<ServerView> View(testing::ExternalCluster* cluster, int i) {
  auto st = cluster->GetStatus(cluster->tserver(i), std::chrono::seconds(10));
  if (!st.ok()) return st.status();
  ServerView v;
  for (const auto& r : st->replicas()) {
    ++v.replicas;
    if (r.role() == consensus::RaftPeerPB::LEADER) ++v.leaders;
    v.max_term = std::max<int64_t>(v.max_term, r.consensus_state().current_term());
    if (r.data_state() == server::TABLET_DATA_READY &&
        !r.consensus_state().leader_uuid().empty()) {
      ++v.serving;
    }
  }
  return v;
}

struct Result {
  int tablets = 0;
  double create_s = 0;
  double create_rpc_s = 0;
  Spread describe_ms;
  Spread idle_cpu_pct;
  double idle_master_pct = 0;
  double idle_tserver_max_pct = 0;
  int threads_tserver_max = 0;
  int threads_master = 0;
  Spread ksck_ms;
  int ksck_exit = -1;
  Spread restart_s;       // seconds, over KMEND_SCALE_RESTARTS restarts
  Spread restart_port_s;  // of which until the RPC server listened
  bool restart_failed = false;
  double recover_plan_ms = -1;
  int recover_plan_exit = -1;
  double fsck_ms = -1;
  int fsck_exit = -1;
  std::string load_before, load_after;
};

// Runs `kmend <args>`; its wall time in ms and exit code into the result.
// A non-zero exit prints the tool's first lines, so a failed run says why.
void TimeTool(const std::string& args, const std::string& scratch, double* ms, int* exit_code) {
  auto t0 = Clock::now();
  testing::ToolResult tr = testing::RunKmend(args, scratch);
  *ms = 1000 * SecondsSince(t0);
  *exit_code = tr.exit_code;
  if (tr.exit_code != 0) {
    std::cerr << "kmend " << args.substr(0, args.find(' ')) << " exit " << tr.exit_code << ": "
              << tr.err.substr(0, 400) << "\n"
              << tr.out.substr(0, 1200) << "\n";
  }
}

absl::Status CreateTables(testing::ExternalCluster* cluster, int n) {
  auto stub = cluster->MasterStub();
  for (int t = 0; n > 0; ++t) {
    int here = std::min(n, kMaxTabletsPerTable);
    n -= here;
    master::CreateTableRequestPB req;
    req.set_name(absl::StrCat("scale", t));
    auto* id = req.mutable_schema()->add_columns();
    id->set_name("id");
    id->set_type(INT64);
    id->set_is_key(true);
    auto* v = req.mutable_schema()->add_columns();
    v->set_name("v");
    v->set_type(STRING);
    req.set_num_tablets(here);
    req.set_num_replicas(3);
    master::CreateTableResponsePB resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    grpc::Status s = stub->CreateTable(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::InternalError(absl::StrCat("CreateTable scale", t, ": ", s.error_message()));
    }
  }
  return absl::OkStatus();
}

bool AllLed(testing::ExternalCluster* cluster, int n) {
  int leaders = 0;
  for (int i = 0; i < cluster->num_tservers(); ++i) {
    auto v = View(cluster, i);
    if (!v.ok() || v->replicas != n || v->serving != n) return false;
    leaders += v->leaders;
  }
  return leaders == n;
}

absl::StatusOr<Result> RunOne(int n, int idle_s, int settle_s, int restarts,
                              const std::string& scratch) {
  Result r;
  r.tablets = n;
  r.load_before = LoadAverage();
  testing::ClusterOptions opts;
  opts.heartbeat_interval_ms = 500;             // the server's default
  opts.tserver_unresponsive_timeout_ms = 5000;  // the master's default
  // Restarting a server must not start re-replication.
  opts.extra_master_flags = {"--rereplication_delay_ms=3600000"};
  if (const char* e = std::getenv("KMEND_SCALE_TSERVER_FLAGS"); e != nullptr && *e) {
    for (absl::string_view f : absl::StrSplit(e, ' ', absl::SkipEmpty())) {
      opts.extra_tserver_flags.emplace_back(f);
    }
  }
  testing::ExternalCluster cluster(opts);
  absl::Status s = cluster.Start();
  if (!s.ok()) return s;

  auto t0 = Clock::now();
  s = CreateTables(&cluster, n);
  if (!s.ok()) return s;
  r.create_rpc_s = SecondsSince(t0);
  s = testing::ExternalCluster::WaitFor([&] { return AllLed(&cluster, n); },
                                        std::chrono::minutes(10), "every tablet led");
  if (!s.ok()) return s;
  r.create_s = SecondsSince(t0);

  // Idle: let the elections' aftermath settle (groups quiesce after their
  // last heartbeat round, the first reports and passes run), then sample.
  std::this_thread::sleep_for(std::chrono::seconds(settle_s));
  std::vector<pid_t> pids = {cluster.master()->pid()};
  for (int i = 0; i < cluster.num_tservers(); ++i) pids.push_back(cluster.tserver(i)->pid());
  const double hz = static_cast<double>(sysconf(_SC_CLK_TCK));
  std::vector<double> slices;
  std::vector<int64_t> per_process(pids.size(), 0);
  auto idle_start = Clock::now();
  for (int k = 0; k < std::max(1, idle_s / 2); ++k) {
    int64_t before = 0, after = 0;
    std::vector<int64_t> each(pids.size());
    for (size_t i = 0; i < pids.size(); ++i) before += each[i] = CpuTicks(pids[i]);
    auto ts = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(2));
    for (size_t i = 0; i < pids.size(); ++i) {
      const int64_t t = CpuTicks(pids[i]);
      after += t;
      per_process[i] += t - each[i];
    }
    slices.push_back(100.0 * (after - before) / hz / SecondsSince(ts));
  }
  r.idle_cpu_pct = Summarize(slices);
  // Where the idle CPU goes: the master's share and the busiest tablet
  // server's, each averaged over the window.
  const double window_s = SecondsSince(idle_start);
  r.idle_master_pct = 100.0 * per_process[0] / hz / window_s;
  for (size_t i = 1; i < pids.size(); ++i) {
    r.idle_tserver_max_pct = std::max(r.idle_tserver_max_pct, 100.0 * per_process[i] / hz / window_s);
  }
  r.threads_master = Threads(cluster.master()->pid());
  for (int i = 0; i < cluster.num_tservers(); ++i) {
    r.threads_tserver_max = std::max(r.threads_tserver_max, Threads(cluster.tserver(i)->pid()));
  }

  std::vector<double> describe;
  for (int k = 0; k < 5; ++k) {
    auto stub = cluster.MasterStub();
    master::DescribeTableRequestPB req;
    req.set_name("scale0");
    master::DescribeTableResponsePB resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto td = Clock::now();
    grpc::Status ds = stub->DescribeTable(&ctx, req, &resp);
    describe.push_back(1000 * SecondsSince(td));
    if (!ds.ok() || resp.tablets_size() != std::min(n, kMaxTabletsPerTable)) {
      return absl::InternalError(absl::StrCat("DescribeTable scale0: ", ds.error_message(), " (",
                                              resp.tablets_size(), " tablets)"));
    }
  }
  r.describe_ms = Summarize(describe);

  std::vector<double> ksck;
  for (int k = 0; k < 5; ++k) {
    auto tk = Clock::now();
    testing::ToolResult tr = testing::RunKmend(
        absl::StrCat("ksck --masters ", cluster.master_addresses(), " --timeout 30s"), scratch);
    ksck.push_back(1000 * SecondsSince(tk));
    r.ksck_exit = tr.exit_code;
    if (tr.exit_code != 0) {
      // What it found: the lines that are not healthy (or its error).
      std::cerr << "ksck exit " << tr.exit_code << ": " << tr.err.substr(0, 400) << "\n";
      int shown = 0;
      for (absl::string_view line : absl::StrSplit(tr.out, '\n')) {
        if (shown < 15 && !line.empty() && !absl::StrContains(line, "HEALTHY")) {
          std::cerr << "  " << line << "\n";
          ++shown;
        }
      }
    }
  }
  r.ksck_ms = Summarize(ksck);

  // Restart-to-serving, `restarts` times on the same cluster (median and
  // spread). "port" is the process start until its RPC server listens (the
  // port file), "serving" until all N replicas are RUNNING and know a leader.
  std::vector<double> restart, port;
  for (int k = 0; k < restarts; ++k) {
    if (k > 0) std::this_thread::sleep_for(std::chrono::seconds(3));  // let it settle
    auto tr0 = Clock::now();
    s = cluster.tserver(0)->Restart(std::chrono::minutes(5));
    if (!s.ok()) return s;
    port.push_back(SecondsSince(tr0));
    auto last_note = Clock::now();
    s = testing::ExternalCluster::WaitFor(
        [&] {
          auto v = View(&cluster, 0);
          if (v.ok() && std::chrono::duration<double>(Clock::now() - last_note).count() >= 5) {
            // Progress, so that a slow or stuck restart shows how it went.
            last_note = Clock::now();
            std::cerr << absl::StrFormat("  restart %d at %.1f s: %d replicas, %d serving, %d lead, "
                                         "max term %d\n",
                                         k + 1, SecondsSince(tr0), v->replicas, v->serving,
                                         v->leaders, v->max_term);
          }
          return v.ok() && v->replicas == n && v->serving == n;
        },
        std::chrono::minutes(10), "the restarted server serving every replica");
    if (!s.ok()) {
      // The other columns are still worth printing: restart_s < 0 says it failed.
      std::cerr << "restart: " << s << "\n";
      restart.push_back(-1);
      break;
    }
    restart.push_back(SecondsSince(tr0));
  }
  if (const char* d = std::getenv("KMEND_SCALE_SAVE_DATA"); d != nullptr && *d) {
    // Tablet server 0's data directory as a crash leaves it, to replay its
    // start-up alone (kmend-server tserver --fs_root on a copy).
    (void)cluster.tserver(0)->KillNine();
    std::error_code ec;
    std::filesystem::copy(cluster.tserver(0)->fs_root(), absl::StrCat(d, "/n", n, "-ts0"),
                          std::filesystem::copy_options::recursive, ec);
    if (ec) std::cerr << "KMEND_SCALE_SAVE_DATA: " << ec.message() << "\n";
  }
  // The repair tools on the cluster at N (with SAVE_DATA tablet server 0
  // was SIGKILLed above: fsck then judges a crashed directory).
  if (cluster.tserver(0)->running()) {
    s = cluster.tserver(0)->Shutdown(std::chrono::seconds(60));
    if (!s.ok()) return s;
  }
  TimeTool(absl::StrCat("recover plan --masters ", cluster.master_addresses(), " --timeout 30s"),
           scratch, &r.recover_plan_ms, &r.recover_plan_exit);
  TimeTool(absl::StrCat("fsck --fs_root ", cluster.tserver(0)->fs_root()), scratch, &r.fsck_ms,
           &r.fsck_exit);
  r.restart_s = Summarize(restart);
  r.restart_port_s = Summarize(port);
  if (restart.empty()) {  // KMEND_SCALE_RESTARTS=0
    restart.push_back(0);
    port.push_back(0);
  }
  r.restart_failed = std::count(restart.begin(), restart.end(), -1.0) > 0;
  if (const char* d = std::getenv("KMEND_SCALE_LOG_DIR"); d != nullptr && *d) {
    // The servers' logs, for where the time went (the cluster's directory
    // is removed with it).
    for (int i = 0; i < cluster.num_tservers(); ++i) {
      std::error_code ec;
      std::filesystem::copy_file(cluster.tserver(i)->log_path(),
                                 absl::StrCat(d, "/n", n, "-ts", i, ".log"),
                                 std::filesystem::copy_options::overwrite_existing, ec);
    }
  }
  r.load_after = LoadAverage();
  return r;
}

int Main() {
  std::vector<int> sizes = {30, 100};
  if (const char* e = std::getenv("KMEND_SCALE_TABLETS"); e != nullptr && *e) {
    sizes.clear();
    for (absl::string_view p : absl::StrSplit(e, ',', absl::SkipEmpty())) {
      int n = 0;
      if (!absl::SimpleAtoi(p, &n) || n < 1) {
        std::cerr << "KMEND_SCALE_TABLETS: bad size '" << p << "'\n";
        return 2;
      }
      sizes.push_back(n);
    }
  }
  int idle_s = 20;
  if (const char* e = std::getenv("KMEND_SCALE_IDLE_S"); e != nullptr && *e) {
    if (!absl::SimpleAtoi(e, &idle_s) || idle_s < 2) idle_s = 20;
  }
  int settle_s = 10;
  if (const char* e = std::getenv("KMEND_SCALE_SETTLE_S"); e != nullptr && *e) {
    if (!absl::SimpleAtoi(e, &settle_s) || settle_s < 0) settle_s = 10;
  }
  int restarts = 1;
  if (const char* e = std::getenv("KMEND_SCALE_RESTARTS"); e != nullptr && *e) {
    if (!absl::SimpleAtoi(e, &restarts) || restarts < 0) restarts = 1;
  }
  std::string out_path;
  if (const char* e = std::getenv("KMEND_SCALE_OUT"); e != nullptr) out_path = e;
  const char* tmp = std::getenv("TEST_TMPDIR");
  std::string scratch = tmp != nullptr ? tmp : "/tmp";

  if (const char* e = std::getenv("KMEND_SCALE_TSERVER_FLAGS"); e != nullptr && *e) {
    std::cout << "tablet server flags: " << e << "\n";
  }
  std::cout << "settle " << settle_s << " s, idle window " << idle_s << " s\n";
  std::cout << "tablets | create s (RPC s) | idle CPU % of one core, median [min..max] | idle master;busiest tserver % | threads/tserver"
               " | threads master | DescribeTable ms | ksck ms median [min..max] | restart s median [min..max] (RPC server listening s)"
               " | recover plan ms (exit) | fsck ms (exit) | load avg before;after\n";
  int failures = 0;
  for (int n : sizes) {
    auto r = RunOne(n, idle_s, settle_s, restarts, scratch);
    if (!r.ok()) {
      std::cout << n << " | FAILED: " << r.status() << "\n";
      ++failures;
      continue;
    }
    if (r->restart_failed) ++failures;  // a restart printed as -1
    if (r->recover_plan_exit != 0 || r->fsck_exit != 0) ++failures;
    std::cout << absl::StrFormat("%d | %.2f (%.2f) | %s | %.1f;%.1f | %d | %d | %s | %s (exit %d) | %s (%s)"
                                 " | %.0f (%d) | %.0f (%d) | %s;%s\n",
                                 r->tablets, r->create_s, r->create_rpc_s,
                                 Fmt(r->idle_cpu_pct, "%"), r->idle_master_pct,
                                 r->idle_tserver_max_pct, r->threads_tserver_max,
                                 r->threads_master, Fmt(r->describe_ms, ""),
                                 Fmt(r->ksck_ms, ""), r->ksck_exit, Fmt(r->restart_s, ""),
                                 Fmt(r->restart_port_s, ""), r->recover_plan_ms,
                                 r->recover_plan_exit, r->fsck_ms, r->fsck_exit, r->load_before,
                                 r->load_after)
              << std::flush;
    if (!out_path.empty()) {
      std::ofstream f(out_path, std::ios::app);
      f << absl::StrFormat(
          "{\"schema\":\"kmend.scale_bench/4\",\"tablets\":%d,\"create_s\":%.3f,"
          "\"create_rpc_s\":%.3f,\"describe_ms\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f},"
          "\"idle_cpu_pct\":{\"median\":%.2f,\"min\":%.2f,\"max\":%.2f},"
          "\"idle_master_pct\":%.2f,\"idle_tserver_max_pct\":%.2f,\"settle_s\":%d,"
          "\"threads_tserver_max\":%d,\"threads_master\":%d,"
          "\"ksck_ms\":{\"median\":%.1f,\"min\":%.1f,\"max\":%.1f},\"ksck_exit\":%d,"
          "\"restart_s\":{\"median\":%.3f,\"min\":%.3f,\"max\":%.3f},"
          "\"restart_listening_s\":{\"median\":%.3f,\"min\":%.3f,\"max\":%.3f},"
          "\"recover_plan_ms\":%.1f,\"recover_plan_exit\":%d,\"fsck_ms\":%.1f,\"fsck_exit\":%d,"
          "\"loadavg_before\":\"%s\",\"loadavg_after\":\"%s\"}\n",
          r->tablets, r->create_s, r->create_rpc_s, r->describe_ms.median, r->describe_ms.min,
          r->describe_ms.max, r->idle_cpu_pct.median, r->idle_cpu_pct.min,
          r->idle_cpu_pct.max, r->idle_master_pct, r->idle_tserver_max_pct, settle_s,
          r->threads_tserver_max, r->threads_master, r->ksck_ms.median,
          r->ksck_ms.min, r->ksck_ms.max, r->ksck_exit, r->restart_s.median, r->restart_s.min,
          r->restart_s.max, r->restart_port_s.median, r->restart_port_s.min,
          r->restart_port_s.max, r->recover_plan_ms, r->recover_plan_exit, r->fsck_ms,
          r->fsck_exit, r->load_before, r->load_after);
    }
  }
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace kmend::bench

int main() { return kmend::bench::Main(); }
