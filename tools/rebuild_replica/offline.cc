#include "tools/rebuild_replica/offline.h"

#include <chrono>
#include <iostream>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/layout.h"
#include "lib/fs/safe_name.h"
#include "lib/io/dir_lock.h"
#include "lib/io/file.h"
#include "lib/rebuild/progress.h"
#include "lib/rebuild/replica_files.h"
#include "lib/rebuild/target_term.h"
#include "lib/rebuild/render.h"
#include "lib/rpc/grpc_util.h"
#include "lib/tablet/superblock.h"
#include "lib/tablet/tablet.h"
#include "lib/tablet_copy/copy_client.h"
#include "lib/util/status_macros.h"
#include "lib/wal/log_reader.h"
#include "proto/status.grpc.pb.h"
#include "tools/common/cli.h"
#include "tools/rebuild_replica/online.h"

namespace kmend::rebuild_tool {
namespace {

constexpr char kTool[] = "kmend rebuild-replica";

std::string Text(const consensus::OpId& id) { return absl::StrCat(id.term(), ".", id.index()); }

// Copies the files the rebuild replaces into a fresh directory under
// backup_dir; returns it.
absl::StatusOr<std::string> Backup(const fs::Layout& layout, const std::string& tablet_id,
                                   const std::string& backup_dir) {
  const std::string dir = io::JoinPath(
      backup_dir, absl::StrCat("rebuild-", tablet_id, "-", absl::ToUnixMicros(absl::Now())));
  RETURN_IF_ERROR(io::CreateDirs(dir));
  for (const auto& [from, name] :
       {std::pair{layout.TabletMetaPath(tablet_id), "tablet-meta"},
        std::pair{layout.ConsensusMetaPath(tablet_id), "consensus-meta"}}) {
    if (!io::FileExists(from)) continue;
    ASSIGN_OR_RETURN(std::string bytes, io::ReadFileToString(from));
    RETURN_IF_ERROR(io::WriteFileAtomically(io::JoinPath(dir, name), bytes));
  }
  return dir;
}

}  // namespace

int RunOffline(const OfflineOptions& o) {
  auto fail = [&](const absl::Status& s) { return tools::ReportError(kTool, s); };
  auto refuse = [&](rebuild::Refusal why, const std::string& reason) {
    if (o.json) std::cout << rebuild::RefusedJson(o.tablet_id, why, reason).dump() << std::endl;
    std::cerr << kTool << ": REFUSED (nothing changed): " << reason << std::endl;
    return tools::kExitError;
  };
  if (absl::Status s = fs::ValidateId(o.tablet_id, "--tablet"); !s.ok()) return fail(s);
  // The directory: formatted, and no server running on it. The lock is held
  // until the end, so no server starts meanwhile.
  absl::StatusOr<fs::InstanceInfo> instance = fs::Open(o.fs_root);
  if (!instance.ok()) return fail(Annotate(instance.status(), "--fs_root"));
  absl::StatusOr<std::unique_ptr<io::DirLock>> lock = io::DirLock::Acquire(o.fs_root);
  if (!lock.ok()) {
    return refuse(rebuild::Refusal::kTargetHealthy,
                  absl::StrCat(lock.status().message(),
                               ": stop the tablet server first (or rebuild online with --tserver)"));
  }
  const fs::Layout layout(o.fs_root);
  // The replica's own files, any of which may be damaged (the server is
  // stopped: nothing writes them meanwhile).
  const rebuild::TargetFiles local = rebuild::InspectReplicaFiles(layout, o.tablet_id);

  // The source: running the tablet.
  auto stub = server::StatusService::NewStub(rpc::NewChannel(o.source));
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, o.rpc_timeout);
  server::GetStatusRequestPB sreq;
  sreq.add_tablet_ids(o.tablet_id);
  server::GetStatusResponsePB sresp;
  absl::Status asked = rpc::FromGrpcStatus(stub->GetStatus(&ctx, sreq, &sresp),
                                           absl::StrCat("the source ", o.source));
  if (!asked.ok()) return refuse(rebuild::Refusal::kSourceNotRunning, std::string(asked.message()));
  const server::ReplicaStatusPB* source = nullptr;
  for (const auto& r : sresp.replicas()) {
    if (r.tablet_id() == o.tablet_id) source = &r;
  }
  if (source == nullptr || source->data_state() != server::TABLET_DATA_READY ||
      !source->has_last_logged_opid()) {
    return refuse(rebuild::Refusal::kSourceNotRunning,
                  absl::StrCat("the source ", o.source, " (", sresp.server().uuid(),
                               ") does not run the tablet (",
                               source == nullptr ? "no replica"
                                                 : server::ReplicaDataState_Name(
                                                       source->data_state()),
                               ")"));
  }
  if (sresp.server().uuid() == instance->uuid) {
    return refuse(rebuild::Refusal::kSourceIsTarget,
                  absl::StrCat("the source ", o.source, " is this directory's server"));
  }
  const rebuild::TermJudgement term =
      rebuild::JudgeTargetTerm(local, source->last_logged_opid(), o.force);
  if (term.refusal != rebuild::Refusal::kNone) {
    return refuse(term.refusal, term.message + "; --force to replace");
  }
  std::vector<std::string> warnings = term.warnings;

  // Size it exactly (a probe session on the source).
  rebuild::Plan plan;
  plan.target.uuid = instance->uuid;
  plan.target.address = o.fs_root;
  plan.source.uuid = sresp.server().uuid();
  plan.source.address = o.source;
  plan.estimated_bytes = source->on_disk_size_bytes();
  absl::Status sized = SizeCopyFrom(o.source, instance->uuid, o.tablet_id, o.rpc_timeout, &plan);
  if (!sized.ok()) warnings.push_back(absl::StrCat("could not size the copy: ", sized.message()));
  const int64_t bytes = plan.session_bytes.value_or(plan.estimated_bytes);
  if (o.json) {
    nlohmann::json j = {{"schema", rebuild::kSchema},
                        {"schema_version", rebuild::kSchemaVersion},
                        {"event", "plan"},
                        {"mode", "offline"},
                        {"tablet_id", o.tablet_id},
                        {"applying", o.yes},
                        {"fs_root", o.fs_root},
                        {"target", {{"uuid", instance->uuid}, {"state", local.superblock_state}}},
                        {"source",
                         {{"uuid", plan.source.uuid},
                          {"address", o.source},
                          {"last_logged", Text(source->last_logged_opid())}}},
                        {"bytes_to_copy", bytes},
                        {"bytes_exact", plan.session_bytes.has_value()},
                        {"replaced_state", local.superblock_state},
                        {"warnings", warnings}};
    if (term.last_logged) {
      j["replaced_last_logged"] = Text(*term.last_logged);
      j["replaced_last_logged_from"] = term.last_logged_from;
    }
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << (o.yes ? "Rebuilding" : "Would rebuild") << " the replica of tablet "
              << o.tablet_id << " offline\n"
              << "  target:  " << o.fs_root << " (server " << instance->uuid << "), replica "
              << local.superblock_state
              << (term.last_logged ? absl::StrCat(", last logged ", Text(*term.last_logged),
                                                  " (from its ", term.last_logged_from, ")")
                                   : "")
              << "\n"
              << "  source:  " << plan.source.uuid << " (" << o.source << "), last logged "
              << Text(source->last_logged_opid()) << "\n"
              << "  to copy: " << rebuild::HumanBytes(bytes)
              << (plan.session_bytes ? "" : " (the source's size on disk)") << "\n"
              << "  replaces: the local " << local.superblock_state
              << " replica (superblock and consensus metadata saved to --backup_dir first)\n";
    if (!o.yes) std::cout << "Dry run: nothing changed. Add --yes to rebuild.\n";
  }
  for (const std::string& w : warnings) std::cerr << kTool << ": WARNING: " << w << "\n";
  if (!o.yes) return tools::kExitOk;

  auto backup = Backup(layout, o.tablet_id, o.backup_dir);
  if (!backup.ok()) return fail(Annotate(backup.status(), "backing up the replaced files"));
  blocks::BlockManagerOptions bo;
  auto bm = blocks::LogBlockManager::Open(layout.DataDir(), bo);
  if (!bm.ok()) return fail(Annotate(bm.status(), "opening the block manager"));
  // A READY replica is tombstoned first (CopyTablet refuses to overwrite
  // one); its consensus metadata stays, so its term and vote are kept.
  if (local.superblock_state == "READY") {
    absl::Status s = tablet::Tablet::Tombstone(layout, bm->get(), o.tablet_id, nullptr,
                                               "kmend rebuild-replica --fs_root");
    if (!s.ok()) return fail(Annotate(s, "tombstoning the local replica"));
  }
  tablet_copy::CopyOptions copy;
  copy.requestor_uuid = instance->uuid;
  copy.block_manager = bm->get();
  // The term rule passed (or was forced): an unreadable superblock or cmeta
  // is replaced (the originals are in the backup directory too).
  copy.replace_unreadable_metadata_term_floor = term.term_floor;
  const bool tty = !o.json && tools::StdoutIsTty();
  rebuild::RateTracker rate;
  const auto start = std::chrono::steady_clock::now();
  double last_line = -1;
  copy.progress = [&](const tablet_copy::CopyProgress& p) {
    const double t =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rate.Add(t, p.bytes_done);
    if (t - last_line < (o.json ? 1.0 : 0.25)) return;
    last_line = t;
    if (o.json) {
      rebuild::ProgressEvent e;
      e.verdict.phase = rebuild::Phase::kCopying;
      e.verdict.detail = p.item;
      e.bytes_done = p.bytes_done;
      e.bytes_total = p.bytes_total;
      e.bytes_per_second = rate.BytesPerSecond();
      e.eta_seconds = rate.EtaSeconds(p.bytes_total);
      e.elapsed_seconds = t;
      std::cout << rebuild::ProgressJson(o.tablet_id, e).dump() << std::endl;
    } else if (tty) {
      std::cout << "\r\033[K"
                << rebuild::ProgressLine(p.bytes_done, p.bytes_total, rate.BytesPerSecond(),
                                         rate.EtaSeconds(p.bytes_total))
                << std::flush;
    }
  };
  absl::StatusOr<tablet_copy::CopyResult> r =
      tablet_copy::CopyTablet(o.source, o.tablet_id, o.fs_root, copy);
  if (tty) std::cout << "\r\033[K";
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!r.ok()) {
    if (o.json) {
      rebuild::ProgressEvent e;
      e.elapsed_seconds = secs;
      std::cout << rebuild::ResultJson(o.tablet_id, "failed", std::string(r.status().message()), e)
                       .dump()
                << std::endl;
    }
    std::cerr << kTool << ": FAILED: " << r.status().message()
              << " (the replaced files are in " << *backup << ")" << std::endl;
    return tools::kExitProblems;
  }
  if (o.json) {
    rebuild::ProgressEvent e;
    e.bytes_done = r->bytes;
    e.elapsed_seconds = secs;
    nlohmann::json j = rebuild::ResultJson(o.tablet_id, "done", "READY", e);
    j["backup"] = *backup;
    std::cout << j.dump() << std::endl;
  } else {
    std::cout << "rebuilt tablet " << o.tablet_id << " in " << o.fs_root << " from "
              << r->source_uuid << ": READY, " << r->blocks << " blocks and " << r->wal_segments
              << " WAL segments (" << rebuild::HumanBytes(r->bytes) << " in "
              << static_cast<int64_t>(secs * 1000) << " ms); start the server to bring it up\n"
              << "replaced files saved in " << *backup << "\n";
  }
  return tools::kExitOk;
}

}  // namespace kmend::rebuild_tool
