// kmend rebuild-replica against a running cluster: gathers the facts the
// planner (lib/rebuild/plan.h) judges, sizes the copy, asks the target's
// server to rebuild (StartTabletCopy) and polls until the replica runs and
// caught up. The judgement is lib/rebuild; this file only talks.
//
// Where the facts come from: with --masters, the tablet's config and
// replica addresses from the master's catalog (GetTabletLocations); without,
// the config a running replica reports, found from --tserver and --source
// when they are host:port (the command ksck prints names both). Then one
// GetStatus call per member of the config (and the target), concurrently.
//
// Thread safety: free functions, no shared state.
#ifndef KMEND_TOOLS_REBUILD_REPLICA_ONLINE_H_
#define KMEND_TOOLS_REBUILD_REPLICA_ONLINE_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/rebuild/plan.h"
#include "lib/rebuild/progress.h"
#include "proto/tserver.pb.h"

namespace kmend::rebuild_tool {

struct OnlineOptions {
  std::vector<std::string> masters;  // host:port; may be empty
  std::string tablet_id;
  rebuild::Request request;
  std::chrono::milliseconds rpc_timeout{10000};
  // Passed to StartTabletCopy (0: no limit).
  int64_t max_bytes_per_sec = 0;
};

// The facts about the tablet (see the file comment). InvalidArgument when
// neither --masters nor a host:port lets it find the tablet's config;
// Unavailable when no master answered.
absl::StatusOr<rebuild::TabletFacts> CollectFacts(const OnlineOptions& options);

// Sizes the copy exactly: the source opens a copy session (for the target's
// uuid) and it is ended at once. Fills plan->session_*; an error leaves the
// plan's estimate (the caller says so).
absl::Status SizeCopy(const OnlineOptions& options, rebuild::Plan* plan);
// The same for a source at `source_address`, asked on behalf of
// `requestor_uuid` (the offline rebuild's server).
absl::Status SizeCopyFrom(const std::string& source_address, const std::string& requestor_uuid,
                          const std::string& tablet_id, std::chrono::milliseconds rpc_timeout,
                          rebuild::Plan* plan);

// StartTabletCopy on the target, naming the plan's source. `check_only`:
// the target runs its checks and answers its refusals and warnings,
// changing nothing (the dry run's and --yes's first call).
absl::StatusOr<tserver::StartTabletCopyResponsePB> StartCopy(const OnlineOptions& options,
                                                              const rebuild::Plan& plan,
                                                              const std::string& caller_id,
                                                              bool check_only = false);

// One poll of the target (copy progress, replica) and of the tablet's other
// replicas (the leader's commit index).
rebuild::Sample Poll(const OnlineOptions& options, const rebuild::Plan& plan,
                     const rebuild::TabletFacts& facts);

}  // namespace kmend::rebuild_tool

#endif  // KMEND_TOOLS_REBUILD_REPLICA_ONLINE_H_
