// CatalogCopySource: the serving side of catalog copy between masters
// (docs/design/server.md, "Replicated catalog"). A session is a fixed
// snapshot of one master's catalog replica: its applied catalog (with the
// op index it covers) and every sys-catalog WAL segment present when the
// session began, so that a master whose log is behind the leader's first
// retained index can rebuild a replica that Raft can resume from.
//
// Consistency: the caller builds the snapshot (CatalogCopyState) while WAL
// GC is held off, applied catalog first, then segments (Begin lists them):
// GC never passes the durable snapshot + 1 <= the applied index + 1, so the
// segments cover every entry after the snapshot index; and an applied entry
// is in the local log, so the segments reach at least the snapshot index.
// Closed segments are held by open descriptor (a GC during the session
// unlinks them, the bytes stay readable); the segment being written is read
// into memory at Begin, a prefix of the log possibly ending in a torn batch
// that the receiver's WAL recovery cuts off as after a crash (every entry up
// to the snapshot index is durable, hence whole, before it is applied).
//
// Every item carries the CRC32C of its whole contents (computed at Begin)
// and every chunk the CRC32C of its data.
//
// Thread safety: all methods are thread-safe. Sessions idle longer than the
// timeout are dropped on the next Begin.
#ifndef KMEND_SERVER_MASTER_CATALOG_COPY_SOURCE_H_
#define KMEND_SERVER_MASTER_CATALOG_COPY_SOURCE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "lib/copy/session_table.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/master.pb.h"

namespace kmend::master {

// The name of the catalog snapshot item of a session.
inline constexpr char kCatalogCopySnapshotItem[] = "snapshot";

// What a session serves, taken by the master under its WAL GC lock.
struct CatalogCopyState {
  SysCatalogPB catalog;  // applied catalog, applied_index set
  consensus::ConsensusStatePB cstate;
  std::string wal_dir;
};

class CatalogCopySource {
 public:
  CatalogCopySource(std::string uuid, absl::Duration idle_timeout = absl::Seconds(60));
  ~CatalogCopySource();
  CatalogCopySource(const CatalogCopySource&) = delete;
  CatalogCopySource& operator=(const CatalogCopySource&) = delete;

  // Opens a session on `state` (reads and checksums every item). Must be
  // called while the WAL segments in state.wal_dir cannot be deleted.
  // InvalidArgument when the requestor is this master.
  absl::StatusOr<BeginCatalogCopyResponsePB> Begin(const std::string& requestor_uuid,
                                                  const CatalogCopyState& state);
  // NotFound: unknown session or item; OutOfRange: offset past the end.
  absl::StatusOr<FetchCatalogCopyDataResponsePB> Fetch(
      const FetchCatalogCopyDataRequestPB& request);
  absl::Status End(const std::string& session_id);
  int num_sessions() const;

 private:
  struct Item;
  struct Session;

  const std::string uuid_;
  // Idle expiry (lib/copy, shared with tablet copy).
  copy::SessionTable<Session> sessions_;
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_CATALOG_COPY_SOURCE_H_
