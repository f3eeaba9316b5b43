// kmend ksck: cluster health and consistency check (docs/cli.md#ksck).
//
// Collects a snapshot over gRPC (lib/check/remote_collector.h), judges it
// (lib/check/checker.h) and prints the result. Exit status: 0 healthy, 1
// problems found (or parts that could not be checked), 2 could not run.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/check/checker.h"
#include "lib/check/remote_collector.h"
#include "lib/check/render.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"

namespace kmend::ksck {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  return absl::StrSplit(s, ',', absl::SkipWhitespace());
}

int Run(int argc, char** argv) {
  CLI::App app{"kmend ksck: check a cluster's health and consistency, and name the fix"};
  app.name("kmend ksck");
  std::string masters, tables, tablets, sections, format = "plain";
  int64_t timeout_ms = 5000;
  bool checksum_scan = false;
  int concurrency = 16;
  app.add_option("--masters", masters, "Master addresses, HOST:PORT[,HOST:PORT...]")->required();
  app.add_option("--tables", tables, "Only these tables (comma-separated names)");
  app.add_option("--tablets", tablets, "Only these tablets (comma-separated ids)");
  app.add_flag(tools::FlagWithDashedAlias("checksum_scan"), checksum_scan,
               "Compare every replica's row checksum at the same op index");
  app.add_option(
      "--sections", sections,
      "Sections to print: masters,tablet_servers,tables,tablets,checksums (default all)");
  app.add_option("--format", format, "plain, plain-full (every tablet's matrix) or json")
      ->check(CLI::IsMember({"plain", "plain-full", "json"}));
  app.add_option("--concurrency", concurrency, "Calls in flight at once")
      ->check(CLI::Range(1, 1024));
  app.add_option("--timeout", timeout_ms, "Deadline of each call, e.g. 5s, 500ms (bare number: ms)")
      ->default_str("5s")
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::PositiveNumber);
  int rc = tools::ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;

  check::CollectOptions opt;
  opt.masters = SplitList(masters);
  opt.tables = SplitList(tables);
  opt.tablets = SplitList(tablets);
  opt.checksum_scan = checksum_scan;
  opt.concurrency = concurrency;
  opt.timeout = std::chrono::milliseconds(timeout_ms);

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

  absl::StatusOr<check::ClusterSnapshot> snap = check::CollectRemote(opt);
  if (!snap.ok()) return tools::ReportError("kmend ksck", snap.status());
  // Refused by every master: the run says so up front (stderr) as well as in
  // its problems, and exits 1 (the cluster is unknown to this identity, not
  // unreachable).
  if (snap->catalog_unauthorized) {
    std::cerr << "kmend ksck: " << snap->catalog_error << "\n";
  }
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
