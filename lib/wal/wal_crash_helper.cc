// Test helper for wal_crash_test: opens the WAL in argv[1], then `threads`
// threads append single 1 KiB entries (indexes assigned in enqueue order;
// odd threads use Reserve/Fill, even ones AppendAsync)
// forever, printing each index to stdout only after Append acknowledged it.
// The parent kills this process with SIGKILL at a random moment.
//
// Usage: wal_crash_helper DIR THREADS SEGMENT_SIZE_BYTES
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/wal/log.h"
#include "lib/wal/wal_test_util.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s DIR THREADS SEGMENT_SIZE_BYTES\n", argv[0]);
    return 2;
  }
  kmend::wal::LogOptions options;
  options.segment_size_bytes = std::strtoull(argv[3], nullptr, 10);
  auto log = kmend::wal::Log::Open(argv[1], options);
  if (!log.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(log.status().message()).c_str());
    return 1;
  }
  std::mutex order;
  int64_t next = (*log)->LastQueuedIndex() + 1;
  std::vector<std::thread> threads;
  for (int t = 0; t < std::atoi(argv[2]); ++t) {
    // Odd threads use the two-phase Reserve/Fill, even ones AppendAsync.
    const bool two_phase = t % 2 == 1;
    threads.emplace_back([&, two_phase] {
      while (true) {
        std::promise<absl::Status> done;
        auto callback = [&done](const absl::Status& st) { done.set_value(st); };
        int64_t index;
        if (two_phase) {
          kmend::consensus::ReplicateMsg msg;
          absl::StatusOr<kmend::wal::Log::Reservation> r;
          {
            std::lock_guard l(order);
            index = next++;
            msg = kmend::wal::testing::MakeEntry(1, index, 1024);
            r = (*log)->Reserve({msg});
          }
          if (!r.ok()) std::_Exit(1);
          (*log)->Fill(*std::move(r), {msg}, callback);
        } else {
          std::lock_guard l(order);
          index = next++;
          (*log)->AppendAsync({kmend::wal::testing::MakeEntry(1, index, 1024)}, callback);
        }
        absl::Status st = done.get_future().get();
        if (!st.ok()) {
          std::fprintf(stderr, "append %lld: %s\n", static_cast<long long>(index),
                       std::string(st.message()).c_str());
          std::_Exit(1);
        }
        // One write(2) per line: lines up to PIPE_BUF bytes never interleave.
        std::string line = absl::StrCat(index, "\n");
        if (::write(1, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
          std::_Exit(1);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return 0;
}
