// The master's calls to tablet servers for a table's replicas (CreateTablet,
// DeleteTablet), sent concurrently: issue 15 measured CreateTable of 1,000
// tablets spending most of its time in one-by-one round trips per server.
//
// Each destination server gets at most `max_in_flight_per_server` calls at a
// time (a bound, so that a table of thousands of tablets does not queue
// thousands of requests on one server's RPC threads); different servers'
// calls proceed independently, so a slow server delays only its own calls.
// A call that ends DEADLINE_EXCEEDED marks its server hung: its calls not
// yet sent are not sent (their result says so), so a hung server costs one
// deadline, not one per call. The master re-sends missing creations later
// (RecreateMissingReplicas) and tombstones stragglers through heartbeats, so
// an unsent call is no lost work.
//
// Thread safety: FanOut runs on the caller's thread (an async completion
// queue, no threads of its own) and returns when every call has a result.
#ifndef KMEND_SERVER_MASTER_TABLET_CALL_FANOUT_H_
#define KMEND_SERVER_MASTER_TABLET_CALL_FANOUT_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/tserver.pb.h"

namespace kmend::master {

// One call to a tablet server.
struct TabletCall {
  std::string ts_uuid;
  std::string address;
  tserver::CreateTabletRequestPB create;  // when is_create
  tserver::DeleteTabletRequestPB del;     // otherwise
  bool is_create = true;
  // Set by FanOut: the call's outcome, annotated with the call, tablet and
  // server.
  absl::Status result;
};

// The default bound on concurrent calls to one tablet server.
inline constexpr int kMaxTabletCallsInFlightPerServer = 8;

// Sends every call (each with its own `timeout`) and fills in its result.
// Calls to one server start in their order in `calls`; they may finish in
// any order. `max_in_flight_per_server` >= 1.
void FanOut(std::vector<TabletCall>* calls, std::chrono::milliseconds timeout,
            int max_in_flight_per_server = kMaxTabletCallsInFlightPerServer);

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_TABLET_CALL_FANOUT_H_
