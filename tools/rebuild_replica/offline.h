// kmend rebuild-replica --fs_root: rebuilds one replica into the data
// directory of a STOPPED tablet server (Kudu's `local_replica
// copy_from_remote`), leaving it READY for the server's next start.
//
// Refuses a directory whose lock a running server holds (lib/io/dir_lock),
// and a local replica whose last logged term is ahead of the source's, or
// cannot be learned (its WAL and cmeta both unreadable), unless forced
// (lib/rebuild/target_term.h). An unreadable superblock or cmeta does not
// stop it: both are replaced (lib/tablet_copy CopyOptions). Before anything
// changes, the replica's superblock and consensus metadata are copied to
// --backup_dir. The copy itself is
// lib/tablet_copy's CopyTablet: crash-safe (COPYING until the final
// superblock write) and resumable.
#ifndef KMEND_TOOLS_REBUILD_REPLICA_OFFLINE_H_
#define KMEND_TOOLS_REBUILD_REPLICA_OFFLINE_H_

#include <chrono>
#include <string>

namespace kmend::rebuild_tool {

struct OfflineOptions {
  std::string fs_root;
  std::string tablet_id;
  std::string source;  // host:port
  bool yes = false;
  bool force = false;
  bool json = false;
  std::string backup_dir = ".";
  std::chrono::milliseconds rpc_timeout{10000};
};

// Runs the offline rebuild and returns the tool's exit code (it prints).
int RunOffline(const OfflineOptions& options);

}  // namespace kmend::rebuild_tool

#endif  // KMEND_TOOLS_REBUILD_REPLICA_OFFLINE_H_
