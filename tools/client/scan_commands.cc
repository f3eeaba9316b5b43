// kmend-scan: prints a table's rows (or their count), read from each
// tablet's leader (TableScanner). docs/cli/write_scan.md has the flags, exit
// codes and JSON schema.
#include <chrono>
#include <iostream>
#include <string>
#include <variant>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "lib/client/table_scanner.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"

namespace kmend::tools::client {
namespace {

using ::kmend::client::TableLocator;
using ::kmend::client::ScanOptions;
using ::kmend::client::TableScanner;

constexpr char kTool[] = "kmend-scan";
constexpr int kSchemaVersion = 1;

nlohmann::json ValueJson(const tablet::Value& v) {
  if (std::holds_alternative<int64_t>(v)) return std::get<int64_t>(v);
  if (std::holds_alternative<double>(v)) return std::get<double>(v);
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v);
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  return nullptr;
}

// Plain text of a value: NULL as empty in CSV, "NULL" in the table.
std::string ValueText(const tablet::Value& v, bool csv) {
  if (tablet::IsNull(v)) return csv ? "" : "NULL";
  if (std::holds_alternative<std::string>(v)) {
    const std::string& s = std::get<std::string>(v);
    if (!csv) return s;
    if (s.empty() || s.find_first_of(",\"\n\r") != std::string::npos) {
      std::string q = "\"";
      for (char c : s) {
        if (c == '"') q += '"';
        q += c;
      }
      return q + "\"";
    }
    return s;
  }
  if (std::holds_alternative<double>(v)) return absl::StrCat(std::get<double>(v));
  return tablet::ValueToString(v);
}

int Main(int argc, char** argv) {
  CLI::App app{"kmend scan: print a table's rows or count them (reads from each leader)"};
  std::string table, masters, format_name = "plain";
  int64_t limit = 0, timeout_ms = 10000;
  bool count = false;
  app.add_option("TABLE", table, "Table name")->required();
  app.add_option("--masters", masters, "Master addresses HOST:PORT[,HOST:PORT...]")->required();
  app.add_flag("--count", count, "Only count rows");
  app.add_option("--limit", limit, "At most this many rows (0: all)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, INT64_MAX));
  app.add_option("--timeout", timeout_ms,
                 "How long one page may take, retries across leader changes included, "
                 "e.g. 10s, 500ms (bare number: ms)")
      ->capture_default_str()
      ->transform(MillisecondsDuration())
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));
  app.add_option("--format", format_name, "plain, json or csv")
      ->capture_default_str()
      ->check(CLI::IsMember({"plain", "json", "csv"}));
  int rc = ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;

  auto locator = TableLocator::Open(masters, table, std::chrono::milliseconds(5000));
  if (!locator.ok()) return ReportError(kTool, locator.status());
  const tablet::Schema& schema = (*locator)->schema();
  TableScanner scanner(locator->get(), absl::Milliseconds(timeout_ms));
  ScanOptions opts;
  opts.count_only = count;
  opts.limit = limit;

  std::vector<std::string> names;
  for (const auto& c : schema.columns()) names.push_back(c.name);
  const bool csv = format_name == "csv";
  const bool json = format_name == "json";
  nlohmann::json rows = nlohmann::json::array();
  std::vector<std::vector<std::string>> table_rows;  // plain: aligned at the end
  if (csv && !count) std::cout << absl::StrJoin(names, ",") << "\n";
  auto n = scanner.Scan(opts, [&](const tablet::Row& row) {
    if (json) {
      nlohmann::json r = nlohmann::json::array();
      for (const auto& v : row) r.push_back(ValueJson(v));
      rows.push_back(std::move(r));
    } else {
      std::vector<std::string> cells;
      for (const auto& v : row) cells.push_back(ValueText(v, csv));
      if (csv) {
        std::cout << absl::StrJoin(cells, ",") << "\n";
      } else {
        table_rows.push_back(std::move(cells));
      }
    }
    return true;
  });
  if (!n.ok()) return ReportError(kTool, n.status());
  if (json) {
    nlohmann::json doc = {{"schema_version", kSchemaVersion}, {"table", table}, {"count", *n}};
    if (!count) {
      doc["columns"] = names;
      doc["rows"] = std::move(rows);
    }
    PrintJson(doc);
    return kExitOk;
  }
  if (count) {
    std::cout << *n << "\n";
    return kExitOk;
  }
  if (csv) return kExitOk;
  std::vector<size_t> width(names.size());
  for (size_t i = 0; i < names.size(); ++i) width[i] = names[i].size();
  for (const auto& r : table_rows) {
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  }
  auto print = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < cells.size(); ++i) {
      absl::StrAppend(&line, i ? "  " : "", cells[i], std::string(width[i] - cells[i].size(), ' '));
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::cout << line << "\n";
  };
  print(names);
  for (const auto& r : table_rows) print(r);
  std::cout << "(" << *n << " rows)\n";
  return kExitOk;
}

}  // namespace
}  // namespace kmend::tools::client

int main(int argc, char** argv) { return kmend::tools::client::Main(argc, argv); }
