// The resume journal of a tablet copy (proto/tablet_copy.proto
// TabletCopyJournalPB; docs/design/tablet_copy.md, "Resume"): which copied
// blocks are durable in this directory, under which local ids, and where
// they came from. The copier writes it after each durable batch of blocks
// (blocks synced first, then the journal, then the COPYING superblock's
// orphaned_blocks); a later copy of the same tablet reads it back and keeps
// the blocks the new session offers again unchanged.
//
// Matching is by (source uuid, source block id, size): block ids are never
// reused on a server and a block is immutable, so the same id and size on
// the same server is the same bytes; the copier still re-reads each kept
// block and checks its CRC32C against the journal before trusting it.
//
// Thread safety: pure functions and file I/O on paths the caller owns.
#ifndef KMEND_LIB_TABLET_COPY_COPY_JOURNAL_H_
#define KMEND_LIB_TABLET_COPY_COPY_JOURNAL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/fs/layout.h"
#include "proto/tablet_copy.pb.h"

namespace kmend::tablet_copy {

// <root>/tablet-meta/<tablet_id>.copy-journal
std::string JournalPath(const fs::Layout& layout, const std::string& tablet_id);

// nullopt when there is none; DataLoss for a damaged one (the caller then
// starts over).
absl::StatusOr<std::optional<tserver::TabletCopyJournalPB>> LoadJournal(
    const fs::Layout& layout, const std::string& tablet_id);
absl::Status StoreJournal(const fs::Layout& layout, const tserver::TabletCopyJournalPB& journal);
// OK when there is none.
absl::Status DeleteJournal(const fs::Layout& layout, const std::string& tablet_id);

// What a new session can reuse of a journal.
struct ResumePlan {
  // Source block id -> the journaled block to keep (subject to its CRC
  // check when read back).
  std::map<uint64_t, tserver::TabletCopyJournalPB::BlockPB> keep;
  // Local ids of journaled blocks the new session does not offer: to delete.
  std::vector<uint64_t> drop;
  int64_t bytes_kept = 0;
  // For people: "resuming: 3 of 4 copied blocks (12.0 MiB) are still offered"
  // or "starting over: ..." with the reason.
  std::string note;
};

// `offered`: the new session's blocks, source id -> size.
ResumePlan MatchJournal(const tserver::TabletCopyJournalPB& journal,
                        const std::string& source_uuid,
                        const std::map<uint64_t, int64_t>& offered);

}  // namespace kmend::tablet_copy

#endif  // KMEND_LIB_TABLET_COPY_COPY_JOURNAL_H_
