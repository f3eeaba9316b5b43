#include "lib/io/syscalls.h"
#include "lib/wal/segment_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/base/internal/endian.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_format.h"
#include "lib/format/crc32c.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"

namespace kmend::wal {
namespace {

constexpr absl::string_view kEncryptionMagic = "kuduenc";

bool AllZero(const char* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

std::string Hex(uint32_t v) { return absl::StrFormat("0x%08x", v); }

}  // namespace

const char* TailKindName(TailKind kind) {
  switch (kind) {
    case TailKind::kClean:
      return "clean";
    case TailKind::kPreallocated:
      return "preallocated";
    case TailKind::kTorn:
      return "torn";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<SegmentReader>> SegmentReader::Open(const std::string& path) {
  int fd = io::sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io::ErrnoError("open", path, errno);
  std::unique_ptr<SegmentReader> reader(new SegmentReader(path, fd));
  RETURN_IF_ERROR(reader->Init());
  return reader;
}

SegmentReader::~SegmentReader() {
  if (fd_ >= 0) io::sys::Close(fd_);
}

std::string SegmentReader::Where(uint64_t offset) const {
  return absl::StrCat(path_, ": offset ", offset);
}

absl::Status SegmentReader::Init() {
  ASSIGN_OR_RETURN(file_size_, io::FileSize(path_));
  char prefix[kSegmentHeaderPrefixBytes] = {};
  size_t have = std::min<uint64_t>(file_size_, sizeof(prefix));
  RETURN_IF_ERROR(io::PreadFully(fd_, path_, 0, have, prefix));
  if (AllZero(prefix, have)) {
    // Preallocated but never written (Kudu: "Uninitialized"): no batches.
    uninitialized_ = true;
    done_ = true;
    tail_ = {TailKind::kPreallocated, 0, 0, ""};
    return absl::OkStatus();
  }
  if (have < sizeof(prefix)) {
    return absl::DataLossError(absl::StrCat(path_, ": segment header: file is only ",
                                            file_size_, " bytes, need at least 12"));
  }
  absl::string_view magic(prefix, 8);
  if (absl::string_view(prefix, kEncryptionMagic.size()) == kEncryptionMagic) {
    return absl::UnimplementedError(
        absl::StrCat(path_, ": segment is encrypted (\"kuduenc\" header); not supported"));
  }
  if (magic != kSegmentMagic) {
    return absl::DataLossError(absl::StrCat(path_, ": offset 0: segment header: bad magic \"",
                                            absl::CHexEscape(magic), "\", expected \"kudulogf\""));
  }
  uint32_t header_len = absl::little_endian::Load32(prefix + 8);
  if (header_len == 0 || header_len > kMaxHeaderBytes ||
      kSegmentHeaderPrefixBytes + header_len > file_size_) {
    return absl::DataLossError(
        absl::StrCat(path_, ": offset 8: segment header length ", header_len,
                     " is impossible (file size ", file_size_, ", limit ", kMaxHeaderBytes, ")"));
  }
  std::string pb(header_len, '\0');
  RETURN_IF_ERROR(io::PreadFully(fd_, path_, kSegmentHeaderPrefixBytes, header_len, pb.data()));
  if (!header_.ParseFromString(pb)) {
    return absl::DataLossError(absl::StrCat(path_, ": offset 12: LogSegmentHeaderPB (", header_len,
                                            " bytes) does not parse: ",
                                            header_.InitializationErrorString()));
  }
  if (header_.incompatible_features_size() > 0) {
    return absl::UnimplementedError(absl::StrCat(
        path_, ": segment header lists incompatible features (first ",
        header_.incompatible_features(0), "); refusing it as Kudu does"));
  }
  codec_ = header_.compression_codec();
  if (!CanRead(codec_)) {
    return absl::UnimplementedError(absl::StrCat(path_, ": segment codec ",
                                                 kmend::CompressionType_Name(codec_), " (",
                                                 static_cast<int>(codec_), ") is not supported"));
  }
  v1_ = header_.has_deprecated_major_version();
  first_batch_offset_ = kSegmentHeaderPrefixBytes + header_len;
  read_limit_ = file_size_;

  // Footer: the last 12 bytes are "closedls" + u32 length when present.
  if (file_size_ >= first_batch_offset_ + kFooterTrailerBytes) {
    char trailer[kFooterTrailerBytes];
    RETURN_IF_ERROR(
        io::PreadFully(fd_, path_, file_size_ - kFooterTrailerBytes, sizeof(trailer), trailer));
    if (absl::string_view(trailer, 8) == kFooterMagic) {
      uint32_t footer_len = absl::little_endian::Load32(trailer + 8);
      uint64_t trailer_offset = file_size_ - kFooterTrailerBytes;
      if (footer_len == 0 || footer_len > kMaxFooterBytes ||
          first_batch_offset_ + footer_len > trailer_offset) {
        return absl::DataLossError(absl::StrCat(Where(trailer_offset + 8), ": footer length ",
                                                footer_len, " is impossible"));
      }
      std::string fpb(footer_len, '\0');
      RETURN_IF_ERROR(
          io::PreadFully(fd_, path_, trailer_offset - footer_len, footer_len, fpb.data()));
      if (!footer_.ParseFromString(fpb)) {
        return absl::DataLossError(absl::StrCat(Where(trailer_offset - footer_len),
                                                ": LogSegmentFooterPB does not parse: ",
                                                footer_.InitializationErrorString()));
      }
      has_footer_ = true;
      read_limit_ = trailer_offset - footer_len;
    }
  }
  pos_ = first_batch_offset_;
  rebuilt_.set_num_entries(0);
  return absl::OkStatus();
}

absl::Status DecodeBatchAt(int fd, const std::string& path, uint64_t offset, uint64_t limit,
                           bool v1, kmend::CompressionType codec, Batch* out, bool* incomplete,
                           bool* content_error) {
  auto Where = [&path](uint64_t at) { return absl::StrCat(path, ": offset ", at); };
  *incomplete = false;
  if (content_error != nullptr) *content_error = false;
  const size_t header_bytes = v1 ? kBatchHeaderBytesV1 : kBatchHeaderBytesV2;
  if (offset + header_bytes > limit) {
    *incomplete = true;
    return absl::OutOfRangeError(
        absl::StrCat(Where(offset), ": batch header: only ", limit - offset,
                     " of ", header_bytes, " bytes present (readable up to ", limit, ")"));
  }
  char hbuf[kBatchHeaderBytesV2];
  RETURN_IF_ERROR(io::PreadFully(fd, path, offset, header_bytes, hbuf));
  absl::string_view hview(hbuf, header_bytes);
  BatchHeader h;
  switch (DecodeBatchHeader(hview, v1, &h)) {
    case HeaderCheck::kValid:
      break;
    case HeaderCheck::kAllZero:
      return absl::DataLossError(absl::StrCat(Where(offset), ": batch header: all zero"));
    case HeaderCheck::kBadHeaderCrc:
      return absl::DataLossError(absl::StrCat(Where(offset), ": batch header: crc mismatch (stored ",
                                              Hex(h.header_crc), ", computed ",
                                              Hex(ComputedHeaderCrc(hview, v1)), ")"));
    case HeaderCheck::kZeroLength:
      return absl::DataLossError(
          absl::StrCat(Where(offset), ": batch header: payload length 0 (must be > 0)"));
    case HeaderCheck::kTooLarge:
      return absl::DataLossError(absl::StrCat(
          Where(offset), ": batch header: payload length ", h.stored_len, " (uncompressed ",
          h.uncompressed_len, ") exceeds the limit ", kMaxBatchBytes));
  }
  uint64_t payload_offset = offset + header_bytes;
  if (payload_offset + h.stored_len > limit) {
    *incomplete = true;
    return absl::OutOfRangeError(absl::StrCat(
        "could not read ", h.stored_len, "-byte batch payload from offset ", payload_offset, " in ",
        path, ": readable only up to offset ", limit));
  }
  std::string stored(h.stored_len, '\0');
  RETURN_IF_ERROR(io::PreadFully(fd, path, payload_offset, h.stored_len, stored.data()));
  uint32_t crc = crc32c::Value(stored);
  if (crc != h.payload_crc) {
    return absl::DataLossError(absl::StrCat(
        Where(offset), ": batch payload crc mismatch in byte range ", payload_offset, "-",
        payload_offset + h.stored_len, " (stored ", Hex(h.payload_crc), ", computed ", Hex(crc), ")"));
  }
  // The CRCs match, so these bytes are what the writer wrote: any failure
  // from here on is corruption, never a torn write.
  out->offset = offset;
  out->size_bytes = header_bytes + h.stored_len;
  out->stored_len = h.stored_len;
  out->uncompressed_len = h.uncompressed_len;
  if (content_error != nullptr) *content_error = true;
  std::string plain;
  absl::Status st = Decompress(codec, stored, h.uncompressed_len, &plain);
  if (!st.ok()) {
    return absl::Status(st.code(), absl::StrCat(Where(offset), ": batch payload (",
                                                CompressionType_Name(codec), "): ", st.message()));
  }
  out->batch.Clear();
  if (!out->batch.ParseFromString(plain)) {
    return absl::DataLossError(absl::StrCat(Where(offset), ": LogEntryBatchPB (",
                                            plain.size(), " bytes) does not parse: ",
                                            out->batch.InitializationErrorString()));
  }
  if (content_error != nullptr) *content_error = false;
  return absl::OkStatus();
}

absl::Status SegmentReader::ReadBatch(uint64_t offset, Batch* out, bool* incomplete,
                                     bool* content_error) const {
  return DecodeBatchAt(fd_, path_, offset, read_limit_, v1_, codec_, out, incomplete,
                       content_error);
}

absl::Status SegmentReader::ReadBatchAt(uint64_t offset, Batch* out) const {
  bool incomplete;
  return ReadBatch(offset, out, &incomplete, nullptr);
}

absl::StatusOr<uint64_t> SegmentReader::FindNextValidBatch(uint64_t from) const {
  const size_t header_bytes = v1_ ? kBatchHeaderBytesV1 : kBatchHeaderBytesV2;
  // Reached on damage and at a preallocated tail (the last segment of every
  // replica after a crash). The rest of the segment is scanned in windows
  // (overlapping by a header) so that a huge damaged file needs little memory.
  //
  // Holes and unwritten (preallocated, never written) extents read as zeros,
  // so they hold no batch: the scan covers only the data regions the
  // filesystem reports (SEEK_DATA / SEEK_HOLE). Without this every start-up
  // read the whole preallocated tail of each replica's last segment (8 MiB of
  // zeros per replica: 16 GB at 2,000 replicas, most of a restart's CPU). A
  // candidate header starting in a hole is all zeros up to the next data
  // region, which is never valid, so a region's scan starts one header before
  // its data and stops at its hole. Filesystems without SEEK_DATA report the
  // whole file as data: the scan is then the plain one.
  //
  // ext4 reports an unwritten extent as data wherever its (zero) pages are in
  // the page cache, and the kernel's readahead puts them there: each window
  // this scan read made the next pages "data" (strace of a start-up: 8 MiB
  // read per replica, the scan chasing its own readahead). So readahead is
  // off for the scan (POSIX_FADV_RANDOM, restored after), and clean cached
  // pages past `from` are dropped first (POSIX_FADV_DONTNEED never changes
  // what the file holds; dirty pages stay and are scanned).
  (void)::posix_fadvise(fd_, 0, 0, POSIX_FADV_RANDOM);
  (void)::posix_fadvise(fd_, static_cast<off_t>(from), 0, POSIX_FADV_DONTNEED);
  struct RestoreReadahead {
    int fd;
    ~RestoreReadahead() { (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_NORMAL); }
  } restore{fd_};
  constexpr size_t kWindowBytes = 4u << 20;
  std::string window;
  uint64_t base_offset = from;
  while (base_offset + header_bytes <= read_limit_) {
    uint64_t candidates_end = std::min<uint64_t>(read_limit_ - header_bytes + 1,
                                                 base_offset + kWindowBytes);  // exclusive
    // Where the data region ends (a hole reads as zeros): bytes past it are
    // not read but taken as zeros, so that reading a header's width past the
    // region does not pull the next page into the cache (which would make it
    // "data" for the next SEEK_DATA, a page at a time).
    uint64_t data_end = read_limit_;
    const off_t data = ::lseek(fd_, static_cast<off_t>(base_offset), SEEK_DATA);
    if (data < 0 && errno == ENXIO) return read_limit_;  // only holes from here on
    if (data >= 0) {
      if (static_cast<uint64_t>(data) >= read_limit_) return read_limit_;
      if (static_cast<uint64_t>(data) > base_offset + header_bytes) {
        base_offset = static_cast<uint64_t>(data) - header_bytes;
        candidates_end = std::min<uint64_t>(read_limit_ - header_bytes + 1,
                                            base_offset + kWindowBytes);
      }
      const off_t hole = ::lseek(fd_, data, SEEK_HOLE);
      if (hole > data) {
        candidates_end = std::min<uint64_t>(candidates_end, hole);
        data_end = std::min<uint64_t>(data_end, hole);
      }
    }
    const size_t candidates = candidates_end - base_offset;
    const size_t n = candidates + header_bytes - 1;
    const size_t to_read = std::min<uint64_t>(n, data_end - base_offset);
    window.resize(n);
    RETURN_IF_ERROR(io::PreadFully(fd_, path_, base_offset, to_read, window.data()));
    std::fill(window.begin() + to_read, window.end(), '\0');
    const char* base = window.data();
    size_t next_nonzero = 0;  // smallest index >= p holding a non-zero byte
    for (size_t p = 0; p < candidates; ++p) {
      if (next_nonzero < p) next_nonzero = p;
      while (next_nonzero < n && base[next_nonzero] == 0) ++next_nonzero;
      if (next_nonzero >= n) break;
      // An all-zero window can never be a valid header: skip zero runs.
      if (next_nonzero >= p + header_bytes) {
        p = next_nonzero - header_bytes;  // the loop's ++p lands on the first candidate
        continue;
      }
      BatchHeader h;
      if (DecodeBatchHeader(absl::string_view(base + p, header_bytes), v1_, &h) !=
          HeaderCheck::kValid) {
        continue;
      }
      const uint64_t at = base_offset + p;
      if (at + header_bytes + h.stored_len > read_limit_) continue;
      std::string payload(h.stored_len, '\0');
      RETURN_IF_ERROR(io::PreadFully(fd_, path_, at + header_bytes, h.stored_len, payload.data()));
      if (crc32c::Value(payload) == h.payload_crc) return at;
    }
    base_offset = candidates_end;
  }
  return read_limit_;
}

absl::Status SegmentReader::HandleDamage(uint64_t offset, const std::string& what) {
  error_offset_ = offset;
  ASSIGN_OR_RETURN(uint64_t next_valid, FindNextValidBatch(offset + 1));
  if (next_valid < read_limit_) {
    pos_ = next_valid;  // resume there on the next call
    return absl::DataLossError(
        absl::StrCat(what, " (a valid batch follows at offset ", next_valid, ")"));
  }
  done_ = true;
  if (has_footer_) {
    // A closed segment was complete when its footer was written. The entry
    // count check would only repeat this error.
    footer_checked_ = true;
    tail_ = {TailKind::kClean, offset, 0, ""};
    return absl::DataLossError(absl::StrCat(what, " (segment has a footer, so not a torn tail)"));
  }
  // The reason is shown next to the file name already.
  absl::string_view reason = what;
  absl::ConsumePrefix(&reason, path_ + ": ");
  tail_ = {TailKind::kTorn, offset, read_limit_ - offset, std::string(reason)};
  return absl::OutOfRangeError(absl::StrCat(path_, ": torn tail at offset ", offset));
}

absl::Status SegmentReader::Next(Batch* out) {
  if (done_) {
    if (has_footer_ && !footer_checked_) {
      footer_checked_ = true;
      if (footer_.num_entries() != rebuilt_.num_entries()) {
        error_offset_ = read_limit_;
        return absl::DataLossError(absl::StrCat(
            path_, ": footer says ", footer_.num_entries(), " entries, segment holds ",
            rebuilt_.num_entries(), " (batches end at offset ", read_limit_,
            ", where the footer starts)"));
      }
    }
    return absl::OutOfRangeError(absl::StrCat(path_, ": end of segment"));
  }
  if (pos_ == read_limit_) {
    done_ = true;
    tail_ = {TailKind::kClean, pos_, 0, ""};
    return Next(out);
  }
  const size_t header_bytes = v1_ ? kBatchHeaderBytesV1 : kBatchHeaderBytesV2;
  if (pos_ + header_bytes <= read_limit_) {
    char hbuf[kBatchHeaderBytesV2];
    RETURN_IF_ERROR(io::PreadFully(fd_, path_, pos_, header_bytes, hbuf));
    if (AllZero(hbuf, header_bytes)) {
      // Preallocated space. It must hold nothing valid after this point.
      uint64_t at = pos_;
      ASSIGN_OR_RETURN(uint64_t next_valid, FindNextValidBatch(at));
      if (next_valid < read_limit_) {
        pos_ = next_valid;
        error_offset_ = at;
        return absl::DataLossError(absl::StrCat(Where(at), ": zero-filled gap of ",
                                                next_valid - at,
                                                " bytes before the valid batch at offset ",
                                                next_valid));
      }
      done_ = true;
      tail_ = {TailKind::kPreallocated, at, 0, ""};
      return Next(out);
    }
  }
  bool incomplete = false, content_error = false;
  absl::Status st = ReadBatch(pos_, out, &incomplete, &content_error);
  if (!st.ok()) {
    if (!absl::IsDataLoss(st) && !absl::IsOutOfRange(st)) return st;  // I/O error
    if (content_error) {
      // Intact framing around an undecodable payload: skip just this batch.
      error_offset_ = pos_;
      pos_ += out->size_bytes;
      return st;
    }
    return HandleDamage(pos_, std::string(st.message()));
  }
  pos_ += out->size_bytes;
  for (const log::LogEntryPB& e : out->batch.entry()) {
    rebuilt_.set_num_entries(rebuilt_.num_entries() + 1);
    if (e.type() == log::REPLICATE && e.has_replicate()) {
      int64_t index = e.replicate().id().index();
      if (rebuilt_.min_replicate_index() < 0 || index < rebuilt_.min_replicate_index()) {
        rebuilt_.set_min_replicate_index(index);
      }
      if (index > rebuilt_.max_replicate_index()) rebuilt_.set_max_replicate_index(index);
    }
  }
  return absl::OkStatus();
}

}  // namespace kmend::wal
