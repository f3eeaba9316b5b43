// A rowset on disk: one column block per schema column (column_block.h),
// rows in strictly increasing encoded-key order, named by a RowSetDataPB in
// the superblock. Writing and reading a whole rowset, shared by the Tablet
// (flush, open) and the offline Verify.
//
// Thread safety: free functions; the block manager they use is thread-safe.
#ifndef KMEND_LIB_TABLET_ROWSET_H_
#define KMEND_LIB_TABLET_ROWSET_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/tablet/column_block.h"
#include "lib/tablet/row.h"
#include "lib/tablet/schema.h"
#include "proto/tablet_metadata.pb.h"

namespace kmend::tablet {

// (encoded key, row) pairs in strictly increasing key order.
using KeyedRows = std::vector<std::pair<std::string, Row>>;

// Encodes `rows` column by column and stores the blocks durably (one
// CreateBlocks call: one data sync, one metadata sync). Returns the
// RowSetDataPB naming them (id `rowset_id`, live_row_count, min/max keys).
absl::StatusOr<RowSetDataPB> WriteRowSet(const Schema& schema, const KeyedRows& rows,
                                         uint64_t rowset_id, blocks::LogBlockManager* bm,
                                         const ColumnBlockOptions& options = {});

// Reads and fully verifies a rowset: every block present and decoding (CRC
// first), each block's type equal to its column's, equal row counts (and equal
// to live_row_count when set), key columns non-NULL, keys strictly increasing
// and matching min/max_encoded_key when set. DataLoss naming the rowset, block
// and check on any failure.
absl::StatusOr<KeyedRows> ReadRowSet(const Schema& schema, const RowSetDataPB& rowset,
                                     const blocks::LogBlockManager& bm);

}  // namespace kmend::tablet

#endif  // KMEND_LIB_TABLET_ROWSET_H_
