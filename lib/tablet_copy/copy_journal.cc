#include "lib/tablet_copy/copy_journal.h"

#include <errno.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"

namespace kmend::tablet_copy {

std::string JournalPath(const fs::Layout& layout, const std::string& tablet_id) {
  return layout.CopyJournalPath(tablet_id);
}

absl::StatusOr<std::optional<tserver::TabletCopyJournalPB>> LoadJournal(
    const fs::Layout& layout, const std::string& tablet_id) {
  const std::string path = JournalPath(layout, tablet_id);
  if (!io::FileExists(path)) return std::optional<tserver::TabletCopyJournalPB>();
  tserver::TabletCopyJournalPB j;
  absl::Status s = pbc::ReadSingleMessageFile(path, &j);
  if (!s.ok()) return s;
  if (j.tablet_id() != tablet_id) {
    return absl::DataLossError(absl::StrCat(path, ": tablet_id: expected ", tablet_id,
                                            ", found ", j.tablet_id()));
  }
  return std::optional<tserver::TabletCopyJournalPB>(std::move(j));
}

absl::Status StoreJournal(const fs::Layout& layout, const tserver::TabletCopyJournalPB& journal) {
  return pbc::WriteSingleMessageFile(JournalPath(layout, journal.tablet_id()), journal);
}

absl::Status DeleteJournal(const fs::Layout& layout, const std::string& tablet_id) {
  const std::string path = JournalPath(layout, tablet_id);
  if (io::sys::Unlink(path.c_str()) != 0 && errno != ENOENT) return io::ErrnoError("unlink", path, errno);
  return absl::OkStatus();
}

ResumePlan MatchJournal(const tserver::TabletCopyJournalPB& journal,
                        const std::string& source_uuid,
                        const std::map<uint64_t, int64_t>& offered) {
  ResumePlan plan;
  const int total = journal.blocks_size();
  if (total == 0) {
    plan.note = "starting over: the interrupted copy had made no block durable yet";
    return plan;
  }
  if (journal.source_uuid() != source_uuid) {
    for (const auto& b : journal.blocks()) plan.drop.push_back(b.local_block_id());
    plan.note = absl::StrCat("starting over: the ", total,
                             " blocks copied before came from another server (",
                             journal.source_uuid(), "), block ids are per server");
    return plan;
  }
  int changed = 0;
  for (const auto& b : journal.blocks()) {
    auto it = offered.find(b.source_block_id());
    if (it != offered.end() && it->second == b.size_bytes() &&
        !plan.keep.count(b.source_block_id())) {
      plan.keep[b.source_block_id()] = b;
      plan.bytes_kept += b.size_bytes();
    } else {
      plan.drop.push_back(b.local_block_id());
      ++changed;
    }
  }
  if (plan.keep.empty()) {
    plan.note = absl::StrCat("starting over: the source's files changed (none of the ", total,
                             " blocks copied before is offered again with the same id and size; "
                             "a flush rewrote them)");
  } else {
    plan.note = absl::StrCat("resuming: ", plan.keep.size(), " of ", total,
                             " blocks copied before are offered again (", plan.bytes_kept,
                             " bytes kept)",
                             changed > 0 ? absl::StrCat("; ", changed, " changed on the source")
                                         : std::string());
  }
  return plan;
}

}  // namespace kmend::tablet_copy
