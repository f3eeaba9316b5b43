#include "lib/client/table_writer.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "lib/tablet/partition.h"

namespace kmend::client {
namespace {
constexpr size_t kMaxMessages = 5;
}  // namespace

tablet::Row GeneratedRow(const tablet::Schema& schema, int64_t k, size_t string_len) {
  tablet::Row row;
  row.reserve(schema.num_columns());
  for (const auto& c : schema.columns()) {
    switch (c.type) {
      case kmend::INT64:
        row.emplace_back(c.is_key ? k : k * 7);
        break;
      case kmend::DOUBLE:
        row.emplace_back(static_cast<double>(k) * 0.5);
        break;
      case kmend::BOOL:
        row.emplace_back(k % 2 == 0);
        break;
      default: {
        std::string s = absl::StrCat("r", k);
        if (s.size() < string_len) s.resize(string_len, '-');
        row.emplace_back(std::move(s));
      }
    }
  }
  return row;
}

absl::StatusOr<tablet::Row> ParseCsvRow(const tablet::Schema& schema, const std::string& line,
                                        int64_t line_no) {
  std::vector<std::string> fields;
  std::vector<bool> quoted;
  std::string cur;
  bool in_quotes = false, was_quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char ch = line[i];
    if (in_quotes) {
      if (ch == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          in_quotes = false;
        }
      } else {
        cur.push_back(ch);
      }
    } else if (ch == '"') {
      in_quotes = true;
      was_quoted = true;
    } else if (ch == ',') {
      fields.push_back(std::move(cur));
      quoted.push_back(was_quoted);
      cur.clear();
      was_quoted = false;
    } else if (ch != '\r') {
      cur.push_back(ch);
    }
  }
  if (in_quotes) {
    return absl::InvalidArgumentError(absl::StrCat("CSV line ", line_no, ": unterminated quote"));
  }
  fields.push_back(std::move(cur));
  quoted.push_back(was_quoted);
  if (fields.size() != schema.num_columns()) {
    return absl::InvalidArgumentError(absl::StrCat("CSV line ", line_no, ": expected ",
                                                   schema.num_columns(), " fields, found ",
                                                   fields.size()));
  }
  tablet::Row row;
  for (size_t i = 0; i < fields.size(); ++i) {
    const auto& c = schema.column(i);
    const std::string& f = fields[i];
    auto bad = [&](const char* what) {
      return absl::InvalidArgumentError(absl::StrCat("CSV line ", line_no, ", column ", c.name,
                                                     ": expected ", what, ", found '", f, "'"));
    };
    if (f.empty() && !quoted[i]) {
      if (!c.is_nullable) return bad("a value (column is not nullable)");
      row.emplace_back(std::monostate{});
      continue;
    }
    switch (c.type) {
      case kmend::INT64: {
        int64_t v;
        if (!absl::SimpleAtoi(f, &v)) return bad("an int64");
        row.emplace_back(v);
        break;
      }
      case kmend::DOUBLE: {
        double v;
        if (!absl::SimpleAtod(f, &v)) return bad("a double");
        row.emplace_back(v);
        break;
      }
      case kmend::BOOL: {
        bool v;
        if (!absl::SimpleAtob(f, &v)) return bad("a bool");
        row.emplace_back(v);
        break;
      }
      default:
        row.emplace_back(f);
    }
  }
  return row;
}

absl::StatusOr<BatchResult> TableWriter::Write(const std::vector<tablet::Row>& rows,
                                               kmend::RowOpPB::Type op) {
  const tablet::Schema& schema = locator_->schema();
  // Route every row first, so a bad row sends nothing.
  std::map<int, std::vector<size_t>> by_tablet;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (op != kmend::RowOpPB::DELETE) {
      absl::Status v = tablet::ValidateRow(schema, rows[i]);
      if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat("row ", i, ": ", v.message()));
    }
    auto key = tablet::EncodeKey(schema, rows[i]);
    if (!key.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("row ", i, ": ", key.status().message()));
    }
    int bucket = tablet::HashBucket(*key, locator_->num_buckets(), locator_->hash_seed());
    auto t = locator_->TabletForBucket(bucket);
    if (!t.ok()) return t.status();
    by_tablet[*t].push_back(i);
  }
  BatchResult result;
  result.outcomes.assign(rows.size(), RowOutcome::kFailed);
  for (const auto& [tablet_index, indices] : by_tablet) {
    tserver::WriteRequestPB req;
    req.set_tablet_id(locator_->route(tablet_index).tablet_id);
    for (size_t i : indices) {
      auto* pb = req.mutable_ops()->add_ops();
      pb->set_type(op);
      size_t n = op == kmend::RowOpPB::DELETE ? schema.num_key_columns() : rows[i].size();
      for (size_t c = 0; c < n; ++c) *pb->add_cells() = tablet::CellFromValue(rows[i][c]);
    }
    tserver::WriteResponsePB resp;
    // An attempt that failed without a clear "not applied" (timeout, cut
    // connection, a leader that lost its term mid-write) may still commit:
    // a retry of an INSERT then meets its own row ("already present"), of a
    // DELETE its own deletion. Such row errors are not rejections.
    bool ambiguous_attempt = false;
    absl::Status s = locator_->CallLeader(
        tablet_index, "Write to", absl::Now() + timeout_,
        [&](tserver::TabletServerService::Stub* stub, grpc::ClientContext* ctx) {
          resp.Clear();
          grpc::Status g = stub->Write(ctx, req, &resp);
          if (!g.ok() && g.error_code() != grpc::StatusCode::FAILED_PRECONDITION &&
              g.error_code() != grpc::StatusCode::NOT_FOUND) {
            ambiguous_attempt = true;
          }
          return g;
        },
        &stats_);
    if (!s.ok()) {
      if (result.messages.size() < kMaxMessages) result.messages.push_back(std::string(s.message()));
      continue;  // these rows stay kFailed
    }
    for (size_t i : indices) result.outcomes[i] = RowOutcome::kAcked;
    int64_t errors = 0;
    for (const auto& e : resp.row_errors()) {
      if (e.row_index() < 0 || static_cast<size_t>(e.row_index()) >= indices.size()) continue;
      // After an ambiguous attempt the error may be this batch's own
      // earlier, applied attempt (UPSERT never fails that way).
      result.outcomes[indices[e.row_index()]] =
          ambiguous_attempt && op != kmend::RowOpPB::UPSERT ? RowOutcome::kFailed
                                                             : RowOutcome::kRowError;
      ++errors;
      if (result.messages.size() < kMaxMessages) {
        result.messages.push_back(absl::StrCat("row ", indices[e.row_index()], ": ", e.message()));
      }
    }
    // The server's count must agree with its error list; if it does not, do
    // not claim more than it acknowledged.
    int64_t claimed = static_cast<int64_t>(indices.size()) - errors;
    if (resp.rows_applied() < claimed) {
      if (result.messages.size() < kMaxMessages) {
        result.messages.push_back(absl::StrCat("tablet ", req.tablet_id(), " acknowledged ",
                                               resp.rows_applied(), " rows, expected ", claimed,
                                               "; counting the batch as failed"));
      }
      for (size_t i : indices) {
        if (result.outcomes[i] == RowOutcome::kAcked) result.outcomes[i] = RowOutcome::kFailed;
      }
    }
  }
  return result;
}

}  // namespace kmend::client
