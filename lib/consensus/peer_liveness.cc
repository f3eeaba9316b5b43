#include "lib/consensus/peer_liveness.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace kmend::consensus_driver {

PeerLiveness::PeerLiveness(Clock now) : now_(std::move(now)) {}

PeerLiveness::~PeerLiveness() {
  RaftScheduler* scheduler;
  std::shared_ptr<RaftScheduler::Slot> watchdog;
  {
    absl::MutexLock l(&mu_);
    scheduler = watchdog_scheduler_;
    watchdog = std::move(watchdog_);
  }
  if (watchdog != nullptr) scheduler->Detach(watchdog);
}

std::chrono::steady_clock::time_point PeerLiveness::Now() const {
  return now_ ? now_() : std::chrono::steady_clock::now();
}

void PeerLiveness::Heard(const std::string& uuid, uint64_t incarnation) {
  if (uuid.empty()) return;
  const auto now = Now();
  std::vector<std::function<void()>> fire;
  {
    absl::MutexLock l(&mu_);
    auto& t = last_heard_[uuid];
    if (now > t) t = now;
    if (incarnation == 0) return;
    uint64_t& known = incarnation_[uuid];
    if (known == incarnation) return;  // the common case: nothing to check
    known = incarnation;
    auto w = watches_.find(uuid);
    if (w == watches_.end()) return;
    auto& by_id = w->second.by_id;
    for (auto it = by_id.begin(); it != by_id.end();) {
      if (it->second.incarnation != 0 && it->second.incarnation != incarnation) {
        fire.push_back(std::move(it->second.wake));
        watch_server_.erase(it->first);
        it = by_id.erase(it);
      } else {
        ++it;
      }
    }
    if (by_id.empty()) watches_.erase(w);
  }
  for (auto& f : fire) f();
}

uint64_t PeerLiveness::Watch(const std::string& server, uint64_t incarnation,
                             absl::Duration silence, std::function<void()> wake,
                             RaftScheduler* scheduler, absl::Duration check_interval) {
  const auto now = Now();
  uint64_t id;
  {
    absl::MutexLock l(&mu_);
    id = next_watch_id_++;
    auto inc = incarnation_.find(server);
    const bool restarted =
        incarnation != 0 && inc != incarnation_.end() && inc->second != incarnation;
    if (!restarted && SilentForLocked(server, now) < silence) {
      if (watchdog_ == nullptr && scheduler != nullptr) {
        // The watchdog ticks with the drivers; it has no Ready to run.
        watchdog_scheduler_ = scheduler;
        watchdog_ = scheduler->Register([this] { CheckWatches(); }, [] {}, check_interval);
      }
      watch_server_[id] = server;
      ServerWatches& sw = watches_[server];
      sw.by_id[id] = WatchEntry{id, server, incarnation, silence, std::move(wake)};
      sw.min_silence = std::min(sw.min_silence, silence);
      return id;
    }
  }
  wake();  // silent or restarted already
  return id;
}

void PeerLiveness::Unwatch(uint64_t id) {
  absl::MutexLock l(&mu_);
  auto s = watch_server_.find(id);
  if (s == watch_server_.end()) return;
  auto w = watches_.find(s->second);
  if (w != watches_.end()) {
    w->second.by_id.erase(id);
    if (w->second.by_id.empty()) watches_.erase(w);
  }
  watch_server_.erase(s);
}

void PeerLiveness::CheckWatches() {
  const auto now = Now();
  std::vector<std::function<void()>> fire;
  {
    absl::MutexLock l(&mu_);
    for (auto w = watches_.begin(); w != watches_.end();) {
      const absl::Duration silent = SilentForLocked(w->first, now);
      if (silent < w->second.min_silence) {
        ++w;
        continue;
      }
      auto& by_id = w->second.by_id;
      absl::Duration min_left = absl::InfiniteDuration();
      for (auto it = by_id.begin(); it != by_id.end();) {
        if (silent >= it->second.silence) {
          fire.push_back(std::move(it->second.wake));
          watch_server_.erase(it->first);
          it = by_id.erase(it);
        } else {
          min_left = std::min(min_left, it->second.silence);
          ++it;
        }
      }
      w->second.min_silence = min_left;
      w = by_id.empty() ? watches_.erase(w) : std::next(w);
    }
  }
  for (auto& f : fire) f();
}

int64_t PeerLiveness::watch_count() const {
  absl::ReaderMutexLock l(&mu_);
  return static_cast<int64_t>(watch_server_.size());
}

uint64_t PeerLiveness::Incarnation(const std::string& uuid) const {
  absl::ReaderMutexLock l(&mu_);
  auto it = incarnation_.find(uuid);
  return it == incarnation_.end() ? 0 : it->second;
}

absl::Duration PeerLiveness::SilentFor(const std::string& uuid) const {
  const auto now = Now();
  absl::ReaderMutexLock l(&mu_);
  return SilentForLocked(uuid, now);
}

absl::Duration PeerLiveness::SilentForLocked(const std::string& uuid,
                                             std::chrono::steady_clock::time_point now) const {
  auto it = last_heard_.find(uuid);
  if (it == last_heard_.end()) return absl::InfiniteDuration();
  if (it->second >= now) return absl::ZeroDuration();
  return absl::FromChrono(now - it->second);
}

}  // namespace kmend::consensus_driver
