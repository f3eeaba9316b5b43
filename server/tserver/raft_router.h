// RaftRouter: the receiving end of Raft messages on a tablet server. A
// replica running Raft registers its driver's Receive here under its tablet
// id; ConsensusService.RaftMessage delivers each incoming message through
// Deliver on a gRPC thread (never the sending driver's thread, as the
// Transport contract requires).
//
// Thread safety: all methods are thread-safe. Lifetime: Unregister waits
// until no delivery to that tablet is running, so the receiver (the driver)
// may be destroyed right after it returns.
#ifndef KMEND_SERVER_TSERVER_RAFT_ROUTER_H_
#define KMEND_SERVER_TSERVER_RAFT_ROUTER_H_

#include <functional>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/raft.pb.h"

namespace kmend::tserver {

class RaftRouter {
 public:
  using Receiver = std::function<absl::Status(const consensus::RaftMessagePB&)>;

  // AlreadyExists when the tablet already has a receiver.
  absl::Status Register(const std::string& tablet_id, Receiver receiver);
  void Unregister(const std::string& tablet_id);

  // NotFound when no receiver is registered for msg.tablet_id(); otherwise
  // the receiver's answer.
  absl::Status Deliver(const consensus::RaftMessagePB& msg);

 private:
  struct Entry {
    Receiver receiver;
    int in_flight = 0;
    bool unregistering = false;
  };
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_RAFT_ROUTER_H_
