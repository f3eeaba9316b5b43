#include "lib/tablet/test_spec.h"

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

}  // namespace kmend::tablet
