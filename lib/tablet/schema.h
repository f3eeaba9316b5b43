// A table's schema as kmend's tablets use it: columns of type INT64, DOUBLE,
// STRING or BOOL; a primary key made of one or more leading columns, which are
// never nullable. Built from and stored as kmend::SchemaPB (Kudu's message).
//
// Value type; immutable after construction; thread-safe to share.
#ifndef KMEND_LIB_TABLET_SCHEMA_H_
#define KMEND_LIB_TABLET_SCHEMA_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/common.pb.h"

namespace kmend::tablet {

struct ColumnSchema {
  std::string name;
  kmend::DataType type = kmend::INT64;  // INT64, DOUBLE, STRING or BOOL
  bool is_key = false;
  bool is_nullable = false;
  uint32_t id = 0;  // ColumnSchemaPB.id; defaults to the column's position
};

class Schema {
 public:
  // Validates and builds: at least one column; names unique and non-empty;
  // only the four supported types; key columns first (at least one) and not
  // nullable. InvalidArgument naming the column otherwise.
  static absl::StatusOr<Schema> FromColumns(std::vector<ColumnSchema> columns);
  static absl::StatusOr<Schema> FromPB(const kmend::SchemaPB& pb);
  kmend::SchemaPB ToPB() const;

  const std::vector<ColumnSchema>& columns() const { return columns_; }
  size_t num_columns() const { return columns_.size(); }
  size_t num_key_columns() const { return num_key_columns_; }
  const ColumnSchema& column(size_t i) const { return columns_[i]; }
  // Index of the column named `name`, if any.
  std::optional<size_t> FindColumn(absl::string_view name) const;

  // "(id INT64 KEY, name STRING NULLABLE, ...)", for messages and tools.
  std::string ToString() const;

  bool operator==(const Schema& other) const;

 private:
  Schema() = default;
  std::vector<ColumnSchema> columns_;
  size_t num_key_columns_ = 0;
};

// "INT64", "DOUBLE", "STRING", "BOOL" (or the DataType's proto name).
std::string DataTypeName(kmend::DataType type);
bool IsSupportedType(kmend::DataType type);

}  // namespace kmend::tablet

#endif  // KMEND_LIB_TABLET_SCHEMA_H_
