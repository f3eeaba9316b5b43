// Printing an fsck report: plain text for people, JSON (schema
// "kmend.fsck/1", docs/cli/fsck.md) for scripts. Pure functions over the
// report, the repair plan and what a repair did.
#ifndef KMEND_LIB_FSCK_RENDER_H_
#define KMEND_LIB_FSCK_RENDER_H_

#include <optional>
#include <string>

#include "lib/fsck/repair.h"
#include "lib/fsck/report.h"
#include "nlohmann/json.hpp"

namespace kmend::fsck {

inline constexpr char kFsckSchema[] = "kmend.fsck/1";
inline constexpr char kFsckUndoSchema[] = "kmend.fsck-undo/1";

// What a --repair run adds to the report.
struct RepairSection {
  bool dry_run = true;
  RepairPlan plan;
  std::optional<RepairOutcome> outcome;  // when applied
  std::string backup_dir;
};

// The whole document. `repair` is null without --repair.
nlohmann::json ReportJson(const FsckReport& report, const RepairSection* repair);
std::string ReportText(const FsckReport& report, const RepairSection* repair, bool verbose);

nlohmann::json UndoJson(const UndoOutcome& undo, const std::string& backup_dir);
std::string UndoText(const UndoOutcome& undo, const std::string& backup_dir);

}  // namespace kmend::fsck

#endif  // KMEND_LIB_FSCK_RENDER_H_
