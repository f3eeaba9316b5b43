// Plain and JSON rendering of fsck reports (see render.h).
#include "lib/fsck/render.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/tablet/column_block.h"

namespace kmend::fsck {

namespace {

using nlohmann::json;

json ProblemJson(const Problem& p) {
  json j = {{"offset", p.offset}, {"what", p.what}};
  if (p.has_crc) {
    j["stored_crc32c"] = absl::StrFormat("0x%08x", p.stored_crc);
    j["computed_crc32c"] = absl::StrFormat("0x%08x", p.computed_crc);
  }
  return j;
}

json ActionJson(const RepairAction& a) {
  json j = {
      {"kind", RepairActionKindName(a.kind)}, {"path", a.path}, {"description", a.description}};
  if (!a.tablet_id.empty()) j["tablet_id"] = a.tablet_id;
  if (a.kind == RepairAction::Kind::kDeleteOrphanedBlocks) {
    json ids = json::array();
    for (const auto& b : a.blocks) ids.push_back(b.block_id);
    j["block_ids"] = ids;
  }
  return j;
}

}  // namespace

json ReportJson(const FsckReport& r, const RepairSection* repair) {
  json doc = {{"schema", kFsckSchema},          {"schema_version", 1},
              {"fs_root", r.fs_root},           {"server_uuid", r.server_uuid},
              {"checks", ChecksName(r.checks)}, {"ok", r.clean()}};
  json counts = {{"files_checked", r.files_checked},
                 {"blocks_checked", r.blocks_checked},
                 {"bytes_read", r.bytes_read},
                 {"block_bytes_checked", r.block_bytes_checked},
                 {"seconds", r.seconds}};
  std::map<std::string, int> verdicts;
  for (const TabletReport& t : r.tablets) ++verdicts[VerdictName(t.verdict)];
  counts["tablets"] = verdicts;
  doc["summary"] = counts;
  doc["server_problems"] = r.server_problems;
  json files = json::array();
  for (const FileReport& f : r.files) {
    json j = {{"path", f.path},
              {"kind", FileKindName(f.kind)},
              {"status", FileStatusName(f.status)},
              {"size_bytes", f.size_bytes}};
    if (!f.tablet_id.empty()) j["tablet_id"] = f.tablet_id;
    json ps = json::array();
    for (const Problem& p : f.problems) ps.push_back(ProblemJson(p));
    j["problems"] = ps;
    if (!f.note.empty()) j["not_checked"] = f.note;
    files.push_back(j);
  }
  doc["files"] = files;
  json blocks = json::array();
  for (const BlockReport& b : r.blocks) {
    json j = {{"block_id", b.block_id},
              {"status", BlockStatusName(b.status)},
              {"problem", ProblemJson(b.problem)}};
    if (!b.tablet_id.empty()) j["tablet_id"] = b.tablet_id;
    if (!b.container_id.empty()) {
      j["container_id"] = b.container_id;
      j["path"] = b.path;
      j["extent_offset"] = b.offset;
      j["extent_length"] = b.length;
    }
    blocks.push_back(j);
  }
  doc["blocks"] = blocks;
  json tablets = json::array();
  for (const TabletReport& t : r.tablets) {
    json j = {{"tablet_id", t.tablet_id},
              {"table_name", t.table_name},
              {"data_state", t.data_state},
              {"verdict", VerdictName(t.verdict)},
              {"reasons", t.reasons},
              {"blocks", t.blocks},
              {"peers", t.peers}};
    if (r.checks == Checks::kDecode) j["rows"] = t.rows;
    const BootstrapReport& b = t.bootstrap;
    j["bootstrap"] = {{"checked", b.checked},
                      {"can_bootstrap", b.ok},
                      {"reason", b.reason},
                      {"last_flushed_op_index", b.last_flushed_op_index},
                      {"wal_first_index", b.wal_first_index},
                      {"wal_last_index", b.wal_last_index},
                      {"ops_to_replay", b.ops_to_replay}};
    if (!t.fix_command.empty()) j["fix_command"] = t.fix_command;
    if (!t.fix_note.empty()) j["fix_note"] = t.fix_note;
    tablets.push_back(j);
  }
  doc["tablets"] = tablets;
  if (repair != nullptr) {
    json actions = json::array();
    for (const RepairAction& a : repair->plan.actions) actions.push_back(ActionJson(a));
    json rj = {
        {"dry_run", repair->dry_run}, {"actions", actions}, {"not_done", repair->plan.not_done}};
    if (!repair->backup_dir.empty()) rj["backup_dir"] = repair->backup_dir;
    if (repair->outcome) {
      rj["resumed"] = repair->outcome->resumed;
      rj["actions_done"] = repair->outcome->actions_done;
      rj["bytes_backed_up"] = repair->outcome->bytes_backed_up;
      rj["manifest"] = repair->outcome->manifest_path;
    }
    doc["repair"] = rj;
  }
  return doc;
}

std::string ReportText(const FsckReport& r, const RepairSection* repair, bool verbose) {
  std::string out;
  absl::StrAppend(&out, "fsck of ", r.fs_root, " (server ",
                  r.server_uuid.empty() ? "unknown" : r.server_uuid,
                  "), checks=", ChecksName(r.checks), "\n");
  absl::StrAppendFormat(&out, "  %d files, %d blocks checked, %.1f MB read in %.2f s\n",
                        r.files_checked, r.blocks_checked, r.bytes_read / 1e6, r.seconds);
  for (const std::string& p : r.server_problems) absl::StrAppend(&out, "PROBLEM: ", p, "\n");
  bool any_file = false;
  for (const FileReport& f : r.files) {
    if (f.status == FileStatus::kOk && (f.note.empty() || !verbose)) continue;
    if (!any_file) absl::StrAppend(&out, "\nFiles:\n");
    any_file = true;
    absl::StrAppend(&out, "  ", FileStatusName(f.status), "  ", f.path, " (", FileKindName(f.kind),
                    ")\n");
    for (const Problem& p : f.problems) {
      absl::StrAppend(&out, "      offset ", p.offset, ": ", p.what, "\n");
    }
    if (!f.note.empty()) absl::StrAppend(&out, "      not checked: ", f.note, "\n");
  }
  bool any_block = false;
  for (const BlockReport& b : r.blocks) {
    if (!any_block) absl::StrAppend(&out, "\nBlocks:\n");
    any_block = true;
    absl::StrAppend(&out, "  ", BlockStatusName(b.status), "  block ",
                    tablet::BlockIdToString(b.block_id),
                    b.tablet_id.empty() ? "" : absl::StrCat(" of tablet ", b.tablet_id),
                    b.path.empty() ? "" : absl::StrCat(" in ", b.path), ": ", b.problem.what, "\n");
  }
  absl::StrAppend(&out, "\nTablets:\n");
  for (const TabletReport& t : r.tablets) {
    absl::StrAppend(&out, "  ", t.tablet_id, " ", t.table_name.empty() ? "?" : t.table_name, " [",
                    t.data_state.empty() ? "?" : t.data_state, "]: ", VerdictName(t.verdict), "\n");
    for (const std::string& why : t.reasons) absl::StrAppend(&out, "      ", why, "\n");
    if (t.bootstrap.checked && t.bootstrap.ok) {
      absl::StrAppend(&out, "      bootstrap: OK (blocks through op ",
                      t.bootstrap.last_flushed_op_index, ", WAL ops ", t.bootstrap.wal_first_index,
                      "..", t.bootstrap.wal_last_index, ", ", t.bootstrap.ops_to_replay,
                      " to replay)\n");
    } else if (verbose && !t.bootstrap.reason.empty()) {
      absl::StrAppend(&out, "      bootstrap: ", t.bootstrap.reason, "\n");
    }
    if (!t.fix_command.empty()) absl::StrAppend(&out, "      fix: ", t.fix_command, "\n");
    if (!t.fix_note.empty()) absl::StrAppend(&out, "      note: ", t.fix_note, "\n");
  }
  if (repair != nullptr) {
    absl::StrAppend(&out, "\nRepair",
                    repair->dry_run ? " (dry run: nothing changed; --yes to act)" : "", ":\n");
    if (repair->plan.actions.empty()) absl::StrAppend(&out, "  nothing to repair\n");
    for (const RepairAction& a : repair->plan.actions) {
      absl::StrAppend(&out, "  ", repair->dry_run ? "would " : "did ", a.description, "\n");
    }
    for (const std::string& n : repair->plan.not_done) {
      absl::StrAppend(&out, "  not done: ", n, "\n");
    }
    if (repair->outcome) {
      absl::StrAppend(&out, "  ", repair->outcome->actions_done, " actions done",
                      repair->outcome->resumed ? " (resumed an interrupted repair)" : "",
                      "; backup and manifest in ", repair->backup_dir,
                      " (undo: kmend fsck undo --backup_dir ", repair->backup_dir, " --yes)\n");
    }
  }
  absl::StrAppend(&out, "\n", r.clean() ? "OK: nothing wrong\n" : "PROBLEMS FOUND\n");
  return out;
}

json UndoJson(const UndoOutcome& undo, const std::string& backup_dir) {
  return {{"schema", kFsckUndoSchema}, {"schema_version", 1},      {"backup_dir", backup_dir},
          {"fs_root", undo.fs_root},   {"dry_run", !undo.applied}, {"restored", undo.restored}};
}

std::string UndoText(const UndoOutcome& undo, const std::string& backup_dir) {
  std::string out =
      absl::StrCat("undo of the fsck repair recorded in ", backup_dir, " (", undo.fs_root, ")",
                   undo.applied ? "" : ": dry run, nothing changed; --yes to act", "\n");
  for (const std::string& s : undo.restored) {
    absl::StrAppend(&out, "  ", undo.applied ? "" : "would ", s, "\n");
  }
  if (undo.restored.empty()) absl::StrAppend(&out, "  nothing to restore\n");
  return out;
}

}  // namespace kmend::fsck
