#include "server/master/catalog_manager.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/tablet/schema.h"
#include "lib/util/status_macros.h"
#include "lib/fs/uuid.h"
#include "server/master/placement.h"

namespace kmend::master {
namespace {

constexpr int kMaxTablets = 1000;
constexpr int kMaxReplicas = 7;
constexpr size_t kMaxNameBytes = 256;

// A hash bucket as it appears in a partition key: 4 bytes big-endian
// (Kudu's encoding of hash buckets in partition keys).
std::string EncodeBucket(int32_t bucket) {
  std::string out(4, '\0');
  out[0] = static_cast<char>((bucket >> 24) & 0xff);
  out[1] = static_cast<char>((bucket >> 16) & 0xff);
  out[2] = static_cast<char>((bucket >> 8) & 0xff);
  out[3] = static_cast<char>(bucket & 0xff);
  return out;
}

absl::Status ValidateName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("table name is empty");
  if (name.size() > kMaxNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("table name is ", name.size(), " bytes; at most ", kMaxNameBytes));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat("table name '", name, "' contains a control character"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

CatalogManager::CatalogManager(std::unique_ptr<CatalogStore> store, const server::Clock* clock)
    : store_(std::move(store)), clock_(clock) {}

absl::Status CatalogManager::Load() {
  // Under the lock: a Save in flight finishes first, so what is read is at
  // least as new as anything this manager committed.
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(SysCatalogPB loaded, store_->Load());
  catalog_ = std::move(loaded);
  RebuildIndexLocked();
  return absl::OkStatus();
}

void CatalogManager::RebuildIndexLocked() {
  tablet_index_.clear();
  for (int i = 0; i < catalog_.tablets_size(); ++i) {
    tablet_index_[catalog_.tablets(i).tablet_id()] = i;
  }
}

absl::Status CatalogManager::CommitLocked(SysCatalogPB next) {
  next.set_version(catalog_.version() + 1);
  RETURN_IF_ERROR(Annotate(store_->Save(next), "persisting the catalog"));
  catalog_ = std::move(next);
  RebuildIndexLocked();
  return absl::OkStatus();
}

TableWithTablets CatalogManager::CollectLocked(int table_index) const {
  const SysTableInfoPB& t = catalog_.tables(table_index);
  TableWithTablets out;
  out.table = t.info();
  for (const std::string& id : t.tablet_ids()) {
    auto it = tablet_index_.find(id);
    if (it != tablet_index_.end()) out.tablets.push_back(catalog_.tablets(it->second));
  }
  return out;
}

int CatalogManager::FindTableLocked(const std::string& name,
                                    const std::string& table_id) const {
  for (int i = 0; i < catalog_.tables_size(); ++i) {
    const TableInfoPB& info = catalog_.tables(i).info();
    if (!table_id.empty()) {
      if (info.table_id() == table_id) return i;
    } else if (info.name() == name && info.state() == RUNNING) {
      return i;
    }
  }
  return -1;
}

absl::StatusOr<TableWithTablets> CatalogManager::CreateTable(
    const CreateTableRequestPB& req, const std::map<std::string, HostPortPB>& live_servers) {
  RETURN_IF_ERROR(ValidateName(req.name()));
  auto schema_or = tablet::Schema::FromPB(req.schema());
  if (!schema_or.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("table '", req.name(), "': schema: ", schema_or.status().message()));
  }
  const tablet::Schema& schema = *schema_or;
  if (req.num_tablets() < 1 || req.num_tablets() > kMaxTablets) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", req.name(), "': num_tablets is ", req.num_tablets(), "; expected 1..",
        kMaxTablets));
  }
  if (req.num_replicas() < 1 || req.num_replicas() > kMaxReplicas) {
    return absl::InvalidArgumentError(absl::StrCat(
        "table '", req.name(), "': num_replicas is ", req.num_replicas(), "; expected 1..",
        kMaxReplicas));
  }
  // Rows are hashed on the whole encoded primary key (lib/tablet/partition.h),
  // so the hash columns are the key columns.
  std::vector<std::string> key_names;
  for (size_t i = 0; i < schema.num_key_columns(); ++i) {
    key_names.push_back(schema.column(i).name);
  }
  if (req.hash_columns_size() > 0) {
    std::vector<std::string> asked(req.hash_columns().begin(), req.hash_columns().end());
    if (asked != key_names) {
      return absl::InvalidArgumentError(absl::StrCat(
          "table '", req.name(), "': hash columns must be the key columns (",
          absl::StrJoin(key_names, ","), "); got ", absl::StrJoin(asked, ",")));
    }
  }

  absl::MutexLock lock(&mu_);
  if (FindTableLocked(req.name(), "") >= 0) {
    return absl::AlreadyExistsError(absl::StrCat("table '", req.name(), "' already exists"));
  }
  // Load of live servers only: dead servers get no new replicas.
  ServerLoad load;
  for (const auto& [uuid, addr] : live_servers) load[uuid] = 0;
  CountReplicasLocked(&load);
  ASSIGN_OR_RETURN(auto plan, PlaceReplicas(req.num_tablets(), req.num_replicas(), &load));

  TableWithTablets out;
  TableInfoPB& info = out.table;
  info.set_table_id(fs::NewUuid());
  info.set_name(req.name());
  *info.mutable_schema() = schema.ToPB();
  auto* hash = info.mutable_partition_schema()->add_hash_schema();
  for (const std::string& n : key_names) hash->add_columns()->set_name(n);
  hash->set_num_buckets(req.num_tablets());
  hash->set_seed(0);
  hash->set_hash_algorithm(PartitionSchemaPB::MURMUR_HASH_2);
  info.set_num_tablets(req.num_tablets());
  info.set_num_replicas(req.num_replicas());
  info.set_state(RUNNING);
  info.set_created_time_us(clock_->WallMicros());

  SysCatalogPB next = catalog_;
  SysTableInfoPB* sys_table = next.add_tables();
  *sys_table->mutable_info() = info;
  for (int b = 0; b < req.num_tablets(); ++b) {
    SysTabletPB t;
    t.set_tablet_id(fs::NewUuid());
    t.set_table_id(info.table_id());
    t.mutable_partition()->add_hash_buckets(b);
    if (b > 0) t.mutable_partition()->set_partition_key_start(EncodeBucket(b));
    if (b + 1 < req.num_tablets()) {
      t.mutable_partition()->set_partition_key_end(EncodeBucket(b + 1));
    }
    auto* config = t.mutable_config();
    config->set_opid_index(-1);
    for (const std::string& uuid : plan[b]) {
      auto* peer = config->add_peers();
      peer->set_permanent_uuid(uuid);
      peer->set_member_type(consensus::RaftPeerPB::VOTER);
      *peer->mutable_last_known_addr() = live_servers.at(uuid);
    }
    t.set_state(RUNNING);
    sys_table->add_tablet_ids(t.tablet_id());
    *next.add_tablets() = t;
    out.tablets.push_back(std::move(t));
  }
  RETURN_IF_ERROR(CommitLocked(std::move(next)));
  return out;
}

void CatalogManager::CountReplicasLocked(ServerLoad* load) const {
  for (const SysTabletPB& t : catalog_.tablets()) {
    if (t.state() != RUNNING) continue;
    for (const auto& p : t.config().peers()) {
      auto it = load->find(p.permanent_uuid());
      if (it != load->end()) ++it->second;
    }
  }
}

absl::StatusOr<SysTabletPB> CatalogManager::ReplaceUnannouncedTablet(
    const std::string& tablet_id, const std::map<std::string, HostPortPB>& live_servers,
    const std::set<std::string>& refused) {
  absl::MutexLock lock(&mu_);
  SysCatalogPB next = catalog_;
  SysTabletPB* old = nullptr;
  for (SysTabletPB& t : *next.mutable_tablets()) {
    if (t.tablet_id() == tablet_id) old = &t;
  }
  if (old == nullptr) return absl::NotFoundError(absl::StrCat("tablet ", tablet_id, " not found"));
  // Load of the candidates (live, not refused, not in this config yet).
  std::set<std::string> members;
  for (const auto& p : old->config().peers()) members.insert(p.permanent_uuid());
  ServerLoad load;
  for (const auto& [uuid, addr] : live_servers) {
    if (!refused.count(uuid) && !members.count(uuid)) load[uuid] = 0;
  }
  CountReplicasLocked(&load);
  SysTabletPB moved = *old;
  moved.set_tablet_id(fs::NewUuid());
  for (auto& peer : *moved.mutable_config()->mutable_peers()) {
    if (!refused.count(peer.permanent_uuid())) continue;
    auto plan = PlaceReplicas(1, 1, &load);
    if (!plan.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "tablet ", tablet_id, ": no live server with space can replace ", peer.permanent_uuid()));
    }
    const std::string uuid = plan->at(0).at(0);
    load.erase(uuid);  // one replica of the tablet per server
    peer.set_permanent_uuid(uuid);
    *peer.mutable_last_known_addr() = live_servers.at(uuid);
  }
  *old = moved;
  for (SysTableInfoPB& table : *next.mutable_tables()) {
    for (std::string& id : *table.mutable_tablet_ids()) {
      if (id == tablet_id) id = moved.tablet_id();
    }
  }
  RETURN_IF_ERROR(CommitLocked(std::move(next)));
  return moved;
}

std::vector<TableInfoPB> CatalogManager::ListTables(const std::string& name_filter) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<TableInfoPB> out;
  for (const SysTableInfoPB& t : catalog_.tables()) {
    if (t.info().state() != RUNNING) continue;
    if (!name_filter.empty() && t.info().name().find(name_filter) == std::string::npos) {
      continue;
    }
    out.push_back(t.info());
  }
  std::sort(out.begin(), out.end(),
            [](const TableInfoPB& a, const TableInfoPB& b) { return a.name() < b.name(); });
  return out;
}

absl::StatusOr<TableWithTablets> CatalogManager::GetTable(const std::string& name,
                                                          const std::string& table_id) const {
  if (name.empty() && table_id.empty()) {
    return absl::InvalidArgumentError("name a table by name or id");
  }
  absl::ReaderMutexLock lock(&mu_);
  int i = FindTableLocked(name, table_id);
  if (i < 0) {
    return absl::NotFoundError(absl::StrCat(
        "table ", table_id.empty() ? "'" + name + "'" : "id " + table_id, " not found"));
  }
  return CollectLocked(i);
}

absl::StatusOr<TableWithTablets> CatalogManager::DeleteTable(const std::string& name,
                                                             const std::string& table_id) {
  if (name.empty() && table_id.empty()) {
    return absl::InvalidArgumentError("name a table by name or id");
  }
  absl::MutexLock lock(&mu_);
  int i = FindTableLocked(name, table_id);
  if (i < 0 || catalog_.tables(i).info().state() != RUNNING) {
    return absl::NotFoundError(absl::StrCat(
        "table ", table_id.empty() ? "'" + name + "'" : "id " + table_id, " not found"));
  }
  SysCatalogPB next = catalog_;
  SysTableInfoPB* t = next.mutable_tables(i);
  t->mutable_info()->set_state(DELETED);
  std::set<std::string> ids(t->tablet_ids().begin(), t->tablet_ids().end());
  for (SysTabletPB& tablet : *next.mutable_tablets()) {
    if (ids.count(tablet.tablet_id())) tablet.set_state(DELETED);
  }
  RETURN_IF_ERROR(CommitLocked(std::move(next)));
  return CollectLocked(i);
}

absl::StatusOr<SysTabletPB> CatalogManager::GetTablet(const std::string& tablet_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = tablet_index_.find(tablet_id);
  if (it == tablet_index_.end()) {
    return absl::NotFoundError(absl::StrCat("tablet ", tablet_id, " not found"));
  }
  return catalog_.tablets(it->second);
}

std::map<std::string, int64_t> CatalogManager::ReplicaCounts() const {
  absl::ReaderMutexLock lock(&mu_);
  std::map<std::string, int64_t> out;
  for (const SysTabletPB& t : catalog_.tablets()) {
    if (t.state() != RUNNING) continue;
    for (const auto& p : t.config().peers()) ++out[p.permanent_uuid()];
  }
  return out;
}

std::vector<std::string> CatalogManager::TabletsToTombstone(
    const std::string& ts_uuid, const std::map<std::string, raft::ConfigVersion>& reported) const {
  absl::ReaderMutexLock lock(&mu_);
  std::vector<std::string> out;
  for (const auto& [id, replica_config_version] : reported) {
    auto it = tablet_index_.find(id);
    if (it == tablet_index_.end()) continue;
    const SysTabletPB& t = catalog_.tablets(it->second);
    bool member = false;
    for (const auto& p : t.config().peers()) member |= p.permanent_uuid() == ts_uuid;
    if (t.state() != RUNNING ||
        (!member && raft::ConfigVersionOf(t.config()) >= replica_config_version)) {
      out.push_back(id);
    }
  }
  return out;
}

absl::StatusOr<int> CatalogManager::UpdateConfigs(
    const std::map<std::string, consensus::RaftConfigPB>& reported) {
  absl::MutexLock lock(&mu_);
  // Cheap check first: most heartbeats change nothing and must not copy the
  // whole catalog.
  std::vector<std::pair<int, const consensus::RaftConfigPB*>> changes;
  for (const auto& [id, config] : reported) {
    auto it = tablet_index_.find(id);
    if (it == tablet_index_.end()) continue;
    const SysTabletPB& t = catalog_.tablets(it->second);
    if (t.state() != RUNNING || !config.has_opid_index()) continue;
    if (raft::ConfigVersionOf(t.config()) < raft::ConfigVersionOf(config)) {
      changes.emplace_back(it->second, &config);
    }
  }
  if (changes.empty()) return 0;
  SysCatalogPB next = catalog_;
  for (const auto& [index, config] : changes) {
    consensus::RaftConfigPB* c = next.mutable_tablets(index)->mutable_config();
    *c = *config;
    // Health reports are runtime-only, never persisted.
    for (auto& p : *c->mutable_peers()) p.clear_health_report();
  }
  RETURN_IF_ERROR(CommitLocked(std::move(next)));
  return static_cast<int>(changes.size());
}

int64_t CatalogManager::num_tables() const {
  absl::ReaderMutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& t : catalog_.tables()) n += t.info().state() == RUNNING;
  return n;
}

int64_t CatalogManager::num_tablets() const {
  absl::ReaderMutexLock lock(&mu_);
  int64_t n = 0;
  for (const auto& t : catalog_.tablets()) n += t.state() == RUNNING;
  return n;
}

absl::Status CatalogManager::SetTServerMaintenance(const std::string& uuid, bool enter) {
  absl::MutexLock lock(&mu_);
  std::set<std::string> in(catalog_.tservers_in_maintenance().begin(),
                           catalog_.tservers_in_maintenance().end());
  const bool changed = enter ? in.insert(uuid).second : in.erase(uuid) > 0;
  if (!changed) return absl::OkStatus();
  SysCatalogPB next = catalog_;
  next.clear_tservers_in_maintenance();
  for (const std::string& u : in) next.add_tservers_in_maintenance(u);
  return CommitLocked(std::move(next));
}

bool CatalogManager::InMaintenance(const std::string& uuid) const {
  absl::ReaderMutexLock lock(&mu_);
  const auto& in = catalog_.tservers_in_maintenance();
  return std::binary_search(in.begin(), in.end(), uuid);
}

int64_t CatalogManager::version() const {
  absl::ReaderMutexLock lock(&mu_);
  return catalog_.version();
}

}  // namespace kmend::master
