#include "lib/tablet/test_spec.h"

#include "absl/strings/str_cat.h"

namespace kmend::tablet {

TabletSpec AllTypesTestSpec(const std::string& tablet_id, const std::string& table_id,
                            const std::string& table_name) {
  TabletSpec spec;
  spec.tablet_id = tablet_id;
  spec.table_id = table_id;
  spec.table_name = table_name;
  spec.num_replicas = 3;
  auto add = [&](const char* name, kmend::DataType t, bool key, bool nullable) {
    auto* c = spec.schema.add_columns();
    c->set_name(name);
    c->set_type(t);
    c->set_is_key(key);
    c->set_is_nullable(nullable);
  };
  add("k", kmend::INT64, true, false);
  add("s", kmend::STRING, false, true);
  add("d", kmend::DOUBLE, false, false);
  add("b", kmend::BOOL, false, false);
  return spec;
}

kmend::SchemaPB KeyValueTestSchema(const std::string& value_column) {
  kmend::SchemaPB schema;
  auto* c = schema.add_columns();
  c->set_name("id");
  c->set_type(kmend::INT64);
  c->set_is_key(true);
  c = schema.add_columns();
  c->set_name(value_column);
  c->set_type(kmend::STRING);
  c->set_is_nullable(true);
  return schema;
}

std::string IncompressibleTestValue(int64_t key) {
  // splitmix64-style mixing, six rounds of 16 hex digits.
  uint64_t h = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(key + 1);
  std::string v;
  for (int k = 0; k < 6; ++k) {
    h ^= h >> 31;
    h *= 0x94d049bb133111ebull;
    absl::StrAppend(&v, absl::Hex(h, absl::kZeroPad16));
  }
  return v;
}

}  // namespace kmend::tablet
