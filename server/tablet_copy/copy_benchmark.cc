// Tablet copy throughput over loopback: a ~200 MB tablet (one rowset of
// zstd-compressed column blocks, plus an 8 MB WAL) copied from an in-process
// TabletCopyService into a fresh root, per chunk size and with/without
// fsync on the destination.
//
//   bazel run -c opt //server/tablet_copy:copy_benchmark
//
// bytes_per_second counts block and WAL bytes copied.
#include <filesystem>
#include <memory>

#include "benchmark/benchmark.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/layout.h"
#include "server/tablet_copy/copy_client.h"
#include "server/tablet_copy/copy_test_util.h"

namespace kmend::tablet_copy {
namespace {

testing::CopySource* Source() {
  static testing::CopySource* source = [] {
    auto* s = new testing::CopySource();
    testing::SourceSpec spec;
    spec.rows = 240000;
    spec.string_bytes = 1000;
    spec.flushes = 1;
    spec.wal_entries = 2000;
    spec.wal_payload_bytes = 4000;
    spec.wal_segment_size_bytes = 1 << 20;
    SourceOptions o;
    o.reaper_interval = absl::ZeroDuration();
    absl::Status st = s->Start(spec, o);
    if (!st.ok()) {
      fprintf(stderr, "building the source: %s\n", st.ToString().c_str());
      abort();
    }
    return s;
  }();
  return source;
}

void BM_CopyTablet(benchmark::State& state) {
  testing::CopySource* source = Source();
  const int64_t chunk = state.range(0) << 10;
  const bool sync = state.range(1) != 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string root = testing::FreshDir("copybench") + "/root";
    if (!fs::Format(root, {"", 4096}).ok()) abort();
    blocks::BlockManagerOptions bo;
    bo.sync = sync;
    auto bm = blocks::LogBlockManager::Open(fs::Layout(root).DataDir(), bo);
    if (!bm.ok()) abort();
    state.ResumeTiming();

    CopyOptions o;
    o.requestor_uuid = "bench-dest";
    o.block_manager = bm->get();
    o.sync = sync;
    o.chunk_size_bytes = chunk;
    auto r = CopyTablet(source->address(), source->tablet_id(), root, o);
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      break;
    }
    bytes += r->bytes;

    state.PauseTiming();
    bm->reset();
    std::filesystem::remove_all(std::filesystem::path(root).parent_path());
    state.ResumeTiming();
  }
  state.SetBytesProcessed(bytes);
  state.counters["tablet_MB"] =
      static_cast<double>(bytes) / std::max<int64_t>(1, state.iterations()) / 1e6;
}

BENCHMARK(BM_CopyTablet)
    ->ArgNames({"chunk_KiB", "sync"})
    ->Args({256, 0})
    ->Args({1024, 0})
    ->Args({4096, 0})
    ->Args({4096, 1})
    ->Iterations(3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace kmend::tablet_copy
