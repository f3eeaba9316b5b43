#include "server/tserver/heartbeat_report.h"

#include <utility>

namespace kmend::tserver {

HeartbeatReportBuilder::HeartbeatReportBuilder(TabletManager* manager, absl::Duration max_age,
                                               absl::Duration full_refresh)
    : manager_(manager), max_age_(max_age), full_refresh_(full_refresh) {}

int64_t HeartbeatReportBuilder::builds() const {
  absl::MutexLock lock(&mu_);
  return builds_;
}

int64_t HeartbeatReportBuilder::statuses_computed() const {
  absl::MutexLock lock(&mu_);
  return statuses_computed_;
}

std::shared_ptr<const HeartbeatReport> HeartbeatReportBuilder::Get() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (last_ != nullptr && now - built_ < max_age_) return last_;
  auto next = std::make_shared<HeartbeatReport>();
  next->data_dir = manager_->MeasureDataDir();
  // A full data directory changes every replica's write_refusal (it names
  // the free bytes): no reuse by key then.
  const bool full = last_ == nullptr || now - last_full_ >= full_refresh_ ||
                    (next->data_dir && next->data_dir->full());
  if (full) last_full_ = now;
  std::map<std::string, Cached> keys;
  for (const auto& r : manager_->List()) {
    // The key first: a change after it shows in the next build's key.
    const TabletReplica::StatusKey key = r->GetStatusKey();
    keys[r->tablet_id()] = Cached{r.get(), key};
    if (!full) {
      auto k = keys_.find(r->tablet_id());
      auto prev = last_->replicas.find(r->tablet_id());
      if (k != keys_.end() && k->second.replica == r.get() && k->second.key == key &&
          prev != last_->replicas.end()) {
        next->replicas.emplace(r->tablet_id(), prev->second);
        continue;
      }
    }
    ++statuses_computed_;
    server::ReplicaStatusPB status = r->Status();
    if (next->data_dir) TabletManager::NoteWriteRefusal(*next->data_dir, &status);
    if (last_ != nullptr) {
      auto prev = last_->replicas.find(r->tablet_id());
      // Unchanged: keep the previous entry, so that the diff against an
      // acknowledged report is a pointer comparison. ReplicaStatusPB has no
      // map fields, so equal messages serialize to equal bytes.
      if (prev != last_->replicas.end() &&
          prev->second->SerializeAsString() == status.SerializeAsString()) {
        next->replicas.emplace(r->tablet_id(), prev->second);
        continue;
      }
    }
    next->replicas.emplace(r->tablet_id(),
                           std::make_shared<const server::ReplicaStatusPB>(std::move(status)));
  }
  last_ = std::move(next);
  keys_ = std::move(keys);
  built_ = now;
  ++builds_;
  return last_;
}

void FillReport(const HeartbeatReport& now, const HeartbeatReport* base,
                int64_t base_sequence_number, master::HeartbeatRequestPB* req) {
  if (now.data_dir) *req->add_data_dirs() = *now.data_dir;
  req->set_is_full_report(base == nullptr);
  if (base == nullptr) {
    for (const auto& [id, r] : now.replicas) *req->add_replicas() = *r;
    return;
  }
  req->set_base_sequence_number(base_sequence_number);
  for (const auto& [id, r] : now.replicas) {
    auto b = base->replicas.find(id);
    if (b == base->replicas.end() || b->second != r) *req->add_replicas() = *r;
  }
  for (const auto& [id, r] : base->replicas) {
    if (now.replicas.count(id) == 0) req->add_removed_tablet_ids(id);
  }
}

}  // namespace kmend::tserver
