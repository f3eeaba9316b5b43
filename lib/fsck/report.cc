// Names of the report's enums (report.h); these strings are the JSON schema's
// values, so they never change within kmend.fsck/1.
#include "lib/fsck/report.h"

namespace kmend::fsck {

const char* ChecksName(Checks c) {
  switch (c) {
    case Checks::kFraming:
      return "framing";
    case Checks::kChecksums:
      return "checksums";
    case Checks::kDecode:
      return "decode";
  }
  return "unknown";
}

bool ParseChecks(const std::string& s, Checks* out) {
  for (Checks c : {Checks::kFraming, Checks::kChecksums, Checks::kDecode}) {
    if (s == ChecksName(c)) {
      *out = c;
      return true;
    }
  }
  return false;
}

const char* FileStatusName(FileStatus s) {
  switch (s) {
    case FileStatus::kOk:
      return "OK";
    case FileStatus::kTornTail:
      return "TORN_TAIL";
    case FileStatus::kCorrupt:
      return "CORRUPT";
    case FileStatus::kMissing:
      return "MISSING";
    case FileStatus::kOrphaned:
      return "ORPHANED";
    case FileStatus::kUnreadable:
      return "UNREADABLE";
  }
  return "UNKNOWN";
}

const char* FileKindName(FileKind k) {
  switch (k) {
    case FileKind::kInstance:
      return "instance";
    case FileKind::kBlockManagerInstance:
      return "block_manager_instance";
    case FileKind::kSuperblock:
      return "superblock";
    case FileKind::kConsensusMeta:
      return "consensus_meta";
    case FileKind::kWalSegment:
      return "wal_segment";
    case FileKind::kContainerMetadata:
      return "container_metadata";
    case FileKind::kContainerData:
      return "container_data";
    case FileKind::kTempFile:
      return "temp_file";
  }
  return "unknown";
}

const char* BlockStatusName(BlockStatus s) {
  switch (s) {
    case BlockStatus::kMissing:
      return "MISSING";
    case BlockStatus::kCorrupt:
      return "CORRUPT";
    case BlockStatus::kOrphaned:
      return "ORPHANED";
    case BlockStatus::kUnchecked:
      return "UNCHECKED";
  }
  return "UNKNOWN";
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kHealthy:
      return "HEALTHY";
    case Verdict::kRepairableLocally:
      return "REPAIRABLE_LOCALLY";
    case Verdict::kNeedsRebuild:
      return "NEEDS_REBUILD";
    case Verdict::kUnchecked:
      return "UNCHECKED";
  }
  return "UNKNOWN";
}

bool FsckReport::clean() const {
  if (!server_problems.empty() || !blocks.empty()) return false;
  for (const FileReport& f : files) {
    if (f.status != FileStatus::kOk) return false;
  }
  for (const TabletReport& t : tablets) {
    if (t.verdict != Verdict::kHealthy) return false;
  }
  return true;
}

}  // namespace kmend::fsck
