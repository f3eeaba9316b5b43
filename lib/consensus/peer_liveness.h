// PeerLiveness: when this server last heard from each peer server, for the
// failure detection of quiesced Raft groups (docs/design/scale.md,
// "Quiescence"). Failure detection is per server pair, not per group: the
// transport of every server sends each peer at least one RaftMessage RPC per
// tick (an empty one, the liveness call, when no group had anything to say),
// and the receiving service records it here by the request's from_uuid.
// A quiesced replica's driver asks, at each tick, how long the servers its
// core watches (RaftCore::ServersToWatch) have been silent.
//
// Time is the steady clock (a wall-clock step must not look like a dead
// server); tests inject their own.
//
// Thread safety: all methods are thread-safe (one reader/writer lock: the
// writers are the RPC handlers, one call per inbound request; the readers are
// the ticks of quiesced replicas).
#ifndef KMEND_LIB_CONSENSUS_PEER_LIVENESS_H_
#define KMEND_LIB_CONSENSUS_PEER_LIVENESS_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace kmend::consensus_driver {

class PeerLiveness {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  PeerLiveness() : PeerLiveness(Clock()) {}
  // `now` replaces the steady clock (tests); empty: the steady clock.
  explicit PeerLiveness(Clock now);

  // A request from server `uuid` (process incarnation `incarnation`, 0 when
  // unknown) arrived now. Empty uuids are ignored.
  void Heard(const std::string& uuid, uint64_t incarnation = 0);
  // How long since `uuid` was last heard; absl::InfiniteDuration() if never.
  absl::Duration SilentFor(const std::string& uuid) const;
  // The incarnation `uuid` last sent (0: never heard, or it sent none). A
  // watcher that saw another value since it started watching knows the
  // server restarted in between (RaftDriver wakes its quiesced group).
  uint64_t Incarnation(const std::string& uuid) const;

 private:
  std::chrono::steady_clock::time_point Now() const;

  const Clock now_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::chrono::steady_clock::time_point> last_heard_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, uint64_t> incarnation_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_PEER_LIVENESS_H_
