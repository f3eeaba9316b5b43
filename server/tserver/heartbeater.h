// The tablet server's link to the masters: registers with each master, then
// heartbeats every interval with a report of its replicas, registers again
// when a master asks (a restarted master forgets), and tombstones the
// replicas a master says this server should no longer host (only the leader
// master names any: followers do not judge by a possibly stale catalog).
//
// Reports (heartbeat_report.h): one report is built per interval and shared
// by the per-master threads. The first report to a master after registering
// is full; after that each is incremental, relative to the last report that
// master acknowledged (answered without needs_full_report). Any failure,
// re-registration or needs_full_report makes the next report full.
//
// One thread per master: a master that hangs (SIGSTOP, a full disk) delays
// only its own beats, never those to the leader, which would otherwise see
// this server as dead after a few slow rounds.
//
// Thread safety: Start/Stop from one thread; each link's loop runs on its
// own thread and touches only its MasterLink. Lifetime: `manager` outlives
// the Heartbeater.
#ifndef KMEND_SERVER_TSERVER_HEARTBEATER_H_
#define KMEND_SERVER_TSERVER_HEARTBEATER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/notification.h"
#include "proto/master.grpc.pb.h"
#include "server/tserver/heartbeat_report.h"
#include "server/tserver/tablet_manager.h"

namespace kmend::tserver {

class Heartbeater {
 public:
  Heartbeater(std::vector<std::string> master_addresses,
              master::TServerRegistrationPB registration, int64_t interval_ms,
              TabletManager* manager);
  ~Heartbeater();

  void Start();
  // Stops the loop; an RPC in flight finishes or hits its deadline first.
  void Stop();

 private:
  struct MasterLink {
    std::string address;
    std::unique_ptr<master::MasterService::Stub> stub;
    bool registered = false;
    bool last_failed = false;  // to log a failure once, not every beat
    // Per master: each sees its own increasing sequence.
    int64_t sequence_number = 0;
    // The last report this master acknowledged and its sequence number;
    // null when the next report must be full.
    std::shared_ptr<const HeartbeatReport> acked;
    int64_t acked_sequence_number = -1;
    std::thread thread;
  };
  void Run(MasterLink* link);
  void Beat(MasterLink* link);

  const master::TServerRegistrationPB registration_;
  const int64_t interval_ms_;
  TabletManager* const manager_;
  HeartbeatReportBuilder reports_;
  // Built in the constructor and never resized, so the threads' pointers
  // into it stay valid.
  std::vector<MasterLink> masters_;
  absl::Notification stop_;
};

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_HEARTBEATER_H_
