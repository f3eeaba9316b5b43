// Writes rows to a table through each tablet's Raft leader.
//
// Each row goes to the tablet whose hash bucket is
// HashBucket(EncodeKey(row), num_buckets, seed), exactly as the master laid
// the table out (one bucket per tablet, PartitionPB.hash_buckets). A batch
// per tablet is one Write RPC; a row counts as acknowledged only when a
// Write response said so (rows_applied, and not listed in row_errors). A
// batch whose RPC failed at the deadline is "failed": it may or may not have
// been applied (the leader can commit an op after its client gave up), so
// scripts that need exactly-once should write with UPSERT and re-run.
//
// Thread safety: a TableWriter is thread-compatible; use one per thread
// (they may share a TableLocator).
#ifndef KMEND_LIB_CLIENT_TABLE_WRITER_H_
#define KMEND_LIB_CLIENT_TABLE_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "lib/tablet/row.h"
#include "proto/write_ops.pb.h"
#include "lib/client/table_locator.h"

namespace kmend::client {

enum class RowOutcome : uint8_t {
  kAcked,     // applied, acknowledged by the leader
  kRowError,  // acknowledged as rejected (duplicate key, missing key...)
  kFailed,    // no acknowledgement (RPC failed until the deadline), or an INSERT/
              // DELETE row error after an attempt that may have applied it
              // (the error may be that attempt's own row): outcome unknown
};

struct BatchResult {
  std::vector<RowOutcome> outcomes;  // one per input row
  // A few messages (first row errors, RPC errors) for the user.
  std::vector<std::string> messages;
};

// A deterministic row for key `k`: INT64 columns k (key) or k*7, DOUBLE
// k*0.5, STRING "r<k>" ('-' padded on the right to `string_len` when
// longer), BOOL k is even. Nullable columns get values too.
tablet::Row GeneratedRow(const tablet::Schema& schema, int64_t k, size_t string_len = 0);

// Parses one CSV line into a row of `schema` (schema order; empty = NULL;
// "quoted, fields" with "" for a quote). InvalidArgument naming the
// column and line on a bad value.
absl::StatusOr<tablet::Row> ParseCsvRow(const tablet::Schema& schema, const std::string& line,
                                        int64_t line_no);

class TableWriter {
 public:
  // `locator` must outlive the writer. `timeout` bounds each Write call
  // (all its retries included).
  TableWriter(TableLocator* locator, absl::Duration timeout)
      : locator_(locator), timeout_(timeout) {}

  // Sends `rows` (grouped per tablet; one Write RPC per tablet). InvalidArgument
  // when a row does not fit the schema (nothing is sent then).
  absl::StatusOr<BatchResult> Write(const std::vector<tablet::Row>& rows,
                                    kmend::RowOpPB::Type op);

  const RetryStats& stats() const { return stats_; }

 private:
  TableLocator* locator_;
  absl::Duration timeout_;
  RetryStats stats_;
};

}  // namespace kmend::client

#endif  // KMEND_LIB_CLIENT_TABLE_WRITER_H_
