// The tablet superblock, <root>/tablet-meta/<tablet_id>: a single-message PB
// container of kmend.tablet.TabletSuperBlockPB (docs/formats/superblock.md),
// replaced atomically (temp file, fsync, rename, fsync dir) on every change, so
// a crash leaves the old or the new superblock, never a mix.
//
// What it records for a replica: table id/name, schema, partition, the data
// state (READY, COPYING, TOMBSTONED, FAILED — FAILED is kmend's value 100),
// the rowsets (each a list of column block ids, one per schema column), the
// last flushed op index (kmend field 1000) and blocks awaiting deletion.
//
// Thread safety: free functions; callers serialize writes to one tablet's
// superblock (the Tablet does, under its flush lock).
#ifndef KMEND_LIB_TABLET_SUPERBLOCK_H_
#define KMEND_LIB_TABLET_SUPERBLOCK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/fs/layout.h"
#include "proto/tablet_metadata.pb.h"

namespace kmend::tablet {

// Reads and validates (ValidateSuperBlock) the superblock of `tablet_id`.
// NotFound when there is none; DataLoss naming the path for a damaged file.
absl::StatusOr<TabletSuperBlockPB> LoadSuperBlock(const fs::Layout& layout,
                                                  const std::string& tablet_id);

// Validates and atomically replaces the superblock named by sb.tablet_id().
absl::Status StoreSuperBlock(const fs::Layout& layout, const TabletSuperBlockPB& sb);

// Loads, sets the data state (and failure_reason for FAILED, and for
// TOMBSTONED when one is given: why it was tombstoned; cleared otherwise),
// stores. For the server: COPYING before a tablet copy, READY
// after it, TOMBSTONED on eviction, FAILED when verification fails.
absl::Status SetDataState(const fs::Layout& layout, const std::string& tablet_id,
                          TabletDataState state, const std::string& failure_reason = "");

// Internal consistency: tablet id canonical; schema valid (Schema::FromPB);
// every rowset names exactly one column block per schema column, in order;
// no block id used twice; last_flushed_op_index >= 0. DataLoss naming
// `where` (usually the path) and the field otherwise.
absl::Status ValidateSuperBlock(const TabletSuperBlockPB& sb, const std::string& where);

// Every block the superblock references: rowset column blocks first, then
// orphaned_blocks.
std::vector<uint64_t> RowSetBlockIds(const TabletSuperBlockPB& sb);
std::vector<uint64_t> ReferencedBlockIds(const TabletSuperBlockPB& sb);

// For the receiving side of a tablet copy: block ids are per data directory,
// so a copied superblock must name the blocks as the receiver stored them.
// Replaces every rowset block id by mapping[id] (NotFound naming the first
// id without a mapping, and *sb unchanged) and clears orphaned_blocks, which
// name the sender's blocks.
absl::Status RemapBlockIds(const std::map<uint64_t, uint64_t>& mapping, TabletSuperBlockPB* sb);

// "READY", "COPYING", "TOMBSTONED", "FAILED", "DELETED", "UNKNOWN".
std::string DataStateName(TabletDataState state);

}  // namespace kmend::tablet

#endif  // KMEND_LIB_TABLET_SUPERBLOCK_H_
