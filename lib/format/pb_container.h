// Protobuf container files: Apache Kudu's framing for metadata files
// (docs/formats/pb_container.md).
//
//   file   := header record*            (first record: ContainerSupHeaderPB)
//   header := "kuducntr" u32 version [u32 crc32c(header[0..12))]   (v2 adds the CRC)
//   record := u32 len [u32 crc32c(len)] data u32 crc32c(...)       (v2 adds len CRC)
//
// The supplemental header embeds the FileDescriptorSet of the stored message
// type, so a file can be decoded without knowing its type in advance (pbc dump).
//
// Reading distinguishes three ways a file can end:
//   - cleanly at a record boundary;
//   - a torn tail: the last record is incomplete (a crash mid-append). This is
//     expected, reported as ReadResult::kTornTail with its offset, and the
//     caller may truncate there;
//   - corruption: a checksum mismatch or impossible length anywhere, an
//     absl::DataLoss status naming the path, offset and what failed.
//
// Thread safety: none of these classes is thread-safe.
#ifndef KMEND_LIB_FORMAT_PB_CONTAINER_H_
#define KMEND_LIB_FORMAT_PB_CONTAINER_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "google/protobuf/descriptor.pb.h"
#include "google/protobuf/message.h"

namespace kmend::pbc {

inline constexpr char kMagic[] = "kuducntr";  // 8 bytes, no NUL on disk
inline constexpr uint32_t kVersion1 = 1;
inline constexpr uint32_t kVersion2 = 2;
// Kudu's reader refuses records larger than this.
inline constexpr uint32_t kMaxRecordBytes = 512u << 20;

// Builds the descriptor set embedded in a container of `descriptor`: its file
// and every file it imports, dependencies first (Kudu's order; see doc).
google::protobuf::FileDescriptorSet DescriptorSetFor(
    const google::protobuf::Descriptor* descriptor);

// Appends records to a new or existing container file.
class Writer {
 public:
  // Creates `path` (must not exist) with a v2 header and the supplemental
  // header for `prototype`'s type. Not synced until Sync().
  static absl::StatusOr<std::unique_ptr<Writer>> Create(
      const std::string& path, const google::protobuf::Message& prototype);
  // Opens an existing container for appending after its last complete record.
  // A torn tail is truncated away first (the caller should have reported it).
  static absl::StatusOr<std::unique_ptr<Writer>> OpenForAppend(const std::string& path);

  ~Writer();
  absl::Status Append(const google::protobuf::Message& msg);
  absl::Status Sync();  // fdatasync
  absl::Status Close();

 private:
  Writer(std::string path, int fd, uint32_t version);
  std::string path_;
  int fd_;
  uint32_t version_;
};

// Writes a container holding exactly `msg` to `path` atomically and durably
// (temp file, fsync, rename, fsync dir).
absl::Status WriteSingleMessageFile(const std::string& path,
                                    const google::protobuf::Message& msg);

// Reads the single message of a container written by WriteSingleMessageFile
// (the first record after the supplemental header) into *msg. Errors name the
// path, offset and what failed.
absl::Status ReadSingleMessageFile(const std::string& path, google::protobuf::Message* msg);

// Sequential reader of any container.
class Reader {
 public:
  enum class Next { kRecord, kEnd, kTornTail };

  // Opens `path` and reads the header and supplemental header.
  static absl::StatusOr<std::unique_ptr<Reader>> Open(const std::string& path);

  ~Reader();
  uint32_t version() const { return version_; }
  const std::string& pb_type() const { return pb_type_; }
  const google::protobuf::FileDescriptorSet& descriptor_set() const { return protos_; }
  const std::string& path() const { return path_; }

  // Reads the next record's bytes into *data. Returns kRecord, kEnd (clean
  // end of file), or kTornTail (incomplete last record; torn_tail_offset()
  // tells where it starts). Corruption is an error status.
  absl::StatusOr<Next> ReadNext(std::string* data);
  // Offset of the record the last ReadNext returned (or of the torn tail).
  uint64_t record_offset() const { return record_offset_; }

  // Builds a message of the file's own embedded type (DynamicMessage) so that
  // records can be decoded without compiled-in types. The factory and pool
  // live as long as the Reader.
  absl::StatusOr<std::unique_ptr<google::protobuf::Message>> NewEmbeddedMessage();

 private:
  Reader() = default;
  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;
  uint64_t offset_ = 0;
  uint64_t record_offset_ = 0;
  uint32_t version_ = 0;
  std::string pb_type_;
  google::protobuf::FileDescriptorSet protos_;
  struct Dynamic;
  std::unique_ptr<Dynamic> dynamic_;
};

}  // namespace kmend::pbc

#endif  // KMEND_LIB_FORMAT_PB_CONTAINER_H_
