// Rows/s written through Raft by the kmend client (lib/client): a real
// cluster of one master and three tablet servers on loopback (RF=3, WAL
// fsync on, as the server always runs), ~100-byte rows (int64 key + 92-byte
// string), INSERTs of fresh keys, 1 and 16 client threads, each with its own
// TableWriter over a shared TableLocator; every Write is acknowledged before
// the thread's next.
//
// Arguments: rows per Write call, tablets of the table.
//   300/3  the client's batch path: one Write RPC of ~100 rows to each of
//          the 3 tablets' leaders per call;
//   1/3    one row per request (the load etcd's one put per request gets in
//          bench/etcd), leaders of 3 tablets spread over the servers;
//   1/1    one row per request to a single tablet: one Raft group, one
//          leader, like etcd's single Raft group.
//
//   bazel test //bench/client:write_bench --test_tag_filters=benchmark --test_output=all
//   or, built: KMEND_SERVER_BIN=bazel-bin/server/kmend-server bazel-bin/bench/client/write_bench
//
// KMEND_BENCH_LEADERS_ON=I moves the leader of every tablet of both tables to
// tablet server I before measuring (docs/design/shared_log.md: do the rounds
// of groups led from one server line up?). Unset: wherever the elections put
// them.
//
// KMEND_BENCH_CLIENTS=64 adds one-row cases (1 and 3 tablets) at 64 client
// threads (a comma-separated list for more counts).
//
// KMEND_BENCH_TSERVER_CPUS=0-1/2-3/4-5 runs tablet server i under `taskset -c`
// with the i-th CPU list, and KMEND_BENCH_CLIENT_CPUS=6-7 pins this process:
// the clients, and the master, which inherits the set. On a machine with cores enough,
// that gives each server cores of its own, as three machines would
// (docs/design/shared_log.md, "The ceiling on this machine").
#include <sched.h>

#include <atomic>
#include <iostream>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "bench/common/process_cpu.h"
#include "benchmark/benchmark.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"
#include "lib/client/table_locator.h"
#include "lib/client/table_writer.h"

namespace kmend {
namespace {

constexpr size_t kStringLen = 92;

struct Fixture {
  std::unique_ptr<testing::ExternalCluster> cluster;
  // Tablet count -> locator of table "bench<count>".
  std::map<int, std::unique_ptr<client::TableLocator>> locators;
  std::atomic<int64_t> next_key{0};
};

// Set up by main() on the main thread before any benchmark runs: servers
// die with the thread that spawned them (PR_SET_PDEATHSIG), so they must
// not be started from a benchmark worker thread.
Fixture* g_fixture = nullptr;

absl::Status CreateTable(Fixture* fx, int num_tablets) {
  master::CreateTableRequestPB req;
  req.set_name(absl::StrCat("bench", num_tablets));
  auto* id = req.mutable_schema()->add_columns();
  id->set_name("id");
  id->set_type(INT64);
  id->set_is_key(true);
  auto* payload = req.mutable_schema()->add_columns();
  payload->set_name("payload");
  payload->set_type(STRING);
  req.set_num_tablets(num_tablets);
  req.set_num_replicas(3);
  master::CreateTableResponsePB resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status gs = fx->cluster->MasterStub()->CreateTable(&ctx, req, &resp);
  if (!gs.ok()) return absl::UnavailableError("CreateTable: " + gs.error_message());
  auto loc = client::TableLocator::Open(fx->cluster->master_address(), req.name(),
                                               std::chrono::milliseconds(5000));
  if (!loc.ok()) return loc.status();
  // Warm up: the first write waits for the leader elections.
  client::TableWriter w(loc->get(), absl::Seconds(30));
  std::vector<tablet::Row> rows;
  for (int i = 0; i < 300; ++i) {
    rows.push_back(client::GeneratedRow((*loc)->schema(), fx->next_key++, kStringLen));
  }
  auto r = w.Write(rows, RowOpPB::INSERT);
  if (!r.ok()) return r.status();
  fx->locators[num_tablets] = std::move(*loc);
  return absl::OkStatus();
}

// Asks each tablet's replicas to hand leadership to tablet server `target`
// (ConsensusService.StepDown with new_leader_uuid: the leader transfers, the
// others refuse) until that server leads every tablet of every table.
absl::Status MoveLeadersTo(Fixture* fx, int target) {
  absl::StatusOr<std::string> uuid = fx->cluster->TServerUuid(target);
  if (!uuid.ok()) return uuid.status();
  std::set<std::string> tablets;
  for (const auto& [count, loc] : fx->locators) {
    for (int t = 0; t < loc->num_tablets(); ++t) tablets.insert(loc->route(t).tablet_id);
  }
  auto led_by_target = [&]() {
    absl::StatusOr<server::GetStatusResponsePB> st =
        fx->cluster->GetStatus(fx->cluster->tserver(target));
    if (!st.ok()) return false;
    size_t led = 0;
    for (const auto& r : st->replicas()) {
      if (tablets.count(r.tablet_id()) && r.role() == consensus::RaftPeerPB::LEADER) ++led;
    }
    return led == tablets.size();
  };
  return testing::ExternalCluster::WaitFor(
      [&] {
        if (led_by_target()) return true;
        for (const auto& [count, loc] : fx->locators) {
          for (int t = 0; t < loc->num_tablets(); ++t) {
            for (const client::ReplicaAddr& r : loc->route(t).replicas) {
              (void)testing::RequestLeaderTransfer(r.address, loc->route(t).tablet_id, *uuid);
            }
          }
        }
        absl::SleepFor(absl::Milliseconds(300));
        return led_by_target();
      },
      std::chrono::seconds(30), absl::StrCat("tablet server ", target, " leading every tablet"));
}

void BM_WriteThroughRaft(benchmark::State& state) {
  const int rows_per_write = static_cast<int>(state.range(0));
  Fixture* fx = g_fixture;
  client::TableLocator* locator = fx->locators.at(static_cast<int>(state.range(1))).get();
  client::TableWriter writer(locator, absl::Seconds(30));
  const tablet::Schema& schema = locator->schema();
  int64_t acked = 0, not_acked = 0;
  std::vector<tablet::Row> rows;
  static bench::CpuPerOp server_cpu;
  if (state.thread_index() == 0) {
    std::vector<pid_t> pids;
    for (int i = 0; i < fx->cluster->num_masters(); ++i) pids.push_back(fx->cluster->master(i)->pid());
    for (int i = 0; i < fx->cluster->num_tservers(); ++i) pids.push_back(fx->cluster->tserver(i)->pid());
    server_cpu.Start(std::move(pids));
  }
  for (auto _ : state) {
    state.PauseTiming();
    rows.clear();
    int64_t base = fx->next_key.fetch_add(rows_per_write);
    for (int i = 0; i < rows_per_write; ++i) {
      rows.push_back(client::GeneratedRow(schema, base + i, kStringLen));
    }
    state.ResumeTiming();
    auto r = writer.Write(rows, RowOpPB::INSERT);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    int64_t now_acked = 0;
    for (auto o : r->outcomes) {
      (o == client::RowOutcome::kAcked ? now_acked : not_acked)++;
    }
    acked += now_acked;
    server_cpu.Acked(now_acked);
  }
  state.SetItemsProcessed(acked);
  // Summed over the threads: writes first sent to a replica that was not the
  // leader (each costs an RPC and a refusal), per acknowledged row below.
  state.counters["redirects"] = static_cast<double>(writer.stats().redirects);
  state.SetBytesProcessed(acked * 100);
  state.counters["not_acked"] = static_cast<double>(not_acked);
  // The servers' CPU (masters and tablet servers) per acknowledged row.
  if (state.thread_index() == 0) {
    state.counters["server_cpu_ms_per_row"] = server_cpu.FinishMillisPerOp();
    state.counters["server_switches_per_row"] = server_cpu.FinishSwitchesPerOp();
  }
}
// What every case shares, so that the cases KMEND_BENCH_CLIENTS adds are
// named and timed as the fixed ones.
void CaseSettings(benchmark::internal::Benchmark* b) {
  b->ArgNames({"rows_per_write", "tablets"})->UseRealTime()->MinTime(3.0);
}
BENCHMARK(BM_WriteThroughRaft)
    ->Apply(CaseSettings)
    ->Args({300, 3})
    ->Args({1, 3})
    ->Args({1, 1})
    ->Threads(1)
    ->Threads(16);

// "0-1,4" -> the CPU set; false on anything else.
bool ParseCpuList(absl::string_view list, cpu_set_t* set) {
  CPU_ZERO(set);
  if (list.empty()) return false;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    std::vector<absl::string_view> ends = absl::StrSplit(part, '-');
    int lo = 0, hi = 0;
    if (ends.size() > 2 || !absl::SimpleAtoi(ends[0], &lo) ||
        !absl::SimpleAtoi(ends.back(), &hi) || lo < 0 || hi < lo || hi >= CPU_SETSIZE) {
      return false;
    }
    for (int c = lo; c <= hi; ++c) CPU_SET(c, set);
  }
  return true;
}

// The cluster's options from KMEND_BENCH_TSERVER_CPUS; pins this process to
// KMEND_BENCH_CLIENT_CPUS. An error names the variable and its value.
absl::StatusOr<testing::ClusterOptions> PinnedOptions() {
  testing::ClusterOptions options;
  cpu_set_t set;
  if (const char* e = std::getenv("KMEND_BENCH_TSERVER_CPUS"); e != nullptr && *e) {
    for (absl::string_view list : absl::StrSplit(e, '/')) {
      if (!ParseCpuList(list, &set)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "KMEND_BENCH_TSERVER_CPUS must be CPU lists separated by '/', e.g. 0-1/2-3/4-5; got '",
            e, "'"));
      }
      options.tserver_exec_prefixes.push_back({"/usr/bin/taskset", "-c", std::string(list)});
    }
  }
  if (const char* e = std::getenv("KMEND_BENCH_CLIENT_CPUS"); e != nullptr && *e) {
    if (!ParseCpuList(e, &set)) {
      return absl::InvalidArgumentError(
          absl::StrCat("KMEND_BENCH_CLIENT_CPUS must be a CPU list, e.g. 6-7; got '", e, "'"));
    }
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("KMEND_BENCH_CLIENT_CPUS='", e, "': sched_setaffinity failed"));
    }
  }
  return options;
}

// KMEND_BENCH_CLIENTS=64[,N...] adds one-row cases at those client counts.
bool RegisterMoreClients() {
  const char* e = std::getenv("KMEND_BENCH_CLIENTS");
  if (e == nullptr || *e == '\0') return true;
  for (absl::string_view part : absl::StrSplit(e, ',')) {
    int n = 0;
    if (!absl::SimpleAtoi(part, &n) || n < 1 || n > 1024) {
      std::cerr << "write_bench: KMEND_BENCH_CLIENTS must be client counts (1-1024) separated by ',', got '"
                << e << "'\n";
      return false;
    }
    benchmark::RegisterBenchmark("BM_WriteThroughRaft", BM_WriteThroughRaft)
        ->Apply(CaseSettings)
        ->Args({1, 3})
        ->Args({1, 1})
        ->Threads(n);
  }
  return true;
}

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (!RegisterMoreClients()) return 2;
  // Before any thread starts: threads inherit this process's CPU set.
  absl::StatusOr<testing::ClusterOptions> options = PinnedOptions();
  if (!options.ok()) {
    std::cerr << "write_bench: " << options.status().message() << "\n";
    return 2;
  }
  auto fx = std::make_unique<Fixture>();
  fx->cluster = std::make_unique<testing::ExternalCluster>(*options);
  absl::Status s = fx->cluster->Start();
  for (int tablets : {3, 1}) {
    if (s.ok()) s = CreateTable(fx.get(), tablets);
  }
  if (const char* e = std::getenv("KMEND_BENCH_LEADERS_ON"); s.ok() && e != nullptr && *e) {
    int target = 0;
    if (!absl::SimpleAtoi(e, &target) || target < 0 || target >= fx->cluster->num_tservers()) {
      std::cerr << "write_bench: KMEND_BENCH_LEADERS_ON must be a tablet server index, got '" << e
                << "'\n";
      return 2;
    }
    s = MoveLeadersTo(fx.get(), target);
    if (s.ok()) std::cerr << "write_bench: every leader on tablet server " << target << "\n";
  }
  if (!s.ok()) {
    std::cerr << "write_bench: cluster: " << s << "\n";
    fx->cluster->DumpLogs(std::cerr);
    return 1;
  }
  g_fixture = fx.get();
  benchmark::RunSpecifiedBenchmarks();
  g_fixture = nullptr;
  return 0;  // ~ExternalCluster kills the servers and removes their data
}

}  // namespace
}  // namespace kmend

int main(int argc, char** argv) { return kmend::Main(argc, argv); }
