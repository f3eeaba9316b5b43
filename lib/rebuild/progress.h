// Following a rebuild (kmend rebuild-replica after --yes): what each poll of
// the target and the leader means, and the copy's rate and ETA. Pure: the
// tool polls and passes samples in; tests feed made-up ones.
//
// Phases: kCopying while the target's copy runs; kCatchingUp once the copy
// is DONE until the target's replica is READY, runs Raft and has committed
// at least the leader's commit index as observed in the same poll; kDone
// then; kFailed when the copy FAILED (the server's error) or the target
// reports a FAILED replica after the copy.
//
// Thread safety: RateTracker is not thread-safe; the functions are pure.
#ifndef KMEND_LIB_REBUILD_PROGRESS_H_
#define KMEND_LIB_REBUILD_PROGRESS_H_

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>

#include "lib/check/cluster_snapshot.h"
#include "proto/status.pb.h"

namespace kmend::rebuild {

enum class Phase { kCopying, kCatchingUp, kDone, kFailed };
const char* PhaseName(Phase p);

struct Sample {
  // The target's answer: its copy progress (absent: not reported) and its
  // replica (absent: not hosted, or the server did not answer).
  std::optional<server::TabletCopyProgressPB> copy;
  bool target_reachable = false;
  std::string target_error;
  std::optional<check::ReplicaFacts> target;
  // The leader's commit index in the same poll (absent: no leader known).
  std::optional<check::OpId> leader_committed;
};

struct Verdict {
  Phase phase = Phase::kCopying;
  // For people: "copy RUNNING", "waiting for the replica to start", the
  // server's error, ...
  std::string detail;
  // kCatchingUp: ops the target still has to commit (-1 unknown).
  int64_t ops_behind = -1;
};

Verdict Judge(const Sample& sample);

// Bytes per second over a sliding window of samples (default the last 5 s),
// and the time left at that rate.
class RateTracker {
 public:
  explicit RateTracker(double window_seconds = 5.0) : window_seconds_(window_seconds) {}
  // `t_seconds` must not decrease; `bytes` is cumulative.
  void Add(double t_seconds, int64_t bytes);
  // 0 until two samples span some time.
  double BytesPerSecond() const;
  // Seconds until `total` at the current rate; nullopt when the rate is 0.
  std::optional<double> EtaSeconds(int64_t total) const;

 private:
  const double window_seconds_;
  std::deque<std::pair<double, int64_t>> samples_;
};

// "1.5 GiB", "312.0 MiB", "12 B".
std::string HumanBytes(int64_t bytes);
// "copying 312.0 MiB / 1.0 GiB (30%), 85.2 MiB/s, ETA 8 s" (the rate and
// ETA parts only when known).
std::string ProgressLine(int64_t done, int64_t total, double bytes_per_second,
                         std::optional<double> eta_seconds);

}  // namespace kmend::rebuild

#endif  // KMEND_LIB_REBUILD_PROGRESS_H_
