// kmend-wal: dump and verify write-ahead log segments (Kudu's and kmend's).
// A thin front over lib/wal's ReadLog; see docs/cli.md "wal".
//
//   kmend wal dump PATH... [--entries=none|id|full] [--format=plain|json]
//   kmend wal verify PATH... [--strict] [--format=plain|json]
//
// PATH is a tablet's WAL directory or a single segment file. Exit codes: 0
// clean (a torn tail in the last segment is only a warning: it is what a
// crash leaves, and the next Open cuts it), 1 corruption or op-index /
// segment-number problems (with --strict, a torn tail too), 2 could not run.
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "lib/wal/log_reader.h"
#include "lib/wal/segment_reader.h"
#include "tools/common/cli.h"

namespace kmend::tools {
namespace {

using nlohmann::json;
using wal::Batch;
using wal::LogSummary;
using wal::SegmentReader;
using wal::SegmentSummary;

constexpr char kTool[] = "kmend-wal";
constexpr int kSchemaVersion = 1;

enum class EntryDetail { kNone, kId, kFull };

std::string Codec(kmend::CompressionType c) { return kmend::CompressionType_Name(c); }

std::string EntryId(const log::LogEntryPB& e) {
  if (e.has_replicate()) {
    const auto& r = e.replicate();
    return absl::StrCat("REPLICATE ", r.id().term(), ".", r.id().index(), " ",
                        consensus::OperationType_Name(r.op_type()), " timestamp=", r.timestamp());
  }
  if (e.has_commit()) {
    const auto& c = e.commit();
    return absl::StrCat("COMMIT ", consensus::OperationType_Name(c.op_type()), " of ",
                        c.commited_op_id().term(), ".", c.commited_op_id().index());
  }
  return log::LogEntryTypePB_Name(e.type());
}

json EntryJson(const log::LogEntryPB& e, EntryDetail detail) {
  json j = {{"type", log::LogEntryTypePB_Name(e.type())}};
  if (e.has_replicate()) {
    j["term"] = e.replicate().id().term();
    j["index"] = e.replicate().id().index();
    j["op_type"] = consensus::OperationType_Name(e.replicate().op_type());
    j["timestamp"] = e.replicate().timestamp();
  } else if (e.has_commit()) {
    j["op_type"] = consensus::OperationType_Name(e.commit().op_type());
    j["committed_term"] = e.commit().commited_op_id().term();
    j["committed_index"] = e.commit().commited_op_id().index();
  }
  if (detail == EntryDetail::kFull) {
    std::string text;
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    if (google::protobuf::util::MessageToJsonString(e, &text, options).ok()) {
      j["entry"] = json::parse(text, nullptr, /*allow_exceptions=*/false);
    }
  }
  return j;
}

json TailJson(const wal::SegmentTail& t) {
  json j = {{"kind", wal::TailKindName(t.kind)}, {"offset", t.offset}};
  if (t.kind == wal::TailKind::kTorn) {
    j["dropped_bytes"] = t.dropped_bytes;
    j["reason"] = t.reason;
  }
  return j;
}

json ProblemJson(const wal::Problem& p) {
  return {{"kind", wal::ProblemKindName(p.kind)},
          {"segment", p.segment},
          {"offset", p.offset},
          {"message", std::string(p.status.message())}};
}

// Prints (plain) or collects (json) what ReadLog finds.
class DumpVisitor : public wal::LogVisitor {
 public:
  DumpVisitor(EntryDetail detail, OutputFormat format) : detail_(detail), format_(format) {}

  absl::Status OnSegmentStart(const SegmentReader& s) override {
    const auto& h = s.header();
    if (format_ == OutputFormat::kPlain) {
      std::cout << "Segment " << s.path() << "\n  sequence_number " << h.sequence_number()
                << ", tablet " << h.tablet_id() << ", codec " << Codec(s.codec())
                << ", schema_version " << h.schema_version() << ", "
                << h.schema().columns_size() << " columns, batch headers "
                << (s.v1_batch_headers() ? "v1" : "v2") << ", " << s.file_size() << " bytes\n";
      if (s.has_footer()) {
        std::cout << "  footer: " << s.footer().num_entries() << " entries, replicate index "
                  << s.footer().min_replicate_index() << ".." << s.footer().max_replicate_index()
                  << ", closed at " << s.footer().close_timestamp_micros() << " us\n";
      } else {
        std::cout << "  footer: none (segment was not closed; facts rebuilt by scanning)\n";
      }
    } else {
      segment_ = {{"path", s.path()},
                  {"sequence_number", h.sequence_number()},
                  {"tablet_id", h.tablet_id()},
                  {"codec", Codec(s.codec())},
                  {"schema_version", h.schema_version()},
                  {"schema_columns", h.schema().columns_size()},
                  {"batch_header_version", s.v1_batch_headers() ? 1 : 2},
                  {"file_size", s.file_size()},
                  {"has_footer", s.has_footer()}};
      if (s.has_footer()) {
        segment_["footer"] = {{"num_entries", s.footer().num_entries()},
                              {"min_replicate_index", s.footer().min_replicate_index()},
                              {"max_replicate_index", s.footer().max_replicate_index()},
                              {"close_timestamp_micros", s.footer().close_timestamp_micros()}};
      }
      segment_["batches"] = json::array();
    }
    return absl::OkStatus();
  }

  absl::Status OnBatch(const SegmentReader&, const Batch& b) override {
    if (detail_ == EntryDetail::kNone) return absl::OkStatus();
    if (format_ == OutputFormat::kPlain) {
      std::cout << "  batch at offset " << b.offset << ": " << b.batch.entry_size()
                << " entries, " << b.stored_len << " bytes stored, " << b.uncompressed_len
                << " uncompressed\n";
      for (const auto& e : b.batch.entry()) {
        std::cout << "    " << EntryId(e) << "\n";
        if (detail_ == EntryDetail::kFull) {
          std::string text;
          google::protobuf::TextFormat::Printer printer;
          printer.SetInitialIndentLevel(3);
          printer.PrintToString(e, &text);
          std::cout << text;
        }
      }
    } else {
      json batch = {{"offset", b.offset},
                    {"size_bytes", b.size_bytes},
                    {"stored_len", b.stored_len},
                    {"uncompressed_len", b.uncompressed_len},
                    {"entries", json::array()}};
      for (const auto& e : b.batch.entry()) batch["entries"].push_back(EntryJson(e, detail_));
      segment_["batches"].push_back(std::move(batch));
    }
    return absl::OkStatus();
  }

  absl::Status OnSegmentEnd(const SegmentReader&, const SegmentSummary& s) override {
    if (format_ == OutputFormat::kPlain) {
      std::cout << "  " << s.batches << " batches, " << s.entries << " entries, replicate index "
                << s.min_replicate_index << ".." << s.max_replicate_index << "; ends "
                << wal::TailKindName(s.tail.kind) << " at offset " << s.tail.offset;
      if (s.tail.kind == wal::TailKind::kTorn) {
        std::cout << " (" << s.tail.dropped_bytes << " bytes: " << s.tail.reason << ")";
      }
      std::cout << "\n";
    } else {
      segment_["batch_count"] = s.batches;
      segment_["entry_count"] = s.entries;
      segment_["min_replicate_index"] = s.min_replicate_index;
      segment_["max_replicate_index"] = s.max_replicate_index;
      segment_["tail"] = TailJson(s.tail);
      segments_.push_back(std::move(segment_));
      segment_ = json();
    }
    return absl::OkStatus();
  }

  void OnProblem(const wal::Problem& p) override {
    if (format_ == OutputFormat::kPlain) {
      std::cout << "  PROBLEM (" << wal::ProblemKindName(p.kind) << "): " << p.status.message()
                << "\n";
    }
  }

  json TakeSegments() { return std::move(segments_); }

 private:
  const EntryDetail detail_;
  const OutputFormat format_;
  json segment_;
  json segments_ = json::array();
};

json SummaryJson(const LogSummary& s) {
  json j = {{"segment_count", s.segments.size()},
            {"entries", s.entries},
            {"first_replicate_index", s.first_replicate_index},
            {"last_replicate", {{"term", s.last_replicate.term()}, {"index", s.last_replicate.index()}}},
            {"problems", json::array()},
            {"torn_tail", nullptr},
            {"earlier_torn_segments", s.earlier_torn_segments}};
  for (const auto& p : s.problems) j["problems"].push_back(ProblemJson(p));
  if (s.torn_tail) {
    j["torn_tail"] = TailJson(s.torn);
    j["torn_tail"]["segment"] = s.torn_segment;
  }
  return j;
}

void PrintSummaryPlain(const std::string& path, const LogSummary& s, bool strict) {
  bool ok = s.problems.empty() && (!strict || !s.torn_tail);
  std::cout << path << ": " << (ok ? "OK" : (s.problems.empty() ? "TORN TAIL" : "CORRUPT")) << " ("
            << s.segments.size() << " segments, " << s.entries << " entries";
  if (s.first_replicate_index >= 0) {
    std::cout << ", replicate " << s.first_replicate_index << ".." << s.last_replicate.index()
              << ", last op " << s.last_replicate.term() << "." << s.last_replicate.index();
  }
  std::cout << ")\n";
  for (const auto& p : s.problems) {
    std::cout << "  " << (p.kind == wal::ProblemKind::kCorruption ? "corruption" : "sequence")
              << ": " << p.status.message() << "\n";
  }
  if (s.torn_tail) {
    std::cout << "  warning: torn tail in " << s.torn_segment << " at offset " << s.torn.offset
              << " (" << s.torn.dropped_bytes << " bytes: " << s.torn.reason
              << "); expected after a crash, the next open cuts it\n";
  }
  for (const auto& seg : s.earlier_torn_segments) {
    std::cout << "  warning: " << seg << " ends in a torn tail but is not the last segment\n";
  }
}

int ExitFor(const LogSummary& s, bool strict) {
  if (!s.problems.empty()) return kExitProblems;
  if (strict && (s.torn_tail || !s.earlier_torn_segments.empty())) return kExitProblems;
  return kExitOk;
}

int Run(int argc, char** argv) {
  CLI::App app{"kmend-wal: dump and verify write-ahead log segments", kTool};
  app.require_subcommand(1);
  OutputFormat format = OutputFormat::kPlain;
  std::vector<std::string> paths;
  EntryDetail detail = EntryDetail::kId;
  bool strict = false;

  CLI::App* dump = app.add_subcommand("dump", "Print segments, batches and entries");
  dump->add_option("paths", paths, "WAL directories or segment files")->required();
  static const std::map<std::string, EntryDetail> kDetails = {
      {"none", EntryDetail::kNone}, {"id", EntryDetail::kId}, {"full", EntryDetail::kFull}};
  dump->add_option("--entries", detail, "Entry detail: none, id (op ids) or full (contents)")
      ->transform(CLI::CheckedTransformer(kDetails, CLI::ignore_case))
      ->default_str("id");
  AddFormatOption(dump, &format);

  CLI::App* verify = app.add_subcommand(
      "verify", "Check every segment; exit 1 on corruption or op index problems");
  verify->add_option("paths", paths, "WAL directories or segment files")->required();
  verify->add_flag("--strict", strict, "Treat a torn tail (normal after a crash) as a problem");
  AddFormatOption(verify, &format);

  int rc = ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  const bool is_dump = dump->parsed();

  int worst = kExitOk;
  json logs = json::array();
  for (const std::string& path : paths) {
    DumpVisitor visitor(detail, format);
    absl::StatusOr<LogSummary> summary =
        wal::ReadLog(path, wal::ReadLogOptions{/*continue_after_problem=*/true},
                     is_dump ? &visitor : nullptr);
    if (!summary.ok()) {
      worst = std::max(worst, kExitError);
      if (format == OutputFormat::kJson) {
        logs.push_back({{"path", path}, {"error", std::string(summary.status().message())}});
      } else {
        ReportError(kTool, summary.status());
      }
      continue;
    }
    worst = std::max(worst, ExitFor(*summary, strict));
    if (format == OutputFormat::kJson) {
      json j = {{"path", path}, {"summary", SummaryJson(*summary)}};
      j["ok"] = ExitFor(*summary, strict) == kExitOk;
      if (is_dump) {
        j["segments"] = visitor.TakeSegments();
      } else {
        j["segments"] = json::array();
        for (const auto& s : summary->segments) {
          json seg = {{"path", s.path},           {"sequence_number", s.sequence_number},
                      {"readable", s.readable},   {"uninitialized", s.uninitialized},
                      {"has_footer", s.has_footer}, {"codec", Codec(s.codec)},
                      {"file_size", s.file_size}, {"batch_count", s.batches},
                      {"entry_count", s.entries}, {"min_replicate_index", s.min_replicate_index},
                      {"max_replicate_index", s.max_replicate_index}, {"tail", TailJson(s.tail)}};
          j["segments"].push_back(std::move(seg));
        }
      }
      logs.push_back(std::move(j));
    } else {
      PrintSummaryPlain(path, *summary, strict);
    }
  }
  if (format == OutputFormat::kJson) {
    PrintJson({{"schema_version", kSchemaVersion},
               {"command", is_dump ? "dump" : "verify"},
               {"logs", std::move(logs)}});
  }
  return worst;
}

}  // namespace
}  // namespace kmend::tools

int main(int argc, char** argv) { return kmend::tools::Run(argc, argv); }
