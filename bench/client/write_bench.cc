// Rows/s written through Raft by the kmend client (tools/client): a real
// cluster of one master and three tablet servers on loopback (RF=3, WAL
// fsync on, as the server always runs), a table of 3 hash tablets with
// ~100-byte rows (int64 key + 92-byte string), INSERTs of fresh keys.
// One iteration = one TableWriter::Write of 300 rows (one Write RPC of ~100
// rows to each tablet's leader); 1 and 16 client threads, each with its own
// writer over a shared TableLocator.
//
//   bazel test //bench/client:write_bench --test_tag_filters=benchmark --test_output=all
#include <atomic>
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "testing/cluster/external_cluster.h"
#include "tools/client/table_locator.h"
#include "tools/client/table_writer.h"

namespace kmend {
namespace {

constexpr int kRowsPerWrite = 300;
constexpr size_t kStringLen = 92;

struct Fixture {
  std::unique_ptr<testing::ExternalCluster> cluster;
  std::unique_ptr<tools::client::TableLocator> locator;
  std::atomic<int64_t> next_key{0};
};

// Started once, on first use; torn down at exit (the cluster's destructor
// kills the servers and removes their directories).
Fixture* GetFixture() {
  static Fixture* f = [] {
    auto* fx = new Fixture;
    fx->cluster = std::make_unique<testing::ExternalCluster>();
    absl::Status s = fx->cluster->Start();
    if (!s.ok()) {
      std::cerr << "cluster: " << s << "\n";
      std::abort();
    }
    master::CreateTableRequestPB req;
    req.set_name("bench");
    auto* id = req.mutable_schema()->add_columns();
    id->set_name("id");
    id->set_type(INT64);
    id->set_is_key(true);
    auto* payload = req.mutable_schema()->add_columns();
    payload->set_name("payload");
    payload->set_type(STRING);
    req.set_num_tablets(3);
    req.set_num_replicas(3);
    master::CreateTableResponsePB resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Status gs = fx->cluster->MasterStub()->CreateTable(&ctx, req, &resp);
    if (!gs.ok()) {
      std::cerr << "CreateTable: " << gs.error_message() << "\n";
      std::abort();
    }
    auto loc = tools::client::TableLocator::Open(fx->cluster->master_address(), "bench",
                                                 std::chrono::milliseconds(5000));
    if (!loc.ok()) {
      std::cerr << "locator: " << loc.status() << "\n";
      std::abort();
    }
    fx->locator = std::move(*loc);
    // Warm up: the first write waits for the leader elections.
    tools::client::TableWriter w(fx->locator.get(), absl::Seconds(30));
    std::vector<tablet::Row> rows;
    for (int i = 0; i < kRowsPerWrite; ++i) {
      rows.push_back(tools::client::GeneratedRow(fx->locator->schema(), fx->next_key++, kStringLen));
    }
    auto r = w.Write(rows, RowOpPB::INSERT);
    if (!r.ok()) std::abort();
    return fx;
  }();
  return f;
}

void BM_WriteThroughRaft(benchmark::State& state) {
  Fixture* fx = GetFixture();
  tools::client::TableWriter writer(fx->locator.get(), absl::Seconds(30));
  const tablet::Schema& schema = fx->locator->schema();
  int64_t acked = 0, not_acked = 0;
  std::vector<tablet::Row> rows;
  for (auto _ : state) {
    state.PauseTiming();
    rows.clear();
    int64_t base = fx->next_key.fetch_add(kRowsPerWrite);
    for (int i = 0; i < kRowsPerWrite; ++i) {
      rows.push_back(tools::client::GeneratedRow(schema, base + i, kStringLen));
    }
    state.ResumeTiming();
    auto r = writer.Write(rows, RowOpPB::INSERT);
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      break;
    }
    for (auto o : r->outcomes) {
      (o == tools::client::RowOutcome::kAcked ? acked : not_acked)++;
    }
  }
  state.SetItemsProcessed(acked);
  state.SetBytesProcessed(acked * 100);
  state.counters["not_acked"] = static_cast<double>(not_acked);
}
BENCHMARK(BM_WriteThroughRaft)->Threads(1)->Threads(16)->UseRealTime()->MinTime(3.0);

}  // namespace
}  // namespace kmend
