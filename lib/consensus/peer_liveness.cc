#include "lib/consensus/peer_liveness.h"

#include <utility>

namespace kmend::consensus_driver {

PeerLiveness::PeerLiveness(Clock now) : now_(std::move(now)) {}

std::chrono::steady_clock::time_point PeerLiveness::Now() const {
  return now_ ? now_() : std::chrono::steady_clock::now();
}

void PeerLiveness::Heard(const std::string& uuid, uint64_t incarnation) {
  if (uuid.empty()) return;
  const auto now = Now();
  absl::MutexLock l(&mu_);
  auto& t = last_heard_[uuid];
  if (now > t) t = now;
  if (incarnation != 0) incarnation_[uuid] = incarnation;
}

uint64_t PeerLiveness::Incarnation(const std::string& uuid) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = incarnation_.find(uuid);
  return it == incarnation_.end() ? 0 : it->second;
}

absl::Duration PeerLiveness::SilentFor(const std::string& uuid) const {
  const auto now = Now();
  absl::ReaderMutexLock l(&mu_);
  auto it = last_heard_.find(uuid);
  if (it == last_heard_.end()) return absl::InfiniteDuration();
  if (it->second >= now) return absl::ZeroDuration();
  return absl::FromChrono(now - it->second);
}

}  // namespace kmend::consensus_driver
