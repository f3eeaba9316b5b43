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
#include "lib/copy/served_item.h"
#include "lib/format/pb_container.h"
#include "lib/fs/layout.h"
#include "lib/fs/safe_name.h"
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

}  // namespace


// One item a session serves: its id and how it is served (lib/copy).
struct Item {
  DataIdPB id;
  copy::ServedItem served;
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
};

namespace {
copy::SessionTableOptions TableOptions(const SourceOptions& o) {
  copy::SessionTableOptions t;
  t.idle_timeout = o.session_idle_timeout;
  t.clock = o.clock;
  t.reaper_interval = o.reaper_interval;
  t.max_sessions = o.max_sessions;
  return t;
}
}  // namespace

TabletCopySourceManager::TabletCopySourceManager(TabletCopySourceProvider* provider,
                                                 SourceOptions options)
    : provider_(provider), options_(std::move(options)), sessions_(TableOptions(options_)) {}

TabletCopySourceManager::~TabletCopySourceManager() = default;

int TabletCopySourceManager::ExpireIdleSessions() { return sessions_.ExpireIdle(); }

int TabletCopySourceManager::num_sessions() const { return sessions_.size(); }

absl::StatusOr<tserver::BeginTabletCopySessionResponsePB> TabletCopySourceManager::BeginSession(
    const tserver::BeginTabletCopySessionRequestPB& request) {
  ExpireIdleSessions();
  const std::string& tablet_id = request.tablet_id();
  RETURN_IF_ERROR(fs::ValidateId(tablet_id, "BeginTabletCopySession: tablet_id"));
  if (!options_.server_uuid.empty() && request.requestor_uuid() == options_.server_uuid) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tablet ", tablet_id, ": requestor ", request.requestor_uuid(),
        " is this server: a replica never copies from itself"));
  }
  RETURN_IF_ERROR(sessions_.CheckRoom("tablet copy"));
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
  tserver::BeginTabletCopySessionResponsePB resp;

  // 1. WAL first (see the header: no gap between flushed data and log).
  // A session serves only files inside the replica's root: a symlinked WAL
  // dir or superblock pointing elsewhere is refused, not followed.
  ASSIGN_OR_RETURN(const std::string wal_dir,
                   fs::ResolveUnder(replica.root, absl::StrCat(fs::kWalsDirName, "/", tablet_id),
                                    "tablet copy: WAL dir"));
  ASSIGN_OR_RETURN(std::vector<std::string> names, io::ListDir(wal_dir));
  std::vector<std::pair<uint64_t, std::string>> segments;
  for (const std::string& name : names) {
    if (auto seq = wal::ParseSegmentFileName(name)) segments.emplace_back(*seq, name);
  }
  std::sort(segments.begin(), segments.end());
  std::vector<Item> wal_items;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string path = io::JoinPath(wal_dir, segments[i].second);
    absl::StatusOr<std::shared_ptr<copy::OpenFile>> fd = copy::OpenFile::Open(path);
    if (!fd.ok()) {
      // Garbage-collected between the listing and the open: it held only
      // flushed ops, which the superblock read below covers.
      if (!io::FileExists(path)) continue;
      return fd.status();
    }
    Item item;
    item.id.set_type(DataIdPB::LOG_SEGMENT);
    item.id.set_wal_segment_seqno(segments[i].first);
    ASSIGN_OR_RETURN(const uint64_t size, (*fd)->Size());
    if (i + 1 == segments.size()) {
      // The segment being written: a fixed in-memory snapshot. Appends are
      // sequential, so the snapshot is a prefix of the log, at worst ending
      // in an incomplete batch, which the receiver's WAL recovery cuts off
      // exactly as after a crash.
      std::string bytes(size, '\0');
      RETURN_IF_ERROR((*fd)->ReadAt(0, size, bytes.data()));
      // Preallocated (8 MiB by default) and mostly zeros: only the written
      // part travels; the receiver's reader ends the log at EOF as it would
      // at the zeros.
      bytes.resize(wal::SegmentWrittenLength(bytes));
      item.served = copy::ServedItem::InMemory(std::move(bytes));
    } else {
      item.served.size = size;
      item.served.file = std::move(*fd);
    }
    wal_items.push_back(std::move(item));
  }

  // 2. The superblock: one read of the stored bytes, parsed from memory, so
  // the bytes served and the message agree.
  ASSIGN_OR_RETURN(
      const std::string sb_path,
      fs::ResolveUnder(replica.root, absl::StrCat(fs::kTabletMetaDirName, "/", tablet_id),
                       "tablet copy: superblock"));
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
  sb_item.served = copy::ServedItem::InMemory(std::move(sb_bytes));

  // 3. Blocks of the rowsets (orphaned blocks are the sender's garbage).
  std::map<std::string, std::shared_ptr<copy::OpenFile>> containers;
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
    std::shared_ptr<copy::OpenFile>& fd = containers[loc->container_id];
    const std::string data_path =
        io::JoinPath(replica.block_manager->data_dir(), loc->container_id + ".data");
    if (fd == nullptr) {
      ASSIGN_OR_RETURN(fd, copy::OpenFile::Open(data_path));
    }
    Item item;
    item.id.set_type(DataIdPB::BLOCK);
    item.id.mutable_block_id()->set_id(block_id);
    item.served.size = static_cast<uint64_t>(loc->length);
    item.served.file = fd;
    item.served.base_offset = static_cast<uint64_t>(loc->offset);
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
    pb->set_size_bytes(static_cast<int64_t>(item.served.size));
    if (item.served.crc32c) pb->set_crc32c(*item.served.crc32c);
    std::string key = ItemKey(item.id);
    session->items.emplace(std::move(key), std::move(item));
  };
  add(std::move(sb_item));
  for (Item& item : block_items) add(std::move(item));
  for (Item& item : wal_items) {
    resp.add_wal_segment_seqnos(item.id.wal_segment_seqno());
    add(std::move(item));
  }
  // Checked again: concurrent Begins all passed the first check.
  RETURN_IF_ERROR(sessions_.Add(session->id, session, "tablet copy"));
  return resp;
}

absl::StatusOr<std::shared_ptr<TabletCopySourceManager::Session>>
TabletCopySourceManager::FindSession(const std::string& session_id) {
  std::shared_ptr<Session> session = sessions_.Find(session_id);
  if (session == nullptr) {
    return absl::NotFoundError(absl::StrCat("tablet copy session \"", absl::CEscape(session_id),
                                            "\" not found (never begun, ended or expired)"));
  }
  return session;
}

absl::StatusOr<DataChunkPB> TabletCopySourceManager::FetchData(
    const tserver::FetchDataRequestPB& request) {
  ExpireIdleSessions();
  ASSIGN_OR_RETURN(std::shared_ptr<Session> session, FindSession(request.session_id()));
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
  const bool is_block = item.id.type() == DataIdPB::BLOCK;
  if (is_block && !session->block_manager->HasBlock(item.block_id)) {
    return absl::AbortedError(absl::StrCat(
        what, " was deleted on the source since the session began (a flush); begin a new "
              "session"));
  }
  ASSIGN_OR_RETURN(copy::Chunk read, copy::ReadChunk(item.served, what, request.offset(),
                                                     request.max_length(),
                                                     options_.chunk_size_bytes));
  // Deletion drops the block from the index before punching its bytes, so
  // a block still live after the read was read intact.
  if (is_block && !session->block_manager->HasBlock(item.block_id)) {
    return absl::AbortedError(absl::StrCat(
        what, " was deleted on the source during the read (a flush); begin a new session"));
  }
  DataChunkPB chunk;
  chunk.set_offset(read.offset);
  chunk.set_total_data_length(read.total_size_bytes);
  chunk.set_crc32(read.crc32c);
  *chunk.mutable_data() = std::move(read.data);
  sessions_.Touch(session->id);
  return chunk;
}

absl::Status TabletCopySourceManager::EndSession(const std::string& session_id, bool success) {
  (void)success;  // the anchors are released either way
  if (sessions_.Remove(session_id) == nullptr) {
    return absl::NotFoundError(absl::StrCat("tablet copy session \"", absl::CEscape(session_id),
                                            "\" not found (never begun, ended or expired)"));
  }
  return absl::OkStatus();
}

}  // namespace kmend::tablet_copy
