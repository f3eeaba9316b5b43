// kmend-write: writes generated or CSV rows to a table through the tablets'
// Raft leaders (TableWriter). docs/cli/write_scan.md has the flags, exit
// codes and JSON schema.
#include <chrono>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/client/table_writer.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"

namespace kmend::tools::client {
namespace {

using ::kmend::client::GeneratedRow;
using ::kmend::client::ParseCsvRow;
using ::kmend::client::RetryStats;
using ::kmend::client::RowOutcome;
using ::kmend::client::TableLocator;
using ::kmend::client::TableWriter;

constexpr char kTool[] = "kmend-write";
constexpr int kSchemaVersion = 1;

// Merges acknowledged generated keys into [first, last] ranges.
void AddAcked(nlohmann::json* ranges, int64_t key) {
  if (!ranges->empty() && (*ranges)[ranges->size() - 1][1].get<int64_t>() + 1 == key) {
    (*ranges)[ranges->size() - 1][1] = key;
  } else {
    ranges->push_back({key, key});
  }
}

int Main(int argc, char** argv) {
  CLI::App app{"kmend write: write rows to a table through its tablets' leaders"};
  std::string table, masters, op_name = "insert";
  int64_t rows = 1000, start = 0, batch = 1000, timeout_ms = 10000, string_len = 0;
  bool csv = false, list_acked = false;
  OutputFormat format = OutputFormat::kPlain;
  app.add_option("TABLE", table, "Table name")->required();
  app.add_option("--masters", masters, "Master addresses HOST:PORT[,HOST:PORT...]")->required();
  app.add_option("--rows", rows, "Rows to generate")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 40));
  app.add_option("--start", start, "First generated key")->capture_default_str();
  app.add_option("--batch", batch, "Rows per round of Write RPCs (split per tablet)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100000}));
  app.add_option("--op", op_name, "insert, upsert or delete")
      ->capture_default_str()
      ->check(CLI::IsMember({"insert", "upsert", "delete"}));
  app.add_option("--timeout", timeout_ms,
                 "How long one batch may take, retries across leader changes included, "
                 "e.g. 10s, 500ms (bare number: ms)")
      ->capture_default_str()
      ->transform(MillisecondsDuration())
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));
  app.add_option("--string_len", string_len, "Pad generated strings to this many bytes")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 20));
  app.add_flag("--csv", csv, "Read rows as CSV from stdin (schema order; empty = NULL)");
  app.add_flag("--list_acked", list_acked,
               "JSON: list acknowledged generated keys as [first,last] ranges");
  AddFormatOption(&app, &format);
  int rc = ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;

  kmend::RowOpPB::Type op = op_name == "insert"   ? kmend::RowOpPB::INSERT
                            : op_name == "upsert" ? kmend::RowOpPB::UPSERT
                                                  : kmend::RowOpPB::DELETE;
  auto locator = TableLocator::Open(masters, table, std::chrono::milliseconds(5000));
  if (!locator.ok()) return ReportError(kTool, locator.status());
  TableWriter writer(locator->get(), absl::Milliseconds(timeout_ms));
  const tablet::Schema& schema = (*locator)->schema();
  bool generated_int_key = !csv && schema.column(0).type == kmend::INT64 &&
                           schema.num_key_columns() == 1;

  int64_t acked = 0, row_errors = 0, failed = 0, total = 0;
  std::vector<std::string> messages;
  nlohmann::json ranges = nlohmann::json::array();
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<tablet::Row> chunk;
  std::vector<int64_t> chunk_keys;
  auto flush = [&]() -> absl::Status {
    if (chunk.empty()) return absl::OkStatus();
    auto r = writer.Write(chunk, op);
    if (!r.ok()) return r.status();
    for (size_t i = 0; i < chunk.size(); ++i) {
      switch (r->outcomes[i]) {
        case RowOutcome::kAcked:
          ++acked;
          if (list_acked && generated_int_key) AddAcked(&ranges, chunk_keys[i]);
          break;
        case RowOutcome::kRowError:
          ++row_errors;
          break;
        case RowOutcome::kFailed:
          ++failed;
      }
    }
    for (auto& m : r->messages) {
      if (messages.size() < 10) messages.push_back(std::move(m));
    }
    total += static_cast<int64_t>(chunk.size());
    chunk.clear();
    chunk_keys.clear();
    return absl::OkStatus();
  };
  if (csv) {
    std::string line;
    int64_t line_no = 0;
    while (std::getline(std::cin, line)) {
      ++line_no;
      if (line.empty()) continue;
      auto row = ParseCsvRow(schema, line, line_no);
      if (!row.ok()) return ReportError(kTool, row.status());
      chunk.push_back(std::move(*row));
      if (static_cast<int64_t>(chunk.size()) >= batch) {
        if (auto s = flush(); !s.ok()) return ReportError(kTool, s);
      }
    }
  } else {
    for (int64_t k = start; k < start + rows; ++k) {
      chunk.push_back(GeneratedRow(schema, k, static_cast<size_t>(string_len)));
      chunk_keys.push_back(k);
      if (static_cast<int64_t>(chunk.size()) >= batch) {
        if (auto s = flush(); !s.ok()) return ReportError(kTool, s);
      }
    }
  }
  if (auto s = flush(); !s.ok()) return ReportError(kTool, s);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double rate = secs > 0 ? static_cast<double>(acked) / secs : 0;
  const RetryStats& st = writer.stats();

  if (format == OutputFormat::kJson) {
    nlohmann::json doc = {{"schema_version", kSchemaVersion},
                          {"table", table},
                          {"op", op_name},
                          {"rows", total},
                          {"acknowledged", acked},
                          {"row_errors", row_errors},
                          {"failed", failed},
                          {"elapsed_s", secs},
                          {"rows_per_s", rate},
                          {"rpcs", st.rpcs},
                          {"redirects", st.redirects},
                          {"master_lookups", st.master_lookups},
                          {"messages", messages}};
    if (list_acked && generated_int_key) doc["acknowledged_ranges"] = ranges;
    PrintJson(doc);
  } else {
    std::cout << absl::StrFormat(
        "%s %s: %d rows, %d acknowledged, %d row errors, %d failed; %.3f s, %.0f rows/s\n",
        op_name, table, total, acked, row_errors, failed, secs, rate);
    if (st.redirects > 0) {
      std::cout << absl::StrFormat("  %d RPCs, %d redirected/retried, %d master lookups\n",
                                   st.rpcs, st.redirects, st.master_lookups);
    }
    for (const auto& m : messages) std::cout << "  " << m << "\n";
  }
  return row_errors == 0 && failed == 0 ? kExitOk : kExitProblems;
}

}  // namespace
}  // namespace kmend::tools::client

int main(int argc, char** argv) { return kmend::tools::client::Main(argc, argv); }
