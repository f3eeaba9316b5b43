#include "lib/wal/format.h"

#include <lz4.h>
#include <zstd.h>

#include <cstring>

#include "absl/base/internal/endian.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "lib/format/crc32c.h"

namespace kmend::wal {
namespace {

void PutU32(uint32_t v, char* p) { absl::little_endian::Store32(p, v); }
uint32_t GetU32(const char* p) { return absl::little_endian::Load32(p); }

// One compression context per thread: appenders compress in parallel, and a
// context reuses its tables across batches.
struct ZstdContexts {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  ~ZstdContexts() {
    ZSTD_freeCCtx(cctx);
    ZSTD_freeDCtx(dctx);
  }
};
ZstdContexts& Zstd() {
  thread_local ZstdContexts contexts;
  return contexts;
}

}  // namespace

std::string SegmentFileName(uint64_t sequence_number) {
  return absl::StrFormat("wal-%09u", sequence_number);
}

std::optional<uint64_t> ParseSegmentFileName(absl::string_view name) {
  if (!absl::StartsWith(name, kSegmentFilePrefix)) return std::nullopt;
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(name.substr(kSegmentFilePrefix.size()), &seq)) return std::nullopt;
  // The round trip refuses "wal-12", "wal-000000012.kudutmp.x" and the like.
  if (SegmentFileName(seq) != name) return std::nullopt;
  return seq;
}

void AppendBatch(absl::string_view payload, uint32_t uncompressed_len, std::string* out) {
  char header[kBatchHeaderBytesV2];
  PutU32(static_cast<uint32_t>(payload.size()), header);
  PutU32(uncompressed_len, header + 4);
  PutU32(crc32c::Value(payload), header + 8);
  PutU32(crc32c::Value(header, 12), header + 12);
  out->append(header, sizeof(header));
  out->append(payload.data(), payload.size());
}

uint32_t ComputedHeaderCrc(absl::string_view bytes, bool v1) {
  return crc32c::Value(bytes.data(), v1 ? 8 : 12);
}

HeaderCheck DecodeBatchHeader(absl::string_view bytes, bool v1, BatchHeader* out) {
  bool all_zero = true;
  for (char c : bytes) {
    if (c != 0) {
      all_zero = false;
      break;
    }
  }
  if (all_zero) return HeaderCheck::kAllZero;
  const char* p = bytes.data();
  if (v1) {
    out->stored_len = GetU32(p);
    out->uncompressed_len = out->stored_len;
    out->payload_crc = GetU32(p + 4);
    out->header_crc = GetU32(p + 8);
  } else {
    out->stored_len = GetU32(p);
    out->uncompressed_len = GetU32(p + 4);
    out->payload_crc = GetU32(p + 8);
    out->header_crc = GetU32(p + 12);
  }
  if (ComputedHeaderCrc(bytes, v1) != out->header_crc) return HeaderCheck::kBadHeaderCrc;
  if (out->stored_len == 0) return HeaderCheck::kZeroLength;
  if (out->stored_len > kMaxBatchBytes || out->uncompressed_len > kMaxBatchBytes) {
    return HeaderCheck::kTooLarge;
  }
  return HeaderCheck::kValid;
}

uint64_t SegmentWrittenLength(absl::string_view segment) {
  const uint64_t size = segment.size();
  if (size < kSegmentHeaderPrefixBytes || segment.substr(0, kSegmentMagic.size()) != kSegmentMagic) {
    return size;
  }
  const uint32_t header_len = GetU32(segment.data() + kSegmentMagic.size());
  if (header_len > kMaxHeaderBytes) return size;
  uint64_t offset = kSegmentHeaderPrefixBytes + header_len;
  while (offset + kBatchHeaderBytesV2 <= size) {
    BatchHeader h;
    switch (DecodeBatchHeader(segment.substr(offset, kBatchHeaderBytesV2), /*v1=*/false, &h)) {
      case HeaderCheck::kAllZero:
        // Only a tail of zeros is unused: a zero gap before more data is
        // damage the receiver's reader must see (never trimmed away).
        for (uint64_t i = offset; i < size; ++i) {
          if (segment[i] != 0) return size;
        }
        return offset;
      case HeaderCheck::kValid:
        offset += kBatchHeaderBytesV2 + h.stored_len;
        break;
      default: {
        // A header torn mid-write (or damaged) with only zeros after its 16
        // bytes: those bytes are kept, so the reader sees the same torn
        // header; the zeros after it were never written. Not a footer (its
        // trailer's length may end in zero bytes), and only a run of zeros
        // as long as a page: preallocated space, not the end of something
        // this walk cannot decode.
        const uint64_t end = offset + kBatchHeaderBytesV2;
        if (size >= kFooterTrailerBytes &&
            segment.substr(size - kFooterTrailerBytes, kFooterMagic.size()) == kFooterMagic) {
          return size;
        }
        if (size < end + 4096) return size;
        for (uint64_t i = end; i < size; ++i) {
          if (segment[i] != 0) return size;
        }
        return end;
      }
    }
  }
  return size;
}

absl::StatusOr<std::string> EncodeSegmentHeader(const log::LogSegmentHeaderPB& header) {
  std::string pb;
  if (!header.SerializeToString(&pb)) {
    return absl::InvalidArgumentError(absl::StrCat("segment header is missing fields: ",
                                                   header.InitializationErrorString()));
  }
  std::string out(kSegmentMagic);
  char len[4];
  PutU32(static_cast<uint32_t>(pb.size()), len);
  out.append(len, 4);
  out += pb;
  return out;
}

std::string EncodeFooter(const log::LogSegmentFooterPB& footer) {
  std::string out = footer.SerializeAsString();
  uint32_t n = static_cast<uint32_t>(out.size());
  out.append(kFooterMagic.data(), kFooterMagic.size());
  char len[4];
  PutU32(n, len);
  out.append(len, 4);
  return out;
}

bool CanRead(kmend::CompressionType codec) {
  return codec == kmend::NO_COMPRESSION || codec == kmend::LZ4 || codec == kmend::ZSTD;
}

absl::Status Compress(kmend::CompressionType codec, int zstd_level, absl::string_view in,
                      std::string* out) {
  switch (codec) {
    case kmend::NO_COMPRESSION:
      out->assign(in.data(), in.size());
      return absl::OkStatus();
    case kmend::LZ4: {
      out->resize(LZ4_compressBound(static_cast<int>(in.size())));
      int n = LZ4_compress_default(in.data(), out->data(), static_cast<int>(in.size()),
                                   static_cast<int>(out->size()));
      if (n <= 0) return absl::InternalError("LZ4_compress_default failed");
      out->resize(n);
      return absl::OkStatus();
    }
    case kmend::ZSTD: {
      out->resize(ZSTD_compressBound(in.size()));
      size_t n = ZSTD_compressCCtx(Zstd().cctx, out->data(), out->size(), in.data(), in.size(),
                                   zstd_level);
      if (ZSTD_isError(n)) {
        return absl::InternalError(absl::StrCat("zstd compress: ", ZSTD_getErrorName(n)));
      }
      out->resize(n);
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat(
          "cannot write WAL codec ", kmend::CompressionType_Name(codec), " (", codec, ")"));
  }
}

absl::Status Decompress(kmend::CompressionType codec, absl::string_view in,
                        uint32_t uncompressed_len, std::string* out) {
  switch (codec) {
    case kmend::NO_COMPRESSION:
      if (in.size() != uncompressed_len) {
        return absl::DataLossError(absl::StrCat("uncompressed batch: header says ",
                                                uncompressed_len, " bytes, stored ", in.size()));
      }
      out->assign(in.data(), in.size());
      return absl::OkStatus();
    case kmend::LZ4: {
      // LZ4 expands at most 255x (one literal-length byte per 255 bytes), so a
      // larger claim is a lie: refused before allocating it.
      if (uint64_t{uncompressed_len} > uint64_t{in.size()} * 255 + 16) {
        return absl::DataLossError(absl::StrCat("LZ4 batch: header claims ", uncompressed_len,
                                                " bytes from ", in.size(),
                                                " stored (more than LZ4's 255x ratio)"));
      }
      out->resize(uncompressed_len);
      int n = LZ4_decompress_safe(in.data(), out->data(), static_cast<int>(in.size()),
                                  static_cast<int>(uncompressed_len));
      if (n < 0 || static_cast<uint32_t>(n) != uncompressed_len) {
        return absl::DataLossError(absl::StrCat("LZ4 decompression failed (result ", n,
                                                ", expected ", uncompressed_len, " bytes)"));
      }
      return absl::OkStatus();
    }
    case kmend::ZSTD: {
      // A zstd frame states its size (one-shot compression always does):
      // a header disagreeing with it is refused before allocating. Not a
      // frame at all: the decompression below says so.
      const unsigned long long framed = ZSTD_getFrameContentSize(in.data(), in.size());
      if (framed == ZSTD_CONTENTSIZE_ERROR) {
        return absl::DataLossError("zstd decompression failed: not a zstd frame");
      }
      if (framed != ZSTD_CONTENTSIZE_UNKNOWN && framed != uncompressed_len) {
        return absl::DataLossError(absl::StrCat("zstd decompression failed: header says ",
                                                uncompressed_len, " bytes, frame says ", framed));
      }
      out->resize(uncompressed_len);
      size_t n = ZSTD_decompressDCtx(Zstd().dctx, out->data(), out->size(), in.data(), in.size());
      if (ZSTD_isError(n)) {
        return absl::DataLossError(
            absl::StrCat("zstd decompression failed: ", ZSTD_getErrorName(n)));
      }
      if (n != uncompressed_len) {
        return absl::DataLossError(absl::StrCat("zstd decompressed to ", n,
                                                " bytes, header says ", uncompressed_len));
      }
      return absl::OkStatus();
    }
    default:
      return absl::UnimplementedError(absl::StrCat(
          "WAL codec ", kmend::CompressionType_Name(codec), " (", codec, ") is not supported"));
  }
}

}  // namespace kmend::wal
