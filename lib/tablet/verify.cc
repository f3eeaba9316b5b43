// Offline verification of tablets (see verify.h).
#include "lib/tablet/verify.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "lib/fs/fs_manager.h"
#include "lib/tablet/column_block.h"
#include "lib/tablet/rowset.h"
#include "lib/tablet/schema.h"
#include "lib/tablet/superblock.h"
#include "lib/util/status_macros.h"

namespace kmend::tablet {

namespace {

absl::StatusOr<std::unique_ptr<blocks::LogBlockManager>> OpenReadOnly(const fs::Layout& layout) {
  blocks::BlockManagerOptions o;
  o.read_only = true;
  return blocks::LogBlockManager::Open(layout.DataDir(), o);
}

}  // namespace

absl::StatusOr<TabletVerifyReport> Verify(const std::string& root, const std::string& tablet_id,
                                          const blocks::LogBlockManager* block_manager) {
  fs::Layout layout(root);
  std::unique_ptr<blocks::LogBlockManager> owned;
  if (block_manager == nullptr) {
    ASSIGN_OR_RETURN(owned, OpenReadOnly(layout));
    block_manager = owned.get();
  }
  TabletVerifyReport report;
  report.tablet_id = tablet_id;
  report.superblock_path = layout.TabletMetaPath(tablet_id);
  auto sb = LoadSuperBlock(layout, tablet_id);
  if (!sb.ok()) {
    report.superblock_error = std::string(sb.status().message());
    return report;
  }
  report.state = sb->tablet_data_state();
  report.last_flushed_op_index = sb->last_flushed_op_index();
  // LoadSuperBlock validated the schema.
  Schema schema = *Schema::FromPB(sb->schema());
  bool all_blocks_ok = true;
  for (const RowSetDataPB& rs : sb->rowsets()) {
    for (int c = 0; c < rs.columns_size(); ++c) {
      const uint64_t id = rs.columns(c).block().id();
      ++report.blocks_checked;
      auto bytes = block_manager->ReadBlock(id);
      if (!bytes.ok()) {
        all_blocks_ok = false;
        report.block_problems.push_back(
            {id, bytes.status().code() == absl::StatusCode::kNotFound
                     ? "missing from the block manager"
                     : std::string(bytes.status().message())});
        continue;
      }
      auto decoded = DecodeColumnBlock(id, *bytes);
      if (!decoded.ok()) {
        all_blocks_ok = false;
        report.block_problems.push_back({id, std::string(decoded.status().message())});
      }
    }
  }
  // Cross-column checks (types, row counts, key order) once every block is
  // individually sound.
  if (all_blocks_ok) {
    for (const RowSetDataPB& rs : sb->rowsets()) {
      auto rows = ReadRowSet(schema, rs, *block_manager);
      if (!rows.ok()) {
        uint64_t first = rs.columns_size() > 0 ? rs.columns(0).block().id() : 0;
        report.block_problems.push_back({first, std::string(rows.status().message())});
        continue;
      }
      report.rows += static_cast<int64_t>(rows->size());
    }
  }
  return report;
}

absl::StatusOr<std::vector<uint64_t>> FindUnreferencedBlocks(
    const std::string& root, const blocks::LogBlockManager* block_manager) {
  fs::Layout layout(root);
  std::unique_ptr<blocks::LogBlockManager> owned;
  if (block_manager == nullptr) {
    ASSIGN_OR_RETURN(owned, OpenReadOnly(layout));
    block_manager = owned.get();
  }
  std::set<uint64_t> referenced;
  ASSIGN_OR_RETURN(std::vector<std::string> tablets, fs::ListTablets(layout));
  for (const std::string& t : tablets) {
    auto sb = LoadSuperBlock(layout, t);
    if (!sb.ok()) {
      return Annotate(sb.status(), "cannot tell unreferenced blocks apart");
    }
    for (uint64_t id : ReferencedBlockIds(*sb)) referenced.insert(id);
  }
  std::vector<uint64_t> out;
  for (uint64_t id : block_manager->ListBlocks()) {
    if (!referenced.count(id)) out.push_back(id);
  }
  return out;
}

absl::StatusOr<std::vector<uint64_t>> DeleteUnreferencedBlocks(
    const std::string& root, blocks::LogBlockManager* block_manager, bool apply) {
  if (apply && block_manager == nullptr) {
    return absl::InvalidArgumentError("deleting unreferenced blocks needs a writable block manager");
  }
  ASSIGN_OR_RETURN(std::vector<uint64_t> ids, FindUnreferencedBlocks(root, block_manager));
  if (apply && !ids.empty()) {
    RETURN_IF_ERROR(Annotate(block_manager->DeleteBlocks(ids), "deleting unreferenced blocks"));
  }
  return ids;
}

}  // namespace kmend::tablet
