// The tablet's data: memstore over one rowset. Design in tablet.h.
#include "lib/tablet/tablet.h"

#include "absl/strings/str_cat.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/tablet/partition.h"
#include "lib/tablet/rowset.h"
#include "lib/tablet/superblock.h"
#include "lib/util/status_macros.h"

namespace kmend::tablet {

namespace {

uint64_t ApproxBytes(const std::string& key, const Row* row) {
  uint64_t n = key.size() + 32;
  if (row == nullptr) return n;
  for (const Value& v : *row) {
    n += sizeof(Value);
    if (auto* s = std::get_if<std::string>(&v)) n += s->size();
  }
  return n;
}

}  // namespace

Tablet::Tablet(fs::Layout layout, blocks::LogBlockManager* bm, Schema schema,
               TabletSuperBlockPB sb)
    : layout_(std::move(layout)),
      block_manager_(bm),
      schema_(std::move(schema)),
      tablet_id_(sb.tablet_id()),
      superblock_(std::move(sb)) {
  applied_op_index_ = superblock_.last_flushed_op_index();
}

absl::StatusOr<std::unique_ptr<Tablet>> Tablet::Create(const fs::Layout& layout,
                                                       blocks::LogBlockManager* block_manager,
                                                       const TabletSpec& spec) {
  if (!fs::IsCanonicalUuid(spec.tablet_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("tablet id \"", spec.tablet_id, "\" is not 32 lowercase hex characters"));
  }
  ASSIGN_OR_RETURN(Schema schema, Schema::FromPB(spec.schema));
  const std::string path = layout.TabletMetaPath(spec.tablet_id);
  TabletSuperBlockPB sb;
  if (io::FileExists(path)) {
    auto old = LoadSuperBlock(layout, spec.tablet_id);
    if (!old.ok() || old->tablet_data_state() != TABLET_DATA_TOMBSTONED) {
      return absl::AlreadyExistsError(absl::StrCat(
          path, ": tablet already exists",
          old.ok() ? absl::StrCat(" in state ", DataStateName(old->tablet_data_state()))
                   : absl::StrCat(" (unreadable: ", old.status().message(), ")")));
    }
    // Blocks a crash kept the tombstone from deleting: keep them listed so
    // that they are deleted later rather than leaked.
    for (const kmend::BlockIdPB& b : old->orphaned_blocks()) {
      if (block_manager->HasBlock(b.id())) *sb.add_orphaned_blocks() = b;
    }
  }
  sb.set_table_id(spec.table_id);
  sb.set_tablet_id(spec.tablet_id);
  sb.set_last_durable_mrs_id(0);
  sb.set_table_name(spec.table_name);
  *sb.mutable_schema() = schema.ToPB();
  sb.set_schema_version(spec.schema_version);
  sb.set_tablet_data_state(spec.initial_state);
  *sb.mutable_partition() = spec.partition;
  *sb.mutable_partition_schema() = spec.partition_schema;
  sb.set_supports_live_row_count(true);
  sb.set_last_flushed_op_index(0);
  if (spec.num_replicas > 0) sb.set_num_replicas(spec.num_replicas);
  RETURN_IF_ERROR(StoreSuperBlock(layout, sb));
  return std::unique_ptr<Tablet>(new Tablet(layout, block_manager, std::move(schema), sb));
}

absl::StatusOr<std::unique_ptr<Tablet>> Tablet::Open(const fs::Layout& layout,
                                                     blocks::LogBlockManager* block_manager,
                                                     const std::string& tablet_id) {
  ASSIGN_OR_RETURN(TabletSuperBlockPB sb, LoadSuperBlock(layout, tablet_id));
  const std::string path = layout.TabletMetaPath(tablet_id);
  if (sb.tablet_data_state() != TABLET_DATA_READY) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, ": tablet data state is ", DataStateName(sb.tablet_data_state()),
                     ", not READY"));
  }
  ASSIGN_OR_RETURN(Schema schema, Schema::FromPB(sb.schema()));
  std::map<std::string, Row> base;
  for (const RowSetDataPB& rs : sb.rowsets()) {
    auto rows = ReadRowSet(schema, rs, *block_manager);
    if (!rows.ok()) {
      return absl::DataLossError(absl::StrCat("tablet ", tablet_id, " (", path,
                                              "): ", rows.status().message()));
    }
    // With kmend's flush there is one rowset; should several exist, later
    // ones are newer and win.
    for (auto& [key, row] : *rows) base[key] = std::move(row);
  }
  std::unique_ptr<Tablet> t(new Tablet(layout, block_manager, std::move(schema), std::move(sb)));
  {
    absl::MutexLock l(&t->mu_);
    t->base_ = std::move(base);
  }
  // A crash right after a flush's superblock write leaves its predecessor's
  // blocks behind; delete them now. Failure only wastes space.
  (void)t->DeleteOrphanedBlocks();
  return t;
}

absl::Status Tablet::DeleteOrphanedBlocks() {
  std::vector<blocks::BlockId> ids;
  {
    absl::ReaderMutexLock l(&mu_);
    for (const kmend::BlockIdPB& b : superblock_.orphaned_blocks()) {
      if (block_manager_->HasBlock(b.id())) ids.push_back(b.id());
    }
  }
  if (ids.empty()) return absl::OkStatus();
  return block_manager_->DeleteBlocks(ids);
}

absl::Status Tablet::Tombstone(const fs::Layout& layout, blocks::LogBlockManager* block_manager,
                               const std::string& tablet_id,
                               const kmend::consensus::OpId* last_logged_opid,
                               const std::string& reason) {
  ASSIGN_OR_RETURN(TabletSuperBlockPB sb, LoadSuperBlock(layout, tablet_id));
  std::vector<uint64_t> to_delete;
  for (uint64_t id : ReferencedBlockIds(sb)) {
    if (block_manager->HasBlock(id)) to_delete.push_back(id);
  }
  sb.clear_rowsets();
  sb.clear_orphaned_blocks();
  for (uint64_t id : to_delete) sb.add_orphaned_blocks()->set_id(id);
  sb.set_tablet_data_state(TABLET_DATA_TOMBSTONED);
  sb.clear_failure_reason();
  if (!reason.empty()) sb.set_failure_reason(reason);
  if (last_logged_opid != nullptr) *sb.mutable_tombstone_last_logged_opid() = *last_logged_opid;
  RETURN_IF_ERROR(StoreSuperBlock(layout, sb));
  if (to_delete.empty()) return absl::OkStatus();
  return Annotate(block_manager->DeleteBlocks(to_delete),
                  absl::StrCat("tablet ", tablet_id, ": tombstone: deleting blocks"));
}

const Row* Tablet::FindLocked(const std::string& key) const {
  auto m = mem_.find(key);
  if (m != mem_.end()) return m->second.row ? &*m->second.row : nullptr;
  auto b = base_.find(key);
  return b == base_.end() ? nullptr : &b->second;
}

void Tablet::VisitLocked(const std::string& start, const std::string& end,
                         const std::function<bool(const std::string&, const Row&)>& fn) const {
  auto b = base_.lower_bound(start);
  auto m = mem_.lower_bound(start);
  auto in_range = [&](const std::string& k) { return end.empty() || k < end; };
  while (true) {
    const bool b_ok = b != base_.end() && in_range(b->first);
    const bool m_ok = m != mem_.end() && in_range(m->first);
    if (!b_ok && !m_ok) return;
    if (m_ok && (!b_ok || m->first <= b->first)) {
      // The memstore entry is newer than the base row with the same key.
      if (b_ok && b->first == m->first) ++b;
      const auto& entry = *m++;
      if (entry.second.row && !fn(entry.first, *entry.second.row)) return;
    } else {
      const auto& entry = *b++;
      if (!fn(entry.first, entry.second)) return;
    }
  }
}

absl::StatusOr<ApplyResult> Tablet::Apply(const kmend::WriteOpsPB& ops, int64_t op_index) {
  absl::MutexLock l(&mu_);
  if (op_index <= applied_op_index_) {
    return absl::FailedPreconditionError(absl::StrCat("tablet ", tablet_id_, ": op index ",
                                                      op_index, " already applied (applied up to ",
                                                      applied_op_index_, ")"));
  }
  ApplyResult result;
  result.row_status.reserve(ops.ops_size());
  for (const kmend::RowOpPB& op : ops.ops()) {
    absl::Status st;
    switch (op.type()) {
      case kmend::RowOpPB::INSERT:
      case kmend::RowOpPB::UPSERT: {
        auto row = RowFromCells(schema_, op.cells());
        if (!row.ok()) {
          st = row.status();
          break;
        }
        auto key = EncodeKey(schema_, *row);
        if (!key.ok()) {
          st = key.status();
          break;
        }
        if (op.type() == kmend::RowOpPB::INSERT && FindLocked(*key) != nullptr) {
          Row key_values(row->begin(), row->begin() + schema_.num_key_columns());
          st = absl::AlreadyExistsError(
              absl::StrCat("key ", RowToString(key_values), " already exists"));
          break;
        }
        MemEntry& e = mem_[*key];
        e.row = *std::move(row);
        e.op_index = op_index;
        mem_bytes_ += ApproxBytes(*key, &*e.row);
        break;
      }
      case kmend::RowOpPB::DELETE: {
        auto key_values = KeyFromCells(schema_, op.cells());
        if (!key_values.ok()) {
          st = key_values.status();
          break;
        }
        auto key = EncodeKey(schema_, *key_values);
        if (!key.ok()) {
          st = key.status();
          break;
        }
        if (FindLocked(*key) == nullptr) {
          st = absl::NotFoundError(
              absl::StrCat("key ", RowToString(*key_values), " not found"));
          break;
        }
        // Always a tombstone, even for a key only in the memstore: a flush in
        // progress may be writing that row into the new rowset.
        MemEntry& e = mem_[*key];
        e.row.reset();
        e.op_index = op_index;
        mem_bytes_ += ApproxBytes(*key, nullptr);
        break;
      }
      default:
        st = absl::InvalidArgumentError(
            absl::StrCat("row op type ", static_cast<int>(op.type()), " is not supported"));
    }
    if (st.ok()) ++result.rows_applied;
    result.row_status.push_back(std::move(st));
  }
  applied_op_index_ = op_index;
  return result;
}

absl::Status Tablet::MarkApplied(int64_t op_index) {
  absl::MutexLock l(&mu_);
  if (op_index <= applied_op_index_) {
    return absl::FailedPreconditionError(absl::StrCat("tablet ", tablet_id_, ": op index ",
                                                      op_index, " already applied (applied up to ",
                                                      applied_op_index_, ")"));
  }
  applied_op_index_ = op_index;
  return absl::OkStatus();
}

std::optional<Row> Tablet::Get(const std::string& encoded_key) const {
  absl::ReaderMutexLock l(&mu_);
  const Row* r = FindLocked(encoded_key);
  if (r == nullptr) return std::nullopt;
  return *r;
}

ScanResult Tablet::Scan(const ScanSpec& spec) const {
  absl::ReaderMutexLock l(&mu_);
  ScanResult out;
  VisitLocked(spec.start_key, spec.end_key, [&](const std::string& key, const Row& row) {
    if (spec.limit != 0 && out.rows.size() == spec.limit) {
      out.more = true;  // a visible row beyond the limit exists
      return false;
    }
    out.rows.push_back(row);
    out.last_key = key;
    return true;
  });
  return out;
}

TabletChecksum Tablet::Checksum() const {
  absl::ReaderMutexLock l(&mu_);
  TabletChecksum c;
  c.applied_op_index = applied_op_index_;
  VisitLocked("", "", [&](const std::string&, const Row& row) {
    c.digest += Hash64(EncodeRowForChecksum(schema_, row));
    ++c.row_count;
    return true;
  });
  return c;
}

int64_t Tablet::CountRows() const {
  absl::ReaderMutexLock l(&mu_);
  int64_t n = 0;
  VisitLocked("", "", [&](const std::string&, const Row&) {
    ++n;
    return true;
  });
  return n;
}

absl::StatusOr<FlushResult> Tablet::Flush() {
  absl::MutexLock fl(&flush_mu_);
  FlushResult result;
  int64_t snap_index;
  KeyedRows merged;
  TabletSuperBlockPB sb;
  {
    absl::ReaderMutexLock l(&mu_);
    snap_index = applied_op_index_;
    if (mem_.empty() && snap_index == superblock_.last_flushed_op_index()) return result;
    VisitLocked("", "", [&](const std::string& key, const Row& row) {
      merged.emplace_back(key, row);
      return true;
    });
    sb = superblock_;
  }
  // 1. New blocks, synced (outside mu_: applies continue meanwhile).
  std::vector<uint64_t> old_blocks = RowSetBlockIds(sb);
  for (const kmend::BlockIdPB& b : sb.orphaned_blocks()) {
    if (block_manager_->HasBlock(b.id())) old_blocks.push_back(b.id());
  }
  sb.clear_rowsets();
  sb.clear_orphaned_blocks();
  if (!merged.empty()) {
    const uint64_t rowset_id = static_cast<uint64_t>(sb.last_durable_mrs_id()) + 1;
    ASSIGN_OR_RETURN(RowSetDataPB rs, WriteRowSet(schema_, merged, rowset_id, block_manager_));
    *sb.add_rowsets() = rs;
    sb.set_last_durable_mrs_id(static_cast<int64_t>(rowset_id));
    result.blocks_written = rs.columns_size();
    for (const ColumnDataPB& c : rs.columns()) {
      auto loc = block_manager_->Locate(c.block().id());
      if (loc.ok()) result.bytes_written += static_cast<uint64_t>(loc->length);
    }
  }
  for (uint64_t id : old_blocks) sb.add_orphaned_blocks()->set_id(id);
  sb.set_last_flushed_op_index(snap_index);
  // 2. The superblock naming them, atomically. Until this rename the old
  // superblock (and its blocks) is what a restart sees.
  absl::Status stored = StoreSuperBlock(layout_, sb);
  if (!stored.ok()) {
    // Best effort: the new blocks are unreferenced either way.
    std::vector<uint64_t> fresh = RowSetBlockIds(sb);
    (void)block_manager_->DeleteBlocks(fresh);
    return Annotate(stored, absl::StrCat("tablet ", tablet_id_, ": flush"));
  }
  // 3. Switch the in-memory state: the merged rows become the base; memstore
  // entries at or below the snapshot are now in it.
  {
    absl::MutexLock l(&mu_);
    superblock_ = sb;
    base_.clear();
    for (auto& [key, row] : merged) base_.emplace_hint(base_.end(), key, std::move(row));
    mem_bytes_ = 0;
    for (auto it = mem_.begin(); it != mem_.end();) {
      if (it->second.op_index <= snap_index) {
        it = mem_.erase(it);
      } else {
        mem_bytes_ += ApproxBytes(it->first, it->second.row ? &*it->second.row : nullptr);
        ++it;
      }
    }
  }
  // 4. The old blocks. A failure (or crash) here leaves them listed in
  // orphaned_blocks, deleted again at the next Open or flush.
  (void)DeleteOrphanedBlocks();
  result.flushed = true;
  result.flushed_op_index = snap_index;
  result.rows = static_cast<int64_t>(merged.size());
  return result;
}

int64_t Tablet::applied_op_index() const {
  absl::ReaderMutexLock l(&mu_);
  return applied_op_index_;
}

int64_t Tablet::last_flushed_op_index() const {
  absl::ReaderMutexLock l(&mu_);
  return superblock_.last_flushed_op_index();
}

TabletSuperBlockPB Tablet::superblock() const {
  absl::ReaderMutexLock l(&mu_);
  return superblock_;
}

int64_t Tablet::memstore_entries() const {
  absl::ReaderMutexLock l(&mu_);
  return static_cast<int64_t>(mem_.size());
}

uint64_t Tablet::memstore_bytes() const {
  absl::ReaderMutexLock l(&mu_);
  return mem_bytes_;
}

}  // namespace kmend::tablet
