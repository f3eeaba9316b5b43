// Column blocks: one column of a rowset stored as one block of the block
// manager (docs/formats/column_block.md).
//
//   block   := header payload crc
//   header  := "kmcolblk" u16 version=1 u8 data_type u8 codec
//              u32 row_count u32 flags u32 uncompressed_len u32 payload_len   (28 bytes)
//   payload := codec(body)                 codec: ZSTD (100) or NO_COMPRESSION (1)
//   body    := [null_bitmap] values        null_bitmap when flags bit 0 is set
//   crc     := u32 CRC32C(header ‖ payload)
// All integers little-endian. Values: INT64 and DOUBLE 8 bytes each; BOOL one
// byte (0/1); STRING u32 length then the bytes. NULL cells hold a zero value
// (empty string) and have their bitmap bit set (bit i of byte i/8, LSB first).
//
// Decode checks the CRC before looking at anything else, so any changed byte
// of a block is detected and reported as DataLoss naming the block id.
//
// Thread safety: pure functions.
#ifndef KMEND_LIB_TABLET_COLUMN_BLOCK_H_
#define KMEND_LIB_TABLET_COLUMN_BLOCK_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "lib/tablet/row.h"
#include "proto/common.pb.h"

namespace kmend::tablet {

inline constexpr char kColumnBlockMagic[] = "kmcolblk";  // 8 bytes on disk
inline constexpr uint16_t kColumnBlockVersion = 1;
inline constexpr size_t kColumnBlockHeaderBytes = 28;
inline constexpr size_t kColumnBlockTrailerBytes = 4;
inline constexpr uint32_t kColumnBlockFlagHasNulls = 1;
// Refuse to allocate more than this for a block's body (a damaged length).
inline constexpr uint32_t kColumnBlockMaxBodyBytes = 1u << 30;

struct ColumnBlockHeader {
  uint16_t version = 0;
  kmend::DataType type = kmend::UNKNOWN_DATA;
  kmend::CompressionType codec = kmend::UNKNOWN_COMPRESSION;
  uint32_t row_count = 0;
  uint32_t flags = 0;
  uint32_t uncompressed_len = 0;
  uint32_t payload_len = 0;
};

struct ColumnBlockOptions {
  kmend::CompressionType codec = kmend::ZSTD;  // or NO_COMPRESSION
  int zstd_level = 1;
};

// Encodes `values` (all of `type`, or NULL) as a column block.
// InvalidArgument on a mistyped value or an unsupported type/codec.
absl::StatusOr<std::string> EncodeColumnBlock(kmend::DataType type, absl::Span<const Value> values,
                                              const ColumnBlockOptions& options = {});

struct DecodedColumnBlock {
  ColumnBlockHeader header;
  std::vector<Value> values;
};

// Decodes a block. `block_id` is only used in error messages ("block
// 0000000000000007: column block: ..."). DataLoss for any damage: too short,
// CRC mismatch (stored vs computed), bad magic/version/type/codec, lengths that
// disagree, a body that does not decode to exactly row_count values.
absl::StatusOr<DecodedColumnBlock> DecodeColumnBlock(uint64_t block_id, absl::string_view block);

// Checks only the frame: size and CRC, then the header fields. Cheaper than a
// full decode (no decompression); used by Verify to test every block.
absl::StatusOr<ColumnBlockHeader> VerifyColumnBlockChecksum(uint64_t block_id,
                                                            absl::string_view block);

// "0000000000000007": how block ids appear in messages and tools.
std::string BlockIdToString(uint64_t block_id);

}  // namespace kmend::tablet

#endif  // KMEND_LIB_TABLET_COLUMN_BLOCK_H_
