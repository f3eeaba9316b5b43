// Loading one log block manager container. Format and damage rules:
// docs/formats/block_container.md (FORMATS.md section 6).
#include "lib/blocks/container.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/format/pb_container.h"
#include "lib/fs/layout.h"
#include "lib/io/file.h"
#include "proto/fs.pb.h"

namespace kmend::blocks {

const char* IssueKindName(IssueKind kind) {
  switch (kind) {
    case IssueKind::kTornMetadataTail: return "torn_metadata_tail";
    case IssueKind::kCorruptMetadata: return "corrupt_metadata";
    case IssueKind::kUnparsableRecord: return "unparsable_record";
    case IssueKind::kCreateWithoutRange: return "create_without_range";
    case IssueKind::kCreateNegativeRange: return "create_negative_range";
    case IssueKind::kBlockPastEndOfData: return "block_past_end_of_data";
    case IssueKind::kDuplicateCreate: return "duplicate_create";
    case IssueKind::kDeleteUnknownBlock: return "delete_unknown_block";
    case IssueKind::kUnknownRecordType: return "unknown_record_type";
    case IssueKind::kDuplicateBlockAcrossContainers: return "duplicate_block_across_containers";
    case IssueKind::kOrphanContainer: return "orphan_container";
    case IssueKind::kMissingDataFile: return "missing_data_file";
    case IssueKind::kMissingMetadataFile: return "missing_metadata_file";
  }
  return "unknown";
}

bool LoadedContainer::IsOrphan() const {
  if (!live.empty()) return false;
  // Kudu: metadata shorter than the smallest container header and no data.
  if (metadata_exists && metadata_size_bytes < 12 && (!data_exists || data_size_bytes == 0)) {
    return true;
  }
  // kmend: metadata too damaged to read a single record and no data: a
  // container whose creation was cut short.
  if (corrupt && records == 0 && (!data_exists || data_size_bytes == 0)) return true;
  // Kudu: .data missing and no live blocks in .metadata.
  if (!data_exists) return true;
  // kmend: .data without .metadata (a crash right after creating .data) that
  // holds nothing: no block was ever acknowledged from it.
  if (!metadata_exists && data_size_bytes == 0) return true;
  return false;
}

absl::StatusOr<std::vector<std::string>> ListContainerIds(const std::string& data_dir) {
  auto names = io::ListDir(data_dir);
  if (!names.ok()) return names.status();
  std::set<std::string> ids;
  for (const std::string& n : *names) {
    for (absl::string_view suffix : {absl::string_view(kDataSuffix),
                                     absl::string_view(kMetadataSuffix)}) {
      if (absl::EndsWith(n, suffix)) {
        std::string id = n.substr(0, n.size() - suffix.size());
        if (fs::IsCanonicalUuid(id)) ids.insert(id);
      }
    }
  }
  return std::vector<std::string>(ids.begin(), ids.end());
}

absl::StatusOr<LoadedContainer> LoadContainer(const std::string& data_dir, const std::string& id,
                                              uint64_t filesystem_block_size_bytes) {
  LoadedContainer c;
  c.id = id;
  c.data_path = io::JoinPath(data_dir, id + kDataSuffix);
  c.metadata_path = io::JoinPath(data_dir, id + kMetadataSuffix);
  c.data_exists = io::FileExists(c.data_path);
  c.metadata_exists = io::FileExists(c.metadata_path);
  if (c.data_exists) {
    auto size = io::FileSize(c.data_path);
    if (!size.ok()) return size.status();
    c.data_size_bytes = *size;
  }
  auto issue = [&c](IssueKind kind, const std::string& path, uint64_t offset, BlockId block,
                    std::string detail) {
    c.issues.push_back({kind, c.id, path, offset, block, std::move(detail)});
  };
  uint64_t max_end = c.data_size_bytes;

  if (c.metadata_exists) {
    auto size = io::FileSize(c.metadata_path);
    if (!size.ok()) return size.status();
    c.metadata_size_bytes = *size;
  }
  if (c.metadata_exists && c.metadata_size_bytes > 0) {
    auto reader = pbc::Reader::Open(c.metadata_path);
    if (!reader.ok()) {
      // I/O failures are errors; anything else (bad magic, CRC, an unknown
      // version, an encrypted file) is damage to report, not a reason to
      // refuse the whole data directory.
      const absl::StatusCode code = reader.status().code();
      if (code == absl::StatusCode::kInternal || code == absl::StatusCode::kPermissionDenied ||
          code == absl::StatusCode::kResourceExhausted || code == absl::StatusCode::kNotFound) {
        return reader.status();
      }
      // Too short or damaged to hold the container headers. A short file is
      // a creation torn by a crash (Kudu's orphan rule covers < 12 bytes).
      if (c.metadata_size_bytes >= 12) {
        c.corrupt = true;
        issue(IssueKind::kCorruptMetadata, c.metadata_path, 0, 0,
              std::string(reader.status().message()));
      }
    } else {
      pbc::Reader& r = **reader;
      c.valid_metadata_bytes = r.valid_end();
      std::string data;
      while (true) {
        auto next = r.ReadNext(&data);
        if (!next.ok()) {
          c.corrupt = true;
          issue(IssueKind::kCorruptMetadata, c.metadata_path, r.record_offset(), 0,
                absl::StrCat(next.status().message(), "; records after it were not read"));
          break;
        }
        if (*next == pbc::Reader::Next::kEnd) break;
        if (*next == pbc::Reader::Next::kTornTail) {
          c.torn_tail = true;
          issue(IssueKind::kTornMetadataTail, c.metadata_path, r.record_offset(), 0,
                absl::StrCat("incomplete record at offset ", r.record_offset(), " of ",
                             c.metadata_size_bytes, "-byte file (crash mid-append)"));
          break;
        }
        const uint64_t off = r.record_offset();
        c.valid_metadata_bytes = r.valid_end();
        ++c.records;
        BlockRecordPB rec;
        if (!rec.ParsePartialFromString(data) || !rec.IsInitialized()) {
          issue(IssueKind::kUnparsableRecord, c.metadata_path, off, 0,
                absl::StrCat("record is not a valid BlockRecordPB (missing: ",
                             rec.InitializationErrorString(), ")"));
          continue;
        }
        const BlockId bid = rec.block_id().id();
        if (bid > c.max_block_id) c.max_block_id = bid;
        switch (rec.op_type()) {
          case CREATE: {
            if (!rec.has_offset() || !rec.has_length()) {
              issue(IssueKind::kCreateWithoutRange, c.metadata_path, off, bid,
                    "CREATE record without offset or length");
              break;
            }
            if (rec.offset() < 0 || rec.length() < 0) {
              issue(IssueKind::kCreateNegativeRange, c.metadata_path, off, bid,
                    absl::StrCat("CREATE with offset ", rec.offset(), ", length ", rec.length()));
              break;
            }
            // Without a .data file its size is unknown: keep the block live
            // (reported as kMissingDataFile below) rather than calling every
            // block "past the end", which would make the container look
            // like an orphan that repair deletes.
            const uint64_t end = static_cast<uint64_t>(rec.offset()) +
                                 static_cast<uint64_t>(rec.length());
            if (end > c.recorded_data_end) c.recorded_data_end = end;
            if (c.data_exists && rec.length() > 0 && end > c.data_size_bytes) {
              issue(IssueKind::kBlockPastEndOfData, c.metadata_path, off, bid,
                    absl::StrCat("block range ", rec.offset(), "+", rec.length(), " ends at ",
                                 end, ", past the end of ", c.data_path, " (",
                                 c.data_size_bytes, " bytes)"));
              if (end > max_end) max_end = end;
              break;
            }
            if (c.live.count(bid)) {
              issue(IssueKind::kDuplicateCreate, c.metadata_path, off, bid,
                    "CREATE of a block that is already live");
              break;
            }
            c.live[bid] = BlockLocation{c.id, rec.offset(), rec.length()};
            if (end > max_end) max_end = end;
            break;
          }
          case DELETE:
            if (c.live.erase(bid) == 0) {
              issue(IssueKind::kDeleteUnknownBlock, c.metadata_path, off, bid,
                    "DELETE of a block that is not live in this container");
            }
            break;
          default:
            issue(IssueKind::kUnknownRecordType, c.metadata_path, off, bid,
                  absl::StrCat("op_type ", static_cast<int>(rec.op_type()),
                               " (expected CREATE=1 or DELETE=2)"));
            break;
        }
      }
    }
  }

  if (!c.data_exists && c.metadata_exists && !c.live.empty()) {
    issue(IssueKind::kMissingDataFile, c.data_path, 0, 0,
          absl::StrCat(c.live.size(), " live blocks but no .data file"));
  }
  if (c.data_exists && !c.metadata_exists && c.data_size_bytes > 0) {
    issue(IssueKind::kMissingMetadataFile, c.metadata_path, 0, 0,
          absl::StrCat(c.data_path, " holds ", c.data_size_bytes,
                       " bytes but there is no .metadata: its blocks are unknown"));
  }
  if (c.IsOrphan()) {
    issue(IssueKind::kOrphanContainer, c.metadata_exists ? c.metadata_path : c.data_path, 0, 0,
          absl::StrCat("no live blocks (.data ",
                       c.data_exists ? absl::StrCat(c.data_size_bytes, " bytes") : "missing",
                       ", .metadata ",
                       c.metadata_exists ? absl::StrCat(c.metadata_size_bytes, " bytes")
                                         : "missing",
                       ")"));
  }
  c.next_block_offset = AlignUp(max_end, filesystem_block_size_bytes);
  return c;
}

}  // namespace kmend::blocks
