#include "lib/client/table_scanner.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kmend::client {

absl::StatusOr<int64_t> TableScanner::Scan(
    const ScanOptions& options, const std::function<bool(const tablet::Row&)>& on_row) {
  const tablet::Schema& schema = locator_->schema();
  int64_t total = 0;
  for (int t = 0; t < locator_->num_tablets(); ++t) {
    std::string resume;
    bool more = true;
    while (more) {
      if (options.limit > 0 && total >= options.limit) return options.limit;
      tserver::ScanRequestPB req;
      req.set_tablet_id(locator_->route(t).tablet_id);
      if (!options.start_key.empty()) req.set_start_key(options.start_key);
      if (!options.end_key.empty()) req.set_end_key(options.end_key);
      req.set_count_only(options.count_only);
      // Counting pages are cheap (no rows cross the wire): ask for many.
      int64_t page = options.count_only ? 100 * options.page_rows : options.page_rows;
      if (options.limit > 0 && !options.count_only) page = std::min(page, options.limit - total);
      req.set_limit(page);
      if (!resume.empty()) req.set_resume_after_key(resume);
      tserver::ScanResponsePB resp;
      absl::Status s = locator_->CallLeader(
          t, "Scan of", absl::Now() + timeout_,
          [&](tserver::TabletServerService::Stub* stub, grpc::ClientContext* ctx) {
            resp.Clear();
            return stub->Scan(ctx, req, &resp);
          },
          &stats_);
      if (!s.ok()) return s;
      if (options.count_only) {
        total += resp.row_count();
      } else {
        for (const auto& r : resp.rows()) {
          auto row = tablet::RowFromCells(schema, r.cells());
          if (!row.ok()) {
            return absl::DataLossError(absl::StrCat("Scan of tablet ", req.tablet_id(),
                                                    ": a row does not fit the schema: ",
                                                    row.status().message()));
          }
          ++total;
          if (!on_row(*row)) return total;
          if (options.limit > 0 && total >= options.limit) return total;
        }
      }
      more = resp.has_more();
      if (more) {
        if (resp.last_key().empty() || resp.last_key() == resume) {
          return absl::DataLossError(absl::StrCat("Scan of tablet ", req.tablet_id(),
                                                  ": has_more without progress (last_key)"));
        }
        resume = resp.last_key();
      }
    }
  }
  return options.limit > 0 ? std::min(total, options.limit) : total;
}

}  // namespace kmend::client
