// Renders KsckResults for people (plain text) and scripts (JSON, schema in
// docs/cli.md#ksck, version kResultsSchemaVersion).
#ifndef KMEND_LIB_CHECK_RENDER_H_
#define KMEND_LIB_CHECK_RENDER_H_

#include <string>

#include "lib/check/results.h"
#include "nlohmann/json.hpp"

namespace kmend::check {

struct RenderOptions {
  // plain: healthy tablets are summarised per table; plain-full: every
  // tablet's consensus matrix is printed.
  bool all_tablets = false;
};

std::string RenderPlain(const KsckResults& results, const RenderOptions& options);
nlohmann::json RenderJson(const KsckResults& results);

}  // namespace kmend::check

#endif  // KMEND_LIB_CHECK_RENDER_H_
