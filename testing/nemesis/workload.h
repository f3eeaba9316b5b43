// The nemesis workload: concurrent writers and readers against one
// key/value table (INT64 "id", STRING "v") through lib/client, recording
// every request (history.h).
//
// Writers insert fresh keys (writer w's n-th insert: key (w+1)*10^9 + n) and
// upsert a small set of hot keys [0, hot_keys); every value is unique
// ("w<writer>s<seq>"). One row per request, so a request's outcome is the
// row's. Readers read single hot keys through the tablet leader.
//
// Thread safety: Start and Stop from one thread; the history is read only
// after Stop.
#ifndef KMEND_TESTING_NEMESIS_WORKLOAD_H_
#define KMEND_TESTING_NEMESIS_WORKLOAD_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "testing/nemesis/history.h"

namespace kmend::nemesis {

struct WorkloadOptions {
  int writers = 4;
  int readers = 2;
  int hot_keys = 8;
  int upsert_percent = 40;
  int64_t request_timeout_ms = 3000;
  uint64_t seed = 1;
};

// Microseconds on the steady clock (the history's time base).
int64_t NowMicros();

class Workload {
 public:
  Workload(std::string masters, std::string table, WorkloadOptions options)
      : masters_(std::move(masters)), table_(std::move(table)), options_(options) {}
  ~Workload() { Stop(); }

  void Start();
  void Stop();

  std::vector<WriteRecord> writes() const;
  std::vector<ReadRecord> reads() const;
  int64_t acked_so_far() const { return acked_.load(); }

  // Reads the whole table (retrying until `timeout`): key -> value.
  static absl::StatusOr<std::map<int64_t, std::string>> ReadAll(const std::string& masters,
                                                                const std::string& table,
                                                                std::chrono::milliseconds timeout);

 private:
  void Writer(int w);
  void Reader(int r);

  const std::string masters_;
  const std::string table_;
  const WorkloadOptions options_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> acked_{0};
  std::vector<std::thread> threads_;
  mutable absl::Mutex mu_;
  std::vector<WriteRecord> writes_ ABSL_GUARDED_BY(mu_);
  std::vector<ReadRecord> reads_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::nemesis

#endif  // KMEND_TESTING_NEMESIS_WORKLOAD_H_
