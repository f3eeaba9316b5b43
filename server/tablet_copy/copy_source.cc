#include "server/tablet_copy/copy_source.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/format/crc32c.h"
#include "lib/format/pb_container.h"
#include "lib/fs/layout.h"
#include "lib/fs/uuid.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/tablet/superblock.h"
#include "lib/util/status_macros.h"
#include "lib/wal/format.h"

namespace kmend::tablet_copy {

using tserver::DataChunkPB;
using tserver::DataIdPB;

namespace {

// An open read-only descriptor, closed when the last holder lets go.
struct Fd {
  explicit Fd(int fd) : fd(fd) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  const int fd;
};

std::string ItemKey(const DataIdPB& id) {
  switch (id.type()) {
    case DataIdPB::BLOCK:
      return absl::StrCat("b", id.block_id().id());
    case DataIdPB::LOG_SEGMENT:
      return absl::StrCat("w", id.wal_segment_seqno());
    case DataIdPB::SUPER_BLOCK:
      return "s";
    default:
      return "";
  }
}

absl::StatusOr<std::shared_ptr<Fd>> OpenReadOnly(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io::ErrnoError("open", path, errno);
  return std::make_shared<Fd>(fd);
}

absl::StatusOr<uint64_t> FdSize(const Fd& fd, const std::string& path) {
  struct stat st;
  if (::fstat(fd.fd, &st) != 0) return io::ErrnoError("fstat", path, errno);
  return static_cast<uint64_t>(st.st_size);
}

// The sequence number of a WAL segment file name ("wal-000000012"), or
// nullopt for anything else (temp files, other files).
std::optional<uint64_t> SegmentSeqno(const std::string& name) {
  if (!absl::StartsWith(name, wal::kSegmentFilePrefix) || io::IsTempFileName(name)) {
    return std::nullopt;
  }
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(name.substr(wal::kSegmentFilePrefix.size()), &seq)) return std::nullopt;
  if (wal::SegmentFileName(seq) != name) return std::nullopt;
  return seq;
}

}  // namespace

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

// One item a session serves. Exactly one source: `bytes` (in memory), or
// `fd` + `base_offset` (a WAL segment file or a block's container).
struct Item {
  DataIdPB id;
  uint64_t size = 0;
  std::optional<uint32_t> crc32c;  // whole-item CRC when known cheaply
  std::string bytes;
  bool in_memory = false;
  std::shared_ptr<Fd> fd;
  std::string path;  // for messages
  uint64_t base_offset = 0;
  uint64_t block_id = 0;  // BLOCK: checked live after each read
};

class TabletCopySourceManager::Session {
 public:
  std::string id;
  std::string tablet_id;
  std::string requestor_uuid;
  blocks::LogBlockManager* block_manager = nullptr;
  std::map<std::string, Item> items;  // by ItemKey; immutable after Begin
  // The provider's anchor (SourceReplica::anchor): released with the session.
  std::shared_ptr<void> anchor;

  absl::Time last_used() const {
    absl::MutexLock l(&mu);
    return last_used_;
  }
  void Touch(absl::Time now) {
    absl::MutexLock l(&mu);
    last_used_ = std::max(last_used_, now);
  }

 private:
  mutable absl::Mutex mu;
  absl::Time last_used_ ABSL_GUARDED_BY(mu);
};

TabletCopySourceManager::TabletCopySourceManager(TabletCopySourceProvider* provider,
                                                 SourceOptions options)
    : provider_(provider), options_(std::move(options)) {
  if (options_.reaper_interval > absl::ZeroDuration()) {
    reaper_ = std::thread([this] { ReaperLoop(); });
  }
}

TabletCopySourceManager::~TabletCopySourceManager() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (reaper_.joinable()) reaper_.join();
  absl::MutexLock l(&mu_);
  sessions_.clear();
}

void TabletCopySourceManager::ReaperLoop() {
  absl::MutexLock l(&mu_);
  while (!stopping_) {
    // Wakes early when the destructor sets stopping_.
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.reaper_interval);
    if (stopping_) break;
    mu_.Unlock();
    ExpireIdleSessions();
    mu_.Lock();
  }
}

int TabletCopySourceManager::ExpireIdleSessions() {
  const absl::Time now = Now();
  // Sessions are destroyed (descriptors closed) outside the lock.
  std::vector<std::shared_ptr<Session>> expired;
  {
    absl::MutexLock l(&mu_);
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      if (now - it->second->last_used() > options_.session_idle_timeout) {
        expired.push_back(std::move(it->second));
        it = sessions_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return static_cast<int>(expired.size());
}

int TabletCopySourceManager::num_sessions() const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(sessions_.size());
}

absl::StatusOr<tserver::BeginTabletCopySessionResponsePB> TabletCopySourceManager::BeginSession(
    const tserver::BeginTabletCopySessionRequestPB& request) {
  ExpireIdleSessions();
  const std::string& tablet_id = request.tablet_id();
  if (!fs::IsCanonicalUuid(tablet_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("BeginTabletCopySession: tablet_id: expected 32 lowercase hex characters, "
                     "found \"", absl::CEscape(tablet_id), "\""));
  }
  if (!options_.server_uuid.empty() && request.requestor_uuid() == options_.server_uuid) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tablet ", tablet_id, ": requestor ", request.requestor_uuid(),
        " is this server: a replica never copies from itself"));
  }
  {
    absl::MutexLock l(&mu_);
    if (static_cast<int>(sessions_.size()) >= options_.max_sessions) {
      return absl::UnavailableError(absl::StrCat("tablet copy: ", sessions_.size(),
                                                 " sessions open (the limit); retry later"));
    }
  }
  ASSIGN_OR_RETURN(SourceReplica replica, provider_->GetReplica(tablet_id));
  if (!replica.ready) {
    return absl::FailedPreconditionError(
        absl::StrCat("tablet ", tablet_id, " is not READY on this server"));
  }
  if (replica.block_manager == nullptr) {
    return absl::InternalError(absl::StrCat("tablet ", tablet_id, ": provider gave no block manager"));
  }
  const fs::Layout layout(replica.root);
  auto session = std::make_shared<Session>();
  session->anchor = std::move(replica.anchor);
  session->id = fs::NewUuid();
  session->tablet_id = tablet_id;
  session->requestor_uuid = request.requestor_uuid();
  session->block_manager = replica.block_manager;
  session->Touch(Now());
  tserver::BeginTabletCopySessionResponsePB resp;

  // 1. WAL first (see the header: no gap between flushed data and log).
  const std::string wal_dir = layout.WalDir(tablet_id);
  ASSIGN_OR_RETURN(std::vector<std::string> names, io::ListDir(wal_dir));
  std::vector<std::pair<uint64_t, std::string>> segments;
  for (const std::string& name : names) {
    if (auto seq = SegmentSeqno(name)) segments.emplace_back(*seq, name);
  }
  std::sort(segments.begin(), segments.end());
  std::vector<Item> wal_items;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string path = io::JoinPath(wal_dir, segments[i].second);
    absl::StatusOr<std::shared_ptr<Fd>> fd = OpenReadOnly(path);
    if (!fd.ok()) {
      // Garbage-collected between the listing and the open: it held only
      // flushed ops, which the superblock read below covers.
      if (!io::FileExists(path)) continue;
      return fd.status();
    }
    Item item;
    item.id.set_type(DataIdPB::LOG_SEGMENT);
    item.id.set_wal_segment_seqno(segments[i].first);
    item.path = path;
    ASSIGN_OR_RETURN(item.size, FdSize(**fd, path));
    if (i + 1 == segments.size()) {
      // The segment being written: a fixed in-memory snapshot. Appends are
      // sequential, so the snapshot is a prefix of the log, at worst ending
      // in an incomplete batch, which the receiver's WAL recovery cuts off
      // exactly as after a crash.
      item.bytes.resize(item.size);
      RETURN_IF_ERROR(io::PreadFully((*fd)->fd, path, 0, item.size, item.bytes.data()));
      item.in_memory = true;
      item.crc32c = crc32c::Value(item.bytes);
    } else {
      item.fd = std::move(*fd);
    }
    wal_items.push_back(std::move(item));
  }

  // 2. The superblock: one read of the stored bytes, parsed from memory, so
  // the bytes served and the message agree.
  const std::string sb_path = layout.TabletMetaPath(tablet_id);
  ASSIGN_OR_RETURN(std::string sb_bytes, io::ReadFileToString(sb_path));
  tablet::TabletSuperBlockPB sb;
  {
    ASSIGN_OR_RETURN(auto reader, pbc::Reader::OpenBuffer(sb_path, sb_bytes));
    ASSIGN_OR_RETURN(pbc::Reader::Next next, reader->ReadNextMessage(&sb));
    if (next != pbc::Reader::Next::kRecord) {
      return absl::DataLossError(absl::StrCat(sb_path, ": superblock: no complete record"));
    }
    RETURN_IF_ERROR(tablet::ValidateSuperBlock(sb, sb_path));
  }
  if (sb.tablet_data_state() != tablet::TABLET_DATA_READY) {
    return absl::FailedPreconditionError(
        absl::StrCat(sb_path, ": tablet_data_state: expected READY, found ",
                     tablet::DataStateName(sb.tablet_data_state())));
  }
  Item sb_item;
  sb_item.id.set_type(DataIdPB::SUPER_BLOCK);
  sb_item.size = sb_bytes.size();
  sb_item.crc32c = crc32c::Value(sb_bytes);
  sb_item.bytes = std::move(sb_bytes);
  sb_item.in_memory = true;
  sb_item.path = sb_path;

  // 3. Blocks of the rowsets (orphaned blocks are the sender's garbage).
  std::map<std::string, std::shared_ptr<Fd>> containers;
  std::vector<Item> block_items;
  for (uint64_t block_id : tablet::RowSetBlockIds(sb)) {
    absl::StatusOr<blocks::BlockLocation> loc = replica.block_manager->Locate(block_id);
    if (!loc.ok()) {
      if (absl::IsNotFound(loc.status())) {
        return absl::AbortedError(absl::StrCat(
            sb_path, ": block ", block_id,
            " named by the superblock is gone (a flush replaced it meanwhile); retry"));
      }
      return loc.status();
    }
    std::shared_ptr<Fd>& fd = containers[loc->container_id];
    const std::string data_path =
        io::JoinPath(replica.block_manager->data_dir(), loc->container_id + ".data");
    if (fd == nullptr) {
      ASSIGN_OR_RETURN(fd, OpenReadOnly(data_path));
    }
    Item item;
    item.id.set_type(DataIdPB::BLOCK);
    item.id.mutable_block_id()->set_id(block_id);
    item.size = static_cast<uint64_t>(loc->length);
    item.fd = fd;
    item.path = data_path;
    item.base_offset = static_cast<uint64_t>(loc->offset);
    item.block_id = block_id;
    block_items.push_back(std::move(item));
  }

  // 4. Consensus state.
  if (replica.cstate) {
    *resp.mutable_initial_cstate() = *replica.cstate;
  } else {
    ASSIGN_OR_RETURN(consensus::ConsensusMetadataPB cmeta,
                     meta::LoadConsensusMeta(layout.ConsensusMetaPath(tablet_id)));
    resp.mutable_initial_cstate()->set_current_term(cmeta.current_term());
    *resp.mutable_initial_cstate()->mutable_committed_config() = cmeta.committed_config();
  }

  resp.set_session_id(session->id);
  resp.set_session_idle_timeout_millis(absl::ToInt64Milliseconds(options_.session_idle_timeout));
  resp.set_superblock(sb.SerializeAsString());
  resp.set_responder_uuid(options_.server_uuid);
  auto add = [&](Item item) {
    tserver::CopyItemPB* pb = resp.add_items();
    *pb->mutable_id() = item.id;
    pb->set_size_bytes(static_cast<int64_t>(item.size));
    if (item.crc32c) pb->set_crc32c(*item.crc32c);
    std::string key = ItemKey(item.id);
    session->items.emplace(std::move(key), std::move(item));
  };
  add(std::move(sb_item));
  for (Item& item : block_items) add(std::move(item));
  for (Item& item : wal_items) {
    resp.add_wal_segment_seqnos(item.id.wal_segment_seqno());
    add(std::move(item));
  }
  absl::MutexLock l(&mu_);
  // Checked again: concurrent Begins all passed the first check.
  if (static_cast<int>(sessions_.size()) >= options_.max_sessions) {
    return absl::UnavailableError(absl::StrCat("tablet copy: ", sessions_.size(),
                                               " sessions open (the limit); retry later"));
  }
  sessions_[session->id] = session;
  return resp;
}

absl::StatusOr<std::shared_ptr<TabletCopySourceManager::Session>>
TabletCopySourceManager::FindSession(const std::string& session_id) {
  absl::MutexLock l(&mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("tablet copy session \"", absl::CEscape(session_id),
                                            "\" not found (never begun, ended or expired)"));
  }
  return it->second;
}

absl::StatusOr<DataChunkPB> TabletCopySourceManager::FetchData(
    const tserver::FetchDataRequestPB& request) {
  ExpireIdleSessions();
  ASSIGN_OR_RETURN(std::shared_ptr<Session> session, FindSession(request.session_id()));
  session->Touch(Now());
  const std::string what =
      absl::StrCat("session ", session->id, " (tablet ", session->tablet_id, "): ",
                   DataIdName(request.data_id()));
  const std::string key = ItemKey(request.data_id());
  if (key.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": unknown data id type"));
  }
  auto it = session->items.find(key);
  if (it == session->items.end()) {
    return absl::NotFoundError(absl::StrCat(what, " is not part of this session"));
  }
  const Item& item = it->second;
  if (request.max_length() < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ": max_length: expected >= 0, found ", request.max_length()));
  }
  const uint64_t offset = request.offset();
  if (offset > item.size || (offset == item.size && item.size > 0)) {
    return absl::OutOfRangeError(absl::StrCat(what, ": offset ", offset,
                                              " is at or past the end (", item.size, " bytes)"));
  }
  uint64_t len = static_cast<uint64_t>(options_.chunk_size_bytes);
  if (request.max_length() > 0) len = std::min<uint64_t>(len, request.max_length());
  len = std::min(len, item.size - offset);

  DataChunkPB chunk;
  chunk.set_offset(offset);
  chunk.set_total_data_length(static_cast<int64_t>(item.size));
  std::string* data = chunk.mutable_data();
  if (item.in_memory) {
    data->assign(item.bytes, offset, len);
  } else {
    if (item.id.type() == DataIdPB::BLOCK && !session->block_manager->HasBlock(item.block_id)) {
      return absl::AbortedError(absl::StrCat(
          what, " was deleted on the source since the session began (a flush); begin a new "
                "session"));
    }
    data->resize(len);
    RETURN_IF_ERROR(Annotate(
        io::PreadFully(item.fd->fd, item.path, item.base_offset + offset, len, data->data()),
        what));
    // Deletion drops the block from the index before punching its bytes, so
    // a block still live after the read was read intact.
    if (item.id.type() == DataIdPB::BLOCK && !session->block_manager->HasBlock(item.block_id)) {
      return absl::AbortedError(absl::StrCat(
          what, " was deleted on the source during the read (a flush); begin a new session"));
    }
  }
  chunk.set_crc32(crc32c::Value(*data));
  session->Touch(Now());
  return chunk;
}

absl::Status TabletCopySourceManager::EndSession(const std::string& session_id, bool success) {
  (void)success;  // the anchors are released either way
  std::shared_ptr<Session> ended;
  absl::MutexLock l(&mu_);
  auto it = sessions_.find(session_id);
  if (it == sessions_.end()) {
    return absl::NotFoundError(absl::StrCat("tablet copy session \"", absl::CEscape(session_id),
                                            "\" not found (never begun, ended or expired)"));
  }
  ended = std::move(it->second);
  sessions_.erase(it);
  return absl::OkStatus();
}

}  // namespace kmend::tablet_copy
