// The receiving side of catalog copy between masters (docs/design/server.md,
// "Replicated catalog"): a master whose sys-catalog log is behind the
// leader's first retained entry fetches the leader's applied catalog and WAL
// segments (catalog_copy_source.h) and installs them in place of its own.
//
// Crash safety: the copy is staged in <fs_root>/catalog-copy/ (snapshot as
// "master-catalog", segments under "wal/", consensus metadata as "cmeta"),
// each file checked (per-chunk and whole-item CRC32C, sizes), written and
// fsynced; only then the marker "COMPLETE" (listing the segments) is written
// atomically. Before the marker, the local catalog replica is untouched and
// a crash leaves a staging dir that start-up deletes. After it, installing
// (RecoverOrInstallCatalogCopy) rolls forward idempotently: WAL files not in
// the list are deleted, staged segments renamed into the WAL dir, cmeta and
// snapshot renamed into place, and the marker deleted last. A crash during
// install is finished by the next start. A half-written catalog never
// becomes visible: the driver only opens after install completes.
//
// Never backwards: FetchCatalogCopy refuses a source whose snapshot index is
// below the local last logged index (the local log may hold newer entries),
// and the staged cmeta never lowers the local term (and keeps the local
// vote when the term stays), so a master never votes twice in a term.
//
// Thread safety: free functions; one copy per fs_root at a time (the master
// runs at most one, with its catalog replica stopped).
#ifndef KMEND_SERVER_MASTER_CATALOG_COPY_CLIENT_H_
#define KMEND_SERVER_MASTER_CATALOG_COPY_CLIENT_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/master.pb.h"

namespace kmend::master {

// <fs_root>/catalog-copy
std::string CatalogCopyStagingDir(const std::string& fs_root);

// The three calls of a source, over gRPC (catalog_copy_service.h) or
// direct (tests).
class CatalogCopyPeer {
 public:
  virtual ~CatalogCopyPeer() = default;
  virtual absl::StatusOr<BeginCatalogCopyResponsePB> Begin(
      const BeginCatalogCopyRequestPB& request) = 0;
  virtual absl::StatusOr<FetchCatalogCopyDataResponsePB> Fetch(
      const FetchCatalogCopyDataRequestPB& request) = 0;
  virtual absl::Status End(const std::string& session_id) = 0;
};

struct CatalogCopyOptions {
  std::string requestor_uuid;
  // The local last logged op index (with the catalog replica stopped): a
  // source whose snapshot is below it is refused.
  int64_t local_last_logged_index = 0;
  int64_t chunk_size_bytes = 1 << 20;
  // Test hooks: change a chunk after it arrived (corruption in transit);
  // >= 0: return Aborted after this many chunks without cleaning up (a
  // simulated crash mid-copy).
  std::function<void(const std::string& item, std::string* data)> test_mutate_chunk;
  int64_t test_crash_after_chunks = -1;
};

struct CatalogCopyResult {
  std::string source_uuid;
  int64_t snapshot_index = 0;
  int64_t catalog_version = 0;
  int64_t source_term = 0;
  int wal_segments = 0;
  int64_t bytes = 0;
};

// Fetches and stages a copy (see the file comment) of the sys-catalog
// replica `tablet_id` into fs_root's staging dir and writes the COMPLETE
// marker. Does not install. FailedPrecondition: the source is not ahead of
// the local log, or a COMPLETE staged copy is already waiting to be
// installed. DataLoss: a CRC or size check failed. On any error except the
// simulated crash the staging dir is removed (local state untouched).
absl::StatusOr<CatalogCopyResult> FetchCatalogCopy(CatalogCopyPeer* source,
                                                   const std::string& fs_root,
                                                   const std::string& tablet_id,
                                                   const CatalogCopyOptions& options);

// Start-up and after FetchCatalogCopy: installs a COMPLETE staged copy
// (returns true) or deletes an incomplete staging dir (returns false;
// also false when there is none).
absl::StatusOr<bool> RecoverOrInstallCatalogCopy(const std::string& fs_root,
                                                 const std::string& tablet_id);

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_CATALOG_COPY_CLIENT_H_
