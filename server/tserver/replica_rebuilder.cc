#include "server/tserver/replica_rebuilder.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/fs/layout.h"
#include "lib/rpc/grpc_util.h"
#include "lib/util/status_macros.h"
#include "proto/status.grpc.pb.h"
#include "server/common/logger.h"

namespace kmend::tserver {
namespace {

std::string OpIdText(const consensus::OpId& id) { return absl::StrCat(id.term(), ".", id.index()); }

std::string StateName(const std::shared_ptr<TabletReplica>& r) {
  if (r == nullptr) return "NONE";
  return tablet::TabletDataState_Name(r->data_state());
}

}  // namespace

ReplicaRebuilder::ReplicaRebuilder(std::string server_uuid, TabletManager* manager,
                                   std::chrono::milliseconds peer_timeout)
    : uuid_(std::move(server_uuid)), manager_(manager), peer_timeout_(peer_timeout) {}

ReplicaRebuilder::~ReplicaRebuilder() { Shutdown(); }

void ReplicaRebuilder::Shutdown() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    threads.swap(threads_);
  }
  // A copy has no cancellation point: it runs to its end (or its first
  // failed RPC). A kill leaves it COPYING, which start-up recovers.
  for (std::thread& t : threads) t.join();
}

absl::StatusOr<StartTabletCopyResponsePB> ReplicaRebuilder::Start(
    const StartTabletCopyRequestPB& req) {
  const std::string& tablet_id = req.tablet_id();
  const std::string what = absl::StrCat("StartTabletCopy of tablet ", tablet_id);
  if (!req.dest_uuid().empty() && req.dest_uuid() != uuid_) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": request is for tablet server ", req.dest_uuid(), " but this is ", uuid_));
  }
  if (!fs::IsCanonicalUuid(tablet_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": tablet_id is not 32 lowercase hex characters"));
  }
  if (req.copy_peer_addr().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": copy_peer_addr is required"));
  }
  if (req.copy_peer_uuid() == uuid_) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the source is this server; a replica never copies from itself"));
  }
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return absl::AbortedError(absl::StrCat(what, ": the server is shutting down"));
    auto it = progress_.find(tablet_id);
    if (it != progress_.end() && it->second.state() == server::TabletCopyProgressPB::RUNNING) {
      return absl::AlreadyExistsError(absl::StrCat(
          what, ": a copy from ", it->second.source_address(), " is running (",
          it->second.bytes_done(), " of ", it->second.bytes_total(), " bytes)"));
    }
  }

  // 1. The source runs the tablet.
  auto stub = server::StatusService::NewStub(rpc::NewChannel(req.copy_peer_addr()));
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, peer_timeout_);
  server::GetStatusRequestPB sreq;
  sreq.add_tablet_ids(tablet_id);
  server::GetStatusResponsePB sresp;
  RETURN_IF_ERROR(rpc::FromGrpcStatus(
      stub->GetStatus(&ctx, sreq, &sresp),
      absl::StrCat(what, ": asking the source ", req.copy_peer_addr(), " for its status")));
  if (!req.copy_peer_uuid().empty() && sresp.server().uuid() != req.copy_peer_uuid()) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": the source at ", req.copy_peer_addr(), " is tablet server ",
                     sresp.server().uuid(), ", not ", req.copy_peer_uuid()));
  }
  if (sresp.server().uuid() == uuid_) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": the source is this server; a replica never copies from itself"));
  }
  const server::ReplicaStatusPB* source = nullptr;
  for (const auto& r : sresp.replicas()) {
    if (r.tablet_id() == tablet_id) source = &r;
  }
  if (source == nullptr) {
    return absl::FailedPreconditionError(
        absl::StrCat(what, ": the source ", req.copy_peer_addr(), " hosts no replica of it"));
  }
  if (source->data_state() != server::TABLET_DATA_READY || !source->has_last_logged_opid()) {
    return absl::FailedPreconditionError(absl::StrCat(
        what, ": the source's replica is not running (state ",
        server::ReplicaDataState_Name(source->data_state()),
        source->has_last_logged_opid() ? "" : ", Raft not running", ")"));
  }

  // 2. The local replica's log is not ahead of the source's.
  StartTabletCopyResponsePB resp;
  std::shared_ptr<TabletReplica> local;
  if (auto found = manager_->Lookup(tablet_id); found.ok()) local = *found;
  resp.set_replaced_state(StateName(local));
  *resp.mutable_source_last_logged_opid() = source->last_logged_opid();
  resp.set_source_on_disk_size_bytes(source->on_disk_size_bytes());
  if (local != nullptr) {
    std::optional<consensus::OpId> mine = local->LastLoggedOpId();
    if (mine.has_value()) {
      *resp.mutable_replaced_last_logged_opid() = *mine;
      if (mine->term() > source->last_logged_opid().term() && !req.force()) {
        return absl::FailedPreconditionError(absl::StrCat(
            what, ": this replica's last logged op ", OpIdText(*mine),
            " has a later term than the source's ", OpIdText(source->last_logged_opid()),
            ": it may hold entries the source lacks; pick another source or force"));
      }
    }
  }

  // 3. Start (no copy of the tablet runs: checked again under the lock).
  absl::MutexLock lock(&mu_);
  if (stopping_) return absl::AbortedError(absl::StrCat(what, ": the server is shutting down"));
  server::TabletCopyProgressPB& p = progress_[tablet_id];
  if (p.state() == server::TabletCopyProgressPB::RUNNING) {
    return absl::AlreadyExistsError(absl::StrCat(what, ": a copy is running"));
  }
  p.Clear();
  p.set_state(server::TabletCopyProgressPB::RUNNING);
  p.set_tablet_id(tablet_id);
  p.set_source_uuid(sresp.server().uuid());
  p.set_source_address(req.copy_peer_addr());
  p.set_start_time_us(absl::ToUnixMicros(absl::Now()));
  p.set_caller_id(req.caller_id());
  p.set_replaced_state(resp.replaced_state());
  StartTabletCopyRequestPB run = req;
  run.set_copy_peer_uuid(sresp.server().uuid());
  threads_.emplace_back([this, run] { Run(run); });
  KLOG(WARNING) << what << " from " << req.copy_peer_addr() << " (" << sresp.server().uuid()
                << ", last logged " << OpIdText(source->last_logged_opid()) << ") started by '"
                << req.caller_id() << "'; replacing a " << resp.replaced_state() << " replica"
                << (req.force() ? " (forced)" : "");
  return resp;
}

void ReplicaRebuilder::Update(const std::string& tablet_id,
                              const std::function<void(server::TabletCopyProgressPB*)>& change) {
  absl::MutexLock lock(&mu_);
  server::TabletCopyProgressPB& p = progress_[tablet_id];
  change(&p);
  p.set_elapsed_ms((absl::ToUnixMicros(absl::Now()) - p.start_time_us()) / 1000);
}

void ReplicaRebuilder::Run(StartTabletCopyRequestPB req) {
  const std::string tablet_id = req.tablet_id();
  const absl::Time started = absl::Now();
  auto on_progress = [&](const tablet_copy::CopyProgress& cp) {
    if (req.max_bytes_per_sec() > 0) {
      // Called after each chunk: sleeping here paces the fetches (at most
      // the fetcher's read-ahead is in flight meanwhile).
      const absl::Time due =
          started + absl::Seconds(static_cast<double>(cp.bytes_done) / req.max_bytes_per_sec());
      const absl::Duration early = due - absl::Now();
      if (early > absl::ZeroDuration()) absl::SleepFor(early);
    }
    Update(tablet_id, [&](server::TabletCopyProgressPB* p) {
      p->set_bytes_done(cp.bytes_done);
      p->set_bytes_total(cp.bytes_total);
      p->set_items_done(cp.items_done);
      p->set_items_total(cp.items_total);
      p->set_bytes_reused(cp.bytes_reused);
      if (!cp.resume_note.empty()) p->set_resume_note(cp.resume_note);
    });
  };
  const std::string reason =
      absl::StrCat("rebuilt from ", req.copy_peer_uuid(), " by '", req.caller_id(), "'");
  auto before_copy = [&](TabletReplica* old) -> absl::Status {
    // A READY replica (running, or a diverged one) is tombstoned first; the
    // copy replaces FAILED and TOMBSTONED ones as they are.
    if (old != nullptr && old->data_state() == tablet::TABLET_DATA_READY) {
      return Annotate(old->Tombstone(reason), "tombstoning the replica to rebuild");
    }
    return absl::OkStatus();
  };
  absl::Status s = manager_->CopyTabletFrom(tablet_id, req.copy_peer_addr(), on_progress,
                                            before_copy, /*resume=*/true);
  Update(tablet_id, [&](server::TabletCopyProgressPB* p) {
    if (s.ok()) {
      p->set_state(server::TabletCopyProgressPB::DONE);
      p->set_bytes_done(p->bytes_total());
      p->set_items_done(p->items_total());
    } else {
      p->set_state(server::TabletCopyProgressPB::FAILED);
      p->set_error(std::string(s.message()));
    }
  });
  if (s.ok()) {
    KLOG(INFO) << "StartTabletCopy of tablet " << tablet_id << " from " << req.copy_peer_addr()
               << " done; the replica rejoins its Raft group";
  } else {
    KLOG(ERROR) << "StartTabletCopy of tablet " << tablet_id << " from " << req.copy_peer_addr()
                << " failed: " << s;
  }
}

absl::StatusOr<server::TabletCopyProgressPB> ReplicaRebuilder::Progress(
    const std::string& tablet_id) const {
  absl::MutexLock lock(&mu_);
  auto it = progress_.find(tablet_id);
  if (it == progress_.end()) {
    return absl::NotFoundError(
        absl::StrCat("no copy of tablet ", tablet_id, " was started on this server"));
  }
  server::TabletCopyProgressPB p = it->second;
  if (p.state() == server::TabletCopyProgressPB::RUNNING) {
    p.set_elapsed_ms((absl::ToUnixMicros(absl::Now()) - p.start_time_us()) / 1000);
  }
  return p;
}

}  // namespace kmend::tserver
