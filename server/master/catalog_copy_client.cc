#include "server/master/catalog_copy_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/copy/chunk_sink.h"
#include "lib/copy/chunk_source.h"
#include "lib/copy/copy_limits.h"
#include "lib/copy/file_sink.h"
#include "lib/copy/verifying_fetcher.h"
#include "lib/format/pb_container.h"
#include "lib/fs/layout.h"
#include "lib/fs/safe_name.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/meta/cmeta_merge.h"
#include "lib/rpc/status_payloads.h"
#include "lib/util/status_macros.h"
#include "lib/wal/format.h"
#include "server/master/catalog_copy_source.h"
#include "server/master/catalog_store.h"

namespace kmend::master {
namespace {

constexpr char kCompleteMarker[] = "COMPLETE";
constexpr char kStagedWalDir[] = "wal";
constexpr char kStagedCmeta[] = "cmeta";

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// rm -r of a staging dir (files and one level of subdirectories).
absl::Status RemoveTree(const std::string& path) {
  if (!io::FileExists(path)) return absl::OkStatus();
  if (IsDir(path)) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, io::ListDir(path));
    for (const std::string& n : names) RETURN_IF_ERROR(RemoveTree(io::JoinPath(path, n)));
    if (::rmdir(path.c_str()) != 0) return io::ErrnoError("rmdir", path, errno);
    return absl::OkStatus();
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io::ErrnoError("unlink", path, errno);
  return absl::OkStatus();
}

absl::Status Rename(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return io::ErrnoError(absl::StrCat("rename to ", to), from, errno);
  }
  return absl::OkStatus();
}

// lib/copy's ChunkSource over a CatalogCopyPeer session: item i of the plan
// is begin.items(i), asked for by name.
class PeerChunkSource : public copy::ChunkSource {
 public:
  PeerChunkSource(CatalogCopyPeer* peer, std::string session, std::vector<std::string> names)
      : peer_(peer), session_(std::move(session)), names_(std::move(names)) {}

  absl::StatusOr<copy::Chunk> FetchChunk(size_t item, uint64_t offset,
                                         int64_t max_length) override {
    FetchCatalogCopyDataRequestPB req;
    req.set_session_id(session_);
    req.set_name(names_.at(item));
    req.set_offset(static_cast<int64_t>(offset));
    req.set_max_length_bytes(max_length);
    ASSIGN_OR_RETURN(FetchCatalogCopyDataResponsePB resp, peer_->Fetch(req));
    copy::Chunk chunk;
    chunk.offset = static_cast<uint64_t>(resp.offset());
    chunk.total_size_bytes = resp.total_size_bytes();
    chunk.crc32c = resp.crc32c();
    chunk.data = std::move(*resp.mutable_data());
    return chunk;
  }

 private:
  CatalogCopyPeer* const peer_;
  const std::string session_;
  const std::vector<std::string> names_;
};

// Streams item `index` into a new file at `path` and fsyncs it.
absl::Status WriteStagedFile(const std::string& path, copy::VerifyingFetcher* fetcher,
                             size_t index) {
  ASSIGN_OR_RETURN(std::unique_ptr<copy::FileSink> sink, copy::FileSink::Create(path, {}));
  RETURN_IF_ERROR(fetcher->FetchItem(index, sink.get()));
  return sink->Finish();
}

// Every size and count `begin` announces against PeerCopyLimits and the free
// space of fs_root: before anything is allocated for or staged of it.
absl::Status CheckAnnouncedLimits(const BeginCatalogCopyResponsePB& begin,
                                  const std::string& fs_root) {
  using copy::PeerCopyLimits;
  const std::string session = absl::StrCat("catalog copy session ", begin.session_id(), " from ",
                                           begin.responder_uuid());
  RETURN_IF_ERROR(copy::CheckAnnouncedItemCount(session, begin.items_size()));
  // Each size is at most kMaxWalSegmentBytes (64 GiB) and there are at most
  // kMaxItems (10^6) of them, so the sum stays below 2^56: no overflow.
  int64_t total = 0;
  for (int i = 0; i < begin.items_size(); ++i) {
    const CatalogCopyItemPB& item = begin.items(i);
    const std::string what = absl::StrCat(session, ": item ", item.name());
    // Item 0 is the snapshot (Stage checked its name), buffered whole.
    if (i == 0) {
      RETURN_IF_ERROR(copy::CheckAnnouncedSize(what, item.size_bytes(),
                                                 PeerCopyLimits::kMaxCatalogSnapshotBytes,
                                                 "PeerCopyLimits::kMaxCatalogSnapshotBytes"));
    } else {
      RETURN_IF_ERROR(copy::CheckAnnouncedSize(what, item.size_bytes(),
                                                 PeerCopyLimits::kMaxWalSegmentBytes,
                                                 "PeerCopyLimits::kMaxWalSegmentBytes"));
    }
    total += item.size_bytes();
  }
  // The staging dir is under fs_root, and installing only renames.
  return copy::CheckFitsOnDisk(session, fs_root, total);
}

absl::StatusOr<CatalogCopyResult> Stage(CatalogCopyPeer* source, const std::string& fs_root,
                                        const std::string& tablet_id,
                                        const CatalogCopyOptions& options,
                                        const BeginCatalogCopyResponsePB& begin) {
  const std::string staging = CatalogCopyStagingDir(fs_root);
  const std::string wal = io::JoinPath(staging, kStagedWalDir);
  if (begin.items_size() < 2 || begin.items(0).name() != kCatalogCopySnapshotItem) {
    return absl::DataLossError(absl::StrCat(
        "catalog copy session ", begin.session_id(), " from ", begin.responder_uuid(),
        ": expected the snapshot item and at least one WAL segment, found ",
        begin.items_size(), " items"));
  }
  RETURN_IF_ERROR(CheckAnnouncedLimits(begin, fs_root));
  for (int i = 1; i < begin.items_size(); ++i) {
    const CatalogCopyItemPB& item = begin.items(i);
    // Names come from the peer: only plain segment names become paths.
    if (!fs::ValidateFileName(item.name(), "item").ok() ||
        !absl::StartsWith(item.name(), wal::kSegmentFilePrefix)) {
      return absl::DataLossError(absl::StrCat("catalog copy from ", begin.responder_uuid(),
                                              ": item ", i, " has name '", item.name(),
                                              "', expected a WAL segment name"));
    }
  }
  RETURN_IF_ERROR(io::CreateDirs(wal));
  // Every item, fetched ahead and checked by lib/copy (chunk offsets, sizes
  // and CRC32C, then each item's CRC32C).
  std::vector<copy::ItemSpec> specs;
  std::vector<std::string> item_names;
  for (const CatalogCopyItemPB& item : begin.items()) {
    copy::ItemSpec spec;
    spec.name = item.name();
    spec.size_bytes = item.size_bytes();
    spec.crc32c = item.crc32c();  // always announced (0 for an empty item)
    specs.push_back(std::move(spec));
    item_names.push_back(item.name());
  }
  copy::FetcherOptions fo;
  fo.what = absl::StrCat("catalog copy session ", begin.session_id(), " from ",
                         begin.responder_uuid());
  fo.chunk_size_bytes = options.chunk_size_bytes;
  fo.depth = 2;
  if (options.test_mutate_chunk) {
    fo.test_mutate_chunk = [&options, &item_names](size_t i, std::string* data) {
      options.test_mutate_chunk(item_names[i], data);
    };
  }
  fo.test_crash_after_chunks = options.test_crash_after_chunks;
  PeerChunkSource chunk_source(source, begin.session_id(), item_names);
  copy::VerifyingFetcher fetcher(&chunk_source, std::move(specs), std::move(fo));
  CatalogCopyResult result;
  result.source_uuid = begin.responder_uuid();
  result.snapshot_index = begin.snapshot_index();
  result.source_term = begin.cstate().current_term();

  // 1. The snapshot, parsed and rewritten as the master-catalog container.
  std::string snapshot_bytes;
  copy::StringSink snapshot_sink(&snapshot_bytes);
  RETURN_IF_ERROR(fetcher.FetchItem(0, &snapshot_sink));
  SysCatalogPB catalog;
  if (!catalog.ParseFromString(snapshot_bytes)) {
    return absl::DataLossError(absl::StrCat("catalog copy from ", begin.responder_uuid(),
                                            ": snapshot (", snapshot_bytes.size(),
                                            " bytes) does not parse as SysCatalogPB"));
  }
  if (catalog.applied_index() != begin.snapshot_index()) {
    return absl::DataLossError(absl::StrCat(
        "catalog copy from ", begin.responder_uuid(), ": snapshot applied_index ",
        catalog.applied_index(), ", expected the session's ", begin.snapshot_index()));
  }
  result.catalog_version = catalog.version();
  RETURN_IF_ERROR(pbc::WriteSingleMessageFile(io::JoinPath(staging, fs::kMasterCatalogFileName), catalog));

  // 2. The WAL segments.
  std::vector<std::string> names;
  for (int i = 1; i < begin.items_size(); ++i) {
    const CatalogCopyItemPB& item = begin.items(i);
    RETURN_IF_ERROR(WriteStagedFile(io::JoinPath(wal, item.name()), &fetcher, i));
    names.push_back(item.name());
  }
  RETURN_IF_ERROR(io::SyncDir(wal));
  result.wal_segments = static_cast<int>(names.size());
  result.bytes = fetcher.bytes();

  // 3. Consensus metadata: the one rule (lib/meta/cmeta_merge.h): the
  // source's term and committed config, never lowering the local term, the
  // local vote kept within the same term, a damaged local file refused.
  ASSIGN_OR_RETURN(consensus::ConsensusMetadataPB cmeta,
                   meta::MergeCopiedConsensusMeta(
                       begin.cstate(), fs::Layout(fs_root).ConsensusMetaPath(tablet_id)));
  RETURN_IF_ERROR(meta::StoreConsensusMeta(io::JoinPath(staging, kStagedCmeta), cmeta));
  RETURN_IF_ERROR(io::SyncDir(staging));

  // 4. The marker: from here on the copy is installed, by this call's caller
  // or by the next start.
  RETURN_IF_ERROR(io::WriteFileAtomically(io::JoinPath(staging, kCompleteMarker),
                                          absl::StrCat(absl::StrJoin(names, "\n"), "\n")));
  return result;
}

}  // namespace

std::string CatalogCopyStagingDir(const std::string& fs_root) {
  return fs::Layout(fs_root).CatalogCopyDir();
}

absl::StatusOr<CatalogCopyResult> FetchCatalogCopy(CatalogCopyPeer* source,
                                                   const std::string& fs_root,
                                                   const std::string& tablet_id,
                                                   const CatalogCopyOptions& options) {
  const std::string staging = CatalogCopyStagingDir(fs_root);
  if (io::FileExists(io::JoinPath(staging, kCompleteMarker))) {
    return absl::FailedPreconditionError(absl::StrCat(
        staging, " holds a complete catalog copy not installed yet; install it first"));
  }
  RETURN_IF_ERROR(RemoveTree(staging));
  BeginCatalogCopyRequestPB req;
  req.set_requestor_uuid(options.requestor_uuid);
  ASSIGN_OR_RETURN(BeginCatalogCopyResponsePB begin, source->Begin(req));
  absl::StatusOr<CatalogCopyResult> result;
  if (begin.snapshot_index() < options.local_last_logged_index) {
    result = absl::FailedPreconditionError(absl::StrCat(
        "catalog copy from ", begin.responder_uuid(), " refused: its snapshot covers index ",
        begin.snapshot_index(), " but the local log reaches ", options.local_last_logged_index,
        " (a copy must never move this master backwards)"));
  } else {
    result = Stage(source, fs_root, tablet_id, options, begin);
  }
  if (!result.ok() && rpc::IsSimulatedCrash(result.status())) {
    return result.status();  // leave everything as a crash would
  }
  (void)source->End(begin.session_id());
  if (!result.ok()) {
    if (absl::Status s = RemoveTree(staging); !s.ok()) {
      return Annotate(result.status(), absl::StrCat("(and removing ", staging, ": ", s.message(), ")"));
    }
  }
  return result;
}

absl::StatusOr<bool> RecoverOrInstallCatalogCopy(const std::string& fs_root,
                                                 const std::string& tablet_id) {
  const std::string staging = CatalogCopyStagingDir(fs_root);
  if (!io::FileExists(staging)) return false;
  const std::string marker = io::JoinPath(staging, kCompleteMarker);
  if (!io::FileExists(marker)) {
    // Interrupted before the marker: the local replica was never touched.
    RETURN_IF_ERROR(RemoveTree(staging));
    RETURN_IF_ERROR(io::SyncDir(fs_root));
    return false;
  }
  ASSIGN_OR_RETURN(std::string listing, io::ReadFileToString(marker));
  std::set<std::string> segments;
  for (absl::string_view n : absl::StrSplit(listing, '\n', absl::SkipEmpty())) {
    segments.insert(std::string(n));
  }
  if (segments.empty()) {
    return absl::DataLossError(absl::StrCat(marker, ": lists no WAL segment"));
  }
  const fs::Layout layout(fs_root);
  const std::string wal_dir = layout.WalDir(tablet_id);
  RETURN_IF_ERROR(io::CreateDirs(wal_dir));
  // 1. Everything in the WAL dir that is not one of the copy's segments.
  ASSIGN_OR_RETURN(std::vector<std::string> present, io::ListDir(wal_dir));
  for (const std::string& n : present) {
    if (segments.count(n) == 0) RETURN_IF_ERROR(RemoveTree(io::JoinPath(wal_dir, n)));
  }
  // 2. The staged segments (a retry finds some already moved).
  const std::string staged_wal = io::JoinPath(staging, kStagedWalDir);
  for (const std::string& n : segments) {
    const std::string from = io::JoinPath(staged_wal, n);
    if (io::FileExists(from)) {
      RETURN_IF_ERROR(Rename(from, io::JoinPath(wal_dir, n)));
    } else if (!io::FileExists(io::JoinPath(wal_dir, n))) {
      return absl::DataLossError(absl::StrCat("installing the catalog copy in ", staging,
                                              ": WAL segment ", n,
                                              " is neither staged nor installed"));
    }
  }
  RETURN_IF_ERROR(io::SyncDir(wal_dir));
  // 3. Consensus metadata and the snapshot.
  const std::string staged_cmeta = io::JoinPath(staging, kStagedCmeta);
  if (io::FileExists(staged_cmeta)) {
    RETURN_IF_ERROR(io::CreateDirs(layout.ConsensusMetaDir()));
    RETURN_IF_ERROR(Rename(staged_cmeta, layout.ConsensusMetaPath(tablet_id)));
    RETURN_IF_ERROR(io::SyncDir(layout.ConsensusMetaDir()));
  }
  const std::string staged_snapshot = io::JoinPath(staging, fs::kMasterCatalogFileName);
  if (io::FileExists(staged_snapshot)) {
    RETURN_IF_ERROR(Rename(staged_snapshot, io::JoinPath(fs_root, fs::kMasterCatalogFileName)));
    RETURN_IF_ERROR(io::SyncDir(fs_root));
  }
  // 4. The marker last: until it goes, a restart redoes the steps above.
  if (::unlink(marker.c_str()) != 0) return io::ErrnoError("unlink", marker, errno);
  RETURN_IF_ERROR(io::SyncDir(staging));
  RETURN_IF_ERROR(RemoveTree(staging));
  RETURN_IF_ERROR(io::SyncDir(fs_root));
  return true;
}

}  // namespace kmend::master
