// kmend ksck: cluster health and consistency check (docs/cli.md#ksck).
//
// Collects a snapshot over gRPC (remote_collector.h), judges it
// (lib/check/checker.h) and prints the result. Exit status: 0 healthy, 1
// problems found (or parts that could not be checked), 2 could not run.
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "lib/check/checker.h"
#include "lib/check/render.h"
#include "tools/common/cli.h"
#include "tools/ksck/remote_collector.h"

namespace kmend::ksck {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  return absl::StrSplit(s, ',', absl::SkipWhitespace());
}

int Run(int argc, char** argv) {
  CLI::App app{"kmend ksck: check a cluster's health and consistency, and name the fix"};
  app.name("kmend ksck");
  std::string masters, tables, tablets, sections, format = "plain", timeout = "5s";
  bool checksum_scan = false;
  int concurrency = 16;
  app.add_option("--masters", masters, "Master addresses, HOST:PORT[,HOST:PORT...]")->required();
  app.add_option("--tables", tables, "Only these tables (comma-separated names)");
  app.add_option("--tablets", tablets, "Only these tablets (comma-separated ids)");
  app.add_flag("--checksum-scan", checksum_scan,
               "Compare every replica's row checksum at the same op index");
  app.add_option(
      "--sections", sections,
      "Sections to print: masters,tablet_servers,tables,tablets,checksums (default all)");
  app.add_option("--format", format, "plain, plain-full (every tablet's matrix) or json")
      ->check(CLI::IsMember({"plain", "plain-full", "json"}));
  app.add_option("--concurrency", concurrency, "Calls in flight at once")
      ->check(CLI::Range(1, 1024));
  app.add_option("--timeout", timeout, "Deadline of each call, e.g. 5s, 500ms");
  int rc = tools::ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;

  CollectOptions opt;
  opt.masters = SplitList(masters);
  opt.tables = SplitList(tables);
  opt.tablets = SplitList(tablets);
  opt.checksum_scan = checksum_scan;
  opt.concurrency = concurrency;
  absl::Duration d;
  if (!absl::ParseDuration(timeout, &d) || d <= absl::ZeroDuration()) {
    std::cerr << "kmend ksck: --timeout: not a positive duration: '" << timeout << "'\n";
    return tools::kExitError;
  }
  opt.timeout = absl::ToChronoMilliseconds(d);

  check::RenderOptions render;
  render.all_tablets = format == "plain-full";
  for (const std::string& s : SplitList(sections)) {
    bool known = false;
    for (const char* name : check::kSectionNames) known |= s == name;
    if (!known) {
      std::cerr << "kmend ksck: --sections: unknown section '" << s
                << "' (known: " << absl::StrJoin(check::kSectionNames, ",") << ")\n";
      return tools::kExitError;
    }
    render.sections.insert(s);
  }

  absl::StatusOr<check::ClusterSnapshot> snap = CollectRemote(opt);
  if (!snap.ok()) return tools::ReportError("kmend ksck", snap.status());
  check::KsckResults results = check::Check(*snap);
  if (format == "json") {
    tools::PrintJson(check::RenderJson(results, render));
  } else {
    std::cout << check::RenderPlain(results, render);
  }
  return results.healthy() ? tools::kExitOk : tools::kExitProblems;
}

}  // namespace
}  // namespace kmend::ksck

int main(int argc, char** argv) { return kmend::ksck::Run(argc, argv); }
