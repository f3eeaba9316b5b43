// Per-tablet verdicts (see verdict.h).
#include "lib/fsck/verdict.h"

#include <algorithm>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "lib/tablet/column_block.h"

namespace kmend::fsck {

namespace {

std::string FirstProblem(const FileReport& f) {
  if (f.problems.empty()) return "";
  const Problem& p = f.problems.front();
  return absl::StrCat(" at offset ", p.offset, ": ", p.what);
}

// The peer to copy from: the first voter of the config that is not this
// server and has an address.
std::string ChooseSource(const TabletReport& t, const std::string& self_uuid) {
  for (const std::string& peer : t.peers) {
    std::pair<std::string, std::string> ua = absl::StrSplit(peer, absl::MaxSplits('@', 1));
    if (ua.first == self_uuid || ua.second.empty()) continue;
    return ua.second;
  }
  return "";
}

}  // namespace

void Judge(FsckReport* report) {
  std::map<std::string, std::vector<const FileReport*>> files_of;
  for (const FileReport& f : report->files) {
    if (!f.tablet_id.empty()) files_of[f.tablet_id].push_back(&f);
  }
  std::map<std::string, std::vector<const BlockReport*>> blocks_of;
  for (const BlockReport& b : report->blocks) {
    if (!b.tablet_id.empty()) blocks_of[b.tablet_id].push_back(&b);
  }
  for (TabletReport& t : report->tablets) {
    t.reasons.clear();
    t.fix_command.clear();
    t.fix_note.clear();
    bool rebuild = false, unchecked = false, local = false;
    for (const FileReport* f : files_of[t.tablet_id]) {
      const std::string line = absl::StrCat(FileKindName(f->kind), " ", f->path, " is ",
                                            FileStatusName(f->status), FirstProblem(*f));
      switch (f->status) {
        case FileStatus::kOk:
          break;
        case FileStatus::kUnreadable:
          unchecked = true;
          t.reasons.push_back(line);
          break;
        case FileStatus::kTornTail:
        case FileStatus::kOrphaned:
          local = true;
          t.reasons.push_back(line);
          break;
        case FileStatus::kCorrupt:
        case FileStatus::kMissing:
          rebuild = true;
          t.reasons.push_back(line);
          break;
      }
    }
    for (const BlockReport* b : blocks_of[t.tablet_id]) {
      if (b->status == BlockStatus::kUnchecked) {
        unchecked = true;
      } else {
        rebuild = true;
      }
      t.reasons.push_back(absl::StrCat(
          "block ", tablet::BlockIdToString(b->block_id), " is ", BlockStatusName(b->status),
          b->path.empty() ? "" : absl::StrCat(" in ", b->path), ": ", b->problem.what));
    }
    if (t.data_state == "FAILED") {
      rebuild = true;
      t.reasons.push_back("the superblock says FAILED: the server does not serve this replica");
    }
    const bool serving_state = t.data_state == "READY";
    if (serving_state && t.bootstrap.checked && !t.bootstrap.ok && !unchecked) {
      rebuild = true;
      t.reasons.push_back(absl::StrCat("cannot bootstrap: ", t.bootstrap.reason));
    }
    if (t.data_state == "TOMBSTONED" || t.data_state == "DELETED") {
      // No data to lose: the master deletes or re-copies it.
      if (!rebuild && !unchecked) t.fix_note = "tombstoned replica: holds no data";
    }
    if (rebuild && !unchecked) {
      t.verdict = Verdict::kNeedsRebuild;
      const std::string source = ChooseSource(t, report->server_uuid);
      t.fix_command =
          absl::StrCat("kmend rebuild-replica --fs_root ", report->fs_root, " --tablet ",
                       t.tablet_id, " --source ", source.empty() ? "<PEER>" : source, " --yes");
      if (source.empty()) {
        t.fix_note =
            t.peers.empty()
                ? "the consensus metadata names no peer: find a healthy replica with `kmend ksck "
                  "--masters ADDR` and use its server as --source"
                : "no other replica in its Raft config: only a backup (or another cluster) can "
                  "restore it";
      } else {
        t.fix_note = absl::StrCat(
            "or, with the server running: kmend rebuild-replica --masters ADDR --tablet ",
            t.tablet_id, " --tserver ", report->server_uuid,
            " --yes. `fsck --repair --yes` marks it FAILED so the cluster re-replicates it");
      }
    } else if (unchecked) {
      t.verdict = Verdict::kUnchecked;
      t.fix_note = "some of its files could not be read: fix their permissions and run fsck again";
    } else if (local) {
      t.verdict = Verdict::kRepairableLocally;
      t.fix_note =
          "`kmend fsck --repair --yes --backup_dir DIR` fixes it (nothing acknowledged is lost)";
    } else {
      t.verdict = Verdict::kHealthy;
    }
  }
}

}  // namespace kmend::fsck
