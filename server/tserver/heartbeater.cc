#include "server/tserver/heartbeater.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"

namespace kmend::tserver {

Heartbeater::Heartbeater(std::vector<std::string> master_addresses,
                         master::TServerRegistrationPB registration, int64_t interval_ms,
                         TabletManager* manager)
    : registration_(std::move(registration)),
      interval_ms_(interval_ms),
      manager_(manager),
      // Shorter than the interval, so that each thread's next beat finds the
      // report stale and one thread rebuilds it: at most one build per
      // interval for all masters, a report at most 3/4 of an interval old.
      reports_(manager, absl::Milliseconds(interval_ms) * 3 / 4) {
  for (std::string& a : master_addresses) {
    MasterLink link;
    link.stub = master::MasterService::NewStub(server::NewChannel(a));
    link.address = std::move(a);
    masters_.push_back(std::move(link));
  }
}

Heartbeater::~Heartbeater() { Stop(); }

void Heartbeater::Start() {
  for (MasterLink& m : masters_) {
    MasterLink* link = &m;
    m.thread = std::thread([this, link] { Run(link); });
  }
}

void Heartbeater::Stop() {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  for (MasterLink& m : masters_) {
    if (m.thread.joinable()) m.thread.join();
  }
}

void Heartbeater::Run(MasterLink* link) {
  do {
    Beat(link);
  } while (!stop_.WaitForNotificationWithTimeout(absl::Milliseconds(interval_ms_)));
}

void Heartbeater::Beat(MasterLink* link) {
  // A call must not outlive a few beats: a stopped master is found out and
  // re-registered with soon after it comes back.
  auto timeout = std::chrono::milliseconds(std::max<int64_t>(1000, 2 * interval_ms_));
  absl::Status failure;
  if (!link->registered) {
    master::RegisterTServerRequestPB req;
    *req.mutable_registration() = registration_;
    master::RegisterTServerResponsePB resp;
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, timeout);
    failure = server::FromGrpcStatus(link->stub->RegisterTServer(&ctx, req, &resp),
                                     absl::StrCat("RegisterTServer to ", link->address));
    if (failure.ok()) {
      link->registered = true;
      link->acked.reset();  // a new registration: the master wants it all
      KLOG(INFO) << "registered with master " << resp.master_uuid() << " at " << link->address;
    }
  }
  if (failure.ok()) {
    master::HeartbeatRequestPB req;
    req.set_permanent_uuid(registration_.permanent_uuid());
    const int64_t sequence_number = link->sequence_number++;
    req.set_sequence_number(sequence_number);
    std::shared_ptr<const HeartbeatReport> report = reports_.Get();
    FillReport(*report, link->acked.get(), link->acked_sequence_number, &req);
    master::HeartbeatResponsePB resp;
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, timeout);
    failure = server::FromGrpcStatus(link->stub->Heartbeat(&ctx, req, &resp),
                                     absl::StrCat("Heartbeat to ", link->address));
    if (failure.ok() && resp.needs_reregister()) {
      KLOG(INFO) << "master at " << link->address << " asks to register again";
      link->registered = false;
    }
    if (failure.ok() && !resp.needs_reregister() && !resp.needs_full_report()) {
      link->acked = std::move(report);
      link->acked_sequence_number = sequence_number;
    } else {
      if (failure.ok() && resp.needs_full_report() && !req.is_full_report()) {
        KLOG(INFO) << "master at " << link->address << " asks for a full replica report";
      }
      link->acked.reset();
    }
    if (failure.ok()) {
      for (const std::string& id : resp.tablets_to_tombstone()) {
        absl::Status s = manager_->DeleteTablet(
            id, /*tombstone=*/true,
            absl::StrCat("master ", resp.master_uuid(), " says this server no longer hosts it"),
            std::nullopt);
        if (s.ok()) {
          KLOG(INFO) << "tombstoned tablet " << id << " as master " << resp.master_uuid()
                     << " asked";
        } else {
          KLOG(WARNING) << "tombstoning tablet " << id << ": " << s;
        }
      }
    }
  }
  if (!failure.ok()) {
    // After a failure, register again: the master may have restarted.
    link->registered = false;
    if (!link->last_failed) KLOG(WARNING) << failure;
  } else if (link->last_failed) {
    KLOG(INFO) << "master at " << link->address << " reachable again";
  }
  link->last_failed = !failure.ok();
}

}  // namespace kmend::tserver
