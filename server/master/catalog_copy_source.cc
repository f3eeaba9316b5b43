#include "server/master/catalog_copy_source.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "lib/copy/served_item.h"
#include "lib/format/crc32c.h"
#include "lib/fs/uuid.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"
#include "lib/wal/format.h"

namespace kmend::master {
namespace {

// Chunks larger than this are cut (gRPC's default message limit is 4 MiB).
constexpr int64_t kMaxChunkBytes = 1 << 20;


}  // namespace

struct CatalogCopySource::Item {
  std::string name;
  copy::ServedItem served;
};

struct CatalogCopySource::Session {
  std::string id;
  std::vector<Item> items;  // immutable after Begin
};

namespace {
copy::SessionTableOptions TableOptions(absl::Duration idle_timeout) {
  copy::SessionTableOptions o;
  o.idle_timeout = idle_timeout;
  return o;  // expired on each Begin; no reaper thread
}
}  // namespace

CatalogCopySource::CatalogCopySource(std::string uuid, absl::Duration idle_timeout)
    : uuid_(std::move(uuid)), sessions_(TableOptions(idle_timeout)) {}

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

  std::string snapshot;
  if (!state.catalog.SerializeToString(&snapshot)) {
    return absl::InternalError("serializing the applied catalog for a catalog copy");
  }
  session->items.push_back(
      Item{kCatalogCopySnapshotItem, copy::ServedItem::InMemory(std::move(snapshot))});

  absl::StatusOr<std::vector<std::string>> names = io::ListDir(state.wal_dir);
  if (!names.ok()) return names.status();
  std::vector<std::string> segments;
  for (const std::string& n : *names) {
    if (wal::ParseSegmentFileName(n)) segments.push_back(n);
  }
  // Fixed-width sequence numbers: name order is log order.
  std::sort(segments.begin(), segments.end());
  if (segments.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("catalog copy: no WAL segment in ", state.wal_dir));
  }
  for (size_t i = 0; i < segments.size(); ++i) {
    Item item;
    item.name = segments[i];
    const std::string path = io::JoinPath(state.wal_dir, segments[i]);
    ASSIGN_OR_RETURN(std::shared_ptr<copy::OpenFile> file, copy::OpenFile::Open(path));
    ASSIGN_OR_RETURN(const uint64_t size, file->Size());
    std::string bytes(size, '\0');
    RETURN_IF_ERROR(file->ReadAt(0, size, bytes.data()));
    if (i + 1 < segments.size()) {
      // Closed: immutable, served from the descriptor; only the CRC stays.
      item.served.size = size;
      item.served.crc32c = crc32c::Value(bytes);
      item.served.file = std::move(file);
    } else {
      // The segment being written: a fixed in-memory snapshot.
      item.served = copy::ServedItem::InMemory(std::move(bytes));
    }
    session->items.push_back(std::move(item));
  }
  for (const Item& item : session->items) {
    CatalogCopyItemPB* pb = resp.add_items();
    pb->set_name(item.name);
    pb->set_size_bytes(static_cast<int64_t>(item.served.size));
    pb->set_crc32c(*item.served.crc32c);
  }

  sessions_.ExpireIdle();
  RETURN_IF_ERROR(sessions_.Add(session->id, session, "catalog copy"));
  return resp;
}

absl::StatusOr<FetchCatalogCopyDataResponsePB> CatalogCopySource::Fetch(
    const FetchCatalogCopyDataRequestPB& request) {
  std::shared_ptr<Session> session = sessions_.Find(request.session_id());
  if (session == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("catalog copy session ", request.session_id(), " is unknown or expired"));
  }
  const Item* item = nullptr;
  for (const Item& i : session->items) {
    if (i.name == request.name()) item = &i;
  }
  if (item == nullptr) {
    return absl::NotFoundError(absl::StrCat("catalog copy session ", request.session_id(),
                                            " has no item '", request.name(), "'"));
  }
  const std::string what = absl::StrCat("catalog copy item ", item->name);
  if (request.offset() < 0) {
    return absl::OutOfRangeError(
        absl::StrCat(what, ": offset ", request.offset(), " is negative"));
  }
  ASSIGN_OR_RETURN(copy::Chunk chunk,
                   copy::ReadChunk(item->served, what, static_cast<uint64_t>(request.offset()),
                                   request.max_length_bytes(), kMaxChunkBytes));
  FetchCatalogCopyDataResponsePB resp;
  resp.set_offset(static_cast<int64_t>(chunk.offset));
  resp.set_total_size_bytes(chunk.total_size_bytes);
  resp.set_crc32c(chunk.crc32c);
  *resp.mutable_data() = std::move(chunk.data);
  return resp;
}

absl::Status CatalogCopySource::End(const std::string& session_id) {
  if (sessions_.Remove(session_id) == nullptr) {
    return absl::NotFoundError(absl::StrCat("catalog copy session ", session_id, " is unknown"));
  }
  return absl::OkStatus();
}

int CatalogCopySource::num_sessions() const { return sessions_.size(); }

}  // namespace kmend::master
