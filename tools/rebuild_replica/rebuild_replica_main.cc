// kmend rebuild-replica (docs/cli/rebuild_replica.md): re-create a corrupt,
// lost or diverged replica from a healthy peer. Dry run unless --yes.
// Exit: 0 rebuilt (RUNNING and caught up) or planned (dry run); 1 the
// rebuild started but failed or did not finish within --wait; 2 refused
// (nothing changed) or could not run.
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/check/status_facts.h"
#include "lib/rebuild/plan.h"
#include "lib/rebuild/progress.h"
#include "lib/rebuild/render.h"
#include "lib/util/status_macros.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"
#include "tools/rebuild_replica/offline.h"
#include "tools/rebuild_replica/online.h"

namespace kmend::rebuild_tool {
namespace {

constexpr char kTool[] = "kmend rebuild-replica";

// Every elapsed_seconds the tool prints counts from its start, so that the
// JSON lines show where the time went (facts and sizing, copy, catch-up).
const auto kStart = std::chrono::steady_clock::now();

double SinceStart() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - kStart).count();
}

std::string CallerId() {
  const char* user = std::getenv("USER");
  char host[256] = {0};
  ::gethostname(host, sizeof(host) - 1);
  return absl::StrCat(kTool, " (", user ? user : "?", "@", host, ", pid ", ::getpid(), ")");
}

void PrintLine(const nlohmann::json& j) { std::cout << j.dump() << std::endl; }

int Refused(bool json, const std::string& tablet, rebuild::Refusal why, const absl::Status& s) {
  if (json) PrintLine(rebuild::RefusedJson(tablet, why, std::string(s.message())));
  std::cerr << kTool << ": REFUSED (nothing changed): " << s.message() << std::endl;
  return tools::kExitError;
}

// The target server refused in its check-only call: every refusal named,
// nothing changed.
int RefusedByTarget(bool json, const std::string& tablet, const rebuild::Plan& plan,
                    const tserver::StartTabletCopyResponsePB& checked) {
  std::vector<rebuild::RefusalFact> all;
  for (const auto& r : checked.refusals()) all.push_back({r.refusal(), r.message()});
  if (json) {
    nlohmann::json j = rebuild::RefusedJson(
        tablet, rebuild::RefusalFromName(all[0].name),
        absl::StrCat("the target ", plan.target.uuid, " refuses: ", all[0].reason), "target", all);
    j["refusal"] = all[0].name;  // the server's name, known to this tool or not
    j["warnings"] = checked.warnings();
    PrintLine(j);
  }
  for (const rebuild::RefusalFact& r : all) {
    std::cerr << kTool << ": REFUSED by the target " << plan.target.uuid << " (" << r.name
              << ", nothing changed): " << r.reason << std::endl;
  }
  for (const std::string& w : checked.warnings()) {
    std::cerr << kTool << ": WARNING: " << w << std::endl;
  }
  return tools::kExitError;
}

struct Flags {
  std::string masters;
  std::string tablet;
  std::string tserver;
  std::string source;
  std::string fs_root;
  bool yes = false;
  bool force = false;
  int64_t timeout_ms = 10000;
  int64_t wait_ms = 30 * 60 * 1000;
  int64_t progress_interval_ms = 1000;
  int64_t max_bytes_per_sec = 0;
  std::string backup_dir = ".";
  tools::OutputFormat format = tools::OutputFormat::kPlain;
};

// Follows the copy until done, failed or --wait.
int Follow(const Flags& f, const OnlineOptions& o, const rebuild::Plan& plan,
           const rebuild::TabletFacts& facts) {
  const bool json = f.format == tools::OutputFormat::kJson;
  const bool tty = !json && tools::StdoutIsTty();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(f.wait_ms);
  rebuild::RateTracker rate;
  rebuild::ProgressEvent e;
  std::optional<rebuild::Phase> last_phase;
  std::string last_detail;
  double last_emit = -1e9;
  while (true) {
    rebuild::Sample sample = Poll(o, plan, facts);
    e.elapsed_seconds = SinceStart();
    e.verdict = rebuild::Judge(sample);
    if (sample.copy) {
      e.bytes_done = sample.copy->bytes_done();
      e.bytes_total = sample.copy->bytes_total();
      e.bytes_reused = sample.copy->bytes_reused();
      e.copy_elapsed_ms = sample.copy->elapsed_ms();
      if (sample.copy->has_tombstone_ms()) e.tombstone_ms = sample.copy->tombstone_ms();
      if (sample.copy->has_fetch_ms()) e.fetch_ms = sample.copy->fetch_ms();
      if (sample.copy->has_replica_start_ms()) {
        e.replica_start_ms = sample.copy->replica_start_ms();
      }
      if (!sample.copy->resume_note().empty() && e.resume_note.empty()) {
        e.resume_note = sample.copy->resume_note();
        if (!json) {
          if (tty) std::cout << "\r\033[K";
          std::cout << e.resume_note << std::endl;
        }
      }
    }
    rate.Add(e.elapsed_seconds, e.bytes_done);
    e.bytes_per_second = rate.BytesPerSecond();
    e.eta_seconds = e.verdict.phase == rebuild::Phase::kCopying ? rate.EtaSeconds(e.bytes_total)
                                                                 : std::nullopt;
    const bool changed = !last_phase || *last_phase != e.verdict.phase;
    const bool final_phase =
        e.verdict.phase == rebuild::Phase::kDone || e.verdict.phase == rebuild::Phase::kFailed;
    if (json) {
      if (changed || e.elapsed_seconds - last_emit >= f.progress_interval_ms / 1000.0) {
        PrintLine(rebuild::ProgressJson(f.tablet, e));
        last_emit = e.elapsed_seconds;
      }
    } else if (tty && e.verdict.phase == rebuild::Phase::kCopying && e.bytes_total > 0) {
      std::cout << "\r\033[K"
                << rebuild::ProgressLine(e.bytes_done, e.bytes_total, e.bytes_per_second,
                                         e.eta_seconds)
                << std::flush;
    } else if (changed || (e.verdict.detail != last_detail && !tty &&
                           e.elapsed_seconds - last_emit >= 10)) {
      if (tty) std::cout << "\r\033[K";
      std::cout << rebuild::PhaseName(e.verdict.phase) << ": " << e.verdict.detail << std::endl;
      last_emit = e.elapsed_seconds;
    }
    last_phase = e.verdict.phase;
    last_detail = e.verdict.detail;
    if (final_phase) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      std::string why = absl::StrCat("not finished after ", f.wait_ms / 1000, " s (",
                                     rebuild::PhaseName(e.verdict.phase), ": ", e.verdict.detail,
                                     "); the copy goes on on the server: run again to follow");
      if (json) PrintLine(rebuild::ResultJson(f.tablet, "timeout", why, e));
      std::cerr << kTool << ": " << why << std::endl;
      return tools::kExitProblems;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(tty ? 250 : 200));
  }
  if (e.verdict.phase == rebuild::Phase::kFailed) {
    if (json) PrintLine(rebuild::ResultJson(f.tablet, "failed", e.verdict.detail, e));
    std::cerr << kTool << ": FAILED: " << e.verdict.detail << std::endl;
    return tools::kExitProblems;
  }
  const std::string done = absl::StrCat(
      "rebuilt tablet ", f.tablet, " on ", plan.target.uuid, " from ", plan.source.uuid, ": ",
      e.verdict.detail, " (", rebuild::HumanBytes(e.bytes_done),
      e.bytes_reused > 0
          ? absl::StrCat(", ", rebuild::HumanBytes(e.bytes_reused), " kept from an interrupted copy")
          : "",
      " in ",
      static_cast<int64_t>(e.elapsed_seconds * 1000), " ms",
      rebuild::TimingText(e).empty() ? "" : absl::StrCat(": ", rebuild::TimingText(e)), ")");
  if (json) {
    PrintLine(rebuild::ResultJson(f.tablet, "done", e.verdict.detail, e));
  } else {
    std::cout << done << std::endl;
  }
  return tools::kExitOk;
}

int RunOnline(const Flags& f) {
  const bool json = f.format == tools::OutputFormat::kJson;
  OnlineOptions o;
  if (!f.masters.empty()) o.masters = absl::StrSplit(f.masters, ',', absl::SkipWhitespace());
  o.tablet_id = f.tablet;
  o.request = {f.tserver, f.source, f.force};
  o.rpc_timeout = std::chrono::milliseconds(f.timeout_ms);
  o.max_bytes_per_sec = f.max_bytes_per_sec;
  absl::StatusOr<rebuild::TabletFacts> facts = CollectFacts(o);
  if (!facts.ok()) return tools::ReportError(kTool, facts.status());
  rebuild::Refusal why = rebuild::Refusal::kNone;
  absl::StatusOr<rebuild::Plan> plan = rebuild::MakePlan(*facts, o.request, &why);
  if (!plan.ok()) return Refused(json, f.tablet, why, plan.status());
  absl::Status sized = SizeCopy(o, &*plan);
  if (!sized.ok()) {
    plan->warnings.push_back(absl::StrCat("could not size the copy exactly (", sized.message(),
                                          "); the size shown is the source's size on disk"));
  }
  // The target server's own checks (its files, its log), changing
  // nothing: a dry run shows its refusals too.
  absl::StatusOr<tserver::StartTabletCopyResponsePB> checked =
      StartCopy(o, *plan, CallerId(), /*check_only=*/true);
  if (!checked.ok()) {
    return tools::ReportError(kTool, Annotate(checked.status(), "the target's check-only call"));
  }
  if (checked->has_replaced_last_logged_opid()) {
    plan->replaced_last_logged = check::ToOpId(checked->replaced_last_logged_opid());
    plan->replaced_last_logged_from = checked->replaced_last_logged_from();
  }
  for (const std::string& w : checked->warnings()) plan->warnings.push_back(w);
  if (!checked->refusals().empty()) return RefusedByTarget(json, f.tablet, *plan, *checked);
  if (json) {
    nlohmann::json j = rebuild::PlanJson(f.tablet, *plan, f.yes);
    j["elapsed_seconds"] = SinceStart();
    PrintLine(j);
  } else {
    std::cout << rebuild::RenderPlanPlain(f.tablet, *plan, f.yes) << std::flush;
  }
  for (const std::string& w : plan->warnings) std::cerr << kTool << ": WARNING: " << w << "\n";
  if (!f.yes) return tools::kExitOk;
  auto started = StartCopy(o, *plan, CallerId());
  if (!started.ok()) {
    // The server checks again (source running, terms): a refusal there
    // changed nothing either.
    if (absl::IsFailedPrecondition(started.status()) || absl::IsAlreadyExists(started.status())) {
      return Refused(json, f.tablet, rebuild::Refusal::kNone, started.status());
    }
    return tools::ReportError(kTool, started.status());
  }
  return Follow(f, o, *plan, *facts);
}

int Run(int argc, char** argv) {
  CLI::App app{
      "kmend rebuild-replica: re-create a corrupt, lost or diverged tablet replica from a healthy "
      "peer (online through the target's server, or offline into a stopped server's --fs_root)"};
  app.name(kTool);
  Flags f;
  app.add_option("--masters", f.masters,
                 "Masters HOST:PORT[,...] (optional when --tserver/--source are HOST:PORT)");
  app.add_option("--tablet", f.tablet, "Tablet id")->required();
  app.add_option("--tserver", f.tserver, "The server whose replica to rebuild: UUID or HOST:PORT");
  app.add_option("--source", f.source,
                 "Copy from this replica's server, UUID or HOST:PORT (default: the leader, else "
                 "the voter with the highest last logged op id; offline: required HOST:PORT)");
  app.add_option("--fs_root", f.fs_root,
                 "Offline: the data directory of a STOPPED tablet server to rebuild into");
  app.add_flag("--yes", f.yes, "Do it (default: only show the plan)");
  app.add_flag("--force", f.force,
               "Rebuild although the target's last logged term is ahead of the source's (its "
               "extra entries are lost) or the target looks healthy");
  app.add_option("--timeout,--timeout_ms", f.timeout_ms,
                 "Deadline of each RPC, e.g. 10s, 500ms (bare number: ms)")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::PositiveNumber);
  app.add_option("--wait", f.wait_ms,
                 "Follow the rebuild for at most this long (30m, 90s; bare number: ms)")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::PositiveNumber);
  app.add_option("--progress_interval", f.progress_interval_ms,
                 "--format=json: a progress line at least this often (1s, 500ms)")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::PositiveNumber);
  app.add_option("--max_bytes_per_sec", f.max_bytes_per_sec,
                 "Online: the target copies at most this many bytes per second (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  app.add_option("--backup_dir", f.backup_dir,
                 "Offline: where the replaced superblock and consensus metadata are saved")
      ->capture_default_str();
  tools::AddFormatOption(&app, &f.format);
  int rc = tools::ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  if (!f.fs_root.empty()) {
    if (!f.tserver.empty() || !f.masters.empty()) {
      return tools::ReportError(
          kTool, absl::InvalidArgumentError(
                     "--fs_root (offline) excludes --tserver and --masters (online)"));
    }
    if (f.source.empty()) {
      return tools::ReportError(kTool,
                                absl::InvalidArgumentError("offline (--fs_root) needs --source "
                                                           "HOST:PORT of a server running the "
                                                           "tablet"));
    }
    OfflineOptions off;
    off.fs_root = f.fs_root;
    off.tablet_id = f.tablet;
    off.source = f.source;
    off.yes = f.yes;
    off.force = f.force;
    off.backup_dir = f.backup_dir;
    off.json = f.format == tools::OutputFormat::kJson;
    off.rpc_timeout = std::chrono::milliseconds(f.timeout_ms);
    return RunOffline(off);
  }
  if (f.tserver.empty()) {
    return tools::ReportError(
        kTool, absl::InvalidArgumentError("--tserver (online) or --fs_root (offline) is required"));
  }
  return RunOnline(f);
}

}  // namespace
}  // namespace kmend::rebuild_tool

int main(int argc, char** argv) { return kmend::rebuild_tool::Run(argc, argv); }
