#include "lib/tablet_copy/data_id.h"

#include "absl/strings/str_cat.h"

namespace kmend::tablet_copy {

using tserver::DataIdPB;

std::string DataIdName(const DataIdPB& id) {
  switch (id.type()) {
    case DataIdPB::BLOCK:
      return absl::StrCat("block ", id.block_id().id());
    case DataIdPB::LOG_SEGMENT:
      return absl::StrCat("WAL segment ", id.wal_segment_seqno());
    case DataIdPB::SUPER_BLOCK:
      return "superblock";
    default:
      return absl::StrCat("data id of type ", static_cast<int>(id.type()));
  }
}

}  // namespace kmend::tablet_copy
