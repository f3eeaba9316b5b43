#include "server/tserver/raft_router.h"

#include "absl/strings/str_cat.h"

namespace kmend::tserver {

absl::Status RaftRouter::Register(const std::string& tablet_id, Receiver receiver) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = entries_.try_emplace(tablet_id);
  if (!inserted) {
    return absl::AlreadyExistsError(
        absl::StrCat("tablet ", tablet_id, " already has a Raft receiver"));
  }
  it->second.receiver = std::move(receiver);
  return absl::OkStatus();
}

void RaftRouter::Unregister(const std::string& tablet_id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(tablet_id);
  if (it == entries_.end()) return;
  Entry* e = &it->second;
  e->unregistering = true;
  auto idle = [e]() { return e->in_flight == 0; };
  mu_.Await(absl::Condition(&idle));
  entries_.erase(tablet_id);
}

absl::Status RaftRouter::Deliver(const consensus::RaftMessagePB& msg) {
  Receiver receiver;
  Entry* e = nullptr;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(msg.tablet_id());
    if (it == entries_.end() || it->second.unregistering) {
      return absl::NotFoundError(absl::StrCat("no Raft replica of tablet ", msg.tablet_id()));
    }
    e = &it->second;
    ++e->in_flight;
    receiver = e->receiver;
  }
  absl::Status s = receiver(msg);
  absl::MutexLock lock(&mu_);
  --e->in_flight;  // the entry cannot be erased while in_flight > 0
  return s;
}

}  // namespace kmend::tserver
