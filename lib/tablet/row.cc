#include "lib/tablet/row.h"

#include <cmath>
#include <cstring>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kmend::tablet {

namespace {

constexpr uint64_t kSignBit = uint64_t{1} << 63;
constexpr uint64_t kCanonicalNan = 0x7ff8000000000000ULL;

void PutBe64(std::string* out, uint64_t v) {
  char buf[8];
  for (int i = 7; i >= 0; --i) {
    buf[i] = static_cast<char>(v & 0xff);
    v >>= 8;
  }
  out->append(buf, 8);
}

uint64_t GetBe64(absl::string_view s) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(s[i]);
  return v;
}

uint64_t DoubleToOrderedBits(double d) {
  uint64_t bits;
  if (std::isnan(d)) {
    bits = kCanonicalNan;
  } else {
    if (d == 0) d = 0.0;  // -0.0 == 0.0: one encoding for both
    std::memcpy(&bits, &d, sizeof(bits));
  }
  return (bits & kSignBit) ? ~bits : (bits ^ kSignBit);
}

double OrderedBitsToDouble(uint64_t v) {
  uint64_t bits = (v & kSignBit) ? (v ^ kSignBit) : ~v;
  double d;
  std::memcpy(&d, &bits, sizeof(d));
  return d;
}

bool TypeMatches(const Value& v, kmend::DataType type) {
  switch (type) {
    case kmend::INT64:
      return std::holds_alternative<int64_t>(v);
    case kmend::DOUBLE:
      return std::holds_alternative<double>(v);
    case kmend::STRING:
      return std::holds_alternative<std::string>(v);
    case kmend::BOOL:
      return std::holds_alternative<bool>(v);
    default:
      return false;
  }
}

// Appends the order-preserving encoding of non-NULL `v` of `type`. A string
// that is not the last key component is escaped and terminated.
void EncodeComponent(const Value& v, kmend::DataType type, bool last, std::string* out) {
  switch (type) {
    case kmend::INT64:
      PutBe64(out, static_cast<uint64_t>(std::get<int64_t>(v)) ^ kSignBit);
      break;
    case kmend::DOUBLE:
      PutBe64(out, DoubleToOrderedBits(std::get<double>(v)));
      break;
    case kmend::BOOL:
      out->push_back(std::get<bool>(v) ? 1 : 0);
      break;
    case kmend::STRING: {
      const std::string& s = std::get<std::string>(v);
      if (last) {
        out->append(s);
      } else {
        for (char c : s) {
          out->push_back(c);
          if (c == '\0') out->push_back('\1');
        }
        out->append("\0\0", 2);
      }
      break;
    }
    default:
      break;
  }
}

}  // namespace

bool IsNull(const Value& v) { return std::holds_alternative<std::monostate>(v); }

std::string ValueToString(const Value& v) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "NULL"; }
    std::string operator()(int64_t x) const { return absl::StrCat(x); }
    std::string operator()(double x) const { return absl::StrCat(x); }
    std::string operator()(const std::string& x) const {
      return absl::StrCat("\"", absl::CEscape(x), "\"");
    }
    std::string operator()(bool x) const { return x ? "true" : "false"; }
  };
  return std::visit(Visitor{}, v);
}

std::string RowToString(const Row& row) {
  return absl::StrCat("(", absl::StrJoin(row, ", ", [](std::string* out, const Value& v) {
                        out->append(ValueToString(v));
                      }),
                      ")");
}

absl::StatusOr<Value> ValueFromCell(const kmend::CellPB& cell, const ColumnSchema& col) {
  Value v;
  switch (cell.value_case()) {
    case kmend::CellPB::VALUE_NOT_SET:
      if (!col.is_nullable) {
        return absl::InvalidArgumentError(
            absl::StrCat("column \"", col.name, "\": NULL for a non-nullable column"));
      }
      return Value{};
    case kmend::CellPB::kInt64Value:
      v = cell.int64_value();
      break;
    case kmend::CellPB::kDoubleValue:
      v = cell.double_value();
      break;
    case kmend::CellPB::kStringValue:
      v = cell.string_value();
      break;
    case kmend::CellPB::kBoolValue:
      v = cell.bool_value();
      break;
  }
  if (!TypeMatches(v, col.type)) {
    return absl::InvalidArgumentError(absl::StrCat("column \"", col.name, "\": expected ",
                                                   DataTypeName(col.type), ", found cell case ",
                                                   static_cast<int>(cell.value_case())));
  }
  return v;
}

kmend::CellPB CellFromValue(const Value& v) {
  kmend::CellPB c;
  if (auto* i = std::get_if<int64_t>(&v)) c.set_int64_value(*i);
  if (auto* d = std::get_if<double>(&v)) c.set_double_value(*d);
  if (auto* s = std::get_if<std::string>(&v)) c.set_string_value(*s);
  if (auto* b = std::get_if<bool>(&v)) c.set_bool_value(*b);
  return c;
}

absl::StatusOr<Row> RowFromCells(const Schema& schema,
                                 const google::protobuf::RepeatedPtrField<kmend::CellPB>& cells) {
  if (static_cast<size_t>(cells.size()) != schema.num_columns()) {
    return absl::InvalidArgumentError(absl::StrCat("row has ", cells.size(),
                                                   " cells, schema has ", schema.num_columns(),
                                                   " columns"));
  }
  Row row;
  row.reserve(cells.size());
  for (int i = 0; i < cells.size(); ++i) {
    auto v = ValueFromCell(cells.Get(i), schema.column(i));
    if (!v.ok()) return v.status();
    row.push_back(*std::move(v));
  }
  return row;
}

absl::StatusOr<Row> KeyFromCells(const Schema& schema,
                                 const google::protobuf::RepeatedPtrField<kmend::CellPB>& cells) {
  size_t n = static_cast<size_t>(cells.size());
  if (n != schema.num_key_columns() && n != schema.num_columns()) {
    return absl::InvalidArgumentError(absl::StrCat("delete has ", n, " cells, expected ",
                                                   schema.num_key_columns(), " key cells"));
  }
  Row key;
  for (size_t i = 0; i < schema.num_key_columns(); ++i) {
    auto v = ValueFromCell(cells.Get(static_cast<int>(i)), schema.column(i));
    if (!v.ok()) return v.status();
    key.push_back(*std::move(v));
  }
  return key;
}

absl::Status ValidateRow(const Schema& schema, const Row& row) {
  if (row.size() != schema.num_columns()) {
    return absl::InvalidArgumentError(absl::StrCat("row has ", row.size(), " values, schema has ",
                                                   schema.num_columns(), " columns"));
  }
  for (size_t i = 0; i < row.size(); ++i) {
    const ColumnSchema& c = schema.column(i);
    if (IsNull(row[i])) {
      if (!c.is_nullable) {
        return absl::InvalidArgumentError(absl::StrCat("column \"", c.name, "\": NULL"));
      }
    } else if (!TypeMatches(row[i], c.type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("column \"", c.name, "\": value is not ", DataTypeName(c.type)));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> EncodeKey(const Schema& schema, absl::Span<const Value> row) {
  const size_t nkeys = schema.num_key_columns();
  if (row.size() < nkeys) {
    return absl::InvalidArgumentError(
        absl::StrCat("key has ", row.size(), " values, expected ", nkeys));
  }
  std::string out;
  for (size_t i = 0; i < nkeys; ++i) {
    const ColumnSchema& c = schema.column(i);
    if (IsNull(row[i]) || !TypeMatches(row[i], c.type)) {
      return absl::InvalidArgumentError(absl::StrCat("key column \"", c.name, "\": expected ",
                                                     DataTypeName(c.type), ", found ",
                                                     ValueToString(row[i])));
    }
    EncodeComponent(row[i], c.type, i + 1 == nkeys, &out);
  }
  return out;
}

absl::StatusOr<Row> DecodeKey(const Schema& schema, absl::string_view encoded) {
  Row key;
  const size_t nkeys = schema.num_key_columns();
  size_t pos = 0;
  for (size_t i = 0; i < nkeys; ++i) {
    const ColumnSchema& c = schema.column(i);
    const bool last = i + 1 == nkeys;
    auto err = [&](absl::string_view what) {
      return absl::DataLossError(absl::StrCat("encoded key: column \"", c.name, "\" at byte ",
                                              pos, ": ", what));
    };
    switch (c.type) {
      case kmend::INT64:
        if (encoded.size() - pos < 8) return err("fewer than 8 bytes left");
        key.push_back(static_cast<int64_t>(GetBe64(encoded.substr(pos)) ^ kSignBit));
        pos += 8;
        break;
      case kmend::DOUBLE:
        if (encoded.size() - pos < 8) return err("fewer than 8 bytes left");
        key.push_back(OrderedBitsToDouble(GetBe64(encoded.substr(pos))));
        pos += 8;
        break;
      case kmend::BOOL:
        if (pos >= encoded.size()) return err("no byte left");
        if (static_cast<unsigned char>(encoded[pos]) > 1) return err("bool byte not 0 or 1");
        key.push_back(encoded[pos] == 1);
        pos += 1;
        break;
      case kmend::STRING: {
        std::string s;
        if (last) {
          s.assign(encoded.data() + pos, encoded.size() - pos);
          pos = encoded.size();
        } else {
          bool terminated = false;
          while (pos < encoded.size()) {
            char ch = encoded[pos++];
            if (ch != '\0') {
              s.push_back(ch);
              continue;
            }
            if (pos >= encoded.size()) return err("0x00 at the end (escape cut short)");
            char next = encoded[pos++];
            if (next == '\1') {
              s.push_back('\0');
            } else if (next == '\0') {
              terminated = true;
              break;
            } else {
              return err("0x00 followed by neither 0x00 nor 0x01");
            }
          }
          if (!terminated) return err("string not terminated by 0x00 0x00");
        }
        key.push_back(std::move(s));
        break;
      }
      default:
        return err("unsupported type");
    }
  }
  if (pos != encoded.size()) {
    return absl::DataLossError(
        absl::StrCat("encoded key: ", encoded.size() - pos, " trailing bytes after the key"));
  }
  return key;
}

std::string EncodeRowForChecksum(const Schema& schema, const Row& row) {
  std::string out;
  for (size_t i = 0; i < row.size() && i < schema.num_columns(); ++i) {
    if (IsNull(row[i])) {
      out.push_back(0);
      continue;
    }
    out.push_back(1);
    // Every component self-delimiting (strings terminated), so that different
    // rows never encode to the same bytes.
    EncodeComponent(row[i], schema.column(i).type, /*last=*/false, &out);
  }
  return out;
}

}  // namespace kmend::tablet
