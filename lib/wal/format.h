// Byte-level framing of WAL segments (docs/formats/wal.md):
//
//   segment := header batch* [footer]
//   header  := "kudulogf" u32 header_len LogSegmentHeaderPB[header_len]
//   batch   := u32 stored_len u32 uncompressed_len u32 crc32c(payload)
//              u32 crc32c(batch header bytes 0..11)  payload[stored_len]
//              (payload = LogEntryBatchPB, compressed with the segment's codec)
//   footer  := LogSegmentFooterPB[footer_len] "closedls" u32 footer_len
//
// All integers little-endian. Kudu <= 1.2 wrote 12-byte v1 batch headers
// (one length); they are recognised by DEPRECATED_major_version in the
// segment header and decoded here too. This file knows nothing of files or
// entries' meaning: it encodes and checks bytes.
#ifndef KMEND_LIB_WAL_FORMAT_H_
#define KMEND_LIB_WAL_FORMAT_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "proto/common.pb.h"
#include "proto/wal.pb.h"

namespace kmend::wal {

inline constexpr absl::string_view kSegmentMagic = "kudulogf";
inline constexpr absl::string_view kFooterMagic = "closedls";
inline constexpr size_t kSegmentHeaderPrefixBytes = 12;  // magic + u32 length
inline constexpr size_t kFooterTrailerBytes = 12;        // magic + u32 length
inline constexpr uint32_t kMaxHeaderBytes = 8u << 20;    // Kudu's limit
inline constexpr uint32_t kMaxFooterBytes = 8u << 20;
inline constexpr size_t kBatchHeaderBytesV2 = 16;
inline constexpr size_t kBatchHeaderBytesV1 = 12;
// Refuse batches larger than this (protects allocation from garbage lengths).
inline constexpr uint32_t kMaxBatchBytes = 256u << 20;
inline constexpr absl::string_view kSegmentFilePrefix = "wal-";

// "wal-000000012" for 12.
std::string SegmentFileName(uint64_t sequence_number);

// The sequence number of a segment file name (exactly what SegmentFileName
// writes), or nullopt for anything else: temp files, other files.
std::optional<uint64_t> ParseSegmentFileName(absl::string_view name);

// A decoded batch header.
struct BatchHeader {
  uint32_t stored_len = 0;        // payload bytes on disk
  uint32_t uncompressed_len = 0;  // serialized LogEntryBatchPB bytes
  uint32_t payload_crc = 0;       // CRC32C of the stored payload
  uint32_t header_crc = 0;        // CRC32C of the header's leading bytes
};

// Appends a v2 header for `payload` (already compressed) to *out, then the
// payload itself.
void AppendBatch(absl::string_view payload, uint32_t uncompressed_len, std::string* out);

// Result of looking at header bytes.
enum class HeaderCheck {
  kValid,
  kAllZero,        // preallocated, never written space
  kBadHeaderCrc,   // stored header CRC does not match
  kZeroLength,     // CRC fine but stored length 0 (Kudu: corruption)
  kTooLarge,       // CRC fine but length above kMaxBatchBytes
};

// Decodes `bytes` (exactly kBatchHeaderBytesV2 or V1 bytes) into *out.
HeaderCheck DecodeBatchHeader(absl::string_view bytes, bool v1, BatchHeader* out);
// Computed CRC of the header's leading bytes (for error messages).
uint32_t ComputedHeaderCrc(absl::string_view bytes, bool v1);

// The length of a segment's written part: everything up to the first
// all-zero batch header when only zeros follow it (preallocated space never
// written), walking v2 batch headers from the segment header on; a batch
// header that does not decode (torn mid-write, damaged, v1) followed only by
// zeros (at least 4 KiB of them, and no footer) is kept and the zeros after
// its 16 bytes dropped. The whole size when
// the walk ends any other way (a zero gap before more bytes, a footer, a bad
// header with data after it, a batch running past the end): then nothing is
// known to be unused. The tablet copy
// source serves the active segment trimmed to this; the bytes dropped are
// zeros a reader treats as the log's end anyway.
uint64_t SegmentWrittenLength(absl::string_view segment);

// Serialized segment header prefix + PB.
absl::StatusOr<std::string> EncodeSegmentHeader(const log::LogSegmentHeaderPB& header);
// Serialized footer PB + trailer.
std::string EncodeFooter(const log::LogSegmentFooterPB& footer);

// Compresses a serialized LogEntryBatchPB with `codec` (NO_COMPRESSION, LZ4,
// ZSTD). InvalidArgument for codecs we cannot write.
absl::Status Compress(kmend::CompressionType codec, int zstd_level, absl::string_view in,
                      std::string* out);
// Inverse. DataLoss when the bytes do not decompress to exactly
// `uncompressed_len` bytes; Unimplemented for SNAPPY/ZLIB.
absl::Status Decompress(kmend::CompressionType codec, absl::string_view in,
                        uint32_t uncompressed_len, std::string* out);

// True for codecs Decompress handles.
bool CanRead(kmend::CompressionType codec);

}  // namespace kmend::wal

#endif  // KMEND_LIB_WAL_FORMAT_H_
