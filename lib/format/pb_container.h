// Protobuf container files: Apache Kudu's framing for metadata files
// (docs/formats/pb_container.md).
//
//   file   := header record*            (first record: ContainerSupHeaderPB)
//   header := "kuducntr" u32 version [u32 crc32c(header[0..12))]   (v2 adds the CRC)
//   record := u32 len [u32 crc32c(len)] data u32 crc32c(...)       (v2 adds len CRC)
//
// v1 records checksum len ‖ data; v2 records checksum data only (the length has
// its own CRC). All integers little-endian.
//
// The supplemental header embeds the FileDescriptorSet of the stored message
// type, so a file can be decoded without knowing its type in advance (pbc dump).
//
// Reading distinguishes three ways a file can end:
//   - cleanly at a record boundary (Reader::Next::kEnd);
//   - a torn tail: the last record is incomplete (a crash mid-append), or the
//     rest of the file is zeros (KUDU-2260: preallocated space). This is
//     expected in v2 files, reported as Next::kTornTail with its offset, and
//     the caller may truncate there. In v1 files it is corruption, as in Kudu;
//   - corruption: a checksum mismatch or impossible length anywhere, an
//     absl::DataLoss status naming the path, offset and what failed.
// A file too short or too damaged to hold the header and supplemental header
// fails Reader::Open with DataLoss.
//
// Thread safety: none of these classes is thread-safe; distinct objects may be
// used from distinct threads.
#ifndef KMEND_LIB_FORMAT_PB_CONTAINER_H_
#define KMEND_LIB_FORMAT_PB_CONTAINER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/message.h"

namespace kmend::pbc {

inline constexpr char kMagic[] = "kuducntr";  // 8 bytes, no NUL on disk
inline constexpr size_t kMagicSize = 8;
inline constexpr uint32_t kVersion1 = 1;
inline constexpr uint32_t kVersion2 = 2;
inline constexpr size_t kHeaderSizeV1 = 12;
inline constexpr size_t kHeaderSizeV2 = 16;
// Kudu's reader refuses records larger than this; our writer never makes one.
inline constexpr uint32_t kMaxRecordBytes = 512u << 20;

// Every DataLoss status from this file's readers carries the file offset of
// the damage as a payload; ErrorOffset extracts it (nullopt if absent).
inline constexpr char kOffsetPayloadUrl[] = "type.kmend/offset";
std::optional<uint64_t> ErrorOffset(const absl::Status& status);

// Builds the descriptor set embedded in a container of `descriptor`: its file
// and every file it imports, roughly dependencies first (Kudu's exact order;
// see docs/formats/pb_container.md).
google::protobuf::FileDescriptorSet DescriptorSetFor(
    const google::protobuf::Descriptor* descriptor);

// Returns the bytes of one framed record holding `data`.
std::string EncodeRecord(uint32_t version, const std::string& data);

// Returns the file header plus the supplemental-header record for `type`.
std::string EncodeFileStart(uint32_t version, const google::protobuf::Descriptor* type);

// Returns a whole container file holding exactly `msg` (what
// WriteSingleMessageFile writes). InvalidArgument if `msg` lacks required
// fields or is too large.
absl::StatusOr<std::string> EncodeSingleMessageFile(const google::protobuf::Message& msg,
                                                    uint32_t version = kVersion2);

// Appends records to a new or existing container file.
//
// Lifetime: owns its file descriptor; the destructor closes it without syncing.
// After a failed Append the writer refuses further appends (the file was
// truncated back to its last complete record when possible).
class Writer {
 public:
  // Creates `path` (AlreadyExists if it exists) with a header and the
  // supplemental header for `prototype`'s type. Not synced until Sync().
  // Version 1 exists only so tests can produce the old format.
  static absl::StatusOr<std::unique_ptr<Writer>> Create(
      const std::string& path, const google::protobuf::Message& prototype,
      uint32_t version = kVersion2);
  // Opens an existing container for appending after its last complete record.
  // A torn tail is truncated away first (the caller should have reported it);
  // corruption is returned as an error and nothing is changed.
  static absl::StatusOr<std::unique_ptr<Writer>> OpenForAppend(const std::string& path);

  ~Writer();
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Appends one record with `msg`, which must be of the container's type and
  // have all required fields (InvalidArgument otherwise).
  absl::Status Append(const google::protobuf::Message& msg);
  // fdatasync; the first Sync after Create also fsyncs the parent directory,
  // so that the new file's name is durable too.
  absl::Status Sync();
  absl::Status Close();

  // Size of the file: where the next record goes.
  uint64_t offset() const { return offset_; }
  const std::string& pb_type() const { return pb_type_; }

 private:
  Writer(std::string path, int fd, uint32_t version, std::string pb_type, uint64_t offset);
  std::string path_;
  int fd_;
  uint32_t version_;
  std::string pb_type_;
  uint64_t offset_;
  bool failed_ = false;
  bool needs_dir_sync_ = false;
};

// Writes a container holding exactly `msg` to `path` atomically and durably
// (temp file "<path>.kudutmp.XXXXXX", fsync, rename, fsync dir). Replaces an
// existing file.
absl::Status WriteSingleMessageFile(const std::string& path,
                                    const google::protobuf::Message& msg);

// Reads the single message of a container written by WriteSingleMessageFile
// (the first record after the supplemental header; later records are ignored,
// as Kudu does) into *msg. Errors name the path, offset and what failed; a
// missing required field is named.
absl::Status ReadSingleMessageFile(const std::string& path, google::protobuf::Message* msg);

// Parses `data` (a record read from `path` at `offset`) into *msg, with an
// error naming the path, offset, type and missing fields on failure.
absl::Status ParseRecord(const std::string& path, uint64_t offset, const std::string& data,
                         google::protobuf::Message* msg);

// Sequential reader of any container.
//
// Lifetime: owns its file descriptor (or buffer). Messages returned by
// NewEmbeddedMessage must not outlive the Reader.
class Reader {
 public:
  enum class Next { kRecord, kEnd, kTornTail };

  // Opens `path` and reads the header and supplemental header.
  static absl::StatusOr<std::unique_ptr<Reader>> Open(const std::string& path);
  // Same over an in-memory copy of a file; `name` is used in messages.
  static absl::StatusOr<std::unique_ptr<Reader>> OpenBuffer(std::string name,
                                                            std::string contents);

  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  uint32_t version() const { return version_; }
  const std::string& pb_type() const { return pb_type_; }
  const google::protobuf::FileDescriptorSet& descriptor_set() const { return protos_; }
  const std::string& path() const { return path_; }
  uint64_t file_size() const { return file_size_; }

  // Reads the next record's bytes into *data. Returns kRecord, kEnd (clean
  // end of file), or kTornTail (incomplete last record; record_offset() tells
  // where it starts; every later call returns kTornTail again). Corruption is
  // a DataLoss status and also sticks.
  absl::StatusOr<Next> ReadNext(std::string* data);
  // ReadNext, then ParseRecord into *msg.
  absl::StatusOr<Next> ReadNextMessage(google::protobuf::Message* msg);

  // Offset of the record the last ReadNext returned (or of the torn tail).
  uint64_t record_offset() const { return record_offset_; }
  // End of the last complete record read: where an appender would continue.
  uint64_t valid_end() const { return offset_; }

  // Builds a message of the file's own embedded type (DynamicMessage) so that
  // records can be decoded without compiled-in types. The factory and pool
  // live as long as the Reader. DataLoss if the embedded descriptors are
  // unusable or do not define pb_type().
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> NewEmbeddedMessage();

 private:
  Reader() = default;
  absl::Status ReadAt(uint64_t offset, size_t n, char* out);
  absl::Status ReadHeaders();
  bool RestIsZero(uint64_t offset);
  uint64_t SupHeaderOffset() const {
    return version_ == kVersion1 ? kHeaderSizeV1 : kHeaderSizeV2;
  }

  std::string path_;
  int fd_ = -1;
  bool in_memory_ = false;
  std::string buffer_;  // the file, when in_memory_
  // Read-ahead window over the file (fd mode): [window_start_,
  // window_start_ + window_.size()). Small records are served from it, so a
  // file of many small records costs one pread per window, not two per record.
  std::string window_;
  uint64_t window_start_ = 0;
  uint64_t file_size_ = 0;
  uint64_t offset_ = 0;
  uint64_t record_offset_ = 0;
  uint32_t version_ = 0;
  bool torn_ = false;
  absl::Status sticky_error_;
  std::string pb_type_;
  google::protobuf::FileDescriptorSet protos_;
  struct Dynamic;
  std::unique_ptr<Dynamic> dynamic_;
};

}  // namespace kmend::pbc

#endif  // KMEND_LIB_FORMAT_PB_CONTAINER_H_
