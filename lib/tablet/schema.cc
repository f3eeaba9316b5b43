#include "lib/tablet/schema.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kmend::tablet {

bool IsSupportedType(kmend::DataType type) {
  return type == kmend::INT64 || type == kmend::DOUBLE || type == kmend::STRING ||
         type == kmend::BOOL;
}

std::string DataTypeName(kmend::DataType type) {
  if (kmend::DataType_IsValid(type)) return kmend::DataType_Name(type);
  return absl::StrCat("DataType(", static_cast<int>(type), ")");
}

absl::StatusOr<Schema> Schema::FromColumns(std::vector<ColumnSchema> columns) {
  if (columns.empty()) return absl::InvalidArgumentError("schema: no columns");
  std::set<std::string> names;
  std::set<uint32_t> ids;
  Schema s;
  bool keys_done = false;
  for (size_t i = 0; i < columns.size(); ++i) {
    const ColumnSchema& c = columns[i];
    std::string where = absl::StrCat("schema: column ", i, " (\"", c.name, "\")");
    if (c.name.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty name"));
    if (!names.insert(c.name).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": duplicate name"));
    }
    if (!ids.insert(c.id).second) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": duplicate column id ", c.id));
    }
    if (!IsSupportedType(c.type)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": type ", DataTypeName(c.type), " not supported (INT64, DOUBLE, STRING, BOOL)"));
    }
    if (c.is_key) {
      if (keys_done) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": key column after a non-key column (keys must lead)"));
      }
      if (c.is_nullable) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": key column is nullable"));
      }
      ++s.num_key_columns_;
    } else {
      keys_done = true;
    }
  }
  if (s.num_key_columns_ == 0) {
    return absl::InvalidArgumentError("schema: no primary key column");
  }
  s.columns_ = std::move(columns);
  return s;
}

absl::StatusOr<Schema> Schema::FromPB(const kmend::SchemaPB& pb) {
  std::vector<ColumnSchema> cols;
  cols.reserve(pb.columns_size());
  for (int i = 0; i < pb.columns_size(); ++i) {
    const kmend::ColumnSchemaPB& c = pb.columns(i);
    ColumnSchema col;
    col.name = c.name();
    col.type = c.type();
    col.is_key = c.is_key();
    col.is_nullable = c.is_nullable();
    col.id = c.has_id() ? c.id() : static_cast<uint32_t>(i);
    cols.push_back(std::move(col));
  }
  return FromColumns(std::move(cols));
}

kmend::SchemaPB Schema::ToPB() const {
  kmend::SchemaPB pb;
  for (const ColumnSchema& c : columns_) {
    kmend::ColumnSchemaPB* col = pb.add_columns();
    col->set_id(c.id);
    col->set_name(c.name);
    col->set_type(c.type);
    col->set_is_key(c.is_key);
    col->set_is_nullable(c.is_nullable);
  }
  return pb;
}

std::optional<size_t> Schema::FindColumn(absl::string_view name) const {
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].name == name) return i;
  }
  return std::nullopt;
}

std::string Schema::ToString() const {
  std::vector<std::string> parts;
  for (const ColumnSchema& c : columns_) {
    std::string p = absl::StrCat(c.name, " ", DataTypeName(c.type));
    if (c.is_key) absl::StrAppend(&p, " KEY");
    if (c.is_nullable) absl::StrAppend(&p, " NULLABLE");
    parts.push_back(std::move(p));
  }
  return absl::StrCat("(", absl::StrJoin(parts, ", "), ")");
}

bool Schema::operator==(const Schema& other) const {
  if (columns_.size() != other.columns_.size()) return false;
  for (size_t i = 0; i < columns_.size(); ++i) {
    const ColumnSchema& a = columns_[i];
    const ColumnSchema& b = other.columns_[i];
    if (a.name != b.name || a.type != b.type || a.is_key != b.is_key ||
        a.is_nullable != b.is_nullable || a.id != b.id) {
      return false;
    }
  }
  return true;
}

}  // namespace kmend::tablet
