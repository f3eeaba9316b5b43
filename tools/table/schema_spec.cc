#include "tools/table/schema_spec.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kmend::tools {
namespace {

bool ParseType(absl::string_view text, DataType* type) {
  std::string t = absl::AsciiStrToLower(text);
  if (t == "int64") *type = INT64;
  else if (t == "double") *type = DOUBLE;
  else if (t == "string") *type = STRING;
  else if (t == "bool") *type = BOOL;
  else return false;
  return true;
}

std::string TypeName(DataType t) {
  switch (t) {
    case INT64: return "int64";
    case DOUBLE: return "double";
    case STRING: return "string";
    case BOOL: return "bool";
    default: return absl::AsciiStrToLower(DataType_Name(t));
  }
}

}  // namespace

absl::StatusOr<SchemaPB> ParseSchemaSpec(absl::string_view spec) {
  SchemaPB schema;
  if (absl::StripAsciiWhitespace(spec).empty()) {
    return absl::InvalidArgumentError("--schema is empty; expected e.g. 'id:int64:key,v:double'");
  }
  int index = 0;
  for (absl::string_view item : absl::StrSplit(spec, ',')) {
    ++index;
    item = absl::StripAsciiWhitespace(item);
    std::vector<absl::string_view> parts = absl::StrSplit(item, ':');
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("--schema: column ", index, " '", item, "': ", why));
    };
    if (parts.size() < 2 || parts[0].empty()) {
      return bad("expected NAME:TYPE[:key|:nullable|:not_null]");
    }
    ColumnSchemaPB* c = schema.add_columns();
    c->set_name(std::string(parts[0]));
    DataType type;
    if (!ParseType(parts[1], &type)) {
      return bad(absl::StrCat("type '", parts[1], "' is not one of int64, double, string, bool"));
    }
    c->set_type(type);
    bool key = false, nullable = false, not_null = false;
    for (size_t i = 2; i < parts.size(); ++i) {
      std::string attr = absl::AsciiStrToLower(parts[i]);
      if (attr == "key") key = true;
      else if (attr == "nullable") nullable = true;
      else if (attr == "not_null") not_null = true;
      else return bad(absl::StrCat("attribute '", parts[i], "' is not key, nullable or not_null"));
    }
    if (key && nullable) return bad("a key column cannot be nullable");
    if (nullable && not_null) return bad("both nullable and not_null");
    c->set_is_key(key);
    c->set_is_nullable(!key && !not_null);
  }
  return schema;
}

std::string SchemaSpecString(const SchemaPB& schema) {
  std::vector<std::string> cols;
  for (const auto& c : schema.columns()) {
    std::string s = absl::StrCat(c.name(), ":", TypeName(c.type()));
    if (c.is_key()) absl::StrAppend(&s, ":key");
    else if (!c.is_nullable()) absl::StrAppend(&s, ":not_null");
    cols.push_back(std::move(s));
  }
  return absl::StrJoin(cols, ",");
}

}  // namespace kmend::tools
