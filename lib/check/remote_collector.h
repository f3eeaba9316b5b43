// Gathers a ClusterSnapshot from a running cluster over gRPC: the masters'
// status and catalog, then ONE GetStatus call per tablet server covering all
// its replicas, issued concurrently, each with its own deadline. A server that
// does not answer in time is recorded as unreachable with the reason, so the
// checks can call its replicas UNKNOWN instead of hanging or guessing.
//
// The judgement is lib/check/checker.h; this file only collects.
#ifndef KMEND_LIB_CHECK_REMOTE_COLLECTOR_H_
#define KMEND_LIB_CHECK_REMOTE_COLLECTOR_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/check/cluster_snapshot.h"

namespace kmend::check {

struct CollectOptions {
  std::vector<std::string> masters;  // host:port
  std::vector<std::string> tables;   // empty: every table
  std::vector<std::string> tablets;  // empty: every tablet
  bool checksum_scan = false;
  int concurrency = 16;                     // status/checksum calls in flight
  std::chrono::milliseconds timeout{5000};  // per call
};

// Returns the snapshot, or an error when no master could be reached or none
// answered the catalog calls (ksck exits 2: it could not run).
absl::StatusOr<check::ClusterSnapshot> CollectRemote(const CollectOptions& options);

}  // namespace kmend::check

#endif  // KMEND_LIB_CHECK_REMOTE_COLLECTOR_H_
