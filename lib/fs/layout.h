// Paths inside one tablet server root (docs/formats/data_dir.md):
//
//   <root>/instance                        PB container: InstanceMetadataPB
//   <root>/.kmend.lock                     flock held by the running server
//   <root>/data/block_manager_instance     PB container: DirInstanceMetadataPB
//   <root>/data/<32hex>.data|.metadata     log block manager containers
//   <root>/tablet-meta/<tablet_id>         superblock (TabletSuperBlockPB)
//   <root>/consensus-meta/<tablet_id>      ConsensusMetadataPB
//   <root>/wals/<tablet_id>/               WAL segments
//
// Every component of kmend builds these paths through Layout, so that the
// server, the offline tools and the tests agree on them. Layout is a value
// type: pure string functions, no I/O, thread-compatible.
#ifndef KMEND_LIB_FS_LAYOUT_H_
#define KMEND_LIB_FS_LAYOUT_H_

#include <string>

#include "absl/strings/string_view.h"

namespace kmend::fs {

inline constexpr char kInstanceFileName[] = "instance";
inline constexpr char kLockFileName[] = ".kmend.lock";
inline constexpr char kDataDirName[] = "data";
inline constexpr char kBlockManagerInstanceFileName[] = "block_manager_instance";
inline constexpr char kTabletMetaDirName[] = "tablet-meta";
inline constexpr char kConsensusMetaDirName[] = "consensus-meta";
inline constexpr char kWalsDirName[] = "wals";
// A master's catalog snapshot (server/master/catalog_store).
inline constexpr char kMasterCatalogFileName[] = "master-catalog";
// A master's staging directory for a catalog copy (server/master/catalog_copy).
inline constexpr char kCatalogCopyDirName[] = "catalog-copy";
// Appended to a superblock's path: the resume journal of a tablet copy into
// it (lib/tablet_copy/copy_journal).
inline constexpr char kCopyJournalSuffix[] = ".copy-journal";

class Layout {
 public:
  explicit Layout(std::string root);

  const std::string& root() const { return root_; }

  std::string InstancePath() const;               // <root>/instance
  std::string LockPath() const;                   // <root>/.kmend.lock
  std::string DataDir() const;                    // <root>/data
  std::string BlockManagerInstancePath() const;   // <root>/data/block_manager_instance
  std::string TabletMetaDir() const;              // <root>/tablet-meta
  std::string TabletMetaPath(absl::string_view tablet_id) const;
  std::string ConsensusMetaDir() const;           // <root>/consensus-meta
  std::string ConsensusMetaPath(absl::string_view tablet_id) const;
  std::string WalsDir() const;                    // <root>/wals
  std::string WalDir(absl::string_view tablet_id) const;  // <root>/wals/<tablet_id>
  std::string CatalogCopyDir() const;             // <root>/catalog-copy
  // <root>/tablet-meta/<tablet_id>.copy-journal
  std::string CopyJournalPath(absl::string_view tablet_id) const;

 private:
  std::string root_;
};

// True for a canonical kmend/Kudu uuid: exactly 32 lowercase hex characters.
// Tablet ids, server uuids and container ids all have this form; files in
// tablet-meta/ and consensus-meta/ with other names are ignored.
bool IsCanonicalUuid(absl::string_view s);

}  // namespace kmend::fs

#endif  // KMEND_LIB_FS_LAYOUT_H_
