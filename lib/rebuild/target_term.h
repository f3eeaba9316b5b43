// The rebuild's term rule on the target's own evidence
// (docs/cli/rebuild_replica.md, "Safety"): a replica whose last logged term
// is ahead of the source's may hold entries the source lacks, so rebuilding
// it from that source is refused unless forced. The target server (its
// StartTabletCopy) and the offline tool judge it from what the replica's
// files say, which may be damaged: the superblock or the consensus metadata
// unreadable (DataLoss) must not stop a rebuild, since repairing such a
// replica is what the rebuild is for.
//
// Where the last logged op id comes from, best first:
//   1. the running Raft driver ("raft");
//   2. a tombstone's recorded op id ("tombstone");
//   3. the WAL, read to its end without a problem ("wal");
//   4. the WAL damaged: the consensus metadata's current term, an upper
//      bound of any logged term ("cmeta term"; refuses when it is ahead,
//      although the log may not be), and any op read before the damage;
//   5. nothing readable: refused as target_term_unknown unless forced.
// A replica with no WAL and a superblock saying it never held one
// (TOMBSTONED without a recorded op id, COPYING, or no replica) has
// logged nothing: there is nothing to compare.
//
// Thread safety: pure functions.
#ifndef KMEND_LIB_REBUILD_TARGET_TERM_H_
#define KMEND_LIB_REBUILD_TARGET_TERM_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/rebuild/plan.h"
#include "proto/opid.pb.h"

namespace kmend::rebuild {

// What a replica's files say (lib/rebuild/replica_files.h reads them),
// plus the running driver's last logged op id when Raft runs.
struct TargetFiles {
  // "NONE" (no superblock), "READY", "TOMBSTONED", ..., "UNREADABLE".
  std::string superblock_state = "NONE";
  std::string superblock_error;  // why UNREADABLE
  std::optional<consensus::OpId> tombstone_last_logged;

  bool cmeta_present = false;
  bool cmeta_readable = false;
  std::string cmeta_error;
  int64_t cmeta_term = 0;

  bool wal_present = false;  // at least one segment file
  bool wal_clean = false;    // read to its end without a problem
  std::string wal_error;     // the first problem, when not clean
  // The last REPLICATE read (before any damage); nullopt when none.
  std::optional<consensus::OpId> wal_last_logged;

  std::optional<consensus::OpId> running_last_logged;  // Raft runs
};

struct TermJudgement {
  Refusal refusal = Refusal::kNone;
  std::string message;  // why refused
  std::vector<std::string> warnings;
  // The target's last logged op id as judged, and where from ("raft",
  // "tombstone", "wal", "cmeta term"); nullopt when nothing is logged or
  // nothing could be read.
  std::optional<consensus::OpId> last_logged;
  std::string last_logged_from;
  // The lowest term a replaced, unreadable consensus metadata may be given
  // (the highest term known to be logged here): the copy writes
  // max(source's term, this), without a vote.
  int64_t term_floor = 0;
};

// Judges the target (see the file comment) against the source's last
// logged op id. `force` turns a refusal into a warning.
TermJudgement JudgeTargetTerm(const TargetFiles& target, const consensus::OpId& source_last_logged,
                              bool force);

}  // namespace kmend::rebuild

#endif  // KMEND_LIB_REBUILD_TARGET_TERM_H_
