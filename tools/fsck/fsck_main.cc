// kmend-fsck: offline verification and repair of a stopped tablet server's
// data directory. A thin front over lib/fsck (scan -> judge -> render, and
// the journaled repair); see docs/cli/fsck.md.
//
//   kmend fsck --fs_root DIR [--tablets ID,...] [--checks=framing|checksums|decode]
//              [--repair [--yes] [--backup_dir DIR]] [--format=plain|json] [--verbose]
//   kmend fsck undo --backup_dir DIR [--yes] [--format=plain|json]
//
// Exit codes: 0 nothing wrong; 1 problems found (after --repair --yes: still
// present once the repair is done); 2 could not run (bad flags, directory
// locked by a running server, not a data directory, a repair step failed).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/fsck/render.h"
#include "lib/fsck/repair.h"
#include "lib/fsck/scan.h"
#include "lib/fsck/verdict.h"
#include "lib/io/dir_lock.h"
#include "tools/common/cli.h"

namespace kmend::tools {
namespace {

constexpr char kTool[] = "kmend-fsck";

// "files 12/40, 1.2/3.4 GB, 850 MB/s, ETA 3 s" on one rewritten stderr line.
class ProgressLine {
 public:
  ProgressLine() : enabled_(StdoutIsTty() && ::isatty(STDERR_FILENO) == 1) {}
  std::function<void(const fsck::ScanProgress&)> Callback() {
    if (!enabled_) return nullptr;
    start_ = std::chrono::steady_clock::now();
    return [this](const fsck::ScanProgress& p) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      const double rate = s > 0 ? p.bytes_done / s : 0;
      const double left = p.bytes_total > p.bytes_done ? p.bytes_total - p.bytes_done : 0;
      std::string eta = rate > 0 ? absl::StrFormat("%.0f s", left / rate) : "?";
      std::fprintf(stderr, "\rfsck: files %lld/%lld, %.2f/%.2f GB, %.0f MB/s, ETA %s   ",
                   static_cast<long long>(p.files_done), static_cast<long long>(p.files_total),
                   p.bytes_done / 1e9, p.bytes_total / 1e9, rate / 1e6, eta.c_str());
      std::fflush(stderr);
      shown_ = true;
    };
  }
  void Clear() {
    if (shown_) std::fprintf(stderr, "\r%80s\r", "");
    shown_ = false;
  }

 private:
  const bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point start_;
};

struct Args {
  std::string fs_root;
  std::string tablets;
  std::string checks = "checksums";
  bool repair = false;
  bool yes = false;
  bool verbose = false;
  int threads = 0;
  int64_t timestamp_micros = 0;
  std::string backup_dir;
  OutputFormat format = OutputFormat::kPlain;
};

void Print(const nlohmann::json& doc, const std::string& text, OutputFormat f) {
  if (f == OutputFormat::kJson) {
    // Damaged files can put any bytes into messages: never fail on them.
    std::cout << doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  } else {
    std::cout << text << std::flush;
  }
}

absl::StatusOr<fsck::ScanResult> ScanAndJudge(const Args& a, const fsck::ScanOptions& o) {
  ProgressLine progress;
  fsck::ScanOptions opts = o;
  opts.progress = progress.Callback();
  auto r = fsck::Scan(a.fs_root, opts);
  progress.Clear();
  if (r.ok()) fsck::Judge(&r->report);
  return r;
}

int RunCheck(const Args& a) {
  fsck::ScanOptions opts;
  if (!fsck::ParseChecks(a.checks, &opts.checks)) {
    std::cerr << kTool << ": --checks must be framing, checksums or decode, not '" << a.checks
              << "'" << std::endl;
    return kExitError;
  }
  for (absl::string_view t : absl::StrSplit(a.tablets, ',', absl::SkipEmpty())) {
    opts.tablets.insert(std::string(t));
  }
  opts.threads = a.threads;
  if (a.yes && !a.repair) {
    std::cerr << kTool << ": --yes only means something with --repair" << std::endl;
    return kExitError;
  }
  if (a.repair && a.yes && a.backup_dir.empty()) {
    std::cerr << kTool << ": --repair --yes needs --backup_dir DIR: every file changed or "
              << "removed is copied there first (and `kmend fsck undo` restores it)" << std::endl;
    return kExitError;
  }
  // Held for the whole run: no server may start under a check or a repair.
  auto lock = io::DirLock::Acquire(a.fs_root);
  if (!lock.ok()) return ReportError(kTool, lock.status());

  auto scanned = ScanAndJudge(a, opts);
  if (!scanned.ok()) return ReportError(kTool, scanned.status());
  if (!a.repair) {
    Print(fsck::ReportJson(scanned->report, nullptr),
          fsck::ReportText(scanned->report, nullptr, a.verbose), a.format);
    return scanned->report.clean() ? kExitOk : kExitProblems;
  }
  fsck::RepairSection section;
  section.backup_dir = a.backup_dir;
  section.dry_run = !a.yes;
  auto plan = fsck::PlanRepair(
      *scanned, a.timestamp_micros > 0 ? a.timestamp_micros : absl::ToUnixMicros(absl::Now()));
  if (!plan.ok()) return ReportError(kTool, plan.status());
  section.plan = *plan;
  if (!a.yes) {
    if (!a.backup_dir.empty() && fsck::HasUnfinishedRepair(a.backup_dir, a.fs_root)) {
      section.plan.not_done.push_back(
          "an interrupted repair is recorded in " + a.backup_dir +
          ": with --yes it is resumed (its own plan, not the one above)");
    }
    Print(fsck::ReportJson(scanned->report, &section),
          fsck::ReportText(scanned->report, &section, a.verbose), a.format);
    return scanned->report.clean() ? kExitOk : kExitProblems;
  }
  auto outcome = fsck::ExecuteRepair(*plan, a.backup_dir);
  if (!outcome.ok()) return ReportError(kTool, outcome.status());
  section.outcome = *outcome;
  section.plan.actions = outcome->plan.actions;
  // What the directory looks like now.
  auto after = ScanAndJudge(a, opts);
  if (!after.ok()) return ReportError(kTool, after.status());
  Print(fsck::ReportJson(after->report, &section),
        fsck::ReportText(after->report, &section, a.verbose), a.format);
  return after->report.clean() ? kExitOk : kExitProblems;
}

int RunUndo(const Args& a) {
  if (a.backup_dir.empty()) {
    std::cerr << kTool << ": undo needs --backup_dir DIR" << std::endl;
    return kExitError;
  }
  auto root = fsck::ManifestFsRoot(a.backup_dir);
  if (!root.ok()) return ReportError(kTool, root.status());
  auto lock = io::DirLock::Acquire(*root);
  if (!lock.ok()) return ReportError(kTool, lock.status());
  auto undo = fsck::Undo(a.backup_dir, a.yes, a.fs_root);
  if (!undo.ok()) return ReportError(kTool, undo.status());
  Print(fsck::UndoJson(*undo, a.backup_dir), fsck::UndoText(*undo, a.backup_dir), a.format);
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{"Offline verification and repair of a stopped tablet server's data directory"};
  app.set_help_flag("--help,-h", "Print this help");
  Args a;
  app.add_option("--fs_root", a.fs_root, "The tablet server's data directory");
  app.add_option("--tablets", a.tablets, "Only these tablets (comma-separated ids)");
  app.add_option("--checks", a.checks,
                 "framing | checksums (default: every block's CRC32C) | decode (every value)");
  app.add_flag("--repair", a.repair, "Plan the repair of what is found (dry run without --yes)");
  app.add_flag("--yes", a.yes, "With --repair: do it");
  // Spelled as unsafe-change-config spells it (with its dashed alias).
  app.add_option(FlagWithDashedAlias("backup_dir"), a.backup_dir,
                 "Where every changed or removed file is copied first (required with --yes)");
  app.add_flag("--verbose,-v", a.verbose, "Also list files fsck cannot check and why");
  app.add_option("--threads", a.threads, "Decode threads for --checks=decode (0: one per core)");
  // Not in --help: makes two repairs of equal directories write equal bytes
  // (the footers and DELETE records carry this time), for tests.
  app.add_option("--timestamp_micros", a.timestamp_micros,
                 "Time written into WAL footers and DELETE records (default: now)")
      ->group("");
  AddFormatOption(&app, &a.format);
  CLI::App* undo = app.add_subcommand(
      "undo",
      "Restore every file a repair changed from its backup directory (dry run without --yes)");
  undo->add_option(FlagWithDashedAlias("backup_dir"), a.backup_dir, "The repair's --backup_dir")
      ->required();
  undo->add_option("--fs_root", a.fs_root, "Check that the backup is of this directory");
  undo->add_flag("--yes", a.yes, "Restore (otherwise only list)");
  AddFormatOption(undo, &a.format);
  int rc = ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  if (undo->parsed()) return RunUndo(a);
  if (a.fs_root.empty()) {
    std::cerr << kTool << ": --fs_root is required (run with --help)" << std::endl;
    return kExitError;
  }
  return RunCheck(a);
}

}  // namespace
}  // namespace kmend::tools

int main(int argc, char** argv) { return kmend::tools::Main(argc, argv); }
