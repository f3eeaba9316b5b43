// Repair plan, journaled execution and undo (see repair.h, manifest.h).
#include "lib/fsck/repair.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "lib/blocks/check.h"
#include "lib/blocks/container.h"
#include "lib/format/pb_container.h"
#include "lib/fs/layout.h"
#include "lib/fsck/manifest.h"
#include "lib/io/file.h"
#include "lib/tablet/column_block.h"
#include "lib/tablet/superblock.h"
#include "lib/util/status_macros.h"
#include "lib/wal/segment_writer.h"
#include "proto/fs.pb.h"
#include "proto/wal.pb.h"

namespace kmend::fsck {

const char* RepairActionKindName(RepairAction::Kind kind) {
  switch (kind) {
    case RepairAction::Kind::kCloseWalSegment:
      return "close_wal_segment";
    case RepairAction::Kind::kTruncateMetadata:
      return "truncate_metadata";
    case RepairAction::Kind::kTruncateData:
      return "truncate_data";
    case RepairAction::Kind::kDeleteOrphanedBlocks:
      return "delete_orphaned_blocks";
    case RepairAction::Kind::kDeleteFile:
      return "delete_file";
    case RepairAction::Kind::kMarkFailed:
      return "mark_failed";
  }
  return "unknown";
}

namespace {

std::string RealPath(const std::string& p) {
  char* r = ::realpath(p.c_str(), nullptr);
  if (r == nullptr) return p;
  std::string out(r);
  ::free(r);
  return out;
}

bool IsInside(const std::string& child, const std::string& parent) {
  const std::string c = RealPath(child), p = RealPath(parent);
  return c == p || absl::StartsWith(c, p + "/");
}

absl::Status TruncateDurably(const std::string& path, uint64_t length) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return io::ErrnoError("open", path, errno);
  absl::Status s;
  if (::ftruncate(fd, static_cast<off_t>(length)) != 0) {
    s = io::ErrnoError(absl::StrCat("ftruncate to ", length), path, errno);
  } else if (::fsync(fd) != 0) {
    s = io::ErrnoError("fsync", path, errno);
  }
  ::close(fd);
  return s;
}

uint64_t PunchLength(const RepairFacts::OrphanBlock& b, uint64_t alignment) {
  return blocks::AlignUp(static_cast<uint64_t>(b.length), alignment);
}

}  // namespace

absl::StatusOr<RepairPlan> PlanRepair(const ScanResult& scan, int64_t timestamp_micros) {
  const FsckReport& r = scan.report;
  RepairPlan plan;
  plan.fs_root = r.fs_root;
  plan.timestamp_micros = timestamp_micros;
  fs::Layout layout(r.fs_root);
  std::map<std::string, const TabletReport*> tablets;
  for (const TabletReport& t : r.tablets) tablets[t.tablet_id] = &t;

  // 1. Torn WAL tails of tablets that need nothing else.
  for (const RepairFacts::WalTail& w : scan.facts.wal_tails) {
    auto it = tablets.find(w.tablet_id);
    if (it == tablets.end()) continue;
    if (it->second->verdict != Verdict::kRepairableLocally) {
      plan.not_done.push_back(absl::StrCat("torn tail of ", w.path, " left as it is: tablet ",
                                           w.tablet_id, " is ", VerdictName(it->second->verdict)));
      continue;
    }
    RepairAction a;
    a.kind = RepairAction::Kind::kCloseWalSegment;
    a.path = w.path;
    a.tablet_id = w.tablet_id;
    a.offset = w.offset;
    a.num_entries = w.entries;
    a.min_replicate_index = w.min_replicate_index;
    a.max_replicate_index = w.max_replicate_index;
    a.description = absl::StrCat("cut ", w.path, " from ", w.size_bytes, " to ", w.offset,
                                 " bytes (torn tail: no complete batch after it) and write its "
                                 "footer (",
                                 w.entries, " entries), as WAL recovery does");
    plan.actions.push_back(std::move(a));
  }

  // 2-4. The data directory: the block manager's own repair plan (torn
  // metadata tails, orphan containers, temp files), then orphaned blocks.
  std::vector<RepairAction> deletions;
  if (io::FileExists(layout.BlockManagerInstancePath())) {
    auto br = blocks::Repair(layout.DataDir(), /*apply=*/false);
    if (!br.ok()) {
      plan.not_done.push_back(
          absl::StrCat("block containers not repaired: ", br.status().message()));
    } else {
      for (const blocks::RepairAction& ba : br->actions) {
        RepairAction a;
        a.path = ba.path;
        a.description = ba.description;
        if (ba.kind == blocks::RepairAction::Kind::kTruncateMetadata) {
          a.kind = RepairAction::Kind::kTruncateMetadata;
          a.offset = ba.truncate_to;
          plan.actions.push_back(std::move(a));
        } else {
          a.kind = RepairAction::Kind::kDeleteFile;
          deletions.push_back(std::move(a));
        }
      }
    }
  }
  bool missing_blocks = false;
  for (const BlockReport& b : r.blocks) missing_blocks |= b.status == BlockStatus::kMissing;
  for (const RepairFacts::UnrecordedData& u : scan.facts.unrecorded_data) {
    if (missing_blocks || !scan.facts.data_dir_fully_understood) {
      plan.not_done.push_back(absl::StrCat("unrecorded bytes of ", u.data_path,
                                           " left: a tablet misses blocks (or not every "
                                           "superblock loaded), and they may be its data"));
      continue;
    }
    RepairAction a;
    a.kind = RepairAction::Kind::kTruncateData;
    a.path = u.data_path;
    a.offset = u.recorded_end;
    a.description =
        absl::StrCat("cut ", u.data_path, " from ", u.size_bytes, " to ", u.recorded_end,
                     " bytes (past the last block any record names; "
                     "no tablet misses a block)");
    plan.actions.push_back(std::move(a));
  }
  if (!scan.facts.orphan_blocks.empty()) {
    if (!scan.facts.data_dir_fully_understood || scan.facts.filesystem_block_size_bytes == 0) {
      plan.not_done.push_back(absl::StrCat(
          scan.facts.orphan_blocks.size(),
          " orphaned blocks left: not every superblock or container could be read, so they "
          "might be a tablet's data"));
    } else {
      std::map<std::string, RepairAction> by_container;
      for (const RepairFacts::OrphanBlock& b : scan.facts.orphan_blocks) {
        RepairAction& a = by_container[b.container_id];
        a.kind = RepairAction::Kind::kDeleteOrphanedBlocks;
        a.path = b.metadata_path;
        a.data_path = b.data_path;
        a.alignment = scan.facts.filesystem_block_size_bytes;
        a.blocks.push_back(b);
      }
      for (auto& [cid, a] : by_container) {
        uint64_t bytes = 0;
        for (const auto& b : a.blocks) bytes += static_cast<uint64_t>(b.length);
        a.description = absl::StrCat("delete ", a.blocks.size(), " orphaned blocks of container ",
                                     cid, " (", bytes, " bytes): DELETE records in ", a.path,
                                     ", holes punched in ", a.data_path);
        plan.actions.push_back(std::move(a));
      }
    }
  }
  for (RepairAction& a : deletions) plan.actions.push_back(std::move(a));
  // Temp files outside data/ (tablet-meta/, consensus-meta/, wals/).
  for (const FileReport& f : r.files) {
    if (f.kind != FileKind::kTempFile) continue;
    if (io::Dirname(f.path) == layout.DataDir()) continue;  // in blocks::Repair's plan
    RepairAction a;
    a.kind = RepairAction::Kind::kDeleteFile;
    a.path = f.path;
    a.description = absl::StrCat("delete ", f.path, " (temp file left by a crash)");
    plan.actions.push_back(std::move(a));
  }

  // 5. Tablets only a peer can restore: FAILED, so they are re-replicated.
  for (const TabletReport& t : r.tablets) {
    if (t.verdict != Verdict::kNeedsRebuild) continue;
    if (t.data_state != "READY") {
      if (t.data_state.empty()) {
        plan.not_done.push_back(absl::StrCat(
            "tablet ", t.tablet_id,
            ": superblock unreadable, cannot be marked FAILED (the server fails it at start-up)"));
      }
      continue;
    }
    RepairAction a;
    a.kind = RepairAction::Kind::kMarkFailed;
    a.tablet_id = t.tablet_id;
    a.path = layout.TabletMetaPath(t.tablet_id);
    // Paths relative to the data directory: the reason stays true if the
    // directory moves, and equal directories get equal superblocks.
    a.reason = absl::StrReplaceAll(
        absl::StrCat("kmend fsck: ", t.reasons.empty() ? "needs rebuild" : t.reasons[0]),
        {{r.fs_root + "/", ""}});
    a.description = absl::StrCat("mark tablet ", t.tablet_id,
                                 " FAILED in its superblock (needs a rebuild from a peer)");
    plan.actions.push_back(std::move(a));
  }
  return plan;
}

namespace {

absl::Status ApplyAction(const RepairPlan& plan, const ManifestAction& ma) {
  const RepairAction& a = ma.action;
  switch (a.kind) {
    case RepairAction::Kind::kCloseWalSegment: {
      ASSIGN_OR_RETURN(auto w, wal::SegmentWriter::Reopen(a.path, a.offset, /*sync=*/true));
      log::LogSegmentFooterPB footer;
      footer.set_num_entries(a.num_entries);
      footer.set_min_replicate_index(a.min_replicate_index);
      footer.set_max_replicate_index(a.max_replicate_index);
      footer.set_close_timestamp_micros(plan.timestamp_micros);
      return w->Finish(footer);
    }
    case RepairAction::Kind::kTruncateMetadata:
    case RepairAction::Kind::kTruncateData:
      return TruncateDurably(a.path, a.offset);
    case RepairAction::Kind::kDeleteOrphanedBlocks: {
      // From the pre-image: a run cut short may have appended some records.
      const BackupEntry& md = ma.backups.at(0);
      RETURN_IF_ERROR(TruncateDurably(a.path, md.size));
      ASSIGN_OR_RETURN(auto writer, pbc::Writer::OpenForAppend(a.path));
      for (const RepairFacts::OrphanBlock& b : a.blocks) {
        BlockRecordPB rec;
        rec.mutable_block_id()->set_id(b.block_id);
        rec.set_op_type(DELETE);
        rec.set_timestamp_us(static_cast<uint64_t>(plan.timestamp_micros));
        RETURN_IF_ERROR(writer->Append(rec));
      }
      RETURN_IF_ERROR(writer->Sync());
      writer.reset();
      // Then the bytes, as LogBlockManager::DeleteBlocks does: blocks start
      // aligned and the next starts at the aligned end.
      int fd = ::open(a.data_path.c_str(), O_RDWR | O_CLOEXEC);
      if (fd < 0) return io::ErrnoError("open", a.data_path, errno);
      absl::Status s;
      for (const RepairFacts::OrphanBlock& b : a.blocks) {
        const uint64_t len = PunchLength(b, a.alignment);
        if (len == 0) continue;
        if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, b.offset,
                        static_cast<off_t>(len)) != 0 &&
            errno != EOPNOTSUPP && errno != ENOSYS) {
          s = io::ErrnoError("fallocate(PUNCH_HOLE)", a.data_path, errno);
          break;
        }
      }
      if (s.ok() && ::fsync(fd) != 0) s = io::ErrnoError("fsync", a.data_path, errno);
      ::close(fd);
      return s;
    }
    case RepairAction::Kind::kDeleteFile:
      if (::unlink(a.path.c_str()) != 0 && errno != ENOENT) {
        return io::ErrnoError("unlink", a.path, errno);
      }
      return io::SyncParentDir(a.path);
    case RepairAction::Kind::kMarkFailed:
      return tablet::SetDataState(fs::Layout(plan.fs_root), a.tablet_id, tablet::TABLET_DATA_FAILED,
                                  a.reason);
  }
  return absl::InternalError("unknown repair action");
}

absl::Status BackUp(const std::string& backup_dir, size_t seq, ManifestAction* ma,
                    uint64_t* bytes) {
  const RepairAction& a = ma->action;
  ma->backups.clear();
  auto name = [&](int n, const std::string& what) { return absl::StrCat(seq, "-", n, "-", what); };
  if (a.kind == RepairAction::Kind::kTruncateData) {
    // Only the bytes cut off (a .data file may be large); putting them back
    // at their offset also restores the size.
    ASSIGN_OR_RETURN(BackupEntry e, BackupRange(a.path, a.offset, UINT64_MAX - a.offset, backup_dir,
                                                name(0, io::Basename(a.path))));
    *bytes += e.length;
    ma->backups.push_back(e);
    return absl::OkStatus();
  }
  if (io::FileExists(a.path)) {
    ASSIGN_OR_RETURN(BackupEntry e, BackupFile(a.path, backup_dir, name(0, io::Basename(a.path))));
    *bytes += e.size;
    ma->backups.push_back(e);
  } else if (a.kind != RepairAction::Kind::kDeleteFile) {
    return absl::NotFoundError(absl::StrCat(a.path, ": the file to repair is gone"));
  }
  if (a.kind == RepairAction::Kind::kDeleteOrphanedBlocks) {
    int n = 1;
    for (const RepairFacts::OrphanBlock& b : a.blocks) {
      ASSIGN_OR_RETURN(BackupEntry e,
                       BackupRange(a.data_path, static_cast<uint64_t>(b.offset),
                                   PunchLength(b, a.alignment), backup_dir,
                                   name(n++, absl::StrCat(io::Basename(a.data_path), ".",
                                                          tablet::BlockIdToString(b.block_id)))));
      *bytes += e.length;
      ma->backups.push_back(e);
    }
  }
  return absl::OkStatus();
}

}  // namespace

bool HasUnfinishedRepair(const std::string& backup_dir, const std::string& fs_root) {
  auto m = ReadManifest(backup_dir);
  return m.ok() && m->state == Manifest::State::kInProgress &&
         RealPath(m->fs_root) == RealPath(fs_root);
}

absl::StatusOr<std::string> ManifestFsRoot(const std::string& backup_dir) {
  ASSIGN_OR_RETURN(Manifest m, ReadManifest(backup_dir));
  return m.fs_root;
}

absl::StatusOr<RepairOutcome> ExecuteRepair(const RepairPlan& plan, const std::string& backup_dir) {
  if (IsInside(backup_dir, plan.fs_root)) {
    return absl::FailedPreconditionError(
        absl::StrCat("--backup_dir ", backup_dir, " is inside the data directory ", plan.fs_root,
                     ": choose a directory elsewhere (ideally on another disk)"));
  }
  RETURN_IF_ERROR(io::CreateDirs(backup_dir));
  RepairOutcome out;
  out.manifest_path = io::JoinPath(backup_dir, kManifestFileName);
  Manifest m;
  auto existing = ReadManifest(backup_dir);
  if (existing.ok()) {
    if (RealPath(existing->fs_root) != RealPath(plan.fs_root)) {
      return absl::FailedPreconditionError(
          absl::StrCat(out.manifest_path, " is about ", existing->fs_root, ", not ", plan.fs_root));
    }
    if (existing->state == Manifest::State::kComplete && plan.actions.empty()) {
      // Killed after finishing, before saying so: nothing left to do.
      out.resumed = true;
      out.plan = plan;
      return out;
    }
    if (existing->state != Manifest::State::kInProgress) {
      return absl::FailedPreconditionError(
          absl::StrCat(out.manifest_path, " records a repair that is ",
                       existing->state == Manifest::State::kComplete ? "complete" : "undone",
                       ": choose a new --backup_dir (this one is what `kmend fsck undo` needs)"));
    }
    m = *std::move(existing);
    out.resumed = true;
  } else if (absl::IsNotFound(existing.status())) {
    auto names = io::ListDir(backup_dir);
    bool empty = true;
    if (names.ok()) {
      for (const std::string& n : *names) {
        // A manifest write cut short by a kill leaves its temp file.
        if (io::IsTempFileName(n)) {
          ::unlink(io::JoinPath(backup_dir, n).c_str());
        } else {
          empty = false;
        }
      }
    }
    if (!empty) {
      return absl::FailedPreconditionError(
          absl::StrCat("--backup_dir ", backup_dir, " is not empty and holds no fsck manifest"));
    }
    m.fs_root = plan.fs_root;
    m.timestamp_micros = plan.timestamp_micros;
    for (const RepairAction& a : plan.actions) {
      ManifestAction ma;
      ma.action = a;
      m.actions.push_back(std::move(ma));
    }
    if (m.actions.empty()) {
      out.plan = plan;
      return out;
    }
    RETURN_IF_ERROR(WriteManifest(backup_dir, m));
  } else {
    return existing.status();
  }
  out.plan.fs_root = m.fs_root;
  out.plan.timestamp_micros = m.timestamp_micros;
  for (const ManifestAction& ma : m.actions) out.plan.actions.push_back(ma.action);

  for (size_t i = 0; i < m.actions.size(); ++i) {
    ManifestAction& ma = m.actions[i];
    if (ma.state == ManifestAction::State::kPlanned) {
      RETURN_IF_ERROR(Annotate(BackUp(backup_dir, i, &ma, &out.bytes_backed_up),
                               absl::StrCat("backing up for: ", ma.action.description)));
      ma.state = ManifestAction::State::kBackedUp;
      RETURN_IF_ERROR(WriteManifest(backup_dir, m));
    }
    if (ma.state == ManifestAction::State::kBackedUp) {
      RETURN_IF_ERROR(Annotate(ApplyAction(out.plan, ma), ma.action.description));
      ma.state = ManifestAction::State::kDone;
      RETURN_IF_ERROR(WriteManifest(backup_dir, m));
    }
    ++out.actions_done;
  }
  if (out.resumed) {
    // A run killed between writing a temp file and renaming it (a superblock
    // marked FAILED, say) leaves that temp file behind. The new scan plans
    // its deletion, but a resumed run carries out the manifest, not the new
    // plan. Temp files the manifest does not name appeared after the first
    // scan, while this repair held the directory's lock: they are its own
    // unrenamed writes, garbage with no pre-image to keep, so they are
    // deleted without a backup (undo must not bring them back).
    std::set<std::string> in_manifest;
    for (const ManifestAction& ma : m.actions) in_manifest.insert(ma.action.path);
    for (const RepairAction& a : plan.actions) {
      if (a.kind != RepairAction::Kind::kDeleteFile || in_manifest.count(a.path) != 0 ||
          !io::IsTempFileName(io::Basename(a.path))) {
        continue;
      }
      if (::unlink(a.path.c_str()) != 0 && errno != ENOENT) {
        return io::ErrnoError("unlink", a.path, errno);
      }
      RETURN_IF_ERROR(io::SyncParentDir(a.path));
    }
  }
  m.state = Manifest::State::kComplete;
  RETURN_IF_ERROR(WriteManifest(backup_dir, m));
  return out;
}

absl::StatusOr<UndoOutcome> Undo(const std::string& backup_dir, bool apply,
                                 const std::string& expected_fs_root) {
  ASSIGN_OR_RETURN(Manifest m, ReadManifest(backup_dir));
  if (!expected_fs_root.empty() && RealPath(expected_fs_root) != RealPath(m.fs_root)) {
    return absl::FailedPreconditionError(absl::StrCat("the manifest in ", backup_dir, " is about ",
                                                      m.fs_root, ", not ", expected_fs_root));
  }
  if (m.state == Manifest::State::kUndone) {
    return absl::FailedPreconditionError(
        absl::StrCat("the repair recorded in ", backup_dir, " was already undone"));
  }
  UndoOutcome out;
  out.fs_root = m.fs_root;
  std::vector<const BackupEntry*> todo;
  for (auto it = m.actions.rbegin(); it != m.actions.rend(); ++it) {
    if (it->state == ManifestAction::State::kPlanned) continue;  // nothing changed yet
    for (auto b = it->backups.rbegin(); b != it->backups.rend(); ++b) todo.push_back(&*b);
  }
  // Every backup must be intact before the first byte is put back.
  for (const BackupEntry* e : todo) RETURN_IF_ERROR(VerifyBackup(*e, backup_dir));
  for (const BackupEntry* e : todo) {
    out.restored.push_back(
        e->kind == BackupEntry::Kind::kFile
            ? absl::StrCat("restore ", e->path, " (", e->size, " bytes) from ", e->backup)
            : absl::StrCat("restore bytes ", e->offset, "+", e->length, " of ", e->path, " from ",
                           e->backup));
    if (apply) RETURN_IF_ERROR(RestoreBackup(*e, backup_dir));
  }
  if (apply) {
    m.state = Manifest::State::kUndone;
    RETURN_IF_ERROR(WriteManifest(backup_dir, m));
    out.applied = true;
  }
  return out;
}

}  // namespace kmend::fsck
