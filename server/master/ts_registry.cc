#include "server/master/ts_registry.h"

#include "absl/strings/str_cat.h"

namespace kmend::master {

TServerRegistry::TServerRegistry(const server::Clock* clock, int64_t unresponsive_timeout_ms)
    : clock_(clock), timeout_ms_(unresponsive_timeout_ms) {}

bool TServerRegistry::IsLive(const Entry& e, int64_t now_us) const {
  return now_us - e.last_heartbeat_us <= timeout_ms_ * 1000;
}

absl::Status TServerRegistry::Register(const TServerRegistrationPB& reg) {
  if (reg.permanent_uuid().empty()) {
    return absl::InvalidArgumentError("RegisterTServer: registration.permanent_uuid is empty");
  }
  if (!reg.has_rpc_address() || reg.rpc_address().host().empty() ||
      reg.rpc_address().port() == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RegisterTServer from ", reg.permanent_uuid(),
        ": registration.rpc_address must name a host and a non-zero port"));
  }
  absl::MutexLock lock(&mu_);
  Entry& e = servers_[reg.permanent_uuid()];
  e.registration = reg;
  e.last_heartbeat_us = clock_->NowMicros();
  // A restarted process numbers its heartbeats from zero again.
  e.last_sequence_number = -1;
  e.applied_report_sequence_number = -1;
  e.reported = false;
  return absl::OkStatus();
}

absl::Status TServerRegistry::Heartbeat(const HeartbeatRequestPB& req, ReportOutcome* outcome) {
  ReportOutcome ignored;
  if (outcome == nullptr) outcome = &ignored;
  *outcome = ReportOutcome::kNeedsFullReport;
  // The new map is built outside the lock when the report applies (the
  // common case) and swapped in; a concurrent heartbeat from the same server
  // (one per master link, never two in flight) is not expected, and would
  // be refused by the sequence checks below.
  std::shared_ptr<const ReplicaReports> base;
  {
    absl::MutexLock lock(&mu_);
    auto it = servers_.find(req.permanent_uuid());
    if (it == servers_.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "heartbeat from unregistered tablet server '", req.permanent_uuid(),
          "': register first"));
    }
    Entry& e = it->second;
    e.last_heartbeat_us = clock_->NowMicros();
    if (req.data_dirs_size() > 0) {
      e.data_dirs.assign(req.data_dirs().begin(), req.data_dirs().end());
    }
    if (req.sequence_number() <= e.last_sequence_number) return absl::OkStatus();
    e.last_sequence_number = req.sequence_number();
    if (!req.is_full_report()) {
      if (!e.reported || req.base_sequence_number() != e.applied_report_sequence_number) {
        return absl::OkStatus();
      }
      if (req.replicas_size() == 0 && req.removed_tablet_ids_size() == 0) {
        // Nothing changed: an idle server's usual heartbeat copies nothing.
        e.applied_report_sequence_number = req.sequence_number();
        *outcome = ReportOutcome::kApplied;
        return absl::OkStatus();
      }
      base = e.replicas;
    }
  }
  auto next = std::make_shared<ReplicaReports>();
  if (base != nullptr) *next = *base;  // copies shared pointers, not reports
  for (const std::string& id : req.removed_tablet_ids()) next->erase(id);
  for (const server::ReplicaStatusPB& r : req.replicas()) {
    (*next)[r.tablet_id()] = std::make_shared<const server::ReplicaStatusPB>(r);
  }
  absl::MutexLock lock(&mu_);
  auto it = servers_.find(req.permanent_uuid());
  // Unregistered, re-registered or overtaken meanwhile: not applied.
  if (it == servers_.end() || it->second.last_sequence_number != req.sequence_number() ||
      (base != nullptr && it->second.replicas != base)) {
    return absl::OkStatus();
  }
  Entry& e = it->second;
  e.replicas = std::move(next);
  e.reported = true;
  e.applied_report_sequence_number = req.sequence_number();
  *outcome = ReportOutcome::kApplied;
  return absl::OkStatus();
}

absl::Status TServerRegistry::Unregister(const std::string& uuid) {
  absl::MutexLock lock(&mu_);
  auto it = servers_.find(uuid);
  if (it == servers_.end()) {
    return absl::NotFoundError(absl::StrCat("tablet server ", uuid, " is not registered"));
  }
  const int64_t now_us = clock_->NowMicros();
  if (IsLive(it->second, now_us)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tablet server ", uuid, " is live (heartbeat ", (now_us - it->second.last_heartbeat_us) / 1000,
        " ms ago): only a server that is gone can be unregistered"));
  }
  servers_.erase(it);
  return absl::OkStatus();
}

TServerSnapshot TServerRegistry::SnapshotLocked(const Entry& e, int64_t now_us) const {
  TServerSnapshot s;
  s.registration = e.registration;
  s.live = IsLive(e, now_us);
  s.millis_since_heartbeat = (now_us - e.last_heartbeat_us) / 1000;
  s.replicas = e.replicas;
  s.data_dirs = e.data_dirs;
  s.reported = e.reported;
  return s;
}

std::vector<TServerSnapshot> TServerRegistry::List() const {
  int64_t now = clock_->NowMicros();
  absl::ReaderMutexLock lock(&mu_);
  std::vector<TServerSnapshot> out;
  out.reserve(servers_.size());
  for (const auto& [uuid, e] : servers_) out.push_back(SnapshotLocked(e, now));
  return out;
}

std::vector<TServerSnapshot> TServerRegistry::LiveServers() const {
  int64_t now = clock_->NowMicros();
  absl::ReaderMutexLock lock(&mu_);
  std::vector<TServerSnapshot> out;
  for (const auto& [uuid, e] : servers_) {
    if (IsLive(e, now)) out.push_back(SnapshotLocked(e, now));
  }
  return out;
}

std::optional<TServerSnapshot> TServerRegistry::Get(const std::string& uuid) const {
  int64_t now = clock_->NowMicros();
  absl::ReaderMutexLock lock(&mu_);
  auto it = servers_.find(uuid);
  if (it == servers_.end()) return std::nullopt;
  return SnapshotLocked(it->second, now);
}

std::vector<LivenessChange> TServerRegistry::CheckLiveness() {
  int64_t now = clock_->NowMicros();
  absl::MutexLock lock(&mu_);
  std::vector<LivenessChange> out;
  for (auto& [uuid, e] : servers_) {
    bool live = IsLive(e, now);
    if (live != e.reported_live) {
      e.reported_live = live;
      out.push_back({uuid, live});
    }
  }
  return out;
}

}  // namespace kmend::master
