// The log block manager. Format: docs/formats/block_container.md.
#include "lib/blocks/log_block_manager.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "lib/format/pb_container.h"
#include "lib/fs/layout.h"
#include "lib/fs/uuid.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/util/status_macros.h"
#include "proto/fs.pb.h"

namespace kmend::blocks {

struct LogBlockManager::Container {
  std::string id;
  std::string data_path;
  std::string metadata_path;
  int data_fd = -1;  // O_RDWR (O_RDONLY when read-only); -1 without .data
  // Opened on the first append (OpenForAppend truncates a torn tail then).
  std::unique_ptr<pbc::Writer> writer;
  uint64_t next_block_offset = 0;
  // False once metadata is known corrupt or an append failed: no more writes.
  bool appendable = true;
  bool full = false;

  ~Container() {
    if (data_fd >= 0) io::sys::Close(data_fd);
  }

  absl::Status EnsureWriter() {
    if (writer != nullptr) return absl::OkStatus();
    ASSIGN_OR_RETURN(writer, pbc::Writer::OpenForAppend(metadata_path));
    return absl::OkStatus();
  }
};

namespace {

uint64_t NowMicros() { return static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())); }

absl::Status DataSync(int fd, const std::string& path) {
  if (io::sys::Fdatasync(fd) != 0) return io::ErrnoError("fdatasync", path, errno);
  return absl::OkStatus();
}

absl::Status PwriteFully(int fd, const std::string& path, uint64_t offset, absl::string_view d) {
  size_t done = 0;
  while (done < d.size()) {
    ssize_t n = io::sys::Pwrite(fd, d.data() + done, d.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return io::ErrnoError(absl::StrCat("pwrite at offset ", offset + done), path, errno);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

LogBlockManager::LogBlockManager(std::string data_dir, BlockManagerOptions options,
                                 uint64_t fs_block_size)
    : data_dir_(std::move(data_dir)), options_(options), fs_block_size_(fs_block_size) {}

LogBlockManager::~LogBlockManager() = default;

absl::StatusOr<std::unique_ptr<LogBlockManager>> LogBlockManager::Open(
    const std::string& data_dir, const BlockManagerOptions& options) {
  DirInstanceMetadataPB instance;
  const std::string instance_path = io::JoinPath(data_dir, fs::kBlockManagerInstanceFileName);
  RETURN_IF_ERROR(pbc::ReadSingleMessageFile(instance_path, &instance));
  const uint64_t bs = instance.filesystem_block_size_bytes();
  if (bs == 0 || (bs & (bs - 1)) != 0) {
    return absl::DataLossError(absl::StrCat(instance_path,
                                            ": field filesystem_block_size_bytes: expected a "
                                            "power of two, found ",
                                            bs));
  }
  std::unique_ptr<LogBlockManager> bm(new LogBlockManager(data_dir, options, bs));
  ASSIGN_OR_RETURN(std::vector<std::string> ids, ListContainerIds(data_dir));
  absl::MutexLock wl(&bm->write_mu_);
  absl::MutexLock l(&bm->mu_);
  BlockId max_id = 0;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(LoadedContainer lc, LoadContainer(data_dir, id, bs));
    LoadReport& rep = bm->load_report_;
    ++rep.containers;
    rep.issues.insert(rep.issues.end(), lc.issues.begin(), lc.issues.end());
    if (lc.max_block_id > max_id) max_id = lc.max_block_id;
    auto c = std::make_unique<Container>();
    c->id = id;
    c->data_path = lc.data_path;
    c->metadata_path = lc.metadata_path;
    c->next_block_offset = lc.next_block_offset;
    c->appendable = lc.data_exists && lc.metadata_exists && !lc.corrupt && !lc.IsOrphan();
    c->full = c->next_block_offset >= options.container_max_size_bytes;
    if (lc.data_exists) {
      int fd = io::sys::Open(lc.data_path.c_str(), (options.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
      if (fd < 0) return io::ErrnoError("open", lc.data_path, errno);
      c->data_fd = fd;
    }
    for (const auto& [bid, loc] : lc.live) {
      if (bm->blocks_.count(bid)) {
        rep.issues.push_back({IssueKind::kDuplicateBlockAcrossContainers, id, lc.metadata_path, 0,
                              bid,
                              absl::StrCat("block also live in container ",
                                           bm->blocks_[bid].container_id,
                                           "; the first container's copy is used")});
        continue;
      }
      bm->blocks_[bid] = loc;
      ++rep.live_blocks;
      rep.live_bytes += static_cast<uint64_t>(loc.length);
    }
    bm->containers_[id] = std::move(c);
  }
  // Never reuse an id: the floor of "now in microseconds" covers ids whose
  // records are gone (an orphan container deleted by repair, a torn CREATE),
  // which a superblock's orphaned_blocks may still name.
  bm->next_block_id_ = std::max<BlockId>(max_id + 1, NowMicros());
  return bm;
}

absl::StatusOr<LogBlockManager::Container*> LogBlockManager::NewContainer() {
  auto c = std::make_unique<Container>();
  c->id = fs::NewUuid();
  c->data_path = io::JoinPath(data_dir_, c->id + kDataSuffix);
  c->metadata_path = io::JoinPath(data_dir_, c->id + kMetadataSuffix);
  int fd = io::sys::Open(c->data_path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return io::ErrnoError("create", c->data_path, errno);
  c->data_fd = fd;
  ASSIGN_OR_RETURN(c->writer, pbc::Writer::Create(c->metadata_path, BlockRecordPB()));
  if (options_.sync) {
    RETURN_IF_ERROR(c->writer->Sync());
    RETURN_IF_ERROR(io::SyncDir(data_dir_));
  }
  Container* raw = c.get();
  absl::MutexLock l(&mu_);
  containers_[c->id] = std::move(c);
  return raw;
}

absl::StatusOr<LogBlockManager::Container*> LogBlockManager::ActiveContainer() {
  if (active_ != nullptr && active_->appendable && !active_->full) return active_;
  active_ = nullptr;
  std::vector<Container*> candidates;
  {
    absl::MutexLock l(&mu_);
    for (auto& [id, c] : containers_) {
      if (c->appendable && !c->full) candidates.push_back(c.get());
    }
  }
  for (Container* c : candidates) {
    // An existing container: continue after its last complete record (a torn
    // tail, already in load_report(), is cut off here).
    if (c->EnsureWriter().ok()) {
      active_ = c;
      return c;
    }
    c->appendable = false;
  }
  ASSIGN_OR_RETURN(active_, NewContainer());
  return active_;
}

absl::StatusOr<std::vector<BlockId>> LogBlockManager::CreateBlocks(
    absl::Span<const absl::string_view> blocks) {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        absl::StrCat(data_dir_, ": block manager opened read-only"));
  }
  if (blocks.empty()) return std::vector<BlockId>{};
  absl::MutexLock wl(&write_mu_);
  ASSIGN_OR_RETURN(Container * c, ActiveContainer());
  std::vector<BlockId> ids;
  std::vector<BlockLocation> locs;
  {
    absl::MutexLock l(&mu_);
    for (size_t i = 0; i < blocks.size(); ++i) ids.push_back(next_block_id_++);
  }
  // A failure in step 1 leaves bytes past next_block_offset that no record
  // names: give them back (truncate), or a flush that ran out of space keeps
  // the space it took, and whatever was freed meanwhile is gone again (found
  // on a full tmpfs: the WAL could then never re-open). Out of space, the
  // container stays appendable: its state is exactly as before the call.
  // Any other error, or a failed truncate, retires it.
  auto give_back = [c](absl::Status s) {
    if (io::sys::Ftruncate(c->data_fd, static_cast<off_t>(c->next_block_offset)) != 0 ||
        s.code() != absl::StatusCode::kResourceExhausted) {
      c->appendable = false;
    }
    return s;
  };
  // 1. The bytes, each block at an aligned offset, then fdatasync.
  uint64_t offset = c->next_block_offset;
  for (absl::string_view b : blocks) {
    absl::Status s = PwriteFully(c->data_fd, c->data_path, offset, b);
    if (!s.ok()) return give_back(s);
    locs.push_back({c->id, static_cast<int64_t>(offset), static_cast<int64_t>(b.size())});
    offset = AlignUp(offset + b.size(), fs_block_size_);
  }
  if (options_.sync) {
    absl::Status s = DataSync(c->data_fd, c->data_path);
    if (!s.ok()) return give_back(s);
  }
  // Whatever happens next, never reuse this range: a failed CREATE append
  // may still reach the disk.
  c->next_block_offset = offset;
  // 2. One CREATE record per block, then sync the metadata.
  const uint64_t now = NowMicros();
  for (size_t i = 0; i < ids.size(); ++i) {
    BlockRecordPB rec;
    rec.mutable_block_id()->set_id(ids[i]);
    rec.set_op_type(CREATE);
    rec.set_timestamp_us(now);
    rec.set_offset(locs[i].offset);
    rec.set_length(locs[i].length);
    absl::Status s = c->writer->Append(rec);
    if (!s.ok()) {
      c->appendable = false;
      return s;
    }
  }
  if (options_.sync) {
    absl::Status s = c->writer->Sync();
    if (!s.ok()) {
      c->appendable = false;
      return s;
    }
  }
  if (c->next_block_offset >= options_.container_max_size_bytes) c->full = true;
  absl::MutexLock l(&mu_);
  for (size_t i = 0; i < ids.size(); ++i) blocks_[ids[i]] = locs[i];
  return ids;
}

absl::StatusOr<BlockId> LogBlockManager::CreateBlock(absl::string_view data) {
  ASSIGN_OR_RETURN(std::vector<BlockId> ids, CreateBlocks({data}));
  return ids[0];
}

absl::StatusOr<std::string> LogBlockManager::ReadBlock(BlockId id) const {
  BlockLocation loc;
  int fd = -1;
  std::string path;
  {
    absl::MutexLock l(&mu_);
    auto it = blocks_.find(id);
    if (it == blocks_.end()) {
      return absl::NotFoundError(absl::StrCat(data_dir_, ": block ", id, " not found"));
    }
    loc = it->second;
    const Container& c = *containers_.at(loc.container_id);
    fd = c.data_fd;
    path = c.data_path;
  }
  if (fd < 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": block ", id, ": the container's .data file is missing"));
  }
  std::string out(static_cast<size_t>(loc.length), '\0');
  absl::Status s = io::PreadFully(fd, path, static_cast<uint64_t>(loc.offset), out.size(),
                                  out.data());
  if (!s.ok()) {
    if (s.code() == absl::StatusCode::kOutOfRange) {
      return absl::DataLossError(absl::StrCat("block ", id, ": range ", loc.offset, "+",
                                              loc.length, " not readable: ", s.message()));
    }
    return s;
  }
  return out;
}

absl::Status LogBlockManager::DeleteBlocks(absl::Span<const BlockId> ids) {
  if (options_.read_only) {
    return absl::FailedPreconditionError(
        absl::StrCat(data_dir_, ": block manager opened read-only"));
  }
  absl::MutexLock wl(&write_mu_);
  std::map<Container*, std::vector<std::pair<BlockId, BlockLocation>>> by_container;
  {
    absl::MutexLock l(&mu_);
    for (BlockId id : ids) {
      auto it = blocks_.find(id);
      if (it == blocks_.end()) {
        return absl::NotFoundError(
            absl::StrCat(data_dir_, ": block ", id, " not found; nothing deleted"));
      }
      by_container[containers_.at(it->second.container_id).get()].emplace_back(id, it->second);
    }
  }
  const uint64_t now = NowMicros();
  for (auto& [c, list] : by_container) {
    RETURN_IF_ERROR(c->EnsureWriter());
    for (const auto& [id, loc] : list) {
      BlockRecordPB rec;
      rec.mutable_block_id()->set_id(id);
      rec.set_op_type(DELETE);
      rec.set_timestamp_us(now);
      RETURN_IF_ERROR(c->writer->Append(rec));
    }
    if (options_.sync) RETURN_IF_ERROR(c->writer->Sync());
    {
      absl::MutexLock l(&mu_);
      for (const auto& [id, loc] : list) blocks_.erase(id);
    }
    // Reclaim the space. Blocks start aligned and the next block starts at
    // the aligned end, so punching to the aligned end touches no other block.
    for (const auto& [id, loc] : list) {
      const uint64_t len = AlignUp(static_cast<uint64_t>(loc.length), fs_block_size_);
      if (len == 0 || c->data_fd < 0) continue;
      if (io::sys::Fallocate(c->data_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, loc.offset,
                      static_cast<off_t>(len)) != 0 &&
          errno != EOPNOTSUPP && errno != ENOSYS) {
        return io::ErrnoError("fallocate(PUNCH_HOLE)", c->data_path, errno);
      }
    }
  }
  return absl::OkStatus();
}

absl::Status LogBlockManager::DeleteBlock(BlockId id) { return DeleteBlocks({id}); }

bool LogBlockManager::HasBlock(BlockId id) const {
  absl::MutexLock l(&mu_);
  return blocks_.count(id) > 0;
}

absl::StatusOr<BlockLocation> LogBlockManager::Locate(BlockId id) const {
  absl::MutexLock l(&mu_);
  auto it = blocks_.find(id);
  if (it == blocks_.end()) {
    return absl::NotFoundError(absl::StrCat(data_dir_, ": block ", id, " not found"));
  }
  return it->second;
}

std::vector<BlockId> LogBlockManager::ListBlocks() const {
  absl::MutexLock l(&mu_);
  std::vector<BlockId> out;
  out.reserve(blocks_.size());
  for (const auto& [id, loc] : blocks_) out.push_back(id);
  return out;
}

}  // namespace kmend::blocks
