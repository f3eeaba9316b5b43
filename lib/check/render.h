// Renders KsckResults for people (plain text) and scripts (JSON, schema in
// docs/cli.md#ksck, version kResultsSchemaVersion).
#ifndef KMEND_LIB_CHECK_RENDER_H_
#define KMEND_LIB_CHECK_RENDER_H_

#include <set>
#include <string>

#include "lib/check/results.h"
#include "nlohmann/json.hpp"

namespace kmend::check {

struct RenderOptions {
  // plain: healthy tablets are summarised per table; plain-full: every
  // tablet's consensus matrix is printed.
  bool all_tablets = false;
  // Sections to print: "masters", "tablet_servers", "tables", "tablets",
  // "checksums"; empty prints all. Problems and the verdict always print.
  std::set<std::string> sections;
  bool Shows(const std::string& section) const {
    return sections.empty() || sections.count(section) > 0;
  }
};

// The section names RenderOptions::sections accepts.
inline const char* const kSectionNames[] = {"masters", "tablet_servers", "tables", "tablets",
                                            "checksums"};

std::string RenderPlain(const KsckResults& results, const RenderOptions& options);
nlohmann::json RenderJson(const KsckResults& results, const RenderOptions& options = {});

}  // namespace kmend::check

#endif  // KMEND_LIB_CHECK_RENDER_H_
