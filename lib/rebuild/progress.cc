#include "lib/rebuild/progress.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace kmend::rebuild {

const char* PhaseName(Phase p) {
  switch (p) {
    case Phase::kCopying:
      return "copying";
    case Phase::kCatchingUp:
      return "catching_up";
    case Phase::kDone:
      return "done";
    case Phase::kFailed:
      return "failed";
  }
  return "unknown";
}

Verdict Judge(const Sample& s) {
  Verdict v;
  if (!s.target_reachable) {
    // A server restarting (or killed) mid-copy: keep polling; the caller's
    // deadline decides when to give up.
    v.phase = s.copy && s.copy->state() == server::TabletCopyProgressPB::DONE ? Phase::kCatchingUp
                                                                               : Phase::kCopying;
    v.detail = absl::StrCat("the target does not answer: ", s.target_error);
    return v;
  }
  if (!s.copy) {
    // The target forgot the copy: it restarted. Whatever it holds now says
    // how the copy ended (an interrupted one is recovered at start-up).
    if (s.target && s.target->data_state == check::DataState::kReady &&
        s.target->role != check::Role::kUnknown) {
      v.phase = Phase::kCatchingUp;
    } else {
      v.phase = Phase::kFailed;
      v.detail = absl::StrCat(
          "the target restarted during the copy and its replica is ",
          s.target ? check::DataStateName(s.target->data_state) : "gone",
          "; run the command again to copy again (or resume)");
      return v;
    }
  } else {
    switch (s.copy->state()) {
      case server::TabletCopyProgressPB::RUNNING:
        v.phase = Phase::kCopying;
        v.detail = "copy running";
        return v;
      case server::TabletCopyProgressPB::FAILED:
        v.phase = Phase::kFailed;
        v.detail = absl::StrCat("the copy failed on the target: ", s.copy->error());
        return v;
      case server::TabletCopyProgressPB::DONE:
        v.phase = Phase::kCatchingUp;
        break;
      default:
        v.phase = Phase::kCopying;
        v.detail = "copy state unknown";
        return v;
    }
  }
  // The copy is done: the replica must start and catch up.
  if (!s.target) {
    v.detail = "waiting for the target to report its replica";
    return v;
  }
  if (s.target->data_state == check::DataState::kFailed) {
    v.phase = Phase::kFailed;
    v.detail = absl::StrCat("the copied replica is FAILED: ", s.target->data_state_reason);
    return v;
  }
  if (s.target->data_state != check::DataState::kReady ||
      s.target->role == check::Role::kUnknown) {
    v.detail = absl::StrCat("waiting for the replica to start (",
                            check::DataStateName(s.target->data_state), ")");
    return v;
  }
  if (!s.leader_committed) {
    v.detail = "waiting for a leader";
    return v;
  }
  v.ops_behind = std::max<int64_t>(0, s.leader_committed->index - s.target->last_committed.index);
  if (v.ops_behind == 0) {
    v.phase = Phase::kDone;
    v.detail = absl::StrCat("RUNNING as ", check::RoleName(s.target->role), ", committed ",
                            s.target->last_committed.term, ".", s.target->last_committed.index);
    return v;
  }
  v.detail = absl::StrCat("catching up: ", v.ops_behind, " ops behind the leader");
  return v;
}

void RateTracker::Add(double t, int64_t bytes) {
  samples_.emplace_back(t, bytes);
  while (samples_.size() > 2 && samples_.front().first < t - window_seconds_) samples_.pop_front();
}

double RateTracker::BytesPerSecond() const {
  if (samples_.size() < 2) return 0;
  double dt = samples_.back().first - samples_.front().first;
  if (dt <= 0) return 0;
  return static_cast<double>(samples_.back().second - samples_.front().second) / dt;
}

std::optional<double> RateTracker::EtaSeconds(int64_t total) const {
  double rate = BytesPerSecond();
  if (rate <= 0 || samples_.empty()) return std::nullopt;
  return std::max<double>(0, static_cast<double>(total - samples_.back().second) / rate);
}

std::string HumanBytes(int64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  if (u == 0) return absl::StrCat(bytes, " B");
  return absl::StrFormat("%.1f %s", v, units[u]);
}

std::string ProgressLine(int64_t done, int64_t total, double rate, std::optional<double> eta) {
  std::string line = absl::StrCat("copying ", HumanBytes(done), " / ", HumanBytes(total));
  if (total > 0) absl::StrAppend(&line, " (", done * 100 / total, "%)");
  if (rate > 0) absl::StrAppend(&line, ", ", HumanBytes(static_cast<int64_t>(rate)), "/s");
  if (eta) absl::StrAppend(&line, ", ETA ", static_cast<int64_t>(std::ceil(*eta)), " s");
  return line;
}

}  // namespace kmend::rebuild
