// Reads what one replica's files in a data directory say, for the rebuild's
// term rule (lib/rebuild/target_term.h): the superblock, the consensus
// metadata and the WAL, each of which may be missing or damaged. Never
// fails: what cannot be read is recorded as such.
//
// The caller must make sure no Raft driver writes the WAL meanwhile (the
// replica does not run, or the server is stopped).
//
// Thread safety: a free function.
#ifndef KMEND_LIB_REBUILD_REPLICA_FILES_H_
#define KMEND_LIB_REBUILD_REPLICA_FILES_H_

#include <string>

#include "lib/fs/layout.h"
#include "lib/rebuild/target_term.h"

namespace kmend::rebuild {

TargetFiles InspectReplicaFiles(const fs::Layout& layout, const std::string& tablet_id);

}  // namespace kmend::rebuild

#endif  // KMEND_LIB_REBUILD_REPLICA_FILES_H_
