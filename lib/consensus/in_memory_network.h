// InMemoryNetwork: Transport for drivers in one process. Messages go through
// a queue served by one delivery thread, which calls the receiver's Receive
// (so a sender never re-enters a driver on its own thread). Links can be cut
// for tests; messages to unknown or cut receivers are dropped.
//
// Thread safety: all methods are thread-safe.
// Lifetime: a registered receiver must be Unregister()ed before it dies;
// Unregister waits until no delivery to it is in progress.
#ifndef KMEND_LIB_CONSENSUS_IN_MEMORY_NETWORK_H_
#define KMEND_LIB_CONSENSUS_IN_MEMORY_NETWORK_H_

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "lib/consensus/transport.h"

namespace kmend::consensus_driver {

class InMemoryNetwork {
 public:
  using Receiver = std::function<void(const consensus::RaftMessagePB&)>;

  InMemoryNetwork();
  ~InMemoryNetwork();

  void Register(const std::string& uuid, Receiver receiver);
  void Unregister(const std::string& uuid);

  // A Transport sending as `from_uuid` (owned by the caller).
  std::unique_ptr<Transport> TransportFor(const std::string& from_uuid);

  // Drops messages between a and b (both directions) until Heal().
  void Cut(const std::string& a, const std::string& b);
  void Heal();

  void Enqueue(const std::string& from, const std::string& to,
               const consensus::RaftMessagePB& msg);

 private:
  void Run();

  absl::Mutex mu_;
  std::map<std::string, Receiver> receivers_ ABSL_GUARDED_BY(mu_);
  std::set<std::pair<std::string, std::string>> cut_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::string, consensus::RaftMessagePB>> queue_ ABSL_GUARDED_BY(mu_);
  std::string delivering_to_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_IN_MEMORY_NETWORK_H_
