// Column block codec. Format: docs/formats/column_block.md.
#include "lib/tablet/column_block.h"

#include <zstd.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "lib/format/crc32c.h"

namespace kmend::tablet {

namespace {

void PutLe16(std::string* out, uint16_t v) {
  out->push_back(static_cast<char>(v & 0xff));
  out->push_back(static_cast<char>(v >> 8));
}
void PutLe32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutLe64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint16_t GetLe16(const char* p) {
  return static_cast<uint16_t>(static_cast<unsigned char>(p[0]) |
                               (static_cast<unsigned char>(p[1]) << 8));
}
uint32_t GetLe32(const char* p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}
uint64_t GetLe64(const char* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(p[i]);
  return v;
}

bool IsColumnType(int t) {
  return t == kmend::INT64 || t == kmend::DOUBLE || t == kmend::STRING || t == kmend::BOOL;
}

}  // namespace

std::string BlockIdToString(uint64_t block_id) { return absl::StrFormat("%016x", block_id); }

absl::StatusOr<std::string> EncodeColumnBlock(kmend::DataType type, absl::Span<const Value> values,
                                              const ColumnBlockOptions& options) {
  if (!IsColumnType(type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("column block: unsupported type ", DataTypeName(type)));
  }
  if (options.codec != kmend::ZSTD && options.codec != kmend::NO_COMPRESSION) {
    return absl::InvalidArgumentError(
        absl::StrCat("column block: unsupported codec ", static_cast<int>(options.codec)));
  }
  if (values.size() > UINT32_MAX) {
    return absl::InvalidArgumentError("column block: more than 2^32-1 rows");
  }
  const uint32_t n = static_cast<uint32_t>(values.size());
  bool has_nulls = false;
  for (const Value& v : values) has_nulls |= IsNull(v);

  std::string body;
  if (has_nulls) {
    std::string bitmap((n + 7) / 8, '\0');
    for (uint32_t i = 0; i < n; ++i) {
      if (IsNull(values[i])) bitmap[i / 8] = static_cast<char>(bitmap[i / 8] | (1u << (i % 8)));
    }
    body += bitmap;
  }
  for (uint32_t i = 0; i < n; ++i) {
    const Value& v = values[i];
    const bool null = IsNull(v);
    switch (type) {
      case kmend::INT64:
        if (!null && !std::holds_alternative<int64_t>(v)) break;
        PutLe64(&body, null ? 0 : static_cast<uint64_t>(std::get<int64_t>(v)));
        continue;
      case kmend::DOUBLE: {
        if (!null && !std::holds_alternative<double>(v)) break;
        uint64_t bits = 0;
        if (!null) std::memcpy(&bits, &std::get<double>(v), 8);
        PutLe64(&body, bits);
        continue;
      }
      case kmend::BOOL:
        if (!null && !std::holds_alternative<bool>(v)) break;
        body.push_back(!null && std::get<bool>(v) ? 1 : 0);
        continue;
      case kmend::STRING: {
        if (!null && !std::holds_alternative<std::string>(v)) break;
        static const std::string kEmpty;
        const std::string& s = null ? kEmpty : std::get<std::string>(v);
        if (s.size() > UINT32_MAX) return absl::InvalidArgumentError("string longer than 4 GiB");
        PutLe32(&body, static_cast<uint32_t>(s.size()));
        body += s;
        continue;
      }
      default:
        break;
    }
    return absl::InvalidArgumentError(absl::StrCat("column block: row ", i, ": value ",
                                                   ValueToString(v), " is not ",
                                                   DataTypeName(type)));
  }
  if (body.size() > kColumnBlockMaxBodyBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("column block: body of ", body.size(), " bytes exceeds the 1 GiB limit"));
  }

  std::string payload;
  if (options.codec == kmend::ZSTD) {
    payload.resize(ZSTD_compressBound(body.size()));
    size_t z = ZSTD_compress(payload.data(), payload.size(), body.data(), body.size(),
                             options.zstd_level);
    if (ZSTD_isError(z)) {
      return absl::InternalError(absl::StrCat("column block: zstd: ", ZSTD_getErrorName(z)));
    }
    payload.resize(z);
  } else {
    payload = body;
  }

  std::string out;
  out.reserve(kColumnBlockHeaderBytes + payload.size() + kColumnBlockTrailerBytes);
  out.append(kColumnBlockMagic, 8);
  PutLe16(&out, kColumnBlockVersion);
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(options.codec));
  PutLe32(&out, n);
  PutLe32(&out, has_nulls ? kColumnBlockFlagHasNulls : 0);
  PutLe32(&out, static_cast<uint32_t>(body.size()));
  PutLe32(&out, static_cast<uint32_t>(payload.size()));
  out += payload;
  PutLe32(&out, crc32c::Value(out));
  return out;
}

absl::StatusOr<ColumnBlockHeader> VerifyColumnBlockChecksum(uint64_t block_id,
                                                            absl::string_view block) {
  auto err = [&](const std::string& what) {
    return absl::DataLossError(
        absl::StrCat("block ", BlockIdToString(block_id), ": column block: ", what));
  };
  const size_t min = kColumnBlockHeaderBytes + kColumnBlockTrailerBytes;
  if (block.size() < min) {
    return err(absl::StrCat("too short: ", block.size(), " bytes, expected at least ", min));
  }
  const size_t crc_at = block.size() - kColumnBlockTrailerBytes;
  const uint32_t stored = GetLe32(block.data() + crc_at);
  const uint32_t computed = crc32c::Value(block.data(), crc_at);
  if (stored != computed) {
    return err(absl::StrFormat("crc mismatch over bytes 0-%d (stored 0x%08x, computed 0x%08x)",
                               crc_at, stored, computed));
  }
  // The CRC matched, so what follows is what the writer wrote; a failure
  // below is a writer bug or a foreign block, not disk damage.
  const char* p = block.data();
  if (std::memcmp(p, kColumnBlockMagic, 8) != 0) {
    return err("bad magic (not a kmend column block)");
  }
  ColumnBlockHeader h;
  h.version = GetLe16(p + 8);
  if (h.version != kColumnBlockVersion) {
    return err(absl::StrCat("unsupported version ", h.version, " (expected ",
                            kColumnBlockVersion, ")"));
  }
  const int type = static_cast<unsigned char>(p[10]);
  if (!IsColumnType(type)) return err(absl::StrCat("unsupported data type ", type));
  h.type = static_cast<kmend::DataType>(type);
  const int codec = static_cast<unsigned char>(p[11]);
  if (codec != kmend::ZSTD && codec != kmend::NO_COMPRESSION) {
    return err(absl::StrCat("unsupported codec ", codec, " (expected 100=ZSTD or 1=NONE)"));
  }
  h.codec = static_cast<kmend::CompressionType>(codec);
  h.row_count = GetLe32(p + 12);
  h.flags = GetLe32(p + 16);
  h.uncompressed_len = GetLe32(p + 20);
  h.payload_len = GetLe32(p + 24);
  if ((h.flags & ~kColumnBlockFlagHasNulls) != 0) {
    return err(absl::StrFormat("unknown flags 0x%x", h.flags));
  }
  if (h.payload_len != crc_at - kColumnBlockHeaderBytes) {
    return err(absl::StrCat("payload_len ", h.payload_len, " but the block holds ",
                            crc_at - kColumnBlockHeaderBytes, " payload bytes"));
  }
  if (h.uncompressed_len > kColumnBlockMaxBodyBytes) {
    return err(absl::StrCat("uncompressed_len ", h.uncompressed_len, " exceeds the 1 GiB limit"));
  }
  if (h.codec == kmend::NO_COMPRESSION && h.uncompressed_len != h.payload_len) {
    return err(absl::StrCat("uncompressed block: uncompressed_len ", h.uncompressed_len,
                            " != payload_len ", h.payload_len));
  }
  return h;
}

absl::StatusOr<DecodedColumnBlock> DecodeColumnBlock(uint64_t block_id, absl::string_view block) {
  auto h = VerifyColumnBlockChecksum(block_id, block);
  if (!h.ok()) return h.status();
  auto err = [&](const std::string& what) {
    return absl::DataLossError(
        absl::StrCat("block ", BlockIdToString(block_id), ": column block: ", what));
  };
  absl::string_view payload = block.substr(kColumnBlockHeaderBytes, h->payload_len);
  std::string body;
  if (h->codec == kmend::ZSTD) {
    // The frame states its content size (our writer always records it):
    // refuse a disagreement before allocating uncompressed_len bytes.
    const unsigned long long frame_size = ZSTD_getFrameContentSize(payload.data(), payload.size());
    if (frame_size == ZSTD_CONTENTSIZE_ERROR) return err("payload is not a zstd frame");
    if (frame_size != ZSTD_CONTENTSIZE_UNKNOWN && frame_size != h->uncompressed_len) {
      return err(absl::StrCat("zstd frame holds ", frame_size, " bytes, header says ",
                              "uncompressed_len ", h->uncompressed_len));
    }
    body.resize(h->uncompressed_len);
    size_t z = ZSTD_decompress(body.data(), body.size(), payload.data(), payload.size());
    if (ZSTD_isError(z)) {
      return err(absl::StrCat("zstd decompression failed: ", ZSTD_getErrorName(z)));
    }
    if (z != h->uncompressed_len) {
      return err(absl::StrCat("zstd produced ", z, " bytes, header says uncompressed_len ",
                              h->uncompressed_len));
    }
  } else {
    body.assign(payload.data(), payload.size());
  }

  DecodedColumnBlock out;
  out.header = *h;
  const uint32_t n = h->row_count;
  size_t pos = 0;
  absl::string_view bitmap;
  if (h->flags & kColumnBlockFlagHasNulls) {
    const size_t bm = (static_cast<size_t>(n) + 7) / 8;
    if (body.size() < bm) {
      return err(absl::StrCat("body of ", body.size(), " bytes too short for a null bitmap of ",
                              bm, " bytes"));
    }
    bitmap = absl::string_view(body).substr(0, bm);
    pos = bm;
  }
  // Refuse impossible row counts before reserving memory for them.
  const size_t min_value_bytes =
      h->type == kmend::BOOL ? 1 : h->type == kmend::STRING ? 4 : 8;
  if ((body.size() - pos) / min_value_bytes < n) {
    return err(absl::StrCat("row_count ", n, " needs at least ", n * min_value_bytes,
                            " value bytes, body has ", body.size() - pos));
  }
  out.values.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    const bool null = !bitmap.empty() && (bitmap[i / 8] >> (i % 8)) & 1;
    Value v;
    switch (h->type) {
      case kmend::INT64:
        if (body.size() - pos < 8) return err(absl::StrCat("row ", i, ": int64 cut short"));
        v = static_cast<int64_t>(GetLe64(body.data() + pos));
        pos += 8;
        break;
      case kmend::DOUBLE: {
        if (body.size() - pos < 8) return err(absl::StrCat("row ", i, ": double cut short"));
        uint64_t bits = GetLe64(body.data() + pos);
        double d;
        std::memcpy(&d, &bits, 8);
        v = d;
        pos += 8;
        break;
      }
      case kmend::BOOL: {
        if (body.size() - pos < 1) return err(absl::StrCat("row ", i, ": bool cut short"));
        unsigned char b = static_cast<unsigned char>(body[pos]);
        if (b > 1) return err(absl::StrCat("row ", i, ": bool byte ", b, " is not 0 or 1"));
        v = b == 1;
        pos += 1;
        break;
      }
      case kmend::STRING: {
        if (body.size() - pos < 4) {
          return err(absl::StrCat("row ", i, ": string length cut short"));
        }
        uint32_t len = GetLe32(body.data() + pos);
        pos += 4;
        if (body.size() - pos < len) {
          return err(absl::StrCat("row ", i, ": string of ", len, " bytes but only ",
                                  body.size() - pos, " left"));
        }
        v = body.substr(pos, len);
        pos += len;
        break;
      }
      default:
        return err("unsupported type");
    }
    out.values.push_back(null ? Value{} : std::move(v));
  }
  if (pos != body.size()) {
    return err(absl::StrCat(body.size() - pos, " trailing bytes after ", n, " values"));
  }
  return out;
}

}  // namespace kmend::tablet
