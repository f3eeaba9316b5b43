// For tests: the spec of a new tablet whose schema covers every column type
// kmend stores: k INT64 key, s STRING nullable, d DOUBLE, b BOOL.
#ifndef KMEND_LIB_TABLET_TEST_SPEC_H_
#define KMEND_LIB_TABLET_TEST_SPEC_H_

#include <string>

#include "lib/tablet/tablet.h"

namespace kmend::tablet {

TabletSpec AllTypesTestSpec(const std::string& tablet_id, const std::string& table_id,
                            const std::string& table_name);

}  // namespace kmend::tablet

#endif  // KMEND_LIB_TABLET_TEST_SPEC_H_
