// For tests: the spec of a new tablet whose schema covers every column type
// kmend stores: k INT64 key, s STRING nullable, d DOUBLE, b BOOL; and the
// two-column key/value schema the server and cluster tests write rows into.
#ifndef KMEND_LIB_TABLET_TEST_SPEC_H_
#define KMEND_LIB_TABLET_TEST_SPEC_H_

#include <cstdint>
#include <string>

#include "lib/tablet/tablet.h"

namespace kmend::tablet {

TabletSpec AllTypesTestSpec(const std::string& tablet_id, const std::string& table_id,
                            const std::string& table_name);

// "id" INT64 key and `value_column` STRING nullable: the shape the tests'
// upserts (one int64 cell, one string cell) are written against.
kmend::SchemaPB KeyValueTestSchema(const std::string& value_column);

// A 96-character hex value that is a pure function of `key` and unlike from
// key to key, so it compresses little: tests that need flushes and WAL
// segments to fill at predictable row counts write it as the value cell.
std::string IncompressibleTestValue(int64_t key);

}  // namespace kmend::tablet

#endif  // KMEND_LIB_TABLET_TEST_SPEC_H_
