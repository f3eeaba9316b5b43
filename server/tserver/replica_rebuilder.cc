#include "server/tserver/replica_rebuilder.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/fs/layout.h"
#include "lib/rebuild/plan.h"
#include "lib/rebuild/replica_files.h"
#include "lib/rebuild/target_term.h"
#include "lib/tablet/superblock.h"
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
  }

  // Every refusal is collected (check_only reports them all); without
  // check_only the first one is the error and nothing starts.
  StartTabletCopyResponsePB resp;
  auto refuse = [&](rebuild::Refusal why, const std::string& message) {
    RebuildRefusalPB* r = resp.add_refusals();
    r->set_refusal(rebuild::RefusalName(why));
    r->set_message(message);
  };
  auto answer = [&]() -> absl::StatusOr<StartTabletCopyResponsePB> {
    if (req.check_only() || resp.refusals().empty()) return resp;
    const RebuildRefusalPB& first = resp.refusals(0);
    const std::string message = absl::StrCat(what, ": ", first.message());
    if (first.refusal() == rebuild::RefusalName(rebuild::Refusal::kCopyRunning)) {
      return absl::AlreadyExistsError(message);
    }
    return absl::FailedPreconditionError(message);
  };
  {
    absl::MutexLock lock(&mu_);
    auto it = progress_.find(tablet_id);
    if (it != progress_.end() && it->second.state() == server::TabletCopyProgressPB::RUNNING) {
      refuse(rebuild::Refusal::kCopyRunning,
             absl::StrCat("a copy from ", it->second.source_address(), " is running (",
                          it->second.bytes_done(), " of ", it->second.bytes_total(), " bytes)"));
    }
  }
  // The running copy writes the replica's files: reading them now (step 2)
  // would judge a half-written WAL.
  if (!resp.refusals().empty()) return answer();

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
    refuse(rebuild::Refusal::kSourceMismatch,
           absl::StrCat("the source at ", req.copy_peer_addr(), " is tablet server ",
                        sresp.server().uuid(), ", not ", req.copy_peer_uuid()));
    return answer();
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
    refuse(rebuild::Refusal::kSourceNotRunning,
           absl::StrCat("the source ", req.copy_peer_addr(), " hosts no replica of it"));
    return answer();
  }
  if (source->data_state() != server::TABLET_DATA_READY || !source->has_last_logged_opid()) {
    refuse(rebuild::Refusal::kSourceNotRunning,
           absl::StrCat("the source's replica is not running (state ",
                        server::ReplicaDataState_Name(source->data_state()),
                        source->has_last_logged_opid() ? "" : ", Raft not running", ")"));
    return answer();
  }

  // 2. The local replica's log is not ahead of the source's: from Raft or
  // the tombstone when known, else from the replica's own files, which may
  // be damaged (lib/rebuild/target_term.h).
  std::shared_ptr<TabletReplica> local;
  if (auto found = manager_->Lookup(tablet_id); found.ok()) local = *found;
  resp.set_replaced_state(StateName(local));
  *resp.mutable_source_last_logged_opid() = source->last_logged_opid();
  resp.set_source_on_disk_size_bytes(source->on_disk_size_bytes());
  rebuild::TargetFiles files;
  std::optional<consensus::OpId> known = local ? local->LastLoggedOpId() : std::nullopt;
  if (known.has_value()) {
    files.superblock_state = resp.replaced_state();
    if (local->data_state() == tablet::TABLET_DATA_TOMBSTONED) {
      files.tombstone_last_logged = known;
    } else {
      files.running_last_logged = known;
    }
  } else {
    // Not running: no driver writes the WAL while it is read.
    files = rebuild::InspectReplicaFiles(manager_->layout(), tablet_id);
  }
  rebuild::TermJudgement term =
      rebuild::JudgeTargetTerm(files, source->last_logged_opid(), req.force());
  if (term.last_logged) {
    *resp.mutable_replaced_last_logged_opid() = *term.last_logged;
    resp.set_replaced_last_logged_from(term.last_logged_from);
  }
  for (const std::string& w : term.warnings) resp.add_warnings(w);
  if (term.refusal != rebuild::Refusal::kNone) {
    refuse(term.refusal, absl::StrCat(term.message, "; pick another source or force"));
  }
  if (req.check_only() || !resp.refusals().empty()) return answer();

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
  const int64_t term_floor = term.term_floor;
  threads_.emplace_back([this, run, term_floor] { Run(run, term_floor); });
  resp.set_started(true);
  KLOG(WARNING) << what << " from " << req.copy_peer_addr() << " (" << sresp.server().uuid()
                << ", last logged " << OpIdText(source->last_logged_opid()) << ") started by '"
                << req.caller_id() << "'; replacing a " << resp.replaced_state() << " replica"
                << (term.last_logged ? absl::StrCat(" (last logged ", OpIdText(*term.last_logged),
                                                    " from its ", term.last_logged_from, ")")
                                     : "")
                << (req.force() ? " (forced)" : "");
  for (const std::string& w : term.warnings) KLOG(WARNING) << what << ": " << w;
  return resp;
}

void ReplicaRebuilder::Update(const std::string& tablet_id,
                              const std::function<void(server::TabletCopyProgressPB*)>& change) {
  absl::MutexLock lock(&mu_);
  server::TabletCopyProgressPB& p = progress_[tablet_id];
  change(&p);
  p.set_elapsed_ms((absl::ToUnixMicros(absl::Now()) - p.start_time_us()) / 1000);
}

void ReplicaRebuilder::Run(StartTabletCopyRequestPB req, int64_t term_floor) {
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
    // A replica FAILED because its consensus metadata or WAL could not be
    // opened still reads READY on disk, which the copy refuses to
    // overwrite: tombstone it there (its blocks are known and deleted).
    if (old != nullptr && old->data_state() == tablet::TABLET_DATA_FAILED) {
      auto sb = tablet::LoadSuperBlock(manager_->layout(), tablet_id);
      if (sb.ok() && sb->tablet_data_state() == tablet::TABLET_DATA_READY) {
        return Annotate(old->Tombstone(reason, /*even_if_failed=*/true),
                        "tombstoning the FAILED replica to rebuild");
      }
    }
    return absl::OkStatus();
  };
  // The term rule passed (or was forced) in Start: metadata that cannot be
  // read is replaced, a damaged cmeta at term >= the WAL's last logged.
  CopyTimings timings;
  absl::Status s = manager_->CopyTabletFrom(tablet_id, req.copy_peer_addr(), on_progress,
                                            before_copy, /*resume=*/true, term_floor, &timings);
  Update(tablet_id, [&](server::TabletCopyProgressPB* p) {
    if (timings.before_copy_ms >= 0) p->set_tombstone_ms(timings.before_copy_ms);
    if (timings.copy_ms >= 0) p->set_fetch_ms(timings.copy_ms);
    if (timings.start_ms >= 0) p->set_replica_start_ms(timings.start_ms);
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
