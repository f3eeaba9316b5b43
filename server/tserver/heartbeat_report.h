// The replica report a tablet server sends in its heartbeats, built at most
// once per heartbeat interval and shared by the per-master heartbeat threads
// (issue 15: with thousands of replicas and three masters, building it three
// times per interval was most of an idle server's heartbeat cost), and the
// incremental report: what changed since the report a master acknowledged.
//
// A report maps tablet id -> the replica's status. The builder keeps the
// previous report's entry (the same shared_ptr) for every replica whose
// status is byte-for-byte unchanged, so "changed since report B" is a
// pointer comparison with B's entries. A replica that changed and changed
// back gets a new pointer and is sent again: harmless.
//
// A replica's status is computed only when its TabletReplica::StatusKey
// changed since the previous build (an idle quiesced replica's does not):
// with thousands of idle replicas, computing and comparing every status each
// interval was most of an idle tablet server's CPU (issue 15). Every
// `full_refresh` all statuses are computed again anyway, a bound on how long
// a change the key missed could stay unreported.
//
// Thread safety: HeartbeatReportBuilder is thread-safe (a thread asking while
// another builds waits and shares the result); reports are immutable.
// Lifetime: `manager` outlives the builder.
#ifndef KMEND_SERVER_TSERVER_HEARTBEAT_REPORT_H_
#define KMEND_SERVER_TSERVER_HEARTBEAT_REPORT_H_

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/master.pb.h"
#include "proto/status.pb.h"
#include "server/tserver/tablet_manager.h"

namespace kmend::tserver {

// Tablet id -> the replica's status; immutable once built.
using ReplicaReports = std::map<std::string, std::shared_ptr<const server::ReplicaStatusPB>>;

struct HeartbeatReport {
  // The same map (pointer) as the previous report's when no replica changed.
  std::shared_ptr<const ReplicaReports> replicas;
  // The data directory's space as measured for this report.
  std::optional<server::DataDirSpacePB> data_dir;
};

class HeartbeatReportBuilder {
 public:
  // A report younger than `max_age` is handed out again instead of built.
  HeartbeatReportBuilder(TabletManager* manager, absl::Duration max_age,
                         absl::Duration full_refresh = absl::Seconds(10));

  // The current report (never null).
  std::shared_ptr<const HeartbeatReport> Get();

  // How many reports were built so far, and how many replica statuses were
  // computed for them (tests, stats).
  int64_t builds() const;
  int64_t statuses_computed() const;

 private:
  TabletManager* const manager_;
  const absl::Duration max_age_;
  const absl::Duration full_refresh_;
  struct Cached {
    std::shared_ptr<TabletReplica> replica;  // the object the key was read from
    TabletReplica::StatusKey key;
  };
  // For each entry of last_, in tablet id order (TabletManager::List's): the
  // replica and the key its status was computed under.
  std::vector<Cached> keys_ ABSL_GUARDED_BY(mu_);
  absl::Time last_full_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t statuses_computed_ ABSL_GUARDED_BY(mu_) = 0;
  mutable absl::Mutex mu_;  // held while building
  std::shared_ptr<const HeartbeatReport> last_ ABSL_GUARDED_BY(mu_);
  absl::Time built_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int64_t builds_ ABSL_GUARDED_BY(mu_) = 0;
};

// Fills `req`'s report from `now`: a full report when `base` is null;
// otherwise an incremental one relative to `base` (the report numbered
// `base_sequence_number` that the master acknowledged): the replicas whose
// entry differs from base's or is new, and the ids base has that `now` does
// not. Also sets data_dirs. Leaves sequence_number and uuid to the caller.
void FillReport(const HeartbeatReport& now, const HeartbeatReport* base,
                int64_t base_sequence_number, master::HeartbeatRequestPB* req);

}  // namespace kmend::tserver

#endif  // KMEND_SERVER_TSERVER_HEARTBEAT_REPORT_H_
