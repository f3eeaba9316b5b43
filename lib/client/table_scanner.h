// Scans a table tablet by tablet from each tablet's leader, following
// has_more/last_key, with the same leader routing and retries as writes
// (TableLocator::CallLeader). A retried page resumes after the last key
// already received, so a leader change mid-scan neither repeats nor skips
// rows of that tablet (the new leader holds every committed row).
//
// Thread safety: thread-compatible.
#ifndef KMEND_LIB_CLIENT_TABLE_SCANNER_H_
#define KMEND_LIB_CLIENT_TABLE_SCANNER_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/tablet/row.h"
#include "lib/client/table_locator.h"

namespace kmend::client {

struct ScanOptions {
  std::string start_key;  // encoded, inclusive; empty = unbounded
  std::string end_key;    // encoded, exclusive; empty = unbounded
  bool count_only = false;
  int64_t limit = 0;      // total rows to return, 0 = all
  int64_t page_rows = 1000;
};

class TableScanner {
 public:
  // `timeout` bounds each page (its retries included).
  TableScanner(TableLocator* locator, absl::Duration timeout)
      : locator_(locator), timeout_(timeout) {}

  // Calls `on_row` for each row (not with count_only), tablet by tablet
  // (tablets in hash-bucket order, rows in key order within a tablet);
  // returns the number of rows seen. Stops early when `on_row` returns false.
  absl::StatusOr<int64_t> Scan(const ScanOptions& options,
                               const std::function<bool(const tablet::Row&)>& on_row);

  const RetryStats& stats() const { return stats_; }

 private:
  TableLocator* locator_;
  absl::Duration timeout_;
  RetryStats stats_;
};

}  // namespace kmend::client

#endif  // KMEND_LIB_CLIENT_TABLE_SCANNER_H_
