// The master's registry of tablet servers: who registered, where they
// listen, when each last heartbeated, and what replicas each last reported.
//
// Failure detection: a server is live while its last heartbeat (or
// registration) is at most `unresponsive_timeout_ms` old, by the injected
// Clock; liveness is computed when asked, so there is no timer to race with.
// CheckLiveness() reports live/dead transitions since its previous call, for
// logging.
//
// Thread safety: all methods are thread-safe. Lifetime: `clock` outlives the
// registry.
#ifndef KMEND_SERVER_MASTER_TS_REGISTRY_H_
#define KMEND_SERVER_MASTER_TS_REGISTRY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/master.pb.h"
#include "proto/status.pb.h"
#include "server/common/clock.h"

namespace kmend::master {

// One server's replica reports: tablet id -> the replica as last reported.
// Immutable once published (copy-on-write): a heartbeat that changes the
// reports builds a new map sharing the unchanged entries and swaps it in, so
// a reader (DescribeTable, re-replication) holds a consistent view without
// holding the registry's lock and never copies thousands of reports.
using ReplicaReports = std::map<std::string, std::shared_ptr<const server::ReplicaStatusPB>>;

// What a heartbeat's report did (TServerRegistry::Heartbeat).
enum class ReportOutcome {
  // Applied: the master's view is now the server's report.
  kApplied,
  // Not applied, and the server must send a full report next: an
  // incremental report whose base is not the last report applied (a gap: a
  // lost answer, a re-registration), or a sequence number at or below the
  // last one seen (a delayed duplicate, which must not roll state back).
  kNeedsFullReport,
};

// A copy of one server's entry, as of the call that returned it.
struct TServerSnapshot {
  TServerRegistrationPB registration;
  bool live = false;
  int64_t millis_since_heartbeat = 0;
  // As last reported; never null (empty before any report).
  std::shared_ptr<const ReplicaReports> replicas = std::make_shared<const ReplicaReports>();
  // A full report arrived since the latest registration (before that,
  // `replicas` may be stale or empty).
  bool reported = false;
  // Its data directories' space as of the last heartbeat that reported it.
  std::vector<server::DataDirSpacePB> data_dirs;
  // Some data directory is below its reserve: no new replicas here.
  bool disk_full() const {
    for (const server::DataDirSpacePB& d : data_dirs) {
      if (d.full()) return true;
    }
    return false;
  }
};

struct LivenessChange {
  std::string uuid;
  bool now_live = false;
};

class TServerRegistry {
 public:
  TServerRegistry(const server::Clock* clock, int64_t unresponsive_timeout_ms);

  // Adds the server or refreshes it (a restart re-registers with the same
  // uuid; its address may change). Counts as a heartbeat. InvalidArgument
  // when the uuid or address is missing.
  absl::Status Register(const TServerRegistrationPB& reg);

  // Records a heartbeat (the server is live) and applies its report: a full
  // report replaces the server's replica reports; an incremental one
  // (is_full_report false) upserts its replicas and drops removed_tablet_ids,
  // but only when its base_sequence_number is the sequence number of the
  // last report applied since the server registered. Otherwise, and for a
  // sequence number not above the last one seen, the report is ignored and
  // `outcome` (may be null) says kNeedsFullReport. FailedPrecondition when
  // the uuid is not registered (the server must register first).
  absl::Status Heartbeat(const HeartbeatRequestPB& req, ReportOutcome* outcome = nullptr);

  // Forgets a server that is gone for good. NotFound when not registered;
  // FailedPrecondition while it is live (heartbeating).
  absl::Status Unregister(const std::string& uuid);

  // Every registered server, ordered by uuid.
  std::vector<TServerSnapshot> List() const;
  std::vector<TServerSnapshot> LiveServers() const;
  std::optional<TServerSnapshot> Get(const std::string& uuid) const;

  // Transitions since the previous call (the first call reports every server
  // whose state differs from "live at registration").
  std::vector<LivenessChange> CheckLiveness();

  int64_t unresponsive_timeout_ms() const { return timeout_ms_; }

 private:
  struct Entry {
    TServerRegistrationPB registration;
    int64_t last_heartbeat_us = 0;
    int64_t last_sequence_number = -1;
    // Sequence number of the last report applied; meaningful once reported.
    int64_t applied_report_sequence_number = -1;
    bool reported = false;
    bool reported_live = true;  // state last returned by CheckLiveness
    std::shared_ptr<const ReplicaReports> replicas = std::make_shared<const ReplicaReports>();
    std::vector<server::DataDirSpacePB> data_dirs;
  };
  TServerSnapshot SnapshotLocked(const Entry& e, int64_t now_us) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  bool IsLive(const Entry& e, int64_t now_us) const;

  const server::Clock* const clock_;
  const int64_t timeout_ms_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> servers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_TS_REGISTRY_H_
