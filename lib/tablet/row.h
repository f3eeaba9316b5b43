// Rows and primary keys.
//
// A Row holds one Value per schema column, in schema order; std::monostate is
// NULL. Rows come from kmend.WriteOpsPB's CellPB (proto/write_ops.proto).
//
// Encoded primary keys sort like the rows (memcmp order of the bytes equals
// the order of the key tuples), so the tablet keeps rows in a std::map keyed
// by them and scans key ranges with plain byte comparisons:
//   INT64   8 bytes big-endian with the sign bit flipped;
//   DOUBLE  8 bytes big-endian of the IEEE bits, negatives inverted, others
//           with the sign bit flipped (-0.0 is encoded as +0.0; every NaN as
//           the canonical quiet NaN, which sorts after +infinity);
//   BOOL    1 byte, 0x00 or 0x01;
//   STRING  last key column: the raw bytes; any other key column: the bytes
//           with 0x00 escaped as 0x00 0x01, then the terminator 0x00 0x00
//           (Kudu's composite-key scheme).
// docs/formats/column_block.md repeats this with examples.
//
// Thread safety: free functions and value types.
#ifndef KMEND_LIB_TABLET_ROW_H_
#define KMEND_LIB_TABLET_ROW_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "lib/tablet/schema.h"
#include "proto/write_ops.pb.h"

namespace kmend::tablet {

using Value = std::variant<std::monostate, int64_t, double, std::string, bool>;
using Row = std::vector<Value>;

bool IsNull(const Value& v);
// "NULL", "42", "1.5", "\"abc\"" (C-escaped), "true".
std::string ValueToString(const Value& v);
std::string RowToString(const Row& row);

// Converts one CellPB to a Value of column `col`: InvalidArgument when the
// cell's kind does not match the column type, or it is NULL for a
// non-nullable column.
absl::StatusOr<Value> ValueFromCell(const kmend::CellPB& cell, const ColumnSchema& col);
kmend::CellPB CellFromValue(const Value& v);

// A full row from an INSERT/UPSERT's cells (one per column, schema order).
absl::StatusOr<Row> RowFromCells(const Schema& schema,
                                 const google::protobuf::RepeatedPtrField<kmend::CellPB>& cells);
// The key columns of a DELETE's cells (exactly num_key_columns cells, or a
// full row of which only the key is used).
absl::StatusOr<Row> KeyFromCells(const Schema& schema,
                                 const google::protobuf::RepeatedPtrField<kmend::CellPB>& cells);

// Checks that `row` has one value of the right type per column.
absl::Status ValidateRow(const Schema& schema, const Row& row);

// Order-preserving encoding of the key columns of `row` (a full row, or just
// the key values). InvalidArgument if a key value is NULL or mistyped.
absl::StatusOr<std::string> EncodeKey(const Schema& schema, absl::Span<const Value> row);
// The inverse: key column values from an encoded key. DataLoss if malformed.
absl::StatusOr<Row> DecodeKey(const Schema& schema, absl::string_view encoded);

// A canonical byte encoding of a whole row (key encoding of every column,
// each preceded by a null flag), the input of the replica checksum: equal rows
// give equal bytes on every replica and platform.
std::string EncodeRowForChecksum(const Schema& schema, const Row& row);

}  // namespace kmend::tablet

#endif  // KMEND_LIB_TABLET_ROW_H_
