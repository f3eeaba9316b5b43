// The compact schema notation of `kmend table create --schema`:
//
//   spec   := column ("," column)*
//   column := NAME ":" TYPE (":" ATTR)*
//   TYPE   := int64 | double | string | bool          (case-insensitive)
//   ATTR   := key | nullable | not_null
//
// Key columns must come first and are never nullable; other columns are
// nullable unless marked not_null. Example: "id:int64:key,name:string,v:double".
//
// Thread safety: pure functions.
#ifndef KMEND_TOOLS_TABLE_SCHEMA_SPEC_H_
#define KMEND_TOOLS_TABLE_SCHEMA_SPEC_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/common.pb.h"

namespace kmend::tools {

// InvalidArgument naming the column (by position and text) and what was
// expected. Column order and key rules are checked by the master
// (lib/tablet/schema.h); this only parses.
absl::StatusOr<SchemaPB> ParseSchemaSpec(absl::string_view spec);

// The inverse, for display: "id:int64:key,name:string,...".
std::string SchemaSpecString(const SchemaPB& schema);

}  // namespace kmend::tools

#endif  // KMEND_TOOLS_TABLE_SCHEMA_SPEC_H_
