// PB container files; see pb_container.h and docs/formats/pb_container.md.
#include "lib/format/pb_container.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/cord.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/descriptor_database.h"
#include "google/protobuf/dynamic_message.h"
#include "lib/format/crc32c.h"
#include "lib/io/file.h"
#include "lib/io/syscalls.h"
#include "lib/util/status_macros.h"
#include "proto/container.pb.h"

namespace kmend::pbc {

namespace gpb = ::google::protobuf;

namespace {

void PutU32(std::string* out, uint32_t v) {
  char b[4] = {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
               static_cast<char>(v >> 24)};
  out->append(b, 4);
}

uint32_t GetU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | uint32_t{u[1]} << 8 | uint32_t{u[2]} << 16 | uint32_t{u[3]} << 24;
}

// DataLoss at `offset` of the file, with the offset also as a payload.
absl::Status DataLossAt(uint64_t offset, const std::string& message) {
  absl::Status s = absl::DataLossError(message);
  s.SetPayload(kOffsetPayloadUrl, absl::Cord(absl::StrCat(offset)));
  return s;
}

std::string Hex32(uint32_t v) { return absl::StrFormat("0x%08x", v); }

// Serializes `msg`, refusing what a reader could not read back.
absl::StatusOr<std::string> SerializeChecked(const gpb::Message& msg) {
  if (!msg.IsInitialized()) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write ", msg.GetTypeName(),
                                                   ": missing required field(s) ",
                                                   msg.InitializationErrorString()));
  }
  size_t size = msg.ByteSizeLong();
  if (size > kMaxRecordBytes) {
    return absl::InvalidArgumentError(absl::StrCat("cannot write ", msg.GetTypeName(), ": ",
                                                   size, " bytes exceeds the record limit of ",
                                                   kMaxRecordBytes));
  }
  std::string data;
  if (!msg.SerializeToString(&data)) {
    return absl::InternalError(absl::StrCat("cannot serialize ", msg.GetTypeName()));
  }
  return data;
}

std::string EncodeHeader(uint32_t version) {
  std::string out(kMagic, kMagicSize);
  PutU32(&out, version);
  if (version >= kVersion2) PutU32(&out, crc32c::Value(out));
  return out;
}

// Collects descriptor-building errors instead of logging them, so a damaged
// embedded descriptor set becomes one Status.
class FirstErrorCollector : public gpb::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& filename, const std::string& element_name,
                const gpb::Message* /*descriptor*/, ErrorLocation /*location*/,
                const std::string& message) override {
    if (first_.empty()) first_ = absl::StrCat(filename, ": ", element_name, ": ", message);
  }
  const std::string& first() const { return first_; }

 private:
  std::string first_;
};

}  // namespace

std::optional<uint64_t> ErrorOffset(const absl::Status& status) {
  auto payload = status.GetPayload(kOffsetPayloadUrl);
  uint64_t offset = 0;
  if (!payload.has_value() || !absl::SimpleAtoi(std::string(*payload), &offset)) {
    return std::nullopt;
  }
  return offset;
}

gpb::FileDescriptorSet DescriptorSetFor(const gpb::Descriptor* descriptor) {
  // Kudu's order (pb_util.cc): a deque seeded with the message's file; while
  // the front file has unseen imports, push them (in declaration order) on
  // the front; once it has none, pop it and emit it.
  gpb::FileDescriptorSet set;
  std::deque<const gpb::FileDescriptor*> queue = {descriptor->file()};
  std::set<const gpb::FileDescriptor*> seen = {descriptor->file()};
  while (!queue.empty()) {
    const gpb::FileDescriptor* file = queue.front();
    bool pushed = false;
    for (int i = 0; i < file->dependency_count(); ++i) {
      const gpb::FileDescriptor* dep = file->dependency(i);
      if (seen.insert(dep).second) {
        queue.push_front(dep);
        pushed = true;
      }
    }
    if (!pushed) {
      file->CopyTo(set.add_file());
      queue.pop_front();
    }
  }
  return set;
}

std::string EncodeRecord(uint32_t version, const std::string& data) {
  std::string out;
  out.reserve(data.size() + 12);
  PutU32(&out, static_cast<uint32_t>(data.size()));
  if (version >= kVersion2) {
    PutU32(&out, crc32c::Value(out.data(), 4));
    out.append(data);
    PutU32(&out, crc32c::Value(data));
  } else {
    out.append(data);
    PutU32(&out, crc32c::Value(out));  // v1: CRC over length ‖ data
  }
  return out;
}

std::string EncodeFileStart(uint32_t version, const gpb::Descriptor* type) {
  kmend::ContainerSupHeaderPB sup;
  *sup.mutable_protos() = DescriptorSetFor(type);
  sup.set_pb_type(type->full_name());
  return EncodeHeader(version) + EncodeRecord(version, sup.SerializeAsString());
}

absl::StatusOr<std::string> EncodeSingleMessageFile(const gpb::Message& msg, uint32_t version) {
  ASSIGN_OR_RETURN(std::string data, SerializeChecked(msg));
  return EncodeFileStart(version, msg.GetDescriptor()) + EncodeRecord(version, data);
}

// ---------------------------------------------------------------- Writer

Writer::Writer(std::string path, int fd, uint32_t version, std::string pb_type,
               uint64_t offset)
    : path_(std::move(path)),
      fd_(fd),
      version_(version),
      pb_type_(std::move(pb_type)),
      offset_(offset) {}

Writer::~Writer() {
  if (fd_ >= 0) io::sys::Close(fd_);
}

absl::StatusOr<std::unique_ptr<Writer>> Writer::Create(const std::string& path,
                                                       const gpb::Message& prototype,
                                                       uint32_t version) {
  if (version != kVersion1 && version != kVersion2) {
    return absl::InvalidArgumentError(absl::StrCat("container version ", version));
  }
  int fd = io::sys::Open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return io::ErrnoError("create container", path, errno);
  std::string start = EncodeFileStart(version, prototype.GetDescriptor());
  absl::Status s = io::WriteFully(fd, path, start);
  if (!s.ok()) {
    io::sys::Close(fd);
    io::sys::Unlink(path.c_str());
    return s;
  }
  std::unique_ptr<Writer> writer(
      new Writer(path, fd, version, prototype.GetDescriptor()->full_name(), start.size()));
  writer->needs_dir_sync_ = true;
  return writer;
}

absl::StatusOr<std::unique_ptr<Writer>> Writer::OpenForAppend(const std::string& path) {
  ASSIGN_OR_RETURN(std::unique_ptr<Reader> reader, Reader::Open(path));
  std::string data;
  Reader::Next next;
  do {
    ASSIGN_OR_RETURN(next, reader->ReadNext(&data));
  } while (next == Reader::Next::kRecord);
  uint64_t end = reader->valid_end();
  if (next == Reader::Next::kTornTail) {
    // Only a v2 file can have a torn tail; its partial record is dropped so
    // that new records follow the last complete one.
    if (::truncate(path.c_str(), static_cast<off_t>(end)) != 0) {
      return io::ErrnoError(absl::StrCat("truncate torn tail at offset ", end), path, errno);
    }
  }
  int fd = io::sys::Open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return io::ErrnoError("open for append", path, errno);
  return std::unique_ptr<Writer>(
      new Writer(path, fd, reader->version(), reader->pb_type(), end));
}

absl::Status Writer::Append(const gpb::Message& msg) {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": writer is closed"));
  if (failed_) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": an earlier append failed; reopen the file"));
  }
  // Compare the unqualified names: a Kudu file of kudu.consensus.X may be
  // extended with kmend.consensus.X (same field numbers).
  const std::string& name = msg.GetDescriptor()->name();
  if (pb_type_ != msg.GetDescriptor()->full_name() &&
      !(pb_type_.size() > name.size() &&
        pb_type_.compare(pb_type_.size() - name.size() - 1, std::string::npos,
                         "." + name) == 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        path_, ": container holds ", pb_type_, ", cannot append ", msg.GetTypeName()));
  }
  auto data = SerializeChecked(msg);
  if (!data.ok()) return Annotate(data.status(), path_);
  std::string record = EncodeRecord(version_, *data);
  absl::Status s = io::WriteFully(fd_, path_, record);
  if (!s.ok()) {
    // Drop whatever part of the record reached the file so it still ends at
    // a record boundary; if even that fails, later appends are refused.
    if (io::sys::Ftruncate(fd_, static_cast<off_t>(offset_)) != 0) {
      // Nothing more to do: failed_ below keeps us from appending after junk.
    }
    failed_ = true;
    return Annotate(s, absl::StrCat("append at offset ", offset_));
  }
  offset_ += record.size();
  return absl::OkStatus();
}

absl::Status Writer::Sync() {
  if (fd_ < 0) return absl::FailedPreconditionError(absl::StrCat(path_, ": writer is closed"));
  if (io::sys::Fdatasync(fd_) != 0) return io::ErrnoError("fdatasync", path_, errno);
  if (needs_dir_sync_) {
    RETURN_IF_ERROR(io::SyncParentDir(path_));
    needs_dir_sync_ = false;
  }
  return absl::OkStatus();
}

absl::Status Writer::Close() {
  if (fd_ < 0) return absl::OkStatus();
  int fd = fd_;
  fd_ = -1;
  if (io::sys::Close(fd) != 0) return io::ErrnoError("close", path_, errno);
  return absl::OkStatus();
}

// ------------------------------------------------------- single message

absl::Status WriteSingleMessageFile(const std::string& path, const gpb::Message& msg) {
  auto contents = EncodeSingleMessageFile(msg);
  if (!contents.ok()) return Annotate(contents.status(), path);
  return io::WriteFileAtomically(path, *contents);
}

absl::Status ParseRecord(const std::string& path, uint64_t offset, const std::string& data,
                         gpb::Message* msg) {
  msg->Clear();
  if (!msg->ParsePartialFromString(data)) {
    return DataLossAt(offset, absl::StrCat(path, ": offset ", offset, ": record of ",
                                            data.size(), " bytes does not parse as ",
                                            msg->GetTypeName(), " (malformed wire data)"));
  }
  if (!msg->IsInitialized()) {
    return DataLossAt(offset, absl::StrCat(path, ": offset ", offset, ": ",
                                            msg->GetTypeName(), ": missing required field(s) ",
                                            msg->InitializationErrorString()));
  }
  return absl::OkStatus();
}

absl::Status ReadSingleMessageFile(const std::string& path, gpb::Message* msg) {
  ASSIGN_OR_RETURN(std::unique_ptr<Reader> reader, Reader::Open(path));
  std::string data;
  ASSIGN_OR_RETURN(Reader::Next next, reader->ReadNext(&data));
  switch (next) {
    case Reader::Next::kRecord:
      return ParseRecord(path, reader->record_offset(), data, msg);
    case Reader::Next::kEnd:
      return DataLossAt(reader->record_offset(), absl::StrCat(path, ": offset ", reader->record_offset(),
                                              ": no record after the supplemental header"));
    case Reader::Next::kTornTail:
      break;
  }
  return DataLossAt(reader->record_offset(), absl::StrCat(path, ": offset ", reader->record_offset(),
                                          ": incomplete record (file ends at ",
                                          reader->file_size(), ")"));
}

// ---------------------------------------------------------------- Reader

// The pool and factory behind NewEmbeddedMessage, built on first use.
struct Reader::Dynamic {
  gpb::SimpleDescriptorDatabase database;
  FirstErrorCollector errors;
  std::unique_ptr<gpb::DescriptorPool> pool;
  std::unique_ptr<gpb::DynamicMessageFactory> factory;
  const gpb::Message* prototype = nullptr;
};

Reader::~Reader() {
  if (fd_ >= 0) io::sys::Close(fd_);
}

absl::StatusOr<std::unique_ptr<Reader>> Reader::Open(const std::string& path) {
  std::unique_ptr<Reader> r(new Reader());
  r->path_ = path;
  r->fd_ = io::sys::Open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r->fd_ < 0) return io::ErrnoError("open", path, errno);
  struct stat st;
  if (::fstat(r->fd_, &st) != 0) return io::ErrnoError("stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": not a regular file"));
  }
  r->file_size_ = static_cast<uint64_t>(st.st_size);
  RETURN_IF_ERROR(r->ReadHeaders());
  return r;
}

absl::StatusOr<std::unique_ptr<Reader>> Reader::OpenBuffer(std::string name,
                                                           std::string contents) {
  std::unique_ptr<Reader> r(new Reader());
  r->path_ = std::move(name);
  r->in_memory_ = true;
  r->buffer_ = std::move(contents);
  r->file_size_ = r->buffer_.size();
  RETURN_IF_ERROR(r->ReadHeaders());
  return r;
}

absl::Status Reader::ReadAt(uint64_t offset, size_t n, char* out) {
  if (in_memory_) {
    if (offset > buffer_.size() || buffer_.size() - offset < n) {
      return absl::OutOfRangeError(absl::StrCat(path_, ": offset ", offset, ": wanted ", n,
                                                " bytes past the end"));
    }
    std::memcpy(out, buffer_.data() + offset, n);
    return absl::OkStatus();
  }
  if (offset >= window_start_ && offset - window_start_ <= window_.size() &&
      window_.size() - (offset - window_start_) >= n) {
    std::memcpy(out, window_.data() + (offset - window_start_), n);
    return absl::OkStatus();
  }
  // Large reads go straight to the caller's buffer: copying them through the
  // window would only add a memcpy.
  constexpr size_t kWindowBytes = 1 << 20;
  if (n >= kWindowBytes / 4 || offset >= file_size_) {
    return io::PreadFully(fd_, path_, offset, n, out);
  }
  size_t fill = static_cast<size_t>(std::min<uint64_t>(kWindowBytes, file_size_ - offset));
  if (fill < n) return io::PreadFully(fd_, path_, offset, n, out);  // reports the short read
  window_.resize(fill);
  absl::Status s = io::PreadFully(fd_, path_, offset, fill, window_.data());
  if (!s.ok()) {
    window_.clear();
    return s;
  }
  window_start_ = offset;
  std::memcpy(out, window_.data(), n);
  return absl::OkStatus();
}

bool Reader::RestIsZero(uint64_t offset) {
  char buf[1 << 16];
  while (offset < file_size_) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof(buf), file_size_ - offset));
    if (!ReadAt(offset, n, buf).ok()) return false;
    for (size_t i = 0; i < n; ++i) {
      if (buf[i] != 0) return false;
    }
    offset += n;
  }
  return true;
}

absl::Status Reader::ReadHeaders() {
  char header[kHeaderSizeV2];
  size_t have = static_cast<size_t>(std::min<uint64_t>(file_size_, sizeof(header)));
  RETURN_IF_ERROR(ReadAt(0, have, header));
  if (have >= 7 && std::memcmp(header, "kuduenc", 7) == 0) {
    return absl::UnimplementedError(
        absl::StrCat(path_, ": file is encrypted (starts with \"kuduenc\"); kmend cannot "
                            "read Kudu's at-rest encryption"));
  }
  if (have < kMagicSize && std::memcmp(header, kMagic, have) == 0) {
    // Kudu writes header and supplemental header in one write, so this is a
    // file cut short at creation (Kudu's LBM deletes such orphans).
    return DataLossAt(0, absl::StrCat(path_, ": file header: file is only ", file_size_,
                                      " bytes, shorter than the container header"));
  }
  if (have < kMagicSize || std::memcmp(header, kMagic, kMagicSize) != 0) {
    return DataLossAt(0, absl::StrCat(
        path_, ": offset 0: not a PB container: expected magic \"kuducntr\", found \"",
        absl::CHexEscape(absl::string_view(header, std::min<size_t>(have, kMagicSize))),
        "\""));
  }
  if (have < kHeaderSizeV1) {
    return DataLossAt(0, absl::StrCat(path_, ": file header: file is only ", file_size_,
                                            " bytes, shorter than the container header"));
  }
  version_ = GetU32(header + kMagicSize);
  if (version_ == kVersion1) {
    offset_ = kHeaderSizeV1;
  } else if (version_ == kVersion2) {
    if (have < kHeaderSizeV2) {
      return DataLossAt(0, absl::StrCat(path_, ": file header: file is only ",
                                              file_size_, " bytes, v2 header needs 16"));
    }
    uint32_t stored = GetU32(header + kHeaderSizeV1);
    uint32_t computed = crc32c::Value(header, kHeaderSizeV1);
    if (stored != computed) {
      return DataLossAt(0, absl::StrCat(path_, ": offset 0: file header: crc mismatch (stored ",
                                              Hex32(stored), ", computed ", Hex32(computed), ")"));
    }
    offset_ = kHeaderSizeV2;
  } else {
    return absl::UnimplementedError(absl::StrCat(
        path_, ": offset 8: unsupported container version ", version_, " (reads 1 and 2)"));
  }

  std::string data;
  ASSIGN_OR_RETURN(Next next, ReadNext(&data));
  if (next != Next::kRecord) {
    return DataLossAt(record_offset_, absl::StrCat(
        path_, ": offset ", record_offset_, ": supplemental header: ",
        next == Next::kEnd ? "missing" : "incomplete", " (file ends at ", file_size_, ")"));
  }
  kmend::ContainerSupHeaderPB sup;
  absl::Status parsed = ParseRecord(path_, record_offset_, data, &sup);
  if (!parsed.ok()) {
    return DataLossAt(record_offset_, absl::StrCat("supplemental header: ", parsed.message()));
  }
  protos_ = std::move(*sup.mutable_protos());
  pb_type_ = sup.pb_type();
  return absl::OkStatus();
}

absl::StatusOr<Reader::Next> Reader::ReadNext(std::string* data) {
  if (!sticky_error_.ok()) return sticky_error_;
  record_offset_ = offset_;
  if (torn_) return Next::kTornTail;
  if (offset_ == file_size_) return Next::kEnd;

  const uint64_t remaining = file_size_ - offset_;
  const size_t len_size = version_ >= kVersion2 ? 8 : 4;
  // An incomplete record is a torn tail in v2 and corruption in v1 (Kudu:
  // "unrecoverable incomplete record"), since v1 writers had no such promise.
  auto incomplete = [&](const std::string& what) -> absl::StatusOr<Next> {
    if (version_ == kVersion1) {
      sticky_error_ = DataLossAt(offset_, absl::StrCat(
          path_, ": offset ", offset_, ": unrecoverable incomplete record in v1 container: ",
          what));
      return sticky_error_;
    }
    torn_ = true;
    return Next::kTornTail;
  };
  auto corrupt = [&](const std::string& what) -> absl::StatusOr<Next> {
    sticky_error_ = DataLossAt(offset_, absl::StrCat(path_, ": offset ", offset_, ": ", what));
    return sticky_error_;
  };

  if (remaining < len_size) {
    return incomplete(absl::StrCat("record length: only ", remaining, " bytes left"));
  }
  char len_buf[8];
  RETURN_IF_ERROR(ReadAt(offset_, len_size, len_buf));
  const uint32_t len = GetU32(len_buf);
  if (version_ >= kVersion2) {
    // KUDU-2260: a zero length and CRC followed only by zeros is space that
    // was allocated but never written (a crash after extending the file).
    if (std::memcmp(len_buf, "\0\0\0\0\0\0\0\0", 8) == 0 && RestIsZero(offset_ + 8)) {
      return incomplete("zero-filled tail");
    }
    uint32_t stored = GetU32(len_buf + 4);
    uint32_t computed = crc32c::Value(len_buf, 4);
    if (stored != computed) {
      return corrupt(absl::StrCat("record length: crc mismatch (stored ", Hex32(stored),
                                  ", computed ", Hex32(computed), ", length field ", len, ")"));
    }
  }
  if (len > kMaxRecordBytes) {
    return corrupt(absl::StrCat("record length ", len, " exceeds the limit of ",
                                kMaxRecordBytes, " bytes"));
  }
  if (remaining - len_size < uint64_t{len} + 4) {
    return incomplete(absl::StrCat("record of ", len, " bytes needs ", len_size + len + 4,
                                   ", only ", remaining, " left"));
  }
  data->resize(len + 4);
  RETURN_IF_ERROR(ReadAt(offset_ + len_size, len + 4, data->data()));
  const uint32_t stored = GetU32(data->data() + len);
  uint32_t computed = version_ >= kVersion2 ? 0 : crc32c::Value(len_buf, 4);
  computed = crc32c::Extend(computed, data->data(), len);
  data->resize(len);
  if (stored != computed) {
    return corrupt(absl::StrCat("record data (", len, " bytes at offset ", offset_ + len_size,
                                "): crc mismatch (stored ", Hex32(stored), ", computed ",
                                Hex32(computed), ")"));
  }
  offset_ += len_size + len + 4;
  return Next::kRecord;
}

absl::StatusOr<Reader::Next> Reader::ReadNextMessage(gpb::Message* msg) {
  std::string data;
  ASSIGN_OR_RETURN(Next next, ReadNext(&data));
  if (next == Next::kRecord) RETURN_IF_ERROR(ParseRecord(path_, record_offset_, data, msg));
  return next;
}

absl::StatusOr<std::unique_ptr<gpb::Message>> Reader::NewEmbeddedMessage() {
  if (dynamic_ == nullptr) {
    auto dyn = std::make_unique<Dynamic>();
    // The set is only roughly dependency-ordered (see DescriptorSetFor), so the
    // pool resolves imports lazily from a database instead of BuildFile in order.
    std::set<std::string> names;
    for (const gpb::FileDescriptorProto& file : protos_.file()) {
      if (!names.insert(file.name()).second) {
        return DataLossAt(SupHeaderOffset(), absl::StrCat(
            path_, ": supplemental header: file \"", file.name(), "\" embedded twice"));
      }
      if (!dyn->database.Add(file)) {
        return DataLossAt(SupHeaderOffset(), absl::StrCat(path_, ": supplemental header: file \"",
                                                file.name(), "\" is not a valid descriptor"));
      }
    }
    dyn->pool = std::make_unique<gpb::DescriptorPool>(&dyn->database, &dyn->errors);
    const gpb::Descriptor* type = dyn->pool->FindMessageTypeByName(pb_type_);
    if (type == nullptr) {
      return DataLossAt(SupHeaderOffset(), absl::StrCat(
          path_, ": supplemental header: embedded descriptors do not define pb_type \"",
          pb_type_, "\"", dyn->errors.first().empty() ? "" : ": ", dyn->errors.first()));
    }
    dyn->factory = std::make_unique<gpb::DynamicMessageFactory>(dyn->pool.get());
    dyn->prototype = dyn->factory->GetPrototype(type);
    if (dyn->prototype == nullptr) {
      return DataLossAt(SupHeaderOffset(), absl::StrCat(path_, ": cannot build a message of ", pb_type_));
    }
    dynamic_ = std::move(dyn);
  }
  return std::unique_ptr<gpb::Message>(dynamic_->prototype->New());
}

}  // namespace kmend::pbc
