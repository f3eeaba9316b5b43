#include "lib/recover/plan_json.h"

#include "absl/strings/str_cat.h"
#include "lib/io/file.h"

namespace kmend::recover {

namespace {

using nlohmann::json;

json OpIdJson(const check::OpId& id) { return {{"term", id.term}, {"index", id.index}}; }

json NotesJson(const std::vector<TabletNote>& notes) {
  json out = json::array();
  for (const TabletNote& n : notes) {
    out.push_back({{"tablet_id", n.tablet_id}, {"table", n.table_name}, {"reason", n.reason}});
  }
  return out;
}

// A cursor into the document that knows its path, for errors.
class Reader {
 public:
  Reader(const json& j, std::string path) : j_(&j), path_(std::move(path)) {}

  absl::StatusOr<Reader> Field(const std::string& name) const {
    if (!j_->is_object()) return Error(path_, "expected an object");
    auto it = j_->find(name);
    const std::string p = path_.empty() ? name : absl::StrCat(path_, ".", name);
    if (it == j_->end()) return Error(p, "missing");
    return Reader(*it, p);
  }
  absl::StatusOr<std::string> String(const std::string& name) const {
    auto f = Field(name);
    if (!f.ok()) return f.status();
    if (!f->j_->is_string()) return Error(f->path_, "expected a string");
    return f->j_->get<std::string>();
  }
  absl::StatusOr<int64_t> Int(const std::string& name) const {
    auto f = Field(name);
    if (!f.ok()) return f.status();
    if (!f->j_->is_number_integer()) return Error(f->path_, "expected an integer");
    return f->j_->get<int64_t>();
  }
  absl::StatusOr<check::OpId> OpId(const std::string& name) const {
    auto f = Field(name);
    if (!f.ok()) return f.status();
    auto term = f->Int("term");
    if (!term.ok()) return term.status();
    auto index = f->Int("index");
    if (!index.ok()) return index.status();
    return check::OpId{*term, *index};
  }
  // Elements of the array field `name`.
  absl::StatusOr<std::vector<Reader>> Array(const std::string& name) const {
    auto f = Field(name);
    if (!f.ok()) return f.status();
    if (!f->j_->is_array()) return Error(f->path_, "expected an array");
    std::vector<Reader> out;
    for (size_t i = 0; i < f->j_->size(); ++i) {
      out.emplace_back((*f->j_)[i], absl::StrCat(f->path_, "[", i, "]"));
    }
    return out;
  }
  absl::StatusOr<std::vector<std::string>> Strings(const std::string& name) const {
    auto items = Array(name);
    if (!items.ok()) return items.status();
    std::vector<std::string> out;
    for (const Reader& r : *items) {
      if (!r.j_->is_string()) return Error(r.path_, "expected a string");
      out.push_back(r.j_->get<std::string>());
    }
    return out;
  }

 private:
  static absl::Status Error(const std::string& path, const std::string& what) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", what));
  }
  const json* j_;
  std::string path_;
};

#define PLAN_ASSIGN(lhs, expr)        \
  do {                                \
    auto _v = (expr);                 \
    if (!_v.ok()) return _v.status(); \
    lhs = std::move(*_v);             \
  } while (0)

absl::StatusOr<std::vector<TabletNote>> ReadNotes(const Reader& r, const std::string& name) {
  std::vector<TabletNote> out;
  std::vector<Reader> items;
  PLAN_ASSIGN(items, r.Array(name));
  for (const Reader& i : items) {
    TabletNote n;
    PLAN_ASSIGN(n.tablet_id, i.String("tablet_id"));
    PLAN_ASSIGN(n.table_name, i.String("table"));
    PLAN_ASSIGN(n.reason, i.String("reason"));
    out.push_back(std::move(n));
  }
  return out;
}

}  // namespace

json PlanToJson(const RecoveryPlan& plan) {
  json dead = json::array();
  for (const DeadServer& d : plan.dead_servers) {
    dead.push_back({{"uuid", d.uuid}, {"address", d.address}, {"reason", d.reason}});
  }
  json entries = json::array();
  for (const PlanEntry& e : plan.entries) {
    json replicas = json::array();
    for (const ReplicaPrint& r : e.fingerprint.replicas) {
      replicas.push_back({{"uuid", r.uuid}, {"last_logged", OpIdJson(r.last_logged)}});
    }
    entries.push_back({{"tablet_id", e.tablet_id},
                       {"table", e.table_name},
                       {"replication_factor", e.replication_factor},
                       {"survivor", {{"uuid", e.survivor_uuid}, {"address", e.survivor_address}}},
                       {"new_voters", e.new_voters},
                       {"dropped", e.dropped},
                       {"survivor_last_logged", OpIdJson(e.survivor_last_logged)},
                       {"forced_term_floor", e.forced_term_floor},
                       {"highest_known", OpIdJson(e.highest_known)},
                       {"may_lose", e.may_lose},
                       {"warnings", e.warnings},
                       {"fingerprint",
                        {{"config_opid_term", e.fingerprint.config_opid_term},
                         {"config_opid_index", e.fingerprint.config_opid_index},
                         {"replicas", replicas}}}});
  }
  return {{"schema", kPlanSchema},
          {"schema_version", kPlanSchemaVersion},
          {"created_at", plan.created_at},
          {"masters", plan.masters},
          {"tablets_checked", plan.tablets_checked},
          {"dead_servers", dead},
          {"entries", entries},
          {"unrecoverable", NotesJson(plan.unrecoverable)},
          {"unknown", NotesJson(plan.unknown)}};
}

absl::StatusOr<RecoveryPlan> PlanFromJson(const json& doc) {
  Reader root(doc, "");
  std::string schema;
  PLAN_ASSIGN(schema, root.String("schema"));
  if (schema != kPlanSchema) {
    return absl::InvalidArgumentError(
        absl::StrCat("schema: \"", schema, "\" is not a recovery plan (expected \"", kPlanSchema,
                     "\")"));
  }
  RecoveryPlan plan;
  PLAN_ASSIGN(plan.created_at, root.String("created_at"));
  PLAN_ASSIGN(plan.masters, root.Strings("masters"));
  int64_t checked = 0;
  PLAN_ASSIGN(checked, root.Int("tablets_checked"));
  plan.tablets_checked = static_cast<int>(checked);
  std::vector<Reader> items;
  PLAN_ASSIGN(items, root.Array("dead_servers"));
  for (const Reader& i : items) {
    DeadServer d;
    PLAN_ASSIGN(d.uuid, i.String("uuid"));
    PLAN_ASSIGN(d.address, i.String("address"));
    PLAN_ASSIGN(d.reason, i.String("reason"));
    plan.dead_servers.push_back(std::move(d));
  }
  PLAN_ASSIGN(items, root.Array("entries"));
  for (const Reader& i : items) {
    PlanEntry e;
    PLAN_ASSIGN(e.tablet_id, i.String("tablet_id"));
    PLAN_ASSIGN(e.table_name, i.String("table"));
    int64_t rf = 0;
    PLAN_ASSIGN(rf, i.Int("replication_factor"));
    e.replication_factor = static_cast<int>(rf);
    Reader survivor = i;
    PLAN_ASSIGN(survivor, i.Field("survivor"));
    PLAN_ASSIGN(e.survivor_uuid, survivor.String("uuid"));
    PLAN_ASSIGN(e.survivor_address, survivor.String("address"));
    PLAN_ASSIGN(e.new_voters, i.Strings("new_voters"));
    PLAN_ASSIGN(e.dropped, i.Strings("dropped"));
    PLAN_ASSIGN(e.survivor_last_logged, i.OpId("survivor_last_logged"));
    PLAN_ASSIGN(e.forced_term_floor, i.Int("forced_term_floor"));
    PLAN_ASSIGN(e.highest_known, i.OpId("highest_known"));
    PLAN_ASSIGN(e.may_lose, i.String("may_lose"));
    PLAN_ASSIGN(e.warnings, i.Strings("warnings"));
    Reader fp = i;
    PLAN_ASSIGN(fp, i.Field("fingerprint"));
    PLAN_ASSIGN(e.fingerprint.config_opid_term, fp.Int("config_opid_term"));
    PLAN_ASSIGN(e.fingerprint.config_opid_index, fp.Int("config_opid_index"));
    std::vector<Reader> reps;
    PLAN_ASSIGN(reps, fp.Array("replicas"));
    for (const Reader& r : reps) {
      ReplicaPrint p;
      PLAN_ASSIGN(p.uuid, r.String("uuid"));
      PLAN_ASSIGN(p.last_logged, r.OpId("last_logged"));
      e.fingerprint.replicas.push_back(std::move(p));
    }
    bool survivor_kept = false;
    for (const std::string& v : e.new_voters) survivor_kept |= v == e.survivor_uuid;
    if (!survivor_kept) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entries: tablet ", e.tablet_id, ": new_voters must include the survivor ",
          e.survivor_uuid));
    }
    plan.entries.push_back(std::move(e));
  }
  PLAN_ASSIGN(plan.unrecoverable, ReadNotes(root, "unrecoverable"));
  PLAN_ASSIGN(plan.unknown, ReadNotes(root, "unknown"));
  return plan;
}

absl::StatusOr<RecoveryPlan> ReadPlanFile(const std::string& path) {
  absl::StatusOr<std::string> text = io::ReadFileToString(path);
  if (!text.ok()) return text.status();
  json doc = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a JSON document"));
  }
  absl::StatusOr<RecoveryPlan> plan = PlanFromJson(doc);
  if (!plan.ok()) {
    return absl::Status(plan.status().code(), absl::StrCat(path, ": ", plan.status().message()));
  }
  return plan;
}

}  // namespace kmend::recover
