// CPU time and context switches of the server processes a benchmark started
// (/proc/<pid>/stat, /proc/<pid>/task/*/status), so that a benchmark reports
// what its servers spent, not only its client. Context switches per
// operation count the thread hand-offs of a request directly; on a shared
// VM they vary far less from run to run than CPU time or throughput do.
#ifndef KMEND_BENCH_COMMON_PROCESS_CPU_H_
#define KMEND_BENCH_COMMON_PROCESS_CPU_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <utility>
#include <vector>

namespace kmend::bench {

// utime + stime of a process, in clock ticks; -1 if unreadable.
int64_t CpuTicks(pid_t pid);
// utime + stime of all of `pids` together, in seconds; unreadable ones
// count 0.
double CpuSeconds(const std::vector<pid_t>& pids);
// Voluntary + involuntary context switches of the live threads of `pids`
// together (threads that ended are not counted); unreadable ones count 0.
int64_t ContextSwitches(const std::vector<pid_t>& pids);

// Server CPU per acknowledged operation over one run of a multi-threaded
// benchmark: thread 0 calls Start before its loop and Finish after it (the
// loop's end is a barrier of all threads), every thread calls Acked inside
// its loop.
class CpuPerOp {
 public:
  void Start(std::vector<pid_t> pids) {
    pids_ = std::move(pids);
    ops_.store(0);
    start_ = CpuSeconds(pids_);
    start_switches_ = ContextSwitches(pids_);
  }
  void Acked(int64_t n) { ops_.fetch_add(n, std::memory_order_relaxed); }
  // Milliseconds of the servers' CPU per acknowledged operation; 0 if none.
  double FinishMillisPerOp() const {
    const int64_t ops = ops_.load();
    return ops > 0 ? (CpuSeconds(pids_) - start_) * 1000.0 / static_cast<double>(ops) : 0;
  }
  // The servers' context switches per acknowledged operation; 0 if none.
  double FinishSwitchesPerOp() const {
    const int64_t ops = ops_.load();
    return ops > 0 ? static_cast<double>(ContextSwitches(pids_) - start_switches_) /
                         static_cast<double>(ops)
                   : 0;
  }

 private:
  std::vector<pid_t> pids_;
  std::atomic<int64_t> ops_{0};
  double start_ = 0;
  int64_t start_switches_ = 0;
};

}  // namespace kmend::bench

#endif  // KMEND_BENCH_COMMON_PROCESS_CPU_H_
