// Puts/s through etcd 3.4's Raft (Debian's etcd-server), the load kmend's
// bench/client/write_bench runs: three members on loopback with default
// timing and fsync, 100-byte values under fresh keys, one put per request,
// each acknowledged before the thread's next; 1 and 16 client threads
// sharing one gRPC channel to the leader (a put to a follower would take an
// extra forwarding hop; kmend's client also writes to leaders).
//
//   bazel test //bench/etcd:etcd_put_bench --test_tag_filters=benchmark --test_output=all
#include <atomic>
#include <iostream>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/common/process_cpu.h"
#include "bench/etcd/etcd_cluster.h"
#include "benchmark/benchmark.h"
#include "grpcpp/grpcpp.h"

namespace kmend::bench {
namespace {

constexpr size_t kValueLen = 100;

struct Fixture {
  EtcdCluster cluster;
  int leader = -1;
  std::atomic<int64_t> next_key{0};
};

// Set up by main() before any benchmark runs, on the main thread: members
// die with the thread that spawned them (PR_SET_PDEATHSIG), so they must
// not be started from a benchmark worker thread.
Fixture* g_fixture = nullptr;


void BM_EtcdPut(benchmark::State& state) {
  Fixture* fx = g_fixture;
  etcdserverpb::KV::Stub* kv = fx->cluster.kv(fx->leader);
  const std::string value(kValueLen, 'v');
  int64_t acked = 0, failed = 0;
  static CpuPerOp server_cpu;
  if (state.thread_index() == 0) {
    std::vector<pid_t> pids;
    for (int i = 0; i < fx->cluster.num_members(); ++i) pids.push_back(fx->cluster.pid(i));
    server_cpu.Start(std::move(pids));
  }
  for (auto _ : state) {
    etcdserverpb::PutRequest req;
    req.set_key(absl::StrFormat("bench/%016d", fx->next_key.fetch_add(1)));
    req.set_value(value);
    etcdserverpb::PutResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status s = kv->Put(&ctx, req, &resp);
    if (s.ok()) {
      ++acked;
      server_cpu.Acked(1);
    } else {
      ++failed;
    }
  }
  state.SetItemsProcessed(acked);
  state.SetBytesProcessed(acked * static_cast<int64_t>(kValueLen));
  state.counters["not_acked"] = static_cast<double>(failed);
  // The members' CPU per acknowledged put.
  if (state.thread_index() == 0) {
    state.counters["server_cpu_ms_per_row"] = server_cpu.FinishMillisPerOp();
    state.counters["server_switches_per_row"] = server_cpu.FinishSwitchesPerOp();
  }
}
BENCHMARK(BM_EtcdPut)->Threads(1)->Threads(16)->UseRealTime()->MinTime(3.0);

int Main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  auto fx = std::make_unique<Fixture>();
  absl::Status s = fx->cluster.Start();
  if (!s.ok()) {
    std::cerr << "etcd cluster: " << s << "\n";
    return 1;
  }
  auto l = fx->cluster.LeaderIndex();
  if (!l.ok()) {
    std::cerr << "etcd leader: " << l.status() << "\n";
    return 1;
  }
  fx->leader = *l;
  g_fixture = fx.get();
  benchmark::RunSpecifiedBenchmarks();
  g_fixture = nullptr;
  return 0;  // ~Fixture kills the members and removes their data
}

}  // namespace
}  // namespace kmend::bench

int main(int argc, char** argv) { return kmend::bench::Main(argc, argv); }
