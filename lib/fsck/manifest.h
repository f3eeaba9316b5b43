// The backup manifest of an fsck repair, `<backup_dir>/manifest.json`: the
// journal (repair.h) and the map `fsck undo` follows. JSON, schema
// "kmend.fsck-backup/1" (docs/cli/fsck.md, "Backup directory"):
//
//   {"schema": "kmend.fsck-backup/1", "fs_root": DIR, "timestamp_micros": N,
//    "state": "in_progress" | "complete" | "undone",
//    "actions": [{"seq": N, "kind": KIND, "description": TEXT,
//                 "state": "planned" | "backed_up" | "done",
//                 "params": {...},                       // the RepairAction
//                 "backups": [{"kind": "file" | "range", "path": P,
//                              "backup": NAME,          // file in backup_dir
//                              "size": N,               // file: its size
//                              "mode": N,               // file: st_mode & 07777
//                              "offset": N, "length": N,  // range: where in P
//                              "crc32c": N}]}]}         // of the backup's bytes
//
// Writes are atomic (io::WriteFileAtomically) and durable before the change
// they announce. Thread safety: none; one repair at a time owns the file.
#ifndef KMEND_LIB_FSCK_MANIFEST_H_
#define KMEND_LIB_FSCK_MANIFEST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/fsck/repair.h"

namespace kmend::fsck {

inline constexpr char kManifestFileName[] = "manifest.json";
inline constexpr char kManifestSchema[] = "kmend.fsck-backup/1";

struct BackupEntry {
  enum class Kind { kFile, kRange };
  Kind kind = Kind::kFile;
  std::string path;    // the original
  std::string backup;  // name inside the backup directory
  uint64_t size = 0;   // kFile
  uint32_t mode = 0644;
  uint64_t offset = 0;  // kRange
  uint64_t length = 0;
  uint32_t crc32c = 0;
};

struct ManifestAction {
  RepairAction action;
  enum class State { kPlanned, kBackedUp, kDone };
  State state = State::kPlanned;
  std::vector<BackupEntry> backups;
};

struct Manifest {
  std::string fs_root;
  int64_t timestamp_micros = 0;
  enum class State { kInProgress, kComplete, kUndone };
  State state = State::kInProgress;
  std::vector<ManifestAction> actions;
};

absl::Status WriteManifest(const std::string& backup_dir, const Manifest& m);
// NotFound when there is none; DataLoss naming the field when it is damaged.
absl::StatusOr<Manifest> ReadManifest(const std::string& backup_dir);

// Copies all of `path` to `<backup_dir>/<name>` (written, fsynced; the
// directory fsynced) and describes it.
absl::StatusOr<BackupEntry> BackupFile(const std::string& path, const std::string& backup_dir,
                                       const std::string& name);
// Copies bytes [offset, offset + length) of `path` (clamped to its size).
absl::StatusOr<BackupEntry> BackupRange(const std::string& path, uint64_t offset, uint64_t length,
                                        const std::string& backup_dir, const std::string& name);
// DataLoss when the backup's bytes no longer match their CRC32C.
absl::Status VerifyBackup(const BackupEntry& e, const std::string& backup_dir);
// Puts the backed-up bytes back: a file atomically (temp, fsync, rename,
// fsync dir) with its mode; a range in place (pwrite, fsync).
absl::Status RestoreBackup(const BackupEntry& e, const std::string& backup_dir);

}  // namespace kmend::fsck

#endif  // KMEND_LIB_FSCK_MANIFEST_H_
