// kmend drill: a failover drill on a test cluster (docs/cli/drill.md).
//
// A thin front over lib/drill/runner.h: parses flags, refuses without
// --yes-this-is-a-test-cluster, runs the trials, prints the table or JSON
// and writes the --plot timeline. Exit: 0 every trial ran and the cluster
// was HEALTHY after each, 1 the drill stopped early (a trial could not be
// measured, or ksck never reported HEALTHY again), 2 could not run or
// refused (no confirmation, bad flags, cluster not HEALTHY at the start).
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "lib/drill/report.h"
#include "lib/drill/runner.h"
#include "lib/io/file.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"

namespace kmend::drill_tool {
namespace {

constexpr char kTool[] = "kmend drill";

int Run(int argc, char** argv) {
  CLI::App app{"kmend drill: inject a fault per trial into a TEST cluster under a steady write "
               "load and measure T_check, T_recover, T_failover and availability"};
  app.name(kTool);
  std::string masters, table, fault = "kill-leader", plot;
  drill::DrillOptions o;
  bool confirmed = false, json_writes = false;
  int64_t warmup = 1000, hold = 1000, give_up = 20000, healthy = 60000, poll = 10,
          write_timeout = 500, timeout = 2000, gap = 250;
  tools::OutputFormat format = tools::OutputFormat::kPlain;
  app.add_option("--masters", masters, "Master addresses, HOST:PORT[,HOST:PORT...]")->required();
  app.add_option("--table", table, "The table to load and measure (its rows get UPSERTs)")
      ->required();
  app.add_option("--fault", fault, "kill-leader, kill-tserver or stop-tserver")
      ->check(CLI::IsMember({"kill-leader", "kill-tserver", "stop-tserver"}));
  app.add_option("--trials", o.trials, "Number of trials")->check(CLI::Range(1, 1000));
  app.add_option("--rows_per_s", o.rows_per_s, "Write rate per tablet (one row per write)")
      ->check(CLI::Range(1.0, 10000.0));
  app.add_option("--fault_cmd", o.fault_cmd,
                 "Shell command injecting the fault instead of a local signal; %a host:port, %h "
                 "host, %p port, %u uuid, %i pid, %r fs_root");
  app.add_option("--restore_cmd", o.restore_cmd,
                 "Shell command undoing --fault_cmd's fault (same substitutions)");
  app.add_flag("--yes-this-is-a-test-cluster,--yes_this_is_a_test_cluster", confirmed,
               "Required: the drill kills or stops tablet servers");
  app.add_option("--plot", plot, "Write a timeline per trial to this SVG file");
  app.add_flag("--json_writes", json_writes, "Include every write [start_ms, end_ms, acked] in JSON");
  auto dur = [&](const char* name, int64_t* v, const char* help, const char* def) {
    app.add_option(name, *v, help)
        ->default_str(def)
        ->transform(tools::MillisecondsDuration())
        ->check(CLI::PositiveNumber);
  };
  dur("--warmup", &warmup, "Load before each fault", "1s");
  dur("--hold", &hold, "Load after recovery, and again after the fault is undone", "1s");
  dur("--give_up", &give_up, "Stop when a faulted tablet is not written again this long", "20s");
  dur("--healthy_timeout", &healthy, "Wait this long for ksck HEALTHY after each trial", "60s");
  dur("--poll_interval", &poll, "How often surviving replicas are polled for their term", "10ms");
  dur("--write_timeout", &write_timeout, "Deadline of one write (all its retries)", "500ms");
  dur("--timeout", &timeout, "Deadline of each status/catalog call", "2s");
  dur("--unwritable_gap", &gap, "A longer gap between acknowledged writes is unwritable time",
      "250ms");
  tools::AddFormatOption(&app, &format);
  int rc = tools::ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;

  if (!confirmed) {
    std::cerr << kTool
              << ": refusing: the drill kills or stops tablet servers of the cluster at "
              << masters << "; add --yes-this-is-a-test-cluster if it is a test cluster\n";
    return tools::kExitError;
  }
  o.masters = absl::StrSplit(masters, ',', absl::SkipWhitespace());
  o.table = table;
  drill::ParseFault(fault, &o.fault);
  o.confirmed_test_cluster = true;
  o.warmup = std::chrono::milliseconds(warmup);
  o.hold = std::chrono::milliseconds(hold);
  o.give_up = std::chrono::milliseconds(give_up);
  o.healthy_timeout = std::chrono::milliseconds(healthy);
  o.poll_interval = std::chrono::milliseconds(poll);
  o.write_timeout = std::chrono::milliseconds(write_timeout);
  o.rpc_timeout = std::chrono::milliseconds(timeout);
  o.analyze.unwritable_gap_ms = static_cast<double>(gap);
  if (tools::StdoutIsTty()) {
    o.progress = [](const std::string& line) { std::cerr << line << "\n"; };
  }

  auto report = drill::RunDrill(o);
  if (!report.ok()) return tools::ReportError(kTool, report.status());
  if (!plot.empty()) {
    absl::Status s = io::WriteFileAtomically(plot, drill::RenderSvg(*report));
    if (!s.ok()) return tools::ReportError(kTool, s);
  }
  if (format == tools::OutputFormat::kJson) {
    tools::PrintJson(drill::RenderJson(*report, json_writes));
  } else {
    std::cout << drill::RenderPlain(*report);
  }
  if (!report->stopped_reason.empty()) {
    std::cerr << kTool << ": stopped after " << report->figures.size()
              << " trial(s): " << report->stopped_reason << "\n";
    return tools::kExitProblems;
  }
  return tools::kExitOk;
}

}  // namespace
}  // namespace kmend::drill_tool

int main(int argc, char** argv) { return kmend::drill_tool::Run(argc, argv); }
