// Flush throughput and WAL size under a sustained write load, with and
// without automatic flushes + WAL GC (not part of the default suite):
//   bazel run -c opt //server/tserver:maintenance_benchmark
// One replica, the only voter of its tablet, fsync on, 100-byte values,
// 500-row batches from one writer; the server's MaintenanceManager flushes
// every `flush_rows` rows (0: never, i.e. no flush and no WAL GC) with 1 MiB
// WAL segments. Counters: write rows/s, flush rows/s and MB/s (rows and
// column block bytes written per second of Tablet::Flush; each flush
// rewrites the whole tablet), and the WAL's largest and final size.
#include <stdlib.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/consensus/in_memory_network.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/tablet/test_spec.h"
#include "server/tserver/maintenance_manager.h"
#include "server/tserver/raft_router.h"
#include "server/tserver/tablet_manager.h"

namespace kmend::tserver {
namespace {

constexpr char kTablet[] = "00112233445566778899aabbccddeeff";

int64_t WalBytes(const fs::Layout& layout) {
  auto names = io::ListDir(layout.WalDir(kTablet));
  if (!names.ok()) return 0;
  int64_t n = 0;
  for (const std::string& name : *names) {
    struct stat st;
    if (absl::StartsWith(name, "wal-") &&
        ::stat(io::JoinPath(layout.WalDir(kTablet), name).c_str(), &st) == 0) {
      n += static_cast<int64_t>(st.st_blocks) * 512;
    }
  }
  return n;
}

void BM_SustainedWrites(benchmark::State& state) {
  const int64_t flush_rows = state.range(0);
  const int total_rows = static_cast<int>(state.range(1));
  for (auto _ : state) {
    state.PauseTiming();
    std::string tmpl = std::string(getenv("TEST_TMPDIR") ? getenv("TEST_TMPDIR") : "/tmp") +
                       "/mbench.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) return state.SkipWithError("mkdtemp");
    auto info = fs::Format(tmpl);
    if (!info.ok()) return state.SkipWithError("format");
    fs::Layout layout(tmpl);
    auto bm = blocks::LogBlockManager::Open(layout.DataDir());
    if (!bm.ok()) return state.SkipWithError("block manager");
    consensus_driver::InMemoryNetwork net;
    auto transport = net.TransportFor(info->uuid);
    RaftRouter router;
    TabletManager manager(layout, info->uuid);
    MaintenanceManager maintenance([&] { return manager.List(); }, absl::Milliseconds(100));
    ReplicaRuntime rt;
    rt.server_uuid = info->uuid;
    rt.block_manager = bm->get();
    rt.transport = transport.get();
    rt.router = &router;
    rt.tick_interval = absl::Milliseconds(10);
    rt.flush_threshold_rows = flush_rows > 0 ? flush_rows : int64_t{1} << 40;
    rt.flush_threshold_bytes = uint64_t{1} << 40;
    rt.flush_interval = absl::Hours(24);
    rt.wal_segment_size_bytes = 1 << 20;
    rt.request_maintenance = [&] { maintenance.Notify(); };
    manager.SetRuntime(rt);
    (void)manager.Open();
    CreateTabletRequestPB req;
    req.set_tablet_id(kTablet);
    req.set_table_id("t");
    req.set_table_name("t");
    *req.mutable_schema() = tablet::KeyValueTestSchema("v");
    req.mutable_initial_config()->set_opid_index(-1);
    auto* p = req.mutable_initial_config()->add_peers();
    p->set_permanent_uuid(info->uuid);
    p->set_member_type(consensus::RaftPeerPB::VOTER);
    if (!manager.CreateTablet(req).ok()) return state.SkipWithError("create tablet");
    auto replica = *manager.Lookup(kTablet);
    while (true) {
      auto d = replica->driver();
      if (d.ok() && (*d)->GetStatus().role == raft::Role::kLeader) break;
      absl::SleepFor(absl::Milliseconds(5));
    }
    maintenance.Start();
    state.ResumeTiming();

    const absl::Time start = absl::Now();
    int64_t wal_max = 0;
    for (int b = 0; b < total_rows; b += 500) {
      WriteRequestPB w;
      w.set_tablet_id(kTablet);
      for (int i = b; i < std::min(total_rows, b + 500); ++i) {
        RowOpPB* op = w.mutable_ops()->add_ops();
        op->set_type(RowOpPB::UPSERT);
        op->add_cells()->set_int64_value(i);
        op->add_cells()->set_string_value(tablet::IncompressibleTestValue(i).substr(0, 100));
      }
      WriteResponsePB resp;
      absl::Status s = replica->Write(w, &resp);
      if (!s.ok()) return state.SkipWithError(std::string(s.message()).c_str());
      if ((b / 500) % 10 == 0) wal_max = std::max(wal_max, WalBytes(layout));
    }
    const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
    state.PauseTiming();
    wal_max = std::max(wal_max, WalBytes(layout));
    maintenance.Stop();
    TabletReplica::MaintenanceStats st = replica->maintenance_stats();
    state.counters["write_rows_per_s"] = total_rows / seconds;
    state.counters["flushes"] = static_cast<double>(st.flushes);
    state.counters["flush_rows_per_s"] =
        st.flush_seconds > 0 ? st.rows_flushed / st.flush_seconds : 0;
    state.counters["flush_MB_per_s"] =
        st.flush_seconds > 0 ? st.bytes_flushed / st.flush_seconds / 1e6 : 0;
    state.counters["wal_segments_deleted"] = static_cast<double>(st.wal_segments_deleted);
    state.counters["wal_max_MB"] = wal_max / 1e6;
    state.counters["wal_end_MB"] = WalBytes(layout) / 1e6;
    manager.ShutdownAll();
    std::error_code ec;
    std::filesystem::remove_all(tmpl, ec);
    state.ResumeTiming();
  }
}
// {flush every N rows (0: never), rows written}
BENCHMARK(BM_SustainedWrites)
    ->Args({0, 500000})
    ->Args({100000, 500000})
    ->Args({25000, 500000})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kmend::tserver
