#include "server/master/catalog_copy_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/format/crc32c.h"
#include "lib/fs/uuid.h"
#include "lib/io/file.h"
#include "lib/wal/format.h"

namespace kmend::master {
namespace {

// Chunks larger than this are cut (gRPC's default message limit is 4 MiB).
constexpr int64_t kMaxChunkBytes = 1 << 20;

bool IsSegmentName(const std::string& name) {
  if (!absl::StartsWith(name, wal::kSegmentFilePrefix) || io::IsTempFileName(name)) return false;
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(name.substr(wal::kSegmentFilePrefix.size()), &seq)) return false;
  return wal::SegmentFileName(seq) == name;
}

}  // namespace

struct CatalogCopySource::Item {
  std::string name;
  std::string path;
  int fd = -1;          // closed segments
  std::string bytes;    // the snapshot and the segment being written
  int64_t size = 0;
  uint32_t crc32c = 0;
  ~Item() {
    if (fd >= 0) ::close(fd);
  }
};

struct CatalogCopySource::Session {
  std::string id;
  std::vector<std::unique_ptr<Item>> items;
  absl::Time last_used;
};

CatalogCopySource::~CatalogCopySource() = default;

absl::StatusOr<BeginCatalogCopyResponsePB> CatalogCopySource::Begin(
    const std::string& requestor_uuid, const CatalogCopyState& state) {
  if (requestor_uuid == uuid_) {
    return absl::InvalidArgumentError(
        absl::StrCat("master ", uuid_, " was asked for a catalog copy by itself"));
  }
  auto session = std::make_shared<Session>();
  session->id = fs::NewUuid();
  BeginCatalogCopyResponsePB resp;
  resp.set_session_id(session->id);
  resp.set_responder_uuid(uuid_);
  *resp.mutable_cstate() = state.cstate;
  resp.set_snapshot_index(state.catalog.applied_index());

  auto snapshot = std::make_unique<Item>();
  snapshot->name = kCatalogCopySnapshotItem;
  if (!state.catalog.SerializeToString(&snapshot->bytes)) {
    return absl::InternalError("serializing the applied catalog for a catalog copy");
  }
  session->items.push_back(std::move(snapshot));

  absl::StatusOr<std::vector<std::string>> names = io::ListDir(state.wal_dir);
  if (!names.ok()) return names.status();
  std::vector<std::string> segments;
  for (const std::string& n : *names) {
    if (IsSegmentName(n)) segments.push_back(n);
  }
  // Fixed-width sequence numbers: name order is log order.
  std::sort(segments.begin(), segments.end());
  if (segments.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("catalog copy: no WAL segment in ", state.wal_dir));
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    auto item = std::make_unique<Item>();
    item->name = segments[i];
    item->path = io::JoinPath(state.wal_dir, segments[i]);
    item->fd = ::open(item->path.c_str(), O_RDONLY | O_CLOEXEC);
    if (item->fd < 0) return io::ErrnoError("open", item->path, errno);
    off_t size = ::lseek(item->fd, 0, SEEK_END);
    if (size < 0) return io::ErrnoError("lseek", item->path, errno);
    item->bytes.resize(static_cast<size_t>(size));
    absl::Status s = io::PreadFully(item->fd, item->path, 0, item->bytes.size(), item->bytes.data());
    if (!s.ok()) return s;
    if (i + 1 < segments.size()) {
      // Closed: immutable, served from the descriptor; only the CRC stays.
      item->size = size;
      item->crc32c = crc32c::Value(item->bytes);
      std::string().swap(item->bytes);
    } else {
      ::close(item->fd);
      item->fd = -1;
    }
    session->items.push_back(std::move(item));
  }
  for (auto& item : session->items) {
    if (item->fd < 0) {
      item->size = static_cast<int64_t>(item->bytes.size());
      item->crc32c = crc32c::Value(item->bytes);
    }
    CatalogCopyItemPB* pb = resp.add_items();
    pb->set_name(item->name);
    pb->set_size_bytes(item->size);
    pb->set_crc32c(item->crc32c);
  }

  absl::MutexLock l(&mu_);
  const absl::Time now = absl::Now();
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = now - it->second->last_used > idle_timeout_ ? sessions_.erase(it) : std::next(it);
  }
  session->last_used = now;
  sessions_[session->id] = std::move(session);
  return resp;
}

absl::StatusOr<FetchCatalogCopyDataResponsePB> CatalogCopySource::Fetch(
    const FetchCatalogCopyDataRequestPB& request) {
  std::shared_ptr<Session> session;
  {
    absl::MutexLock l(&mu_);
    auto it = sessions_.find(request.session_id());
    if (it == sessions_.end()) {
      return absl::NotFoundError(
          absl::StrCat("catalog copy session ", request.session_id(), " is unknown or expired"));
    }
    session = it->second;
    session->last_used = absl::Now();
  }
  const Item* item = nullptr;
  for (const auto& i : session->items) {
    if (i->name == request.name()) item = i.get();
  }
  if (item == nullptr) {
    return absl::NotFoundError(absl::StrCat("catalog copy session ", request.session_id(),
                                            " has no item '", request.name(), "'"));
  }
  if (request.offset() < 0 || request.offset() > item->size) {
    return absl::OutOfRangeError(absl::StrCat("catalog copy item ", item->name, ": offset ",
                                              request.offset(), " outside 0..", item->size));
  }
  int64_t n = std::min(item->size - request.offset(), kMaxChunkBytes);
  if (request.max_length_bytes() > 0) n = std::min(n, request.max_length_bytes());
  FetchCatalogCopyDataResponsePB resp;
  resp.set_offset(request.offset());
  resp.set_total_size_bytes(item->size);
  std::string* data = resp.mutable_data();
  if (item->fd >= 0) {
    data->resize(static_cast<size_t>(n));
    absl::Status s = io::PreadFully(item->fd, item->path, request.offset(), data->size(),
                                    data->data());
    if (!s.ok()) return s;
  } else {
    data->assign(item->bytes, static_cast<size_t>(request.offset()), static_cast<size_t>(n));
  }
  resp.set_crc32c(crc32c::Value(*data));
  return resp;
}

absl::Status CatalogCopySource::End(const std::string& session_id) {
  absl::MutexLock l(&mu_);
  if (sessions_.erase(session_id) == 0) {
    return absl::NotFoundError(absl::StrCat("catalog copy session ", session_id, " is unknown"));
  }
  return absl::OkStatus();
}

int CatalogCopySource::num_sessions() const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(sessions_.size());
}

}  // namespace kmend::master
