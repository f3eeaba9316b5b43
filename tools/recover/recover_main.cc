// kmend recover: plan, apply and verify the recovery of every tablet that
// lost its majority (docs/cli/recover.md, docs/runbooks/majority-lost.md).
// A thin front: collecting is lib/check/remote_collector.h, the judgement
// lib/recover/planner.h, fingerprint.h and verify.h, the forces
// lib/recover/apply.h.
//
// Exit codes: plan 0 (1 when some lost tablet cannot be recovered or judged);
// apply 0 every entry applied (or would be, dry run), 1 some entry skipped,
// refused or failed, 2 the plan no longer matches the cluster (nothing
// changed) or could not run; verify 0 every tablet of the plan HEALTHY at
// its replication factor, 1 not (after --wait), 2 could not run.
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/check/remote_collector.h"
#include "lib/io/file.h"
#include "lib/recover/apply.h"
#include "lib/recover/master_probe.h"
#include "lib/recover/offline.h"
#include "lib/recover/plan_json.h"
#include "lib/recover/planner.h"
#include "lib/recover/render.h"
#include "lib/recover/verify.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"

namespace kmend::recover {
namespace {

constexpr char kTool[] = "kmend recover";

struct Common {
  std::string masters;  // empty: the plan's
  int64_t timeout_ms = 5000;
  int concurrency = 16;
  tools::OutputFormat format = tools::OutputFormat::kPlain;
};

void AddCommon(CLI::App* cmd, Common* c, bool masters_required) {
  auto* m = cmd->add_option("--masters", c->masters, "Master addresses, HOST:PORT[,HOST:PORT...]");
  if (masters_required) {
    m->required();
  } else {
    m->description("Master addresses (default: the ones the plan was made against)");
  }
  cmd->add_option("--timeout", c->timeout_ms, "Deadline of each call, e.g. 5s, 500ms (bare: ms)")
      ->default_str("5s")
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::PositiveNumber);
  cmd->add_option("--concurrency", c->concurrency, "Calls (collect) and forces (apply) at once")
      ->check(CLI::Range(1, 1024));
  tools::AddFormatOption(cmd, &c->format);
}

absl::StatusOr<check::ClusterSnapshot> Collect(const Common& c,
                                               const std::vector<std::string>& plan_masters) {
  check::CollectOptions opt;
  opt.masters = c.masters.empty()
                    ? plan_masters
                    : std::vector<std::string>(absl::StrSplit(c.masters, ',', absl::SkipWhitespace()));
  opt.concurrency = c.concurrency;
  opt.timeout = std::chrono::milliseconds(c.timeout_ms);
  return check::CollectRemote(opt);
}

int Plan(const Common& c, const std::string& out_path) {
  absl::StatusOr<check::ClusterSnapshot> snap = Collect(c, {});
  if (!snap.ok()) {
    // No catalog: if the masters themselves lost their majority, that is
    // the first thing to recover (docs/runbooks/dead-masters.md).
    std::vector<std::string> masters = absl::StrSplit(c.masters, ',', absl::SkipWhitespace());
    std::vector<recover::MasterProbe> probes =
        recover::ProbeMasters(masters, std::chrono::milliseconds(c.timeout_ms));
    if (recover::CatalogMajorityLost(probes)) {
      absl::StatusOr<recover::CatalogForceChoice> choice = recover::ChooseCatalogSurvivor(probes);
      return tools::ReportError(
          kTool, absl::FailedPreconditionError(absl::StrCat(
                     "the masters' catalog lost its majority (", snap.status().message(),
                     "): recover it first with `kmend master unsafe-change-config --masters ",
                     c.masters, "`",
                     choice.ok() ? absl::StrCat(" (it would force the catalog onto master ",
                                                choice->survivor_uuid, " at ",
                                                choice->survivor_address, ")")
                                 : "",
                     ", then plan again")));
    }
    return tools::ReportError(kTool, snap.status());
  }
  RecoveryPlan plan = MakeRecoveryPlan(*snap);
  plan.created_at = absl::FormatTime(absl::RFC3339_sec, absl::Now(), absl::UTCTimeZone());
  const nlohmann::json doc = PlanToJson(plan);
  if (!out_path.empty()) {
    absl::Status s = io::WriteFileAtomically(out_path, doc.dump(2) + "\n");
    if (!s.ok()) return tools::ReportError(kTool, s);
  }
  if (c.format == tools::OutputFormat::kJson) {
    tools::PrintJson(doc);
  } else {
    std::cout << RenderPlanPlain(plan);
    if (!out_path.empty()) {
      std::cout << "\nplan written to " << out_path << "; apply it with: kmend recover apply "
                << out_path << " --yes\n";
    }
  }
  return plan.unrecoverable.empty() && plan.unknown.empty() ? tools::kExitOk
                                                            : tools::kExitProblems;
}

struct ApplyArgs {
  std::string plan_path;
  bool yes = false;
  bool accept_warnings = false;
  std::string backup_dir = ".";
  int64_t lease_wait_ms = 6000;
  bool offline = false;
  std::string fs_root;
};

// apply --offline: the plan's forces for the survivors on one stopped
// server's data directory, written into their consensus metadata.
int ApplyOffline(const Common& c, const ApplyArgs& a, const RecoveryPlan& plan) {
  const char* user = std::getenv("USER");
  absl::StatusOr<OfflineReport> report = ApplyPlanOffline(
      plan, a.fs_root, a.yes, a.accept_warnings, a.backup_dir,
      std::string("kmend recover apply --offline (") + (user ? user : "?") + ", plan " +
          plan.created_at + ")");
  if (!report.ok()) return tools::ReportError(kTool, report.status());
  ApplyReport as_apply;  // same rendering; the fingerprint part is per entry here
  as_apply.entries = report->entries;
  if (c.format == tools::OutputFormat::kJson) {
    nlohmann::json doc = RenderApplyJson(as_apply, !a.yes);
    doc["offline"] = true;
    doc["server_uuid"] = report->server_uuid;
    doc["entries_for_other_servers"] = report->other_entries;
    tools::PrintJson(doc);
  } else {
    std::cout << "offline, " << a.fs_root << " (server " << report->server_uuid << "): "
              << report->entries.size() << " of the plan's tablets survive here, "
              << report->other_entries << " elsewhere (not touched)\n"
              << RenderApplyPlain(as_apply, !a.yes) << std::flush;
  }
  return report->ExitCode();
}

int Apply(const Common& c, const ApplyArgs& a) {
  absl::StatusOr<RecoveryPlan> plan = ReadPlanFile(a.plan_path);
  if (!plan.ok()) return tools::ReportError(kTool, plan.status());
  if (a.offline) return ApplyOffline(c, a, *plan);
  absl::StatusOr<check::ClusterSnapshot> snap = Collect(c, plan->masters);
  if (!snap.ok()) return tools::ReportError(kTool, snap.status());
  ApplyOptions opt;
  opt.yes = a.yes;
  opt.accept_warnings = a.accept_warnings;
  opt.concurrency = c.concurrency;
  opt.backup_dir = a.backup_dir;
  opt.lease_wait = std::chrono::milliseconds(a.lease_wait_ms);
  const char* user = std::getenv("USER");
  opt.caller_id = std::string("kmend recover apply (") + (user ? user : "?") + ", plan " +
                  plan->created_at + ")";
  const bool tty = tools::StdoutIsTty() && c.format == tools::OutputFormat::kPlain;
  size_t done = 0;
  ApplyReport report = ApplyPlan(*plan, *snap, opt, [&](const EntryResult&) {
    ++done;
    if (tty) std::cout << "\r" << done << "/" << plan->entries.size() << " tablets" << std::flush;
  });
  if (tty) std::cout << "\r" << std::string(40, ' ') << "\r";
  if (c.format == tools::OutputFormat::kJson) {
    tools::PrintJson(RenderApplyJson(report, !a.yes));
  } else {
    std::cout << RenderApplyPlain(report, !a.yes) << std::flush;
  }
  if (!report.match.matches()) {
    std::cerr << kTool << ": the cluster no longer matches the plan " << a.plan_path << ": "
              << report.match.differences[0]
              << (report.match.differences.size() > 1 ? " (and more, see above)" : "") << "\n";
  }
  return report.ExitCode();
}

int Verify(const Common& c, const std::string& plan_path, int64_t wait_ms) {
  absl::StatusOr<RecoveryPlan> plan = ReadPlanFile(plan_path);
  if (!plan.ok()) return tools::ReportError(kTool, plan.status());
  const bool tty = tools::StdoutIsTty() && c.format == tools::OutputFormat::kPlain;
  const auto start = std::chrono::steady_clock::now();
  const auto give_up = start + std::chrono::milliseconds(wait_ms);
  VerifyResult result;
  while (true) {
    absl::StatusOr<check::ClusterSnapshot> snap = Collect(c, plan->masters);
    if (!snap.ok()) {
      if (std::chrono::steady_clock::now() >= give_up) return tools::ReportError(kTool, snap.status());
    } else {
      result = VerifyPlan(*plan, *snap);
      if (result.ok() || std::chrono::steady_clock::now() >= give_up) break;
      if (tty) {
        std::cout << "\r" << result.healthy << "/" << result.tablets.size()
                  << " tablets HEALTHY, waiting..." << std::flush;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  if (tty) std::cout << "\r" << std::string(50, ' ') << "\r";
  const int64_t waited = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count();
  if (c.format == tools::OutputFormat::kJson) {
    tools::PrintJson(RenderVerifyJson(result, waited));
  } else {
    std::cout << RenderVerifyPlain(result) << std::flush;
  }
  return result.ok() ? tools::kExitOk : tools::kExitProblems;
}

int Run(int argc, char** argv) {
  CLI::App app{
      "kmend recover: plan, apply and verify the recovery of every tablet that lost its "
      "majority (loses entries only the lost replicas had)"};
  app.name("kmend recover");
  app.require_subcommand(1);

  Common plan_common;
  std::string out_path;
  CLI::App* plan = app.add_subcommand(
      "plan", "Collect the cluster and write the forces it needs (changes nothing)");
  AddCommon(plan, &plan_common, /*masters_required=*/true);
  plan->add_option("-o,--output", out_path, "Write the plan (JSON) to this file");

  Common apply_common;
  apply_common.concurrency = 8;
  ApplyArgs apply_args;
  CLI::App* apply = app.add_subcommand(
      "apply", "Re-collect, refuse if the cluster moved away from the plan, then force");
  apply->add_option("plan", apply_args.plan_path, "The plan file")->required();
  AddCommon(apply, &apply_common, /*masters_required=*/false);
  apply->add_flag("--yes", apply_args.yes, "Do it (default: only say what would be done)");
  apply->add_flag("--accept_warnings", apply_args.accept_warnings,
                  "Also force the entries that carry warnings");
  apply->add_option("--backup_dir", apply_args.backup_dir,
                    "Where each replaced consensus state is saved (default .)");
  apply->add_option("--lease_wait", apply_args.lease_wait_ms,
                    "How long to wait for a survivor's leader lease to lapse (default 6s)")
      ->transform(tools::MillisecondsDuration());
  apply->add_flag("--offline", apply_args.offline,
                  "Write the forces of the survivors on --fs_root (a STOPPED server) into their "
                  "consensus metadata; no network");
  apply->add_option("--fs_root", apply_args.fs_root, "Data root of the stopped server (--offline)");

  Common verify_common;
  std::string verify_path;
  int64_t wait_ms = 0;
  CLI::App* verify = app.add_subcommand(
      "verify", "Exit 0 when every tablet of the plan is HEALTHY at its replication factor");
  verify->add_option("plan", verify_path, "The plan file")->required();
  AddCommon(verify, &verify_common, /*masters_required=*/false);
  verify->add_option("--wait", wait_ms, "Keep checking for up to this long (e.g. 60s)")
      ->transform(tools::MillisecondsDuration());

  int rc = tools::ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  if (plan->parsed()) return Plan(plan_common, out_path);
  if (apply->parsed()) {
    if (apply_args.offline != !apply_args.fs_root.empty()) {
      std::cerr << kTool << ": --offline and --fs_root go together\n";
      return tools::kExitError;
    }
    return Apply(apply_common, apply_args);
  }
  return Verify(verify_common, verify_path, wait_ms);
}

}  // namespace
}  // namespace kmend::recover

int main(int argc, char** argv) { return kmend::recover::Run(argc, argv); }
