#include "server/master/catalog_copy_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <set>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "lib/rpc/status_payloads.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "lib/format/crc32c.h"
#include "lib/format/pb_container.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/util/status_macros.h"
#include "server/common/copy_limits.h"
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

class Fetcher {
 public:
  Fetcher(CatalogCopyPeer* source, const CatalogCopyOptions& options, std::string session)
      : source_(source), options_(options), session_(std::move(session)) {}

  // Calls `sink` with each chunk of `item` in order, after checking each
  // chunk's offset, total size and CRC, and at the end the item's CRC.
  absl::Status Fetch(const CatalogCopyItemPB& item,
                     const std::function<absl::Status(const std::string&)>& sink) {
    const std::string where = absl::StrCat("catalog copy session ", session_, ", item ",
                                           item.name());
    int64_t offset = 0;
    uint32_t crc = 0;
    while (offset < item.size_bytes()) {
      if (options_.test_crash_after_chunks >= 0 && chunks_ >= options_.test_crash_after_chunks) {
        return rpc::SimulatedCrashError("simulated crash during catalog copy");
      }
      FetchCatalogCopyDataRequestPB req;
      req.set_session_id(session_);
      req.set_name(item.name());
      req.set_offset(offset);
      req.set_max_length_bytes(options_.chunk_size_bytes);
      ASSIGN_OR_RETURN(FetchCatalogCopyDataResponsePB resp, source_->Fetch(req));
      ++chunks_;
      std::string data = std::move(*resp.mutable_data());
      if (options_.test_mutate_chunk) options_.test_mutate_chunk(item.name(), &data);
      if (resp.offset() != offset || resp.total_size_bytes() != item.size_bytes()) {
        return absl::DataLossError(absl::StrCat(
            where, ": expected a chunk at offset ", offset, " of ", item.size_bytes(),
            " bytes, found offset ", resp.offset(), " of ", resp.total_size_bytes()));
      }
      RETURN_IF_ERROR(server::CheckChunkLength(absl::StrCat(where, ": chunk at offset ", offset),
                                               data.size(), options_.chunk_size_bytes));
      if (data.empty() || offset + static_cast<int64_t>(data.size()) > item.size_bytes()) {
        return absl::DataLossError(absl::StrCat(where, ": chunk at offset ", offset, " has ",
                                                data.size(), " bytes; the item has ",
                                                item.size_bytes()));
      }
      const uint32_t chunk_crc = crc32c::Value(data);
      if (chunk_crc != resp.crc32c()) {
        return absl::DataLossError(absl::StrCat(where, ": chunk at offset ", offset,
                                                ": CRC32C expected ", resp.crc32c(),
                                                ", computed ", chunk_crc));
      }
      crc = crc32c::Extend(crc, data.data(), data.size());
      RETURN_IF_ERROR(sink(data));
      offset += static_cast<int64_t>(data.size());
      bytes_ += static_cast<int64_t>(data.size());
    }
    if (crc != item.crc32c()) {
      return absl::DataLossError(absl::StrCat(where, ": whole-item CRC32C expected ",
                                              item.crc32c(), ", computed ", crc));
    }
    return absl::OkStatus();
  }
  int64_t bytes() const { return bytes_; }

 private:
  CatalogCopyPeer* const source_;
  const CatalogCopyOptions& options_;
  const std::string session_;
  int64_t chunks_ = 0;
  int64_t bytes_ = 0;
};

absl::Status WriteStagedFile(const std::string& path, Fetcher* fetcher,
                             const CatalogCopyItemPB& item) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io::ErrnoError("create", path, errno);
  absl::Status s = fetcher->Fetch(item, [&](const std::string& chunk) {
    return io::WriteFully(fd, path, chunk);
  });
  if (s.ok() && ::fsync(fd) != 0) s = io::ErrnoError("fsync", path, errno);
  ::close(fd);
  return s;
}

// Every size and count `begin` announces against PeerCopyLimits and the free
// space of fs_root: before anything is allocated for or staged of it.
absl::Status CheckAnnouncedLimits(const BeginCatalogCopyResponsePB& begin,
                                  const std::string& fs_root) {
  using server::PeerCopyLimits;
  const std::string session = absl::StrCat("catalog copy session ", begin.session_id(), " from ",
                                           begin.responder_uuid());
  RETURN_IF_ERROR(server::CheckAnnouncedItemCount(session, begin.items_size()));
  // Each size is at most kMaxWalSegmentBytes (64 GiB) and there are at most
  // kMaxItems (10^6) of them, so the sum stays below 2^56: no overflow.
  int64_t total = 0;
  for (int i = 0; i < begin.items_size(); ++i) {
    const CatalogCopyItemPB& item = begin.items(i);
    const std::string what = absl::StrCat(session, ": item ", item.name());
    // Item 0 is the snapshot (Stage checked its name), buffered whole.
    if (i == 0) {
      RETURN_IF_ERROR(server::CheckAnnouncedSize(what, item.size_bytes(),
                                                 PeerCopyLimits::kMaxCatalogSnapshotBytes,
                                                 "PeerCopyLimits::kMaxCatalogSnapshotBytes"));
    } else {
      RETURN_IF_ERROR(server::CheckAnnouncedSize(what, item.size_bytes(),
                                                 PeerCopyLimits::kMaxWalSegmentBytes,
                                                 "PeerCopyLimits::kMaxWalSegmentBytes"));
    }
    total += item.size_bytes();
  }
  // The staging dir is under fs_root, and installing only renames.
  return server::CheckFitsOnDisk(session, fs_root, total);
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
  RETURN_IF_ERROR(io::CreateDirs(wal));
  Fetcher fetcher(source, options, begin.session_id());
  CatalogCopyResult result;
  result.source_uuid = begin.responder_uuid();
  result.snapshot_index = begin.snapshot_index();
  result.source_term = begin.cstate().current_term();

  // 1. The snapshot, parsed and rewritten as the master-catalog container.
  std::string snapshot_bytes;
  RETURN_IF_ERROR(fetcher.Fetch(begin.items(0), [&](const std::string& chunk) {
    snapshot_bytes.append(chunk);
    return absl::OkStatus();
  }));
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
  RETURN_IF_ERROR(pbc::WriteSingleMessageFile(io::JoinPath(staging, kCatalogFileName), catalog));

  // 2. The WAL segments.
  std::vector<std::string> names;
  for (int i = 1; i < begin.items_size(); ++i) {
    const CatalogCopyItemPB& item = begin.items(i);
    // Names come from the peer: only plain segment names become paths.
    if (item.name().empty() || item.name().find('/') != std::string::npos ||
        item.name()[0] == '.' || item.name().rfind("wal-", 0) != 0) {
      return absl::DataLossError(absl::StrCat("catalog copy from ", begin.responder_uuid(),
                                              ": item ", i, " has name '", item.name(),
                                              "', expected a WAL segment name"));
    }
    RETURN_IF_ERROR(WriteStagedFile(io::JoinPath(wal, item.name()), &fetcher, item));
    names.push_back(item.name());
  }
  RETURN_IF_ERROR(io::SyncDir(wal));
  result.wal_segments = static_cast<int>(names.size());
  result.bytes = fetcher.bytes();

  // 3. Consensus metadata: the source's term and committed config, never
  // lowering the local term; the local vote kept within the same term.
  consensus::ConsensusMetadataPB cmeta;
  *cmeta.mutable_committed_config() = begin.cstate().committed_config();
  cmeta.set_current_term(begin.cstate().current_term());
  const std::string local_path = fs::Layout(fs_root).ConsensusMetaPath(tablet_id);
  if (io::FileExists(local_path)) {
    absl::StatusOr<consensus::ConsensusMetadataPB> local = meta::LoadConsensusMeta(local_path);
    if (!local.ok()) return local.status();  // never guess a term
    if (local->current_term() > cmeta.current_term()) cmeta.set_current_term(local->current_term());
    if (local->current_term() == cmeta.current_term() && local->has_voted_for()) {
      cmeta.set_voted_for(local->voted_for());
    }
  }
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
  return io::JoinPath(fs_root, "catalog-copy");
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
  const std::string staged_snapshot = io::JoinPath(staging, kCatalogFileName);
  if (io::FileExists(staged_snapshot)) {
    RETURN_IF_ERROR(Rename(staged_snapshot, io::JoinPath(fs_root, kCatalogFileName)));
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
