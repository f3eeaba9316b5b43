#include "lib/rebuild/replica_files.h"

#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/tablet/superblock.h"
#include "lib/wal/log_reader.h"

namespace kmend::rebuild {

TargetFiles InspectReplicaFiles(const fs::Layout& layout, const std::string& tablet_id) {
  TargetFiles t;
  absl::StatusOr<tablet::TabletSuperBlockPB> sb = tablet::LoadSuperBlock(layout, tablet_id);
  if (sb.ok()) {
    t.superblock_state = tablet::DataStateName(sb->tablet_data_state());
    if (sb->has_tombstone_last_logged_opid()) {
      t.tombstone_last_logged = sb->tombstone_last_logged_opid();
    }
  } else if (!absl::IsNotFound(sb.status())) {
    t.superblock_state = "UNREADABLE";
    t.superblock_error = std::string(sb.status().message());
  }

  const std::string cmeta_path = layout.ConsensusMetaPath(tablet_id);
  if (io::FileExists(cmeta_path)) {
    t.cmeta_present = true;
    absl::StatusOr<consensus::ConsensusMetadataPB> c = meta::LoadConsensusMeta(cmeta_path);
    if (c.ok()) {
      t.cmeta_readable = true;
      t.cmeta_term = c->current_term();
    } else {
      t.cmeta_error = std::string(c.status().message());
    }
  }

  const std::string wal_dir = layout.WalDir(tablet_id);
  absl::StatusOr<std::vector<std::string>> segments =
      io::FileExists(wal_dir) ? wal::ListSegmentFiles(wal_dir)
                              : absl::StatusOr<std::vector<std::string>>(std::vector<std::string>());
  if (!segments.ok()) {
    t.wal_present = true;
    t.wal_error = std::string(segments.status().message());
    return t;
  }
  if (segments->empty()) return t;
  t.wal_present = true;
  wal::LogVisitor visitor;
  absl::StatusOr<wal::LogSummary> summary =
      wal::ReadLog(wal_dir, {.continue_after_problem = true}, &visitor);
  if (!summary.ok()) {
    t.wal_error = std::string(summary.status().message());
    return t;
  }
  if (summary->last_replicate.index() > 0) t.wal_last_logged = summary->last_replicate;
  // A torn tail is what a crash leaves (entries never acknowledged as
  // durable); anything else read as a problem is damage.
  if (summary->problems.empty()) {
    t.wal_clean = true;
  } else {
    t.wal_error = std::string(summary->problems.front().status.message());
  }
  return t;
}

}  // namespace kmend::rebuild
