// Tablet superblock load/store. Format: docs/formats/superblock.md.
#include "lib/tablet/superblock.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"
#include "lib/tablet/schema.h"
#include "lib/util/status_macros.h"

namespace kmend::tablet {

std::string DataStateName(TabletDataState state) {
  switch (state) {
    case TABLET_DATA_READY: return "READY";
    case TABLET_DATA_COPYING: return "COPYING";
    case TABLET_DATA_TOMBSTONED: return "TOMBSTONED";
    case TABLET_DATA_FAILED: return "FAILED";
    case TABLET_DATA_DELETED: return "DELETED";
    default: return "UNKNOWN";
  }
}

absl::Status ValidateSuperBlock(const TabletSuperBlockPB& sb, const std::string& where) {
  auto bad = [&](const std::string& what) {
    return absl::DataLossError(absl::StrCat(where, ": superblock: ", what));
  };
  if (!fs::IsCanonicalUuid(sb.tablet_id())) {
    return bad(absl::StrCat("field tablet_id: expected 32 lowercase hex, found \"",
                            sb.tablet_id(), "\""));
  }
  auto schema = Schema::FromPB(sb.schema());
  if (!schema.ok()) return bad(absl::StrCat("field schema: ", schema.status().message()));
  if (sb.last_flushed_op_index() < 0) {
    return bad(absl::StrCat("field last_flushed_op_index: negative (", sb.last_flushed_op_index(),
                            ")"));
  }
  std::set<uint64_t> seen;
  for (int r = 0; r < sb.rowsets_size(); ++r) {
    const RowSetDataPB& rs = sb.rowsets(r);
    if (static_cast<size_t>(rs.columns_size()) != schema->num_columns()) {
      return bad(absl::StrCat("rowsets[", r, "] (id ", rs.id(), "): ", rs.columns_size(),
                              " column blocks, schema has ", schema->num_columns(), " columns"));
    }
    for (int c = 0; c < rs.columns_size(); ++c) {
      const ColumnDataPB& col = rs.columns(c);
      if (col.has_column_id() &&
          static_cast<uint32_t>(col.column_id()) != schema->column(c).id) {
        return bad(absl::StrCat("rowsets[", r, "].columns[", c, "]: column_id ", col.column_id(),
                                ", expected ", schema->column(c).id, " (schema order)"));
      }
      if (!seen.insert(col.block().id()).second) {
        return bad(absl::StrCat("rowsets[", r, "].columns[", c, "]: block ", col.block().id(),
                                " named twice"));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<TabletSuperBlockPB> LoadSuperBlock(const fs::Layout& layout,
                                                  const std::string& tablet_id) {
  const std::string path = layout.TabletMetaPath(tablet_id);
  if (!io::FileExists(path)) {
    return absl::NotFoundError(absl::StrCat(path, ": no superblock for tablet ", tablet_id));
  }
  TabletSuperBlockPB sb;
  absl::Status s = pbc::ReadSingleMessageFile(path, &sb);
  if (!s.ok()) {
    // A superblock that cannot be parsed is as lost as one with a bad CRC.
    if (s.code() == absl::StatusCode::kInvalidArgument ||
        s.code() == absl::StatusCode::kOutOfRange) {
      return absl::DataLossError(s.message());
    }
    return s;
  }
  RETURN_IF_ERROR(ValidateSuperBlock(sb, path));
  if (sb.tablet_id() != tablet_id) {
    return absl::DataLossError(absl::StrCat(path, ": superblock: field tablet_id: expected ",
                                            tablet_id, " (the file name), found ",
                                            sb.tablet_id()));
  }
  return sb;
}

absl::Status StoreSuperBlock(const fs::Layout& layout, const TabletSuperBlockPB& sb) {
  const std::string path = layout.TabletMetaPath(sb.tablet_id());
  absl::Status v = ValidateSuperBlock(sb, path);
  if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat("refusing to store: ", v.message()));
  return pbc::WriteSingleMessageFile(path, sb);
}

absl::Status SetDataState(const fs::Layout& layout, const std::string& tablet_id,
                          TabletDataState state, const std::string& failure_reason) {
  ASSIGN_OR_RETURN(TabletSuperBlockPB sb, LoadSuperBlock(layout, tablet_id));
  sb.set_tablet_data_state(state);
  if (state == TABLET_DATA_FAILED ||
      (state == TABLET_DATA_TOMBSTONED && !failure_reason.empty())) {
    sb.set_failure_reason(failure_reason);
  } else {
    sb.clear_failure_reason();
  }
  return StoreSuperBlock(layout, sb);
}

std::vector<uint64_t> RowSetBlockIds(const TabletSuperBlockPB& sb) {
  std::vector<uint64_t> out;
  for (const RowSetDataPB& rs : sb.rowsets()) {
    for (const ColumnDataPB& c : rs.columns()) out.push_back(c.block().id());
  }
  return out;
}

std::vector<uint64_t> ReferencedBlockIds(const TabletSuperBlockPB& sb) {
  std::vector<uint64_t> out = RowSetBlockIds(sb);
  for (const kmend::BlockIdPB& b : sb.orphaned_blocks()) out.push_back(b.id());
  return out;
}

absl::Status RemapBlockIds(const std::map<uint64_t, uint64_t>& mapping, TabletSuperBlockPB* sb) {
  for (uint64_t id : RowSetBlockIds(*sb)) {
    if (!mapping.count(id)) {
      return absl::NotFoundError(absl::StrCat("tablet ", sb->tablet_id(), ": block ", id,
                                              " has no local copy"));
    }
  }
  for (RowSetDataPB& rs : *sb->mutable_rowsets()) {
    for (ColumnDataPB& c : *rs.mutable_columns()) {
      c.mutable_block()->set_id(mapping.at(c.block().id()));
    }
  }
  sb->clear_orphaned_blocks();
  return absl::OkStatus();
}

}  // namespace kmend::tablet
