// The judge of `kmend fsck`: a pure function from what the scan found
// (report.h) to a verdict per tablet and the command that fixes it. No I/O,
// tested on hand-made reports (verdict_test.cc), like lib/check's checker.
//
// Rules (docs/cli/fsck.md, "Verdicts"):
//   NEEDS_REBUILD       the tablet's data cannot be trusted or served and only
//                       a peer has it: superblock or consensus metadata
//                       CORRUPT/MISSING, a WAL segment CORRUPT (mid-log damage,
//                       an op-index gap), a rowset block MISSING or CORRUPT,
//                       the offline start-up check failing, or the superblock
//                       already saying FAILED. The fix is `kmend rebuild-replica`
//                       from a peer in the tablet's Raft config.
//   UNCHECKED           one of its files could not be read (permissions, EIO):
//                       nothing is concluded; fix the access and run again.
//   REPAIRABLE_LOCALLY  only a torn WAL tail (a crash mid-append: the entry was
//                       never acknowledged) or a leftover temp file: `fsck
//                       --repair` fixes it and loses nothing acknowledged.
//   HEALTHY             none of the above.
// Problems of the data directory as a whole (torn or orphan containers,
// orphaned blocks) do not change a tablet's verdict; they are in
// server_problems and in the repair plan.
#ifndef KMEND_LIB_FSCK_VERDICT_H_
#define KMEND_LIB_FSCK_VERDICT_H_

#include "lib/fsck/report.h"

namespace kmend::fsck {

// Fills verdict, reasons, fix_command and fix_note of every tablet.
void Judge(FsckReport* report);

}  // namespace kmend::fsck

#endif  // KMEND_LIB_FSCK_VERDICT_H_
