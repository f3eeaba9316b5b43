#include "server/tablet_copy/copy_client.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <set>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/rpc/status_payloads.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "lib/format/crc32c.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/tablet/column_block.h"
#include "lib/tablet/superblock.h"
#include "lib/tablet/tablet.h"
#include "lib/util/status_macros.h"
#include "lib/wal/format.h"
#include "proto/tablet_copy.grpc.pb.h"
#include "server/common/copy_limits.h"
#include "server/common/grpc_util.h"
#include "server/tablet_copy/chunk_fetcher.h"

namespace kmend::tablet_copy {

using tserver::DataIdPB;

namespace {

// Blocks are written through the block manager in batches of about this
// many bytes: one sync and one superblock update per batch.
constexpr uint64_t kBlockBatchBytes = 64ull << 20;

// A chunk carries up to chunk_size_bytes of data plus a few framing bytes;
// gRPC's default 4 MiB receive limit would refuse a full 4 MiB chunk.
constexpr int kMaxReceiveMessageBytes = 256 << 20;

// The largest size_bytes a source may announce for an item of `type`, and
// the limit's name for the error.
std::pair<int64_t, const char*> AnnouncedSizeLimit(DataIdPB::IdType type) {
  using server::PeerCopyLimits;
  switch (type) {
    case DataIdPB::BLOCK:  // buffered whole in CopyBlocks
      return {PeerCopyLimits::kMaxBlockBytes, "PeerCopyLimits::kMaxBlockBytes"};
    case DataIdPB::LOG_SEGMENT:  // streamed to a file
      return {PeerCopyLimits::kMaxWalSegmentBytes, "PeerCopyLimits::kMaxWalSegmentBytes"};
    default:
      // The superblock (it travels in the Begin response) and anything
      // else: never fetched, but its size still feeds the progress totals.
      return {PeerCopyLimits::kMaxSuperBlockBytes, "PeerCopyLimits::kMaxSuperBlockBytes"};
  }
}

// A simulated crash (rpc::SimulatedCrashError, typed): no cleanup follows it.
using rpc::IsSimulatedCrash;

class Copier {
 public:
  Copier(std::string address, std::string tablet_id, std::string root, const CopyOptions& options,
         blocks::LogBlockManager* bm)
      : address_(std::move(address)),
        tablet_id_(std::move(tablet_id)),
        layout_(std::move(root)),
        options_(options),
        bm_(bm) {}

  absl::StatusOr<CopyResult> Run();

 private:
  absl::Status CheckLocal();
  absl::Status Begin();
  // Every size and count in begin_ against PeerCopyLimits and the free
  // space of the root: before anything is allocated for or written of it.
  absl::Status CheckAnnouncedLimits();
  // Fetches every chunk of `item`, checking each, handing the data to `sink`
  // in order.
  absl::Status FetchItem(const tserver::CopyItemPB& item,
                         const std::function<absl::Status(absl::string_view)>& sink);
  absl::Status CopyBlocks();
  absl::Status CopySegment(const tserver::CopyItemPB& item);
  absl::Status WriteConsensusMeta();
  void EndSession(bool success);
  std::string Where() const {
    return absl::StrCat("tablet copy of ", tablet_id_, " from ", address_);
  }

  const std::string address_;
  const std::string tablet_id_;
  const fs::Layout layout_;
  const CopyOptions& options_;
  blocks::LogBlockManager* const bm_;

  std::unique_ptr<tserver::TabletCopyService::Stub> stub_;
  tserver::BeginTabletCopySessionResponsePB begin_;
  tablet::TabletSuperBlockPB source_sb_;
  tablet::TabletSuperBlockPB copying_sb_;
  std::map<uint64_t, uint64_t> block_mapping_;
  std::vector<tserver::CopyItemPB> plan_;  // what is fetched, in order
  std::unique_ptr<ChunkFetcher> fetcher_;
  CopyProgress progress_;
  CopyResult result_;
};

absl::Status Copier::CheckLocal() {
  absl::StatusOr<tablet::TabletSuperBlockPB> local = tablet::LoadSuperBlock(layout_, tablet_id_);
  if (absl::IsNotFound(local.status())) return absl::OkStatus();
  RETURN_IF_ERROR(Annotate(local.status(), Where()));
  switch (local->tablet_data_state()) {
    case tablet::TABLET_DATA_READY:
      return absl::AlreadyExistsError(absl::StrCat(
          Where(), ": a READY replica exists in ", layout_.root(), "; tombstone it first"));
    case tablet::TABLET_DATA_COPYING:
      return absl::FailedPreconditionError(absl::StrCat(
          Where(), ": ", layout_.TabletMetaPath(tablet_id_),
          " is COPYING (an interrupted copy); RecoverInterruptedCopy first"));
    case tablet::TABLET_DATA_TOMBSTONED:
    case tablet::TABLET_DATA_FAILED:
      // Tombstone (again): deletes any block the old replica still holds,
      // so nothing of it survives the copy's superblock writes.
      return Annotate(tablet::Tablet::Tombstone(layout_, bm_, tablet_id_),
                      absl::StrCat(Where(), ": tombstoning the old replica"));
    default:
      return absl::FailedPreconditionError(
          absl::StrCat(Where(), ": local replica in state ",
                       tablet::DataStateName(local->tablet_data_state()), "; refusing"));
  }
}

absl::Status Copier::Begin() {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(kMaxReceiveMessageBytes);
  stub_ = tserver::TabletCopyService::NewStub(
      grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), args));
  tserver::BeginTabletCopySessionRequestPB req;
  req.set_requestor_uuid(options_.requestor_uuid);
  req.set_tablet_id(tablet_id_);
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, options_.rpc_timeout);
  RETURN_IF_ERROR(server::FromGrpcStatus(stub_->BeginTabletCopySession(&ctx, req, &begin_),
                                         absl::StrCat(Where(), ": BeginTabletCopySession")));
  result_.session_id = begin_.session_id();
  result_.source_uuid = begin_.responder_uuid();
  result_.cstate = begin_.initial_cstate();
  RETURN_IF_ERROR(CheckAnnouncedLimits());
  const std::string what = absl::StrCat(Where(), ": session ", begin_.session_id(), ": superblock");
  if (!source_sb_.ParseFromString(begin_.superblock())) {
    return absl::DataLossError(absl::StrCat(what, ": not a TabletSuperBlockPB"));
  }
  RETURN_IF_ERROR(tablet::ValidateSuperBlock(source_sb_, what));
  if (source_sb_.tablet_id() != tablet_id_) {
    return absl::DataLossError(absl::StrCat(what, ": tablet_id: expected ", tablet_id_,
                                            ", found ", source_sb_.tablet_id()));
  }
  // Every block the superblock names must be offered.
  std::map<uint64_t, bool> offered;
  for (const tserver::CopyItemPB& item : begin_.items()) {
    if (item.id().type() == DataIdPB::BLOCK) offered[item.id().block_id().id()] = true;
    if (item.id().type() != DataIdPB::SUPER_BLOCK) progress_.bytes_total += item.size_bytes();
  }
  for (uint64_t id : tablet::RowSetBlockIds(source_sb_)) {
    if (!offered.count(id)) {
      return absl::DataLossError(
          absl::StrCat(what, ": names block ", id, " but the session does not offer it"));
    }
  }
  progress_.items_total = begin_.items_size() - 1;  // the superblock travels in the response
  return absl::OkStatus();
}

absl::Status Copier::CheckAnnouncedLimits() {
  using server::PeerCopyLimits;
  const std::string session = absl::StrCat(Where(), ": session ", begin_.session_id());
  RETURN_IF_ERROR(server::CheckAnnouncedItemCount(session, begin_.items_size()));
  RETURN_IF_ERROR(server::CheckAnnouncedSize(
      absl::StrCat(session, ": superblock"), static_cast<int64_t>(begin_.superblock().size()),
      PeerCopyLimits::kMaxSuperBlockBytes, "PeerCopyLimits::kMaxSuperBlockBytes"));
  // Each size is at most kMaxWalSegmentBytes (64 GiB) and there are at most
  // kMaxItems (10^6) of them, so the sum stays below 2^56: no overflow.
  int64_t bytes_to_write = 0;
  for (const tserver::CopyItemPB& item : begin_.items()) {
    const auto [limit, limit_name] = AnnouncedSizeLimit(item.id().type());
    RETURN_IF_ERROR(server::CheckAnnouncedSize(absl::StrCat(session, ": ", DataIdName(item.id())),
                                               item.size_bytes(), limit, limit_name));
    if (item.id().type() == DataIdPB::BLOCK || item.id().type() == DataIdPB::LOG_SEGMENT) {
      bytes_to_write += item.size_bytes();
    }
  }
  // Blocks and segments land in <root>/data and <root>/wals, one filesystem.
  return server::CheckFitsOnDisk(session, layout_.root(), bytes_to_write);
}

absl::Status Copier::FetchItem(const tserver::CopyItemPB& item,
                               const std::function<absl::Status(absl::string_view)>& sink) {
  const uint64_t size = static_cast<uint64_t>(item.size_bytes());
  const std::string what = absl::StrCat(Where(), ": session ", begin_.session_id(), ": ",
                                        DataIdName(item.id()));
  progress_.item = DataIdName(item.id());
  uint32_t whole_crc = 0;
  uint64_t offset = 0;
  while (offset < size) {
    if (options_.test_crash_after_chunks >= 0 &&
        result_.chunks >= options_.test_crash_after_chunks) {
      return rpc::SimulatedCrashError(
          absl::StrCat(what, ": simulated crash after ", result_.chunks, " chunks"));
    }
    absl::StatusOr<tserver::DataChunkPB> next = fetcher_->Next();
    RETURN_IF_ERROR(Annotate(next.status(), Where()));
    tserver::DataChunkPB* chunk = &*next;
    if (options_.test_mutate_chunk) options_.test_mutate_chunk(item.id(), chunk->mutable_data());
    const std::string& data = chunk->data();
    const std::string at = absl::StrCat(what, ": chunk at offset ", offset);
    if (chunk->offset() != offset) {
      return absl::DataLossError(
          absl::StrCat(at, ": offset: expected ", offset, ", found ", chunk->offset()));
    }
    if (chunk->total_data_length() != item.size_bytes()) {
      return absl::DataLossError(absl::StrCat(at, ": total_data_length: expected ",
                                              item.size_bytes(), " (from BeginTabletCopySession), found ",
                                              chunk->total_data_length()));
    }
    RETURN_IF_ERROR(server::CheckChunkLength(at, data.size(), options_.chunk_size_bytes));
    if (data.empty() || data.size() > size - offset) {
      return absl::DataLossError(absl::StrCat(at, ": data: expected 1..", size - offset,
                                              " bytes, found ", data.size()));
    }
    const uint32_t crc = crc32c::Value(data);
    if (crc != chunk->crc32()) {
      return absl::DataLossError(absl::StrFormat(
          "%s (%u bytes): crc mismatch (sent 0x%08x, computed 0x%08x)", at, data.size(),
          chunk->crc32(), crc));
    }
    whole_crc = crc32c::Extend(whole_crc, data.data(), data.size());
    RETURN_IF_ERROR(sink(data));
    offset += data.size();
    ++result_.chunks;
    progress_.bytes_done += static_cast<int64_t>(data.size());
    if (offset == size) ++progress_.items_done;
    if (options_.progress) options_.progress(progress_);
  }
  if (size == 0) ++progress_.items_done;
  if (item.has_crc32c() && whole_crc != item.crc32c()) {
    return absl::DataLossError(absl::StrFormat(
        "%s (%u bytes): whole-item crc mismatch (announced 0x%08x, computed 0x%08x)", what, size,
        item.crc32c(), whole_crc));
  }
  return absl::OkStatus();
}

absl::Status Copier::CopyBlocks() {
  std::vector<uint64_t> batch_ids;
  std::vector<std::string> batch_data;
  uint64_t batch_bytes = 0;
  auto flush = [&]() -> absl::Status {
    if (batch_ids.empty()) return absl::OkStatus();
    std::vector<absl::string_view> views(batch_data.begin(), batch_data.end());
    ASSIGN_OR_RETURN(std::vector<blocks::BlockId> ids, bm_->CreateBlocks(views));
    for (size_t i = 0; i < ids.size(); ++i) {
      block_mapping_[batch_ids[i]] = ids[i];
      copying_sb_.add_orphaned_blocks()->set_id(ids[i]);
    }
    // Recorded before the next batch is fetched: a crash now leaks nothing
    // that RecoverInterruptedCopy cannot find.
    RETURN_IF_ERROR(tablet::StoreSuperBlock(layout_, copying_sb_));
    batch_ids.clear();
    batch_data.clear();
    batch_bytes = 0;
    return absl::OkStatus();
  };
  for (const tserver::CopyItemPB& item : plan_) {
    if (item.id().type() != DataIdPB::BLOCK) continue;
    std::string data;
    data.reserve(item.size_bytes());  // <= PeerCopyLimits::kMaxBlockBytes (Begin)
    RETURN_IF_ERROR(FetchItem(item, [&](absl::string_view chunk) {
      data.append(chunk.data(), chunk.size());
      return absl::OkStatus();
    }));
    if (data.size() != static_cast<uint64_t>(item.size_bytes())) {
      return absl::DataLossError(absl::StrCat(Where(), ": ", DataIdName(item.id()), ": received ",
                                              data.size(), " bytes, expected ", item.size_bytes()));
    }
    // The block's own frame CRC: catches a block damaged on the source's
    // disk, which the transport CRCs (computed over what was read) cannot.
    RETURN_IF_ERROR(Annotate(
        tablet::VerifyColumnBlockChecksum(item.id().block_id().id(), data).status(),
        absl::StrCat(Where(), ": source block")));
    batch_bytes += data.size();
    batch_ids.push_back(item.id().block_id().id());
    batch_data.push_back(std::move(data));
    ++result_.blocks;
    if (batch_bytes >= kBlockBatchBytes) RETURN_IF_ERROR(flush());
  }
  return flush();
}

absl::Status Copier::CopySegment(const tserver::CopyItemPB& item) {
  const std::string final_path = io::JoinPath(layout_.WalDir(tablet_id_),
                                              wal::SegmentFileName(item.id().wal_segment_seqno()));
  const std::string tmp_path =
      absl::StrCat(final_path, ".copy.", absl::ToUnixMicros(absl::Now()), ".kudutmp");
  int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io::ErrnoError("create", tmp_path, errno);
  uint64_t written = 0;
  absl::Status s = FetchItem(item, [&](absl::string_view chunk) {
    written += chunk.size();
    return io::WriteFully(fd, tmp_path, chunk);
  });
  if (s.ok() && written != static_cast<uint64_t>(item.size_bytes())) {
    s = absl::DataLossError(absl::StrCat(Where(), ": ", DataIdName(item.id()), ": received ",
                                         written, " bytes, expected ", item.size_bytes()));
  }
  if (s.ok() && options_.sync && ::fsync(fd) != 0) s = io::ErrnoError("fsync", tmp_path, errno);
  ::close(fd);
  if (!s.ok()) {
    // A simulated crash leaves the temp file, as a real one would.
    if (!IsSimulatedCrash(s)) ::unlink(tmp_path.c_str());
    return s;
  }
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    return io::ErrnoError("rename to " + final_path, tmp_path, errno);
  }
  ++result_.wal_segments;
  return absl::OkStatus();
}

absl::Status Copier::WriteConsensusMeta() {
  const std::string path = layout_.ConsensusMetaPath(tablet_id_);
  const consensus::ConsensusStatePB& cstate = begin_.initial_cstate();
  consensus::ConsensusMetadataPB cmeta;
  *cmeta.mutable_committed_config() = cstate.committed_config();
  cmeta.set_current_term(cstate.current_term());
  absl::StatusOr<consensus::ConsensusMetadataPB> local = meta::LoadConsensusMeta(path);
  if (local.ok()) {
    // Never lower a term this replica has seen, nor forget its vote in it.
    if (local->current_term() > cmeta.current_term()) cmeta.set_current_term(local->current_term());
    if (local->current_term() == cmeta.current_term() && local->has_voted_for()) {
      cmeta.set_voted_for(local->voted_for());
    }
  } else if (!absl::IsNotFound(local.status())) {
    // A damaged local cmeta says nothing trustworthy; the source's replaces it.
    if (local.status().code() != absl::StatusCode::kDataLoss) return local.status();
  }
  RETURN_IF_ERROR(io::CreateDirs(layout_.ConsensusMetaDir()));
  return meta::StoreConsensusMeta(path, cmeta);
}

void Copier::EndSession(bool success) {
  if (stub_ == nullptr || begin_.session_id().empty()) return;
  tserver::EndTabletCopySessionRequestPB req;
  req.set_session_id(begin_.session_id());
  req.set_is_success(success);
  tserver::EndTabletCopySessionResponsePB resp;
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, options_.rpc_timeout);
  // Best effort: the source expires the session anyway.
  (void)stub_->EndTabletCopySession(&ctx, req, &resp);
}

absl::StatusOr<CopyResult> Copier::Run() {
  const absl::Time start = absl::Now();
  RETURN_IF_ERROR(CheckLocal());
  if (absl::Status s = Begin(); !s.ok()) {
    EndSession(false);
    return s;
  }
  // From here on the local replica is COPYING.
  copying_sb_ = source_sb_;
  copying_sb_.clear_rowsets();
  copying_sb_.clear_orphaned_blocks();
  copying_sb_.clear_tombstone_last_logged_opid();
  copying_sb_.clear_failure_reason();
  copying_sb_.set_tablet_data_state(tablet::TABLET_DATA_COPYING);
  absl::Status s = tablet::StoreSuperBlock(layout_, copying_sb_);
  if (!s.ok()) {
    EndSession(false);
    return s;
  }
  s = [&]() -> absl::Status {
    // Old WAL files of the tablet (a tombstoned replica's, temp files).
    const std::string wal_dir = layout_.WalDir(tablet_id_);
    RETURN_IF_ERROR(io::CreateDirs(wal_dir));
    ASSIGN_OR_RETURN(std::vector<std::string> old, io::ListDir(wal_dir));
    for (const std::string& name : old) {
      const std::string path = io::JoinPath(wal_dir, name);
      if (::unlink(path.c_str()) != 0) return io::ErrnoError("unlink", path, errno);
    }
    // The plan: blocks the superblock names, each once (anything else would
    // be stored and then referenced by nothing), then the WAL segments.
    std::set<uint64_t> wanted;
    for (uint64_t id : tablet::RowSetBlockIds(source_sb_)) wanted.insert(id);
    for (const tserver::CopyItemPB& item : begin_.items()) {
      if (item.id().type() == DataIdPB::BLOCK && wanted.erase(item.id().block_id().id()) > 0) {
        plan_.push_back(item);
      }
    }
    for (const tserver::CopyItemPB& item : begin_.items()) {
      if (item.id().type() == DataIdPB::LOG_SEGMENT) plan_.push_back(item);
    }
    fetcher_ = std::make_unique<ChunkFetcher>(stub_.get(), begin_.session_id(), plan_,
                                              options_.chunk_size_bytes, options_.rpc_timeout,
                                              /*depth=*/2);
    RETURN_IF_ERROR(CopyBlocks());
    for (const tserver::CopyItemPB& item : plan_) {
      if (item.id().type() == DataIdPB::LOG_SEGMENT) RETURN_IF_ERROR(CopySegment(item));
    }
    fetcher_.reset();
    if (options_.sync) RETURN_IF_ERROR(io::SyncDir(wal_dir));
    RETURN_IF_ERROR(WriteConsensusMeta());
    tablet::TabletSuperBlockPB ready = source_sb_;
    RETURN_IF_ERROR(tablet::RemapBlockIds(block_mapping_, &ready));
    ready.clear_tombstone_last_logged_opid();
    ready.clear_failure_reason();
    ready.set_tablet_data_state(tablet::TABLET_DATA_READY);
    RETURN_IF_ERROR(tablet::StoreSuperBlock(layout_, ready));
    result_.superblock = std::move(ready);
    return absl::OkStatus();
  }();
  fetcher_.reset();  // no FetchData in flight past this point
  if (!s.ok()) {
    if (IsSimulatedCrash(s)) return s;
    EndSession(false);
    absl::Status r = RecoverInterruptedCopy(layout_.root(), tablet_id_, bm_);
    if (!r.ok()) {
      return Annotate(s, absl::StrCat("(and cleaning up failed too: ", r.message(), ")"));
    }
    return s;
  }
  EndSession(true);
  result_.bytes = progress_.bytes_done;
  result_.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result_;
}

// Opens a block manager for `root` when the caller has none.
absl::StatusOr<std::unique_ptr<blocks::LogBlockManager>> MaybeOpenBlockManager(
    const fs::Layout& layout, blocks::LogBlockManager* given) {
  if (given != nullptr) return std::unique_ptr<blocks::LogBlockManager>();
  return blocks::LogBlockManager::Open(layout.DataDir());
}

}  // namespace

absl::StatusOr<CopyResult> CopyTablet(const std::string& source_address,
                                      const std::string& tablet_id, const std::string& root,
                                      const CopyOptions& options) {
  if (!fs::IsCanonicalUuid(tablet_id)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tablet copy: tablet_id: expected 32 lowercase hex characters, found \"", tablet_id, "\""));
  }
  const fs::Layout layout(root);
  ASSIGN_OR_RETURN(std::unique_ptr<blocks::LogBlockManager> owned,
                   MaybeOpenBlockManager(layout, options.block_manager));
  blocks::LogBlockManager* bm = owned ? owned.get() : options.block_manager;
  Copier copier(source_address, tablet_id, root, options, bm);
  return copier.Run();
}

absl::Status RecoverInterruptedCopy(const std::string& root, const std::string& tablet_id,
                                    blocks::LogBlockManager* block_manager) {
  const fs::Layout layout(root);
  ASSIGN_OR_RETURN(tablet::TabletSuperBlockPB sb, tablet::LoadSuperBlock(layout, tablet_id));
  if (sb.tablet_data_state() != tablet::TABLET_DATA_COPYING) {
    return absl::FailedPreconditionError(
        absl::StrCat(layout.TabletMetaPath(tablet_id), ": tablet_data_state: expected COPYING, found ",
                     tablet::DataStateName(sb.tablet_data_state())));
  }
  ASSIGN_OR_RETURN(std::unique_ptr<blocks::LogBlockManager> owned,
                   MaybeOpenBlockManager(layout, block_manager));
  blocks::LogBlockManager* bm = owned ? owned.get() : block_manager;
  // WAL first: a half-copied log is useless, and a tombstone has none.
  const std::string wal_dir = layout.WalDir(tablet_id);
  if (io::FileExists(wal_dir)) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, io::ListDir(wal_dir));
    for (const std::string& name : names) {
      const std::string path = io::JoinPath(wal_dir, name);
      if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return io::ErrnoError("unlink", path, errno);
      }
    }
    RETURN_IF_ERROR(io::SyncDir(wal_dir));
  }
  // Temp files an interrupted atomic write of this tablet's metadata left.
  for (const std::string& dir : {layout.TabletMetaDir(), layout.ConsensusMetaDir()}) {
    if (!io::FileExists(dir)) continue;
    ASSIGN_OR_RETURN(std::vector<std::string> names, io::ListDir(dir));
    for (const std::string& name : names) {
      if (absl::StartsWith(name, tablet_id) && io::IsTempFileName(name)) {
        const std::string path = io::JoinPath(dir, name);
        if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
          return io::ErrnoError("unlink", path, errno);
        }
      }
    }
  }
  // Deletes the blocks the copy recorded (orphaned_blocks) and writes
  // TOMBSTONED.
  return tablet::Tablet::Tombstone(layout, bm, tablet_id);
}

}  // namespace kmend::tablet_copy
