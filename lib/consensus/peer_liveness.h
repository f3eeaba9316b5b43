// PeerLiveness: when this server last heard from each peer server, for the
// failure detection of quiesced Raft groups (docs/design/scale.md,
// "Quiescence"). Failure detection is per server pair, not per group: the
// transport of every server sends each peer at least one RaftMessage RPC per
// tick (an empty one, the liveness call, when no group had anything to say),
// and the receiving service records it here by the request's from_uuid.
// A quiesced replica's driver asks how long the servers its core watches
// (RaftCore::ServersToWatch) have been silent; a quiesced replica that
// stopped ticking (RaftScheduler::Sleep) leaves a Watch here instead, and the
// watchdog (one scheduler slot per table, ticking with the drivers) wakes it
// when a watched server goes silent or restarts. So an idle server's timer
// work is per peer server, not per replica.
//
// Time is the steady clock (a wall-clock step must not look like a dead
// server); tests inject their own.
//
// Thread safety: all methods are thread-safe (one reader/writer lock: the
// writers are the RPC handlers, one call per inbound request, and watch
// changes; the readers are the ticks of quiesced replicas). Wake callbacks
// run without the lock.
#ifndef KMEND_LIB_CONSENSUS_PEER_LIVENESS_H_
#define KMEND_LIB_CONSENSUS_PEER_LIVENESS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/consensus/raft_scheduler.h"

namespace kmend::consensus_driver {

class PeerLiveness {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  PeerLiveness() : PeerLiveness(Clock()) {}
  // `now` replaces the steady clock (tests); empty: the steady clock.
  explicit PeerLiveness(Clock now);
  ~PeerLiveness();  // detaches the watchdog
  PeerLiveness(const PeerLiveness&) = delete;
  PeerLiveness& operator=(const PeerLiveness&) = delete;

  // A request from server `uuid` (process incarnation `incarnation`, 0 when
  // unknown) arrived now. Empty uuids are ignored.
  void Heard(const std::string& uuid, uint64_t incarnation = 0);
  // How long since `uuid` was last heard; absl::InfiniteDuration() if never.
  absl::Duration SilentFor(const std::string& uuid) const;
  // The incarnation `uuid` last sent (0: never heard, or it sent none). A
  // watcher that saw another value since it started watching knows the
  // server restarted in between (RaftDriver wakes its quiesced group).
  uint64_t Incarnation(const std::string& uuid) const;

  // Calls `wake` once, when `server` has been silent for `silence` or more
  // (checked by the watchdog, once per `check_interval`) or is heard with an
  // incarnation other than `incarnation` (0: not checked); at once if either
  // holds already (then before Watch returns). Returns an id for Unwatch.
  // The first Watch starts the watchdog on `scheduler` (a slot ticking every
  // `check_interval`; the table must be destroyed before the scheduler).
  // `wake` runs without this table's lock, on the thread of Heard, Watch or
  // the watchdog: it must be cheap and must not wait (RaftScheduler::Wake).
  uint64_t Watch(const std::string& server, uint64_t incarnation, absl::Duration silence,
                 std::function<void()> wake, RaftScheduler* scheduler,
                 absl::Duration check_interval);
  // Drops a watch that has not fired; no-op for a fired or unknown id.
  void Unwatch(uint64_t id);
  // Fires the watches of servers silent long enough (the watchdog's tick;
  // tests call it directly).
  void CheckWatches();
  // Watches not fired yet (tests, stats).
  int64_t watch_count() const;

 private:
  struct WatchEntry {
    uint64_t id;
    std::string server;
    uint64_t incarnation;
    absl::Duration silence;
    std::function<void()> wake;
  };
  std::chrono::steady_clock::time_point Now() const;
  absl::Duration SilentForLocked(const std::string& uuid,
                                 std::chrono::steady_clock::time_point now) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);

  const Clock now_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_heard_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> incarnation_ ABSL_GUARDED_BY(mu_);
  struct ServerWatches {
    std::map<uint64_t, WatchEntry> by_id;
    // At most the smallest `silence` of by_id (Unwatch leaves it lower):
    // the watchdog looks at a server's watches only when it has been silent
    // that long, so a tick costs O(servers), not O(watches).
    absl::Duration min_silence = absl::InfiniteDuration();
  };
  std::map<std::string, ServerWatches> watches_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, std::string> watch_server_ ABSL_GUARDED_BY(mu_);
  uint64_t next_watch_id_ ABSL_GUARDED_BY(mu_) = 1;
  RaftScheduler* watchdog_scheduler_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::shared_ptr<RaftScheduler::Slot> watchdog_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_PEER_LIVENESS_H_
