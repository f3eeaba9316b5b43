// The data of one tablet replica: an in-memory store of recently applied
// writes over at most one immutable rowset of column blocks.
//
// Model (a reference server, kept simple on purpose):
//   - Apply(ops, op_index) applies a committed write op to the memstore, an
//     ordered map encoded key -> (row or tombstone, op index). INSERT fails for
//     an existing live key, UPSERT inserts or replaces, DELETE fails for a
//     missing key; each row op succeeds or fails on its own (ApplyResult), the
//     same way on every replica, because all replicas apply the same ops in
//     the same order.
//   - Flush() writes a full snapshot: the rowset merged with the memstore
//     (tombstones drop their rows) becomes one new rowset (one column block
//     per column, rows in key order). So there is always at most one rowset,
//     and a delete of a flushed row is a memstore tombstone until the next
//     flush rewrites the rowset without the row. Flush cost is proportional to
//     the tablet's size, fine for a reference server, not for a real one.
//   - Crash safety of Flush: (1) new column blocks written and synced; (2) the
//     superblock naming them, with last_flushed_op_index and the old blocks in
//     orphaned_blocks, replaced atomically; (3) old blocks deleted; (4) at the
//     next superblock write orphaned_blocks is cleared. A crash before (2)
//     leaves the old superblock, which still loads (the new blocks are
//     unreferenced; Verify/FindUnreferencedBlocks reports them). A crash after
//     (2) re-deletes the orphaned blocks at the next Open.
//   - Bootstrap: Open loads the superblock, reads and verifies every column
//     block (CRC and decode) into memory; the server then replays WAL ops with
//     index > last_flushed_op_index() through Apply.
//   - Reads (Get, Scan, Checksum) see the rowset overlaid by the memstore.
//
// Thread safety: all methods are thread-safe. Apply/Scan/Get/Checksum take a
// mutex briefly; Flush does its I/O outside it (applies may continue during
// a flush) and flushes are serialized. Lifetime: the LogBlockManager passed in
// must outlive the Tablet.
#ifndef KMEND_LIB_TABLET_TABLET_H_
#define KMEND_LIB_TABLET_TABLET_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/fs/layout.h"
#include "lib/tablet/column_block.h"
#include "lib/tablet/row.h"
#include "lib/tablet/schema.h"
#include "proto/opid.pb.h"
#include "proto/tablet_metadata.pb.h"
#include "proto/write_ops.pb.h"

namespace kmend::tablet {

// Identity of a new tablet (Create).
struct TabletSpec {
  std::string tablet_id;  // canonical uuid
  std::string table_id;
  std::string table_name;
  kmend::SchemaPB schema;
  uint32_t schema_version = 0;
  kmend::PartitionPB partition;
  kmend::PartitionSchemaPB partition_schema;
  int32_t num_replicas = 0;
  // READY for a new replica; COPYING for the target of a tablet copy.
  TabletDataState initial_state = TABLET_DATA_READY;
};

struct ApplyResult {
  // One status per row op of the batch, in order: OK, AlreadyExists (INSERT of
  // a live key), NotFound (DELETE of a missing key), InvalidArgument (cells
  // that do not fit the schema).
  std::vector<absl::Status> row_status;
  int64_t rows_applied = 0;
};

struct ScanSpec {
  // Encoded keys (EncodeKey): rows with start_key <= key < end_key. Empty
  // start: from the first row; empty end: to the last.
  std::string start_key;
  std::string end_key;
  // At most this many rows (0: no limit). Continue after the last returned
  // row with start_key = its encoded key + '\0'.
  size_t limit = 0;
};

struct ScanResult {
  std::vector<Row> rows;
  std::string last_key;  // encoded key of the last row returned
  bool more = false;     // limit reached and rows remain
};

// Order-independent digest of the live rows: the sum (mod 2^64) of
// Hash64(EncodeRowForChecksum(row)) over all rows, so replicas holding the
// same rows agree whatever the order or mix of flushed/unflushed data.
struct TabletChecksum {
  uint64_t digest = 0;
  int64_t row_count = 0;
  int64_t applied_op_index = 0;  // the state it describes
};

struct FlushResult {
  bool flushed = false;  // false: nothing new since the last flush
  int64_t flushed_op_index = 0;
  int64_t rows = 0;
  int64_t blocks_written = 0;
  uint64_t bytes_written = 0;
};

class Tablet {
 public:
  // Creates the superblock of a new, empty tablet. AlreadyExists if there is
  // one, unless that one is TOMBSTONED (a replica coming back, or the target
  // of a new tablet copy): it is replaced. The tablet's WAL and consensus
  // metadata are the caller's.
  static absl::StatusOr<std::unique_ptr<Tablet>> Create(const fs::Layout& layout,
                                                        blocks::LogBlockManager* block_manager,
                                                        const TabletSpec& spec);

  // Opens an existing tablet: loads the superblock and every column block,
  // verifying each (CRC, header, row counts, key order). Any damage returns
  // DataLoss naming the file/block and check; the server then marks the
  // replica FAILED (SetDataState) and never serves it. Open refuses with
  // FailedPrecondition a tablet whose state is not READY (the server decides
  // what to do with COPYING/TOMBSTONED/FAILED ones; see superblock.h).
  static absl::StatusOr<std::unique_ptr<Tablet>> Open(const fs::Layout& layout,
                                                      blocks::LogBlockManager* block_manager,
                                                      const std::string& tablet_id);

  // Tombstones a replica: deletes its data blocks and leaves a superblock in
  // state TOMBSTONED with no rowsets (Kudu's tombstone), recording
  // `last_logged_opid` when given. Works on READY, COPYING and FAILED
  // replicas whose superblock loads (a crash during a tablet copy leaves
  // COPYING: the server tombstones it at start-up). The superblock is written
  // before any block is deleted, so a crash in between only leaves blocks to
  // delete (listed in orphaned_blocks, cleared by the next Create/Tombstone).
  // `reason`, when not empty, is stored as the superblock's failure_reason
  // (why it was tombstoned, for operators) in the same single write.
  // The caller must have closed any Tablet object for it.
  static absl::Status Tombstone(const fs::Layout& layout, blocks::LogBlockManager* block_manager,
                                const std::string& tablet_id,
                                const kmend::consensus::OpId* last_logged_opid = nullptr,
                                const std::string& reason = "");

  // Applies a committed write op. op_index must exceed applied_op_index()
  // (FailedPrecondition otherwise, nothing applied).
  absl::StatusOr<ApplyResult> Apply(const kmend::WriteOpsPB& ops, int64_t op_index);
  // Records that a non-write op (no-op, config change) was applied, so that
  // applied_op_index() and checksums reflect it. op_index > applied_op_index().
  absl::Status MarkApplied(int64_t op_index);

  // The live row with this encoded key, if any.
  std::optional<Row> Get(const std::string& encoded_key) const;
  ScanResult Scan(const ScanSpec& spec) const;
  TabletChecksum Checksum() const;
  int64_t CountRows() const;

  // Writes memstore + rowset as a new rowset (see file comment). A no-op when
  // nothing was applied since the last flush.
  absl::StatusOr<FlushResult> Flush();

  const std::string& tablet_id() const { return tablet_id_; }
  const Schema& schema() const { return schema_; }
  int64_t applied_op_index() const;
  int64_t last_flushed_op_index() const;
  // A copy of the current superblock.
  TabletSuperBlockPB superblock() const;
  // Rows in the memstore (incl. tombstones) and their approximate bytes.
  int64_t memstore_entries() const;
  uint64_t memstore_bytes() const;

 private:
  struct MemEntry {
    std::optional<Row> row;  // nullopt: a tombstone (deleted since last flush)
    int64_t op_index = 0;
  };

  Tablet(fs::Layout layout, blocks::LogBlockManager* bm, Schema schema, TabletSuperBlockPB sb);
  // The visible row for `key`, considering memstore then base.
  const Row* FindLocked(const std::string& key) const ABSL_SHARED_LOCKS_REQUIRED(mu_);
  // Calls fn(key, row) for each visible row with start <= key < end (empty
  // end: no bound) in key order, until fn returns false.
  void VisitLocked(const std::string& start, const std::string& end,
                   const std::function<bool(const std::string&, const Row&)>& fn) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  absl::Status DeleteOrphanedBlocks();

  const fs::Layout layout_;
  blocks::LogBlockManager* const block_manager_;
  const Schema schema_;
  const std::string tablet_id_;

  absl::Mutex flush_mu_ ABSL_ACQUIRED_BEFORE(mu_);  // serializes Flush and superblock writes
  mutable absl::Mutex mu_;
  TabletSuperBlockPB superblock_ ABSL_GUARDED_BY(mu_);
  // Flushed rows (the single rowset), by encoded key.
  std::map<std::string, Row> base_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, MemEntry> mem_ ABSL_GUARDED_BY(mu_);
  uint64_t mem_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t applied_op_index_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kmend::tablet

#endif  // KMEND_LIB_TABLET_TABLET_H_
