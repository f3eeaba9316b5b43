// WAL throughput next to the disk's limits, measured in the same run:
//   BM_PlainSyncEvery4K      4 KiB write + fdatasync each (the per-sync cost)
//   BM_PlainSyncEvery1M      4 KiB writes, one fdatasync per 1 MiB (group
//                            commit's ceiling) or per 256 KiB; prealloc:1 =
//                            fallocated file, as the Log's segments are
//   BM_SyncsOfSeparateFiles  N threads, each 512 B + fdatasync of its own
//                            file: whether syncs of different files overlap
//   BM_Append                N concurrent appenders, one entry per append;
//                            args: entry payload bytes, codec, preallocation,
//                            sync on/off, Reserve+Fill vs AppendAsync
//   BM_PlainRead / BM_Replay sequential read of a WAL's files vs Replay of
//                            the same files (page cache warm for both)
//
// Run: bazel test //bench/wal:wal_bench --test_tag_filters=benchmark --test_output=all
//  or: bazel run //bench/wal:wal_bench -- --benchmark_filter=Append
// The directory is $KMEND_BENCH_DIR, else $TEST_TMPDIR, else /tmp; it must be
// on a real disk (tmpfs makes fdatasync free); the type is printed.
#include <fcntl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <future>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "lib/io/file.h"
#include "lib/wal/log.h"
#include "lib/wal/log_reader.h"

namespace kmend::wal {
namespace {

constexpr long kTmpfsMagic = 0x01021994;

std::string BenchDir(const std::string& name) {
  const char* base = std::getenv("KMEND_BENCH_DIR");
  if (base == nullptr) base = std::getenv("TEST_TMPDIR");
  if (base == nullptr) base = "/tmp";
  std::string dir = io::JoinPath(base, absl::StrCat("kmend_wal_bench/", name));
  std::string cmd = absl::StrCat("rm -rf '", dir, "'");
  if (std::system(cmd.c_str()) != 0 || !io::CreateDirs(dir).ok()) std::abort();
  return dir;
}

void RemoveDir(const std::string& dir) {
  std::string cmd = absl::StrCat("rm -rf '", dir, "'");
  if (std::system(cmd.c_str()) != 0) std::abort();
}

std::string RandomBytes(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    std::memcpy(&s[i], &v, std::min<size_t>(8, n - i));
  }
  return s;
}

void WriteOrDie(int fd, const std::string& buf) {
  if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) std::abort();
}

// arg: preallocate (fallocate 1 GiB first, as the Log does per segment)
void BM_PlainSyncEvery4K(benchmark::State& state) {
  std::string dir = BenchDir("plain4k");
  std::string path = io::JoinPath(dir, "f");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (state.range(0) != 0 && ::fallocate(fd, 0, 0, 1 << 30) != 0) std::abort();
  std::string buf = RandomBytes(4096, 1);
  for (auto _ : state) {
    WriteOrDie(fd, buf);
    if (::fdatasync(fd) != 0) std::abort();
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * 4096);
  RemoveDir(dir);
}
BENCHMARK(BM_PlainSyncEvery4K)->ArgName("prealloc")->Arg(0)->Arg(1)->UseRealTime()->MinTime(2);

// Do the syncs of different files overlap on this disk? Each thread appends
// 512 bytes to a file of its own and syncs it, as the WALs of a tablet
// server's groups do for one-row writes (docs/design/shared_log.md, "The
// ceiling on this machine"). If flushes were serialized, N threads' total
// items/s would stay at one thread's. arg: 0 a growing file, 1 fallocated
// (unwritten extents, as the Log's segments), 2 written with zeros first.
void BM_SyncsOfSeparateFiles(benchmark::State& state) {
  const int64_t mode = state.range(0);
  std::string dir = BenchDir(absl::StrCat("separate", state.thread_index()));
  std::string path = io::JoinPath(dir, "f");
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  constexpr off_t kFileBytes = 64 << 20;
  if (mode == 1 && ::fallocate(fd, 0, 0, kFileBytes) != 0) std::abort();
  if (mode == 2) {
    std::string zeros(1 << 20, '\0');
    for (off_t at = 0; at < kFileBytes; at += static_cast<off_t>(zeros.size())) WriteOrDie(fd, zeros);
    if (::fsync(fd) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) std::abort();
  }
  std::string buf = RandomBytes(512, 3 + static_cast<uint64_t>(state.thread_index()));
  off_t written = 0;
  for (auto _ : state) {
    if (written + 512 > kFileBytes) {
      state.SkipWithError("file full: lower --benchmark_min_time");
      break;
    }
    WriteOrDie(fd, buf);
    written += 512;
    if (::fdatasync(fd) != 0) std::abort();
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations());
  RemoveDir(dir);
}
BENCHMARK(BM_SyncsOfSeparateFiles)
    ->ArgName("prealloc")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Threads(1)
    ->Threads(2)
    ->Threads(3)
    ->UseRealTime()
    ->MinTime(2);

// args: preallocate, bytes per fdatasync (in 4 KiB writes)
void BM_PlainSyncEvery1M(benchmark::State& state) {
  const bool preallocate = state.range(0) != 0;
  const int writes_per_sync = static_cast<int>(state.range(1) / 4096);
  std::string dir = BenchDir("plain1m");
  std::string path = io::JoinPath(dir, "f");
  std::string buf = RandomBytes(4096, 2);
  int fd = -1;
  uint64_t offset = 0;
  constexpr uint64_t kFileBytes = 256u << 20;
  for (auto _ : state) {
    if (fd < 0 || offset >= kFileBytes) {
      // A fresh file every 256 MiB, like segment rolls.
      state.PauseTiming();
      if (fd >= 0) ::close(fd);
      fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (preallocate && ::fallocate(fd, 0, 0, kFileBytes) != 0) std::abort();
      offset = 0;
      state.ResumeTiming();
    }
    for (int i = 0; i < writes_per_sync; ++i) {
      if (::pwrite(fd, buf.data(), buf.size(), offset) != 4096) std::abort();
      offset += 4096;
    }
    if (::fdatasync(fd) != 0) std::abort();
  }
  ::close(fd);
  state.SetItemsProcessed(state.iterations() * writes_per_sync);
  state.SetBytesProcessed(state.iterations() * state.range(1));
  RemoveDir(dir);
}
// The 1 MiB rows are the goal's ceiling; 256 KiB is the most 64 appenders of
// 4 KiB entries can put into one sync, i.e. their own ceiling.
BENCHMARK(BM_PlainSyncEvery1M)
    ->ArgNames({"prealloc", "bytes_per_sync"})
    ->Args({0, 1 << 20})
    ->Args({1, 1 << 20})
    ->Args({1, 256 << 10})
    ->UseRealTime()
    ->MinTime(2);

// args: appenders, entry payload bytes, codec
void BM_Append(benchmark::State& state) {
  const int appenders = static_cast<int>(state.range(0));
  const size_t entry_bytes = static_cast<size_t>(state.range(1));
  LogOptions options;
  options.compression = static_cast<kmend::CompressionType>(state.range(2));
  options.preallocate = state.range(3) != 0;
  options.sync = state.range(4) != 0;  // 0: the Log's own CPU cost, no disk wait
  // 1: Reserve under the ordering lock + Fill outside it; 0: AppendAsync
  // (encoding) under the lock.
  const bool two_phase = state.range(5) != 0;
  std::string dir = BenchDir(absl::StrCat("append_", appenders, "_", entry_bytes));
  auto log_or = Log::Open(dir, options);
  if (!log_or.ok()) std::abort();
  Log* log = log_or->get();
  // Payloads are random, i.e. incompressible: the worst case for the codec.
  std::vector<std::string> payloads;
  for (int i = 0; i < 64; ++i) payloads.push_back(RandomBytes(entry_bytes, 100 + i));

  std::mutex order;  // index assignment + enqueue, as a Raft leader does
  int64_t next = 1;
  // Each iteration appends this many entries in total, spread over the
  // appenders, so that one iteration takes long enough to measure.
  const int per_iteration = appenders == 1 ? 1024 : (entry_bytes >= 4096 ? 4096 : 8192);
  const int per_appender = std::max(1, per_iteration / appenders);
  int64_t entries = 0;
  for (auto _ : state) {
    std::vector<std::thread> threads;
    for (int t = 0; t < appenders; ++t) {
      threads.emplace_back([&, t] {
        consensus::ReplicateMsg msg;
        msg.set_op_type(consensus::NO_OP);
        msg.set_timestamp(1);
        msg.mutable_noop_request()->set_payload_for_tests(payloads[t % payloads.size()]);
        for (int i = 0; i < per_appender; ++i) {
          std::promise<absl::Status> done;
          auto callback = [&done](const absl::Status& st) { done.set_value(st); };
          if (two_phase) {
            // Reserve under the ordering lock, encode outside it.
            absl::StatusOr<Log::Reservation> r;
            {
              std::lock_guard l(order);
              msg.mutable_id()->set_term(1);
              msg.mutable_id()->set_index(next++);
              r = log->Reserve({msg});
            }
            if (!r.ok()) std::abort();
            log->Fill(*std::move(r), {msg}, callback);
          } else {
            std::lock_guard l(order);
            msg.mutable_id()->set_term(1);
            msg.mutable_id()->set_index(next++);
            log->AppendAsync({msg}, callback);
          }
          if (!done.get_future().get().ok()) std::abort();
        }
      });
    }
    for (auto& t : threads) t.join();
    entries += static_cast<int64_t>(per_appender) * appenders;
  }
  Log::Stats stats = log->stats();
  if (!log->Close().ok()) std::abort();
  state.SetItemsProcessed(entries);
  state.SetBytesProcessed(entries * static_cast<int64_t>(entry_bytes));
  state.counters["syncs_per_s"] = benchmark::Counter(static_cast<double>(stats.groups_written),
                                                     benchmark::Counter::kIsRate);
  state.counters["batches_per_sync"] =
      static_cast<double>(stats.batches_written) / std::max<uint64_t>(1, stats.groups_written);
  state.counters["disk_MBps"] = benchmark::Counter(static_cast<double>(stats.bytes_written) / 1e6,
                                                   benchmark::Counter::kIsRate);
  RemoveDir(dir);
}
BENCHMARK(BM_Append)
    ->ArgNames({"appenders", "entry_bytes", "codec", "prealloc", "sync", "two_phase"})
    ->ArgsProduct({{1, 8, 64}, {100, 4096}, {kmend::ZSTD}, {1}, {1}, {1}})
    ->Args({64, 4096, kmend::ZSTD, 1, 1, 0})
    ->Args({64, 4096, kmend::NO_COMPRESSION, 1, 1, 1})
    ->Args({64, 4096, kmend::LZ4, 1, 1, 1})
    ->Args({1, 4096, kmend::ZSTD, 0, 1, 1})
    ->Args({64, 4096, kmend::ZSTD, 0, 1, 1})
    ->Args({1, 4096, kmend::ZSTD, 1, 0, 1})
    ->Args({64, 4096, kmend::ZSTD, 1, 0, 1})
    ->UseRealTime()
    ->MinTime(2);

// A WAL of about 128 MiB, made once, read by the two benchmarks below.
const std::string& ReplayWal(size_t entry_bytes) {
  static std::map<size_t, std::string> dirs;
  auto it = dirs.find(entry_bytes);
  if (it != dirs.end()) return it->second;
  std::string dir = BenchDir(absl::StrCat("replay_", entry_bytes));
  LogOptions options;
  options.sync = false;
  auto log = Log::Open(dir, options);
  if (!log.ok()) std::abort();
  // Distinct random payloads, so that batches do not compress and the file
  // bytes are the logical bytes.
  std::vector<std::string> payloads;
  for (int i = 0; i < 1024; ++i) payloads.push_back(RandomBytes(entry_bytes, 1000 + i));
  const int per_batch = entry_bytes >= 4096 ? 16 : 512;
  const int64_t total = (128 << 20) / static_cast<int64_t>(entry_bytes);
  std::vector<consensus::ReplicateMsg> batch(per_batch);
  for (int64_t i = 1; i <= total; i += per_batch) {
    for (int j = 0; j < per_batch; ++j) {
      batch[j].mutable_id()->set_term(1);
      batch[j].mutable_id()->set_index(i + j);
      batch[j].set_timestamp(1);
      batch[j].set_op_type(consensus::NO_OP);
      batch[j].mutable_noop_request()->set_payload_for_tests(payloads[(i + j) % payloads.size()]);
    }
    if (!(*log)->Append(batch).ok()) std::abort();
  }
  if (!(*log)->Close().ok()) std::abort();
  if (::system("sync") != 0) std::abort();
  return dirs[entry_bytes] = dir;
}

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  std::vector<std::string> files = *ListSegmentFiles(dir);
  for (const std::string& f : files) total += *io::FileSize(f);
  return total;
}

void BM_PlainRead(benchmark::State& state) {
  const std::string& dir = ReplayWal(static_cast<size_t>(state.range(0)));
  std::vector<std::string> files = *ListSegmentFiles(dir);
  std::string buf(1 << 20, '\0');
  for (auto _ : state) {
    for (const std::string& f : files) {
      int fd = ::open(f.c_str(), O_RDONLY);
      while (::read(fd, buf.data(), buf.size()) > 0) {
      }
      ::close(fd);
    }
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(DirBytes(dir)));
}
BENCHMARK(BM_PlainRead)->ArgName("entry_bytes")->Arg(100)->Arg(4096)->UseRealTime()->MinTime(2);

void BM_Replay(benchmark::State& state) {
  const std::string& dir = ReplayWal(static_cast<size_t>(state.range(0)));
  int64_t entries = 0;
  for (auto _ : state) {
    auto r = Replay(dir, 0, [&](const log::LogEntryPB&) { return absl::OkStatus(); });
    if (!r.ok()) std::abort();
    entries += r->entries_fed;
  }
  state.SetItemsProcessed(entries);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(DirBytes(dir)));
}
BENCHMARK(BM_Replay)->ArgName("entry_bytes")->Arg(100)->Arg(4096)->UseRealTime()->MinTime(2);

}  // namespace
}  // namespace kmend::wal

int main(int argc, char** argv) {
  std::string probe = kmend::wal::BenchDir("probe");
  struct statfs fs;
  if (::statfs(probe.c_str(), &fs) == 0) {
    std::cout << "bench dir " << probe << ": filesystem type 0x" << std::hex << fs.f_type
              << std::dec << (fs.f_type == kmend::wal::kTmpfsMagic ? " (TMPFS: numbers are meaningless)" : "")
              << std::endl;
  }
  kmend::wal::RemoveDir(probe);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // Each benchmark removed its own directory; the parent is ours too.
  kmend::wal::RemoveDir(kmend::io::Dirname(probe));
  return 0;
}
