// Throughput of the format layer (docs/benchmarks.md):
//   - CRC32C (ISA-L) over 1 KiB, 64 KiB and 1 MiB buffers in cache;
//   - reading and verifying a ~256 MiB PB container of 64 KiB records
//     (framing + both CRCs per record; no protobuf parse), next to
//   - a plain read() of the same file in 1 MiB chunks, both from the page cache.
//
//   bazel run -c opt //bench/format:format_benchmark
//
// The container is written once to $TEST_TMPDIR or /tmp and removed at exit.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "google/protobuf/wrappers.pb.h"
#include "lib/format/crc32c.h"
#include "lib/format/pb_container.h"

namespace kmend {
namespace {

constexpr size_t kRecordBytes = 64 << 10;
constexpr size_t kContainerBytes = 256 << 20;

void BM_Crc32c(benchmark::State& state) {
  std::string buf(static_cast<size_t>(state.range(0)), '\0');
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<char>(i * 131 + 7);
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = crc32c::Extend(crc, buf.data(), buf.size());
    benchmark::DoNotOptimize(crc);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * buf.size());
}
BENCHMARK(BM_Crc32c)->Arg(1 << 10)->Arg(64 << 10)->Arg(1 << 20);

// The containers shared by the read benchmarks; created on first use.
class Container {
 public:
  // ~256 MiB of 64 KiB records.
  static const Container& Get() {
    static Container* c = new Container("large", kRecordBytes, kContainerBytes);
    return *c;
  }
  // ~32 MiB of 100-byte records (the shape of block-container metadata).
  static const Container& Small() {
    static Container* c = new Container("small", 100, 32 << 20);
    return *c;
  }
  ~Container() = default;
  const std::string& path() const { return path_; }
  uint64_t size() const { return size_; }
  uint64_t records() const { return records_; }

 private:
  Container(const std::string& name, size_t record_bytes, size_t total_bytes) {
    const char* dir = std::getenv("TEST_TMPDIR");
    path_ = std::string(dir ? dir : "/tmp") + "/kmend_format_benchmark_" + name + ".pbc";
    ::unlink(path_.c_str());
    auto w = pbc::Writer::Create(path_, google::protobuf::BytesValue());
    if (!w.ok()) std::abort();
    google::protobuf::BytesValue v;
    std::string value(record_bytes, '\0');
    while ((*w)->offset() < total_bytes) {
      for (size_t i = 0; i < value.size(); i += 64) value[i] = static_cast<char>(records_ + i);
      v.set_value(value);
      if (!(*w)->Append(v).ok()) std::abort();
      ++records_;
    }
    size_ = (*w)->offset();
    if (!(*w)->Close().ok()) std::abort();
    static std::vector<std::string>* to_remove = [] {
      auto* v = new std::vector<std::string>();
      std::atexit([] {
        for (const std::string& p : *to_remove) ::unlink(p.c_str());
      });
      return v;
    }();
    to_remove->push_back(path_);
  }
  std::string path_;
  uint64_t size_ = 0;
  uint64_t records_ = 0;
};

void ReadVerify(benchmark::State& state, const Container& c) {
  std::string data;
  for (auto _ : state) {
    auto r = pbc::Reader::Open(c.path());
    if (!r.ok()) {
      state.SkipWithError(std::string(r.status().message()).c_str());
      return;
    }
    uint64_t n = 0;
    while (true) {
      auto next = (*r)->ReadNext(&data);
      if (!next.ok() || *next != pbc::Reader::Next::kRecord) break;
      ++n;
    }
    if (n != c.records()) state.SkipWithError("short read");
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.size()));
  state.counters["records_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * c.records()), benchmark::Counter::kIsRate);
}

void BM_ContainerReadVerify(benchmark::State& state) { ReadVerify(state, Container::Get()); }
BENCHMARK(BM_ContainerReadVerify)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_ContainerReadVerifySmallRecords(benchmark::State& state) {
  ReadVerify(state, Container::Small());
}
BENCHMARK(BM_ContainerReadVerifySmallRecords)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_PlainRead(benchmark::State& state) {
  const Container& c = Container::Get();
  std::vector<char> buf(1 << 20);
  for (auto _ : state) {
    int fd = ::open(c.path().c_str(), O_RDONLY);
    uint64_t total = 0;
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) total += static_cast<uint64_t>(n);
    ::close(fd);
    if (total != c.size()) state.SkipWithError("short read");
    benchmark::DoNotOptimize(buf.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * c.size()));
}
BENCHMARK(BM_PlainRead)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace kmend
