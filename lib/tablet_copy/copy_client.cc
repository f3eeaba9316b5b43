#include "lib/tablet_copy/copy_client.h"

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
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "lib/copy/chunk_sink.h"
#include "lib/copy/copy_limits.h"
#include "lib/copy/file_sink.h"
#include "lib/copy/verifying_fetcher.h"
#include "lib/format/crc32c.h"
#include "lib/fs/layout.h"
#include "lib/fs/safe_name.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/meta/cmeta.h"
#include "lib/meta/cmeta_merge.h"
#include "lib/rpc/grpc_util.h"
#include "lib/rpc/status_payloads.h"
#include "lib/tablet/column_block.h"
#include "lib/tablet/superblock.h"
#include "lib/tablet/tablet.h"
#include "lib/tablet_copy/copy_journal.h"
#include "lib/tablet_copy/data_id.h"
#include "lib/tablet_copy/grpc_chunk_source.h"
#include "lib/util/status_macros.h"
#include "lib/wal/format.h"
#include "proto/tablet_copy.grpc.pb.h"

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
  using copy::PeerCopyLimits;
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
  // Starts fetching plan_ (lib/copy checks every chunk and item).
  void StartFetcher();
  // Resuming: decides which journaled blocks to keep (checking their bytes)
  // and which to delete; fills block_mapping_, journal_ and the progress.
  absl::Status PrepareResume(std::vector<uint64_t>* to_delete);
  absl::Status CopyBlocks();
  absl::Status CopySegment(size_t index);
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
  std::unique_ptr<GrpcChunkSource> source_;
  std::unique_ptr<copy::VerifyingFetcher> fetcher_;
  CopyProgress progress_;
  CopyResult result_;
  // Resume (options_.resume): the local replica was COPYING; its journal
  // (if any) and the blocks its superblock recorded.
  bool resuming_ = false;
  std::optional<tserver::TabletCopyJournalPB> journal_in_;
  std::vector<uint64_t> old_local_blocks_;
  // The journal this copy writes (options_.resume).
  tserver::TabletCopyJournalPB journal_;
};

absl::Status Copier::CheckLocal() {
  absl::StatusOr<tablet::TabletSuperBlockPB> local = tablet::LoadSuperBlock(layout_, tablet_id_);
  if (absl::IsNotFound(local.status())) return absl::OkStatus();
  if (absl::IsDataLoss(local.status()) && options_.replace_unreadable_metadata_term_floor) {
    // The rebuild decided it (CopyOptions): kept aside under a name that
    // is no tablet id, so the server never loads it again.
    const std::string path = layout_.TabletMetaPath(tablet_id_);
    const std::string aside =
        absl::StrCat(path, ".unreadable.", absl::ToUnixMicros(absl::Now()));
    if (io::sys::Rename(path.c_str(), aside.c_str()) != 0) {
      return io::ErrnoError("rename to " + aside, path, errno);
    }
    RETURN_IF_ERROR(io::SyncDir(layout_.TabletMetaDir()));
    RETURN_IF_ERROR(DeleteJournal(layout_, tablet_id_));
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(Annotate(local.status(), Where()));
  switch (local->tablet_data_state()) {
    case tablet::TABLET_DATA_READY:
      return absl::AlreadyExistsError(absl::StrCat(
          Where(), ": a READY replica exists in ", layout_.root(), "; tombstone it first"));
    case tablet::TABLET_DATA_COPYING: {
      if (!options_.resume) {
        return absl::FailedPreconditionError(absl::StrCat(
            Where(), ": ", layout_.TabletMetaPath(tablet_id_),
            " is COPYING (an interrupted copy); RecoverInterruptedCopy first"));
      }
      resuming_ = true;
      for (const auto& b : local->orphaned_blocks()) old_local_blocks_.push_back(b.id());
      absl::StatusOr<std::optional<tserver::TabletCopyJournalPB>> j =
          LoadJournal(layout_, tablet_id_);
      // A damaged journal only costs the blocks it named (fetched again).
      if (j.ok()) journal_in_ = *std::move(j);
      return absl::OkStatus();
    }
    case tablet::TABLET_DATA_TOMBSTONED:
    case tablet::TABLET_DATA_FAILED:
      // A journal left next to a finished or tombstoned replica is stale.
      RETURN_IF_ERROR(DeleteJournal(layout_, tablet_id_));
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
  stub_ = tserver::TabletCopyService::NewStub(rpc::NewChannel(address_, kMaxReceiveMessageBytes));
  tserver::BeginTabletCopySessionRequestPB req;
  req.set_requestor_uuid(options_.requestor_uuid);
  req.set_tablet_id(tablet_id_);
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, options_.rpc_timeout);
  RETURN_IF_ERROR(rpc::FromGrpcStatus(stub_->BeginTabletCopySession(&ctx, req, &begin_),
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
  using copy::PeerCopyLimits;
  const std::string session = absl::StrCat(Where(), ": session ", begin_.session_id());
  RETURN_IF_ERROR(copy::CheckAnnouncedItemCount(session, begin_.items_size()));
  RETURN_IF_ERROR(copy::CheckAnnouncedSize(
      absl::StrCat(session, ": superblock"), static_cast<int64_t>(begin_.superblock().size()),
      PeerCopyLimits::kMaxSuperBlockBytes, "PeerCopyLimits::kMaxSuperBlockBytes"));
  // Each size is at most kMaxWalSegmentBytes (64 GiB) and there are at most
  // kMaxItems (10^6) of them, so the sum stays below 2^56: no overflow.
  int64_t bytes_to_write = 0;
  for (const tserver::CopyItemPB& item : begin_.items()) {
    const auto [limit, limit_name] = AnnouncedSizeLimit(item.id().type());
    RETURN_IF_ERROR(copy::CheckAnnouncedSize(absl::StrCat(session, ": ", DataIdName(item.id())),
                                               item.size_bytes(), limit, limit_name));
    if (item.id().type() == DataIdPB::BLOCK || item.id().type() == DataIdPB::LOG_SEGMENT) {
      bytes_to_write += item.size_bytes();
    }
  }
  // Blocks and segments land in <root>/data and <root>/wals, one filesystem.
  return copy::CheckFitsOnDisk(session, layout_.root(), bytes_to_write);
}

void Copier::StartFetcher() {
  std::vector<copy::ItemSpec> specs;
  std::vector<DataIdPB> ids;
  for (const tserver::CopyItemPB& item : plan_) {
    copy::ItemSpec spec;
    spec.name = DataIdName(item.id());
    spec.size_bytes = item.size_bytes();
    if (item.has_crc32c()) spec.crc32c = item.crc32c();
    specs.push_back(std::move(spec));
    ids.push_back(item.id());
  }
  copy::FetcherOptions fo;
  fo.what = absl::StrCat(Where(), ": session ", begin_.session_id());
  fo.chunk_size_bytes = options_.chunk_size_bytes;
  fo.depth = 2;
  fo.on_chunk = [this](size_t, uint64_t bytes, bool item_done) {
    progress_.bytes_done += static_cast<int64_t>(bytes);
    if (item_done) ++progress_.items_done;
    if (options_.progress) options_.progress(progress_);
  };
  if (options_.test_mutate_chunk) {
    fo.test_mutate_chunk = [this](size_t i, std::string* data) {
      options_.test_mutate_chunk(plan_[i].id(), data);
    };
  }
  fo.test_crash_after_chunks = options_.test_crash_after_chunks;
  source_ = std::make_unique<GrpcChunkSource>(stub_.get(), begin_.session_id(), std::move(ids),
                                              options_.rpc_timeout);
  fetcher_ = std::make_unique<copy::VerifyingFetcher>(source_.get(), std::move(specs),
                                                      std::move(fo));
}

absl::Status Copier::PrepareResume(std::vector<uint64_t>* to_delete) {
  // The blocks the new session offers that the superblock names.
  std::map<uint64_t, int64_t> offered;
  std::set<uint64_t> wanted;
  for (uint64_t id : tablet::RowSetBlockIds(source_sb_)) wanted.insert(id);
  for (const tserver::CopyItemPB& item : begin_.items()) {
    if (item.id().type() == DataIdPB::BLOCK && wanted.count(item.id().block_id().id())) {
      offered[item.id().block_id().id()] = item.size_bytes();
    }
  }
  ResumePlan rp = MatchJournal(journal_in_.value_or(tserver::TabletCopyJournalPB()),
                               begin_.responder_uuid(), offered);
  std::set<uint64_t> kept_local;
  int failed_check = 0;
  for (const auto& [source_id, b] : rp.keep) {
    // Trust nothing on disk unread: the block's bytes against the CRC32C
    // recorded when it was copied (the journal is written after the sync).
    absl::StatusOr<std::string> data = bm_->ReadBlock(b.local_block_id());
    if (!data.ok() || crc32c::Value(*data) != b.crc32c() ||
        static_cast<int64_t>(data->size()) != b.size_bytes()) {
      ++failed_check;
      to_delete->push_back(b.local_block_id());
      continue;
    }
    block_mapping_[source_id] = b.local_block_id();
    kept_local.insert(b.local_block_id());
    *journal_.add_blocks() = b;
    ++result_.blocks;
    ++progress_.items_done;
    progress_.bytes_done += b.size_bytes();
    progress_.bytes_reused += b.size_bytes();
  }
  for (uint64_t id : rp.drop) to_delete->push_back(id);
  for (uint64_t id : old_local_blocks_) {
    if (!kept_local.count(id)) to_delete->push_back(id);
  }
  journal_.set_resumes((journal_in_ ? journal_in_->resumes() : 0) + 1);
  progress_.resume_note = rp.note;
  if (failed_check > 0) {
    absl::StrAppend(&progress_.resume_note, "; ", failed_check,
                    " kept block(s) failed their CRC32C check and are fetched again");
  }
  result_.resume_note = progress_.resume_note;
  return absl::OkStatus();
}

// Every item of the plan through fetcher_->FetchItem, in plan order: the
// blocks first (CopyBlocks), then the WAL segments (CopySegment).
absl::Status Copier::CopyBlocks() {
  std::vector<uint64_t> batch_ids;
  std::vector<std::string> batch_data;
  uint64_t batch_bytes = 0;
  absl::Time last_flush = absl::Now();
  auto flush = [&]() -> absl::Status {
    last_flush = absl::Now();
    if (batch_ids.empty()) return absl::OkStatus();
    std::vector<absl::string_view> views(batch_data.begin(), batch_data.end());
    ASSIGN_OR_RETURN(std::vector<blocks::BlockId> ids, bm_->CreateBlocks(views));
    for (size_t i = 0; i < ids.size(); ++i) {
      block_mapping_[batch_ids[i]] = ids[i];
      copying_sb_.add_orphaned_blocks()->set_id(ids[i]);
      if (options_.resume) {
        auto* b = journal_.add_blocks();
        b->set_source_block_id(batch_ids[i]);
        b->set_size_bytes(static_cast<int64_t>(batch_data[i].size()));
        b->set_crc32c(crc32c::Value(batch_data[i]));
        b->set_local_block_id(ids[i]);
      }
    }
    // The blocks are synced (CreateBlocks); the journal names them for a
    // resume, then the superblock records them for recovery, both before
    // the next batch is fetched: a crash now leaks nothing that
    // RecoverInterruptedCopy cannot find, and a resume keeps them.
    if (options_.resume) RETURN_IF_ERROR(StoreJournal(layout_, journal_));
    RETURN_IF_ERROR(tablet::StoreSuperBlock(layout_, copying_sb_));
    batch_ids.clear();
    batch_data.clear();
    batch_bytes = 0;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < plan_.size(); ++i) {
    const tserver::CopyItemPB& item = plan_[i];
    if (item.id().type() != DataIdPB::BLOCK) continue;
    std::string data;
    data.reserve(item.size_bytes());  // <= PeerCopyLimits::kMaxBlockBytes (Begin)
    copy::StringSink sink(&data);
    // The fetcher delivers exactly size_bytes verified bytes, or an error.
    RETURN_IF_ERROR(fetcher_->FetchItem(i, &sink));
    if (item.size_bytes() == 0) ++progress_.items_done;
    // The block's own frame CRC: catches a block damaged on the source's
    // disk, which the transport CRCs (computed over what was read) cannot.
    RETURN_IF_ERROR(Annotate(
        tablet::VerifyColumnBlockChecksum(item.id().block_id().id(), data).status(),
        absl::StrCat(Where(), ": source block")));
    batch_bytes += data.size();
    batch_ids.push_back(item.id().block_id().id());
    batch_data.push_back(std::move(data));
    ++result_.blocks;
    if (batch_bytes >= kBlockBatchBytes ||
        absl::Now() - last_flush >= absl::FromChrono(options_.batch_interval)) {
      RETURN_IF_ERROR(flush());
    }
  }
  return flush();
}

absl::Status Copier::CopySegment(size_t index) {
  const tserver::CopyItemPB& item = plan_[index];
  const std::string final_path = io::JoinPath(layout_.WalDir(tablet_id_),
                                              wal::SegmentFileName(item.id().wal_segment_seqno()));
  const std::string tmp_path =
      absl::StrCat(final_path, ".copy.", absl::ToUnixMicros(absl::Now()), ".kudutmp");
  copy::FileSink::Options sink_options;
  sink_options.sync = options_.sync;
  ASSIGN_OR_RETURN(std::unique_ptr<copy::FileSink> sink,
                   copy::FileSink::Create(tmp_path, sink_options));
  absl::Status s = fetcher_->FetchItem(index, sink.get());
  if (s.ok()) {
    s = sink->Finish();
  }
  sink.reset();  // closed
  if (!s.ok()) {
    // A simulated crash leaves the temp file, as a real one would.
    if (!IsSimulatedCrash(s)) io::sys::Unlink(tmp_path.c_str());
    return s;
  }
  if (item.size_bytes() == 0) ++progress_.items_done;
  if (io::sys::Rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    return io::ErrnoError("rename to " + final_path, tmp_path, errno);
  }
  ++result_.wal_segments;
  return absl::OkStatus();
}

absl::Status Copier::WriteConsensusMeta() {
  const std::string path = layout_.ConsensusMetaPath(tablet_id_);
  // The one rule (lib/meta/cmeta_merge.h): never lower the local term, keep
  // the local vote in it, refuse a damaged local file.
  ASSIGN_OR_RETURN(consensus::ConsensusMetadataPB cmeta,
                   meta::MergeCopiedConsensusMeta(
                       begin_.initial_cstate(), path,
                       options_.replace_unreadable_metadata_term_floor));
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
  rpc::SetDeadline(&ctx, options_.rpc_timeout);
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
  std::vector<uint64_t> to_delete;
  if (options_.resume) {
    journal_.set_tablet_id(tablet_id_);
    journal_.set_source_uuid(begin_.responder_uuid());
  }
  if (resuming_) {
    absl::Status s = PrepareResume(&to_delete);
    if (!s.ok()) {
      EndSession(false);
      return s;
    }
    // Until they are deleted, the blocks to drop stay recorded too.
    for (uint64_t id : to_delete) copying_sb_.add_orphaned_blocks()->set_id(id);
    for (const auto& b : journal_.blocks()) {
      copying_sb_.add_orphaned_blocks()->set_id(b.local_block_id());
    }
  }
  absl::Status s = tablet::StoreSuperBlock(layout_, copying_sb_);
  if (s.ok() && !to_delete.empty()) {
    std::vector<blocks::BlockId> live;
    for (uint64_t id : to_delete) {
      if (bm_->HasBlock(id)) live.push_back(id);
    }
    if (!live.empty()) s = bm_->DeleteBlocks(live);
    if (s.ok()) {
      copying_sb_.clear_orphaned_blocks();
      for (const auto& b : journal_.blocks()) {
        copying_sb_.add_orphaned_blocks()->set_id(b.local_block_id());
      }
      s = tablet::StoreSuperBlock(layout_, copying_sb_);
    }
  }
  if (s.ok() && options_.resume) s = StoreJournal(layout_, journal_);
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
      if (io::sys::Unlink(path.c_str()) != 0) return io::ErrnoError("unlink", path, errno);
    }
    // The plan: blocks the superblock names, each once (anything else would
    // be stored and then referenced by nothing), then the WAL segments.
    std::set<uint64_t> wanted;
    for (uint64_t id : tablet::RowSetBlockIds(source_sb_)) wanted.insert(id);
    for (const auto& [source_id, local_id] : block_mapping_) wanted.erase(source_id);  // kept
    for (const tserver::CopyItemPB& item : begin_.items()) {
      if (item.id().type() == DataIdPB::BLOCK && wanted.erase(item.id().block_id().id()) > 0) {
        plan_.push_back(item);
      }
    }
    if (options_.progress && resuming_) options_.progress(progress_);
    for (const tserver::CopyItemPB& item : begin_.items()) {
      if (item.id().type() == DataIdPB::LOG_SEGMENT) plan_.push_back(item);
    }
    StartFetcher();
    RETURN_IF_ERROR(CopyBlocks());
    for (size_t i = 0; i < plan_.size(); ++i) {
      if (plan_[i].id().type() == DataIdPB::LOG_SEGMENT) RETURN_IF_ERROR(CopySegment(i));
    }
    result_.chunks = fetcher_->chunks();
    fetcher_.reset();
    if (options_.sync) RETURN_IF_ERROR(io::SyncDir(wal_dir));
    RETURN_IF_ERROR(WriteConsensusMeta());
    tablet::TabletSuperBlockPB ready = source_sb_;
    RETURN_IF_ERROR(tablet::RemapBlockIds(block_mapping_, &ready));
    ready.clear_tombstone_last_logged_opid();
    ready.clear_failure_reason();
    ready.set_tablet_data_state(tablet::TABLET_DATA_READY);
    if (absl::Status stored = tablet::StoreSuperBlock(layout_, ready); !stored.ok()) {
      // The rename may have happened before the failure (the directory's
      // fsync failed): READY would then be on disk after a reported failure,
      // and a failed fsync is never trusted. Put COPYING back, so that the
      // clean-up below (or the next start) tombstones it; if even that fails,
      // say so: the state on disk is then unknown until the next start.
      absl::Status back = tablet::StoreSuperBlock(layout_, copying_sb_);
      if (!back.ok()) {
        return Annotate(stored, absl::StrCat("(and restoring COPYING failed too: ",
                                             back.message(), ")"));
      }
      return stored;
    }
    result_.superblock = std::move(ready);
    return absl::OkStatus();
  }();
  fetcher_.reset();  // no FetchData in flight past this point
  source_.reset();
  if (!s.ok()) {
    if (IsSimulatedCrash(s)) return s;
    EndSession(false);
    if (options_.resume && !absl::IsDataLoss(s)) {
      // Nothing copied is wrong, only unfinished: keep it for a resume.
      return Annotate(s, absl::StrCat("(the replica stays COPYING with ", journal_.blocks_size(),
                                      " copied blocks; copying again resumes it)"));
    }
    absl::Status r = RecoverInterruptedCopy(layout_.root(), tablet_id_, bm_);
    if (!r.ok()) {
      return Annotate(s, absl::StrCat("(and cleaning up failed too: ", r.message(), ")"));
    }
    return s;
  }
  EndSession(true);
  if (options_.resume) {
    // READY is durable: the journal only names blocks the replica now owns.
    absl::Status j = DeleteJournal(layout_, tablet_id_);
    if (!j.ok()) return Annotate(j, "the copy is READY, but removing its resume journal failed");
  }
  result_.bytes = progress_.bytes_done;
  result_.bytes_reused = progress_.bytes_reused;
  result_.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  return result_;
}

// Opens a block manager for `root` when the caller has none.
absl::StatusOr<std::unique_ptr<blocks::LogBlockManager>> MaybeOpenBlockManager(
    const fs::Layout& layout, blocks::LogBlockManager* given) {
  if (given != nullptr) return std::unique_ptr<blocks::LogBlockManager>();
  return blocks::LogBlockManager::Open(layout.DataDir());
}

// The WAL files and metadata temp files an interrupted copy of the tablet
// left (its blocks are the caller's business).
absl::Status RemoveCopyLeftovers(const fs::Layout& layout, const std::string& tablet_id) {
  // WAL first: a half-copied log is useless, and a tombstone has none.
  const std::string wal_dir = layout.WalDir(tablet_id);
  if (io::FileExists(wal_dir)) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, io::ListDir(wal_dir));
    for (const std::string& name : names) {
      const std::string path = io::JoinPath(wal_dir, name);
      if (io::sys::Unlink(path.c_str()) != 0 && errno != ENOENT) {
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
        if (io::sys::Unlink(path.c_str()) != 0 && errno != ENOENT) {
          return io::ErrnoError("unlink", path, errno);
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CopyResult> CopyTablet(const std::string& source_address,
                                      const std::string& tablet_id, const std::string& root,
                                      const CopyOptions& options) {
  RETURN_IF_ERROR(fs::ValidateId(tablet_id, "tablet copy: tablet_id"));
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
  RETURN_IF_ERROR(RemoveCopyLeftovers(layout, tablet_id));
  // Blocks a resume journal names that the superblock has not recorded yet
  // (a crash between the two writes), then the journal itself.
  absl::StatusOr<std::optional<tserver::TabletCopyJournalPB>> journal =
      LoadJournal(layout, tablet_id);
  if (journal.ok() && journal->has_value()) {
    std::set<uint64_t> recorded;
    for (const auto& b : sb.orphaned_blocks()) recorded.insert(b.id());
    std::vector<blocks::BlockId> extra;
    for (const auto& b : (*journal)->blocks()) {
      if (!recorded.count(b.local_block_id()) && bm->HasBlock(b.local_block_id())) {
        extra.push_back(b.local_block_id());
      }
    }
    if (!extra.empty()) RETURN_IF_ERROR(bm->DeleteBlocks(extra));
  }
  RETURN_IF_ERROR(DeleteJournal(layout, tablet_id));
  // Deletes the blocks the copy recorded (orphaned_blocks) and writes
  // TOMBSTONED.
  return tablet::Tablet::Tombstone(layout, bm, tablet_id);
}

absl::StatusOr<bool> KeepInterruptedCopyForResume(const std::string& root,
                                                  const std::string& tablet_id) {
  const fs::Layout layout(root);
  ASSIGN_OR_RETURN(tablet::TabletSuperBlockPB sb, tablet::LoadSuperBlock(layout, tablet_id));
  if (sb.tablet_data_state() != tablet::TABLET_DATA_COPYING) {
    return absl::FailedPreconditionError(
        absl::StrCat(layout.TabletMetaPath(tablet_id), ": tablet_data_state: expected COPYING, found ",
                     tablet::DataStateName(sb.tablet_data_state())));
  }
  absl::StatusOr<std::optional<tserver::TabletCopyJournalPB>> journal =
      LoadJournal(layout, tablet_id);
  if (!journal.ok() || !journal->has_value()) return false;
  RETURN_IF_ERROR(RemoveCopyLeftovers(layout, tablet_id));
  return true;
}


}  // namespace kmend::tablet_copy
