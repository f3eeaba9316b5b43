// Throughput of the storage pieces (not part of the default suite):
//   bazel run -c opt //lib/tablet:storage_benchmark
#include <stdlib.h>

#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "lib/blocks/check.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/uuid.h"
#include "lib/tablet/column_block.h"
#include "lib/tablet/tablet.h"

namespace kmend::tablet {
namespace {

std::vector<Value> Int64Column(int n) {
  std::vector<Value> v;
  for (int i = 0; i < n; ++i) v.emplace_back(int64_t{i} * 7919);
  return v;
}

std::vector<Value> StringColumn(int n) {
  std::vector<Value> v;
  for (int i = 0; i < n; ++i) v.emplace_back("value-" + std::to_string(i * 31) + "-padding");
  return v;
}

uint64_t BodyBytes(const std::vector<Value>& values) {
  uint64_t n = 0;
  for (const Value& v : values) {
    n += std::holds_alternative<std::string>(v) ? 4 + std::get<std::string>(v).size() : 8;
  }
  return n;
}

void BM_EncodeColumnBlock(benchmark::State& state, kmend::DataType type) {
  std::vector<Value> values = type == kmend::INT64 ? Int64Column(65536) : StringColumn(65536);
  size_t size = 0;
  for (auto _ : state) {
    auto b = EncodeColumnBlock(type, values);
    size = b->size();
    benchmark::DoNotOptimize(b);
  }
  state.SetBytesProcessed(state.iterations() * BodyBytes(values));
  state.counters["block_bytes"] = static_cast<double>(size);
}
BENCHMARK_CAPTURE(BM_EncodeColumnBlock, int64, kmend::INT64);
BENCHMARK_CAPTURE(BM_EncodeColumnBlock, string, kmend::STRING);

void BM_DecodeColumnBlock(benchmark::State& state, kmend::DataType type) {
  std::vector<Value> values = type == kmend::INT64 ? Int64Column(65536) : StringColumn(65536);
  std::string block = *EncodeColumnBlock(type, values);
  for (auto _ : state) {
    auto d = DecodeColumnBlock(1, block);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(state.iterations() * BodyBytes(values));
}
BENCHMARK_CAPTURE(BM_DecodeColumnBlock, int64, kmend::INT64);
BENCHMARK_CAPTURE(BM_DecodeColumnBlock, string, kmend::STRING);

std::string NewRoot() {
  const char* base = getenv("TEST_TMPDIR");
  std::string tmpl = std::string(base ? base : "/tmp") + "/benchXXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) abort();
  std::string root = tmpl + "/root";
  if (!fs::Format(root).ok()) abort();
  return root;
}

// One synced CreateBlock (data fdatasync + metadata fdatasync) per iteration.
void BM_CreateBlockSynced(benchmark::State& state) {
  fs::Layout layout(NewRoot());
  auto bm = *blocks::LogBlockManager::Open(layout.DataDir());
  std::string data(static_cast<size_t>(state.range(0)), 'x');
  for (auto _ : state) {
    auto id = bm->CreateBlock(data);
    if (!id.ok()) state.SkipWithError(std::string(id.status().message()).c_str());
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CreateBlockSynced)->Arg(4096)->Arg(1 << 20)->UseRealTime();

// Flush of a tablet holding N rows (k INT64, s STRING, d DOUBLE, b BOOL),
// i.e. a full snapshot rewrite, synced.
void BM_FlushRows(benchmark::State& state) {
  fs::Layout layout(NewRoot());
  auto bm = *blocks::LogBlockManager::Open(layout.DataDir());
  TabletSpec spec;
  spec.tablet_id = fs::NewUuid();
  spec.table_name = "bench";
  auto add = [&](const char* name, kmend::DataType t, bool key) {
    auto* c = spec.schema.add_columns();
    c->set_name(name);
    c->set_type(t);
    c->set_is_key(key);
  };
  add("k", kmend::INT64, true);
  add("s", kmend::STRING, false);
  add("d", kmend::DOUBLE, false);
  add("b", kmend::BOOL, false);
  auto tablet = *Tablet::Create(layout, bm.get(), spec);
  int64_t index = 0;
  const int64_t rows = state.range(0);
  for (auto _ : state) {
    state.PauseTiming();
    kmend::WriteOpsPB ops;
    for (int64_t i = 0; i < rows; ++i) {
      kmend::RowOpPB* op = ops.add_ops();
      op->set_type(kmend::RowOpPB::UPSERT);
      op->add_cells()->set_int64_value(i);
      op->add_cells()->set_string_value("row-" + std::to_string(i + index));
      op->add_cells()->set_double_value(i * 0.25);
      op->add_cells()->set_bool_value(i % 2 == 0);
    }
    (void)tablet->Apply(ops, ++index);
    state.ResumeTiming();
    auto f = tablet->Flush();
    if (!f.ok()) state.SkipWithError(std::string(f.status().message()).c_str());
  }
  state.SetItemsProcessed(state.iterations() * rows);
}
BENCHMARK(BM_FlushRows)->Arg(10000)->Arg(100000)->UseRealTime()->Unit(benchmark::kMillisecond);

// Tablet::Open of N flushed rows: read + CRC + decode every block, rebuild.
void BM_OpenVerifiesRows(benchmark::State& state) {
  fs::Layout layout(NewRoot());
  std::string tablet_id = fs::NewUuid();
  {
    auto bm = *blocks::LogBlockManager::Open(layout.DataDir());
    TabletSpec spec;
    spec.tablet_id = tablet_id;
    auto* c = spec.schema.add_columns();
    c->set_name("k");
    c->set_type(kmend::INT64);
    c->set_is_key(true);
    c = spec.schema.add_columns();
    c->set_name("s");
    c->set_type(kmend::STRING);
    auto tablet = *Tablet::Create(layout, bm.get(), spec);
    kmend::WriteOpsPB ops;
    for (int64_t i = 0; i < state.range(0); ++i) {
      kmend::RowOpPB* op = ops.add_ops();
      op->set_type(kmend::RowOpPB::INSERT);
      op->add_cells()->set_int64_value(i);
      op->add_cells()->set_string_value("row-" + std::to_string(i));
    }
    (void)tablet->Apply(ops, 1);
    (void)tablet->Flush();
  }
  auto bm = *blocks::LogBlockManager::Open(layout.DataDir());
  for (auto _ : state) {
    auto t = Tablet::Open(layout, bm.get(), tablet_id);
    if (!t.ok()) state.SkipWithError(std::string(t.status().message()).c_str());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_OpenVerifiesRows)->Arg(100000)->Unit(benchmark::kMillisecond);

// Offline Check and block manager Open of a data directory with N blocks
// (one metadata record each): the cost fsck and start-up pay.
void SetUpBlocks(const fs::Layout& layout, int n) {
  blocks::BlockManagerOptions o;
  o.sync = false;
  auto bm = *blocks::LogBlockManager::Open(layout.DataDir(), o);
  std::vector<std::string> data(static_cast<size_t>(n), std::string(100, 'x'));
  std::vector<absl::string_view> views(data.begin(), data.end());
  if (!bm->CreateBlocks(views).ok()) abort();
}

void BM_CheckDataDir(benchmark::State& state) {
  fs::Layout layout(NewRoot());
  SetUpBlocks(layout, static_cast<int>(state.range(0)));
  for (auto _ : state) {
    auto r = blocks::Check(layout.DataDir());
    if (!r.ok() || r->live_blocks != state.range(0)) state.SkipWithError("check failed");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CheckDataDir)->Arg(10000)->Unit(benchmark::kMillisecond);

void BM_OpenBlockManager(benchmark::State& state) {
  fs::Layout layout(NewRoot());
  SetUpBlocks(layout, static_cast<int>(state.range(0)));
  blocks::BlockManagerOptions o;
  o.read_only = true;
  for (auto _ : state) {
    auto bm = blocks::LogBlockManager::Open(layout.DataDir(), o);
    if (!bm.ok()) state.SkipWithError("open failed");
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_OpenBlockManager)->Arg(10000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace kmend::tablet
