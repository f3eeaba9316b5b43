// How long ksck takes to collect and judge 1,000 tablets x 3 replicas on 3 and
// 5 tablet servers over loopback gRPC (issue 6 asks for under 1 s). The
// servers are in-process fakes answering from memory, so this measures ksck's
// own cost: the RPCs, decoding and the checks.
//
//   bazel run //bench/ksck:ksck_benchmark
#include "benchmark/benchmark.h"
#include "lib/check/checker.h"
#include "lib/check/fake_cluster.h"
#include "lib/check/remote_collector.h"

namespace kmend::check {
namespace {

void BM_CollectAndCheck(benchmark::State& state) {
  int servers = static_cast<int>(state.range(0));
  int tablets = static_cast<int>(state.range(1));
  FakeCluster cluster(servers, tablets, 3);
  if (!cluster.Start().ok()) {
    state.SkipWithError("fake cluster did not start");
    return;
  }
  CollectOptions opt;
  opt.masters = {cluster.master_address()};
  for (auto _ : state) {
    absl::StatusOr<check::ClusterSnapshot> snap = CollectRemote(opt);
    if (!snap.ok()) {
      state.SkipWithError("collect failed");
      return;
    }
    check::KsckResults r = check::Check(*snap);
    if (!r.healthy()) {
      state.SkipWithError("fake cluster judged unhealthy");
      return;
    }
    benchmark::DoNotOptimize(r);
  }
  state.counters["replicas"] = tablets * 3;
}

BENCHMARK(BM_CollectAndCheck)
    ->Args({3, 1000})
    ->Args({5, 1000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace kmend::check
