#include "lib/check/render.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "lib/net/host_port.h"

namespace kmend::check {

namespace {

using consensus::RaftConfigPB;
using consensus::RaftPeerPB;

// A left-aligned text table: columns as wide as their widest cell.
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string Render(const std::string& indent) const {
    std::vector<size_t> width;
    for (const auto& row : rows_) {
      if (width.size() < row.size()) width.resize(row.size(), 0);
      for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
    }
    std::string out;
    for (const auto& row : rows_) {
      std::string line = indent;
      for (size_t i = 0; i < row.size(); ++i) {
        absl::StrAppend(&line, row[i]);
        if (i + 1 < row.size()) line.append(width[i] - row[i].size() + 2, ' ');
      }
      absl::StrAppend(&out, line, "\n");
    }
    return out;
  }

 private:
  std::vector<std::vector<std::string>> rows_;
};

std::string Short(const std::string& uuid) { return uuid.size() > 8 ? uuid.substr(0, 8) : uuid; }

std::string ConfigCell(const RaftConfigPB& c) {
  std::vector<std::string> parts;
  for (const RaftPeerPB& p : c.peers()) {
    parts.push_back(absl::StrCat(p.member_type() == RaftPeerPB::VOTER ? "V:" : "N:",
                                 Short(p.permanent_uuid())));
  }
  return absl::StrCat(absl::StrJoin(parts, ","), "@", c.has_opid_index() ? c.opid_index() : -1);
}

std::string OpIdCell(const OpId& id) { return absl::StrCat(id.term, ".", id.index); }

std::string Matrix(const TabletResult& t) {
  TextTable table({"REPLICA", "SERVER", "STATE", "ROLE", "TERM", "LEADER", "COMMITTED CONFIG",
                   "PENDING", "LAST LOGGED", "COMMITTED", "APPLIED"});
  table.AddRow({"master", "", "", "", "", "", ConfigCell(t.master_config), "", "", "", ""});
  for (const ReplicaResult& r : t.replicas) {
    std::string name = absl::StrCat(Short(r.ts_uuid), r.in_master_config ? "" : " (not in config)");
    if (!r.facts) {
      table.AddRow({name, r.ts_address, ReplicaStateName(r.state), "", "", "", "", "", "", "", ""});
      continue;
    }
    const ReplicaFacts& f = *r.facts;
    table.AddRow({name, r.ts_address, ReplicaStateName(r.state), RoleName(f.role),
                  absl::StrCat(f.term), Short(f.leader_uuid), ConfigCell(f.committed_config),
                  f.pending_config ? ConfigCell(*f.pending_config) : "-", OpIdCell(f.last_logged),
                  OpIdCell(f.last_committed), OpIdCell(f.last_applied)});
  }
  std::string out = table.Render("    ");
  for (const ReplicaResult& r : t.replicas) {
    if (!r.reason.empty() && r.state != ReplicaState::kRunning) {
      absl::StrAppend(&out, "    ", Short(r.ts_uuid), ": ", r.reason, "\n");
    }
  }
  return out;
}

nlohmann::json ConfigJson(const RaftConfigPB& c) {
  nlohmann::json peers = nlohmann::json::array();
  for (const RaftPeerPB& p : c.peers()) {
    nlohmann::json peer = {
        {"uuid", p.permanent_uuid()},
        {"member_type", p.member_type() == RaftPeerPB::VOTER ? "VOTER" : "NON_VOTER"}};
    if (p.has_last_known_addr()) {
      peer["address"] = net::HostPortToString(p.last_known_addr());
    }
    peers.push_back(peer);
  }
  return {{"opid_index", c.has_opid_index() ? c.opid_index() : -1},
          {"unsafe_config_change", c.unsafe_config_change()},
          {"peers", peers}};
}

nlohmann::json OpIdJson(const OpId& id) { return {{"term", id.term}, {"index", id.index}}; }

}  // namespace

std::string RenderPlain(const KsckResults& results, const RenderOptions& options) {
  std::string out;
  if (options.Shows("masters")) {
    absl::StrAppend(&out, "Masters\n");
    TextTable masters({"ADDRESS", "UUID", "STATE", "LEADER", "CATALOG", "VERSION"});
    for (const MasterResult& m : results.masters) {
      masters.AddRow({m.facts.address, m.facts.uuid,
                      m.facts.reachable ? (m.ok ? "OK" : "MISMATCH")
                      : m.facts.unauthorized ? "UNKNOWN (not authorized)"
                                             : "UNREACHABLE",
                      m.facts.reachable ? (m.facts.is_leader ? "yes" : "no") : "?",
                      m.facts.catalog_version ? absl::StrCat("v", *m.facts.catalog_version) : "-",
                      m.facts.version});
    }
    absl::StrAppend(&out, masters.Render("  "), "\n");
  }

  if (options.Shows("tablet_servers")) {
    absl::StrAppend(&out, "Tablet servers\n");
    TextTable servers({"UUID", "ADDRESS", "STATE", "VERSION"});
    for (const TabletServerResult& ts : results.tablet_servers) {
      servers.AddRow({ts.facts.uuid, ts.facts.address,
                      ts.facts.in_maintenance ? ts.state + " (MAINTENANCE)" : ts.state,
                      ts.facts.version});
    }
    absl::StrAppend(&out, servers.Render("  "), "\n");
  }

  if (options.Shows("tables")) {
    absl::StrAppend(&out, "Tables\n");
    TextTable tables({"NAME", "RF", "TABLETS", "HEALTHY", "RECOVERING", "UNDER_REPL", "MISMATCH",
                      "UNAVAILABLE", "UNKNOWN", "STATUS"});
    for (const TableResult& t : results.tables) {
      auto n = [&](Health h) { return absl::StrCat(t.by_health[static_cast<int>(h)]); };
      tables.AddRow({t.name, absl::StrCat(t.replication_factor), absl::StrCat(t.tablets),
                     n(Health::kHealthy), n(Health::kRecovering), n(Health::kUnderReplicated),
                     n(Health::kConsensusMismatch), n(Health::kUnavailable), n(Health::kUnknown),
                     HealthName(t.health)});
    }
    absl::StrAppend(&out, tables.Render("  "), "\n");
  }

  bool header = false;
  for (const TabletResult& t : results.tablets) {
    if (!options.Shows("tablets")) break;
    if (t.health == Health::kHealthy && !options.all_tablets) continue;
    if (!header) {
      absl::StrAppend(&out, options.all_tablets ? "Tablets\n" : "Unhealthy tablets\n");
      header = true;
    }
    absl::StrAppend(&out, "  Tablet ", t.tablet_id, " of table ", t.table_name, ": ",
                    HealthName(t.health), t.reason.empty() ? "" : ": ", t.reason, "\n");
    absl::StrAppend(&out, Matrix(t));
    for (const FixCommand& f : t.fixes) {
      absl::StrAppend(&out, "    fix: ", f.command, "\n         why: ", f.why, "\n");
    }
    if (!t.fix_note.empty()) absl::StrAppend(&out, "    note: ", t.fix_note, "\n");
    absl::StrAppend(&out, "\n");
  }

  if (!results.checksums.empty() && options.Shows("checksums")) {
    absl::StrAppend(&out, "Checksums\n");
    TextTable sums({"TABLET", "RESULT"});
    for (const ChecksumResult& c : results.checksums) {
      sums.AddRow({c.tablet_id, c.match ? "MATCH" : (c.unknown ? "UNKNOWN" : "MISMATCH")});
    }
    absl::StrAppend(&out, sums.Render("  "), "\n");
  }

  if (!results.problems.empty()) {
    absl::StrAppend(&out, "Problems (", results.problems.size(), ")\n");
    for (const Problem& p : results.problems) {
      absl::StrAppend(&out, "  ", SeverityName(p.severity), ": ", p.message, "\n");
    }
    absl::StrAppend(&out, "\n");
  }
  if (!results.notes.empty()) {
    absl::StrAppend(&out, "Notes (", results.notes.size(), ")\n");
    for (const Note& n : results.notes) absl::StrAppend(&out, "  ", n.message, "\n");
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, results.healthy() ? "OK\n" : "FAILED\n");
  return out;
}

nlohmann::json RenderJson(const KsckResults& results, const RenderOptions& options) {
  nlohmann::json doc;
  doc["schema_version"] = kResultsSchemaVersion;
  doc["ok"] = results.healthy();
  doc["masters"] = nlohmann::json::array();
  for (const MasterResult& m : results.masters) {
    nlohmann::json j = {{"address", m.facts.address},
                        {"reachable", m.facts.reachable},
                        {"ok", m.ok},
                        {"uuid", m.facts.uuid},
                        {"version", m.facts.version},
                        {"is_leader", m.facts.is_leader}};
    if (!m.facts.reachable) j["reason"] = m.facts.unreachable_reason;
    if (m.facts.unauthorized) j["unauthorized"] = true;
    if (m.facts.catalog_config) j["catalog_config"] = ConfigJson(*m.facts.catalog_config);
    if (m.facts.catalog_version) j["catalog_version"] = *m.facts.catalog_version;
    doc["masters"].push_back(j);
  }
  doc["tablet_servers"] = nlohmann::json::array();
  for (const TabletServerResult& ts : results.tablet_servers) {
    nlohmann::json j = {{"uuid", ts.facts.uuid},
                        {"address", ts.facts.address},
                        {"state", ts.state},
                        {"reachable", ts.facts.reachable},
                        {"live_per_master", ts.facts.live_per_master},
                        {"in_maintenance", ts.facts.in_maintenance},
                        {"version", ts.facts.version}};
    if (!ts.facts.reachable) j["reason"] = ts.facts.unreachable_reason;
    if (ts.facts.unauthorized) j["unauthorized"] = true;
    nlohmann::json dirs = nlohmann::json::array();
    for (const DataDirFacts& d : ts.facts.data_dirs) {
      dirs.push_back({{"dir", d.dir},
                      {"capacity_bytes", d.capacity_bytes},
                      {"available_bytes", d.available_bytes},
                      {"reserved_bytes", d.reserved_bytes},
                      {"full", d.full}});
    }
    j["data_dirs"] = dirs;
    doc["tablet_servers"].push_back(j);
  }
  doc["tables"] = nlohmann::json::array();
  for (const TableResult& t : results.tables) {
    nlohmann::json counts;
    for (int h = 0; h < 6; ++h) counts[HealthName(static_cast<Health>(h))] = t.by_health[h];
    doc["tables"].push_back({{"name", t.name},
                             {"replication_factor", t.replication_factor},
                             {"tablets", t.tablets},
                             {"health", HealthName(t.health)},
                             {"tablets_by_health", counts}});
  }
  doc["tablets"] = nlohmann::json::array();
  for (const TabletResult& t : results.tablets) {
    nlohmann::json replicas = nlohmann::json::array();
    for (const ReplicaResult& r : t.replicas) {
      nlohmann::json j = {{"ts_uuid", r.ts_uuid},
                          {"ts_address", r.ts_address},
                          {"in_master_config", r.in_master_config},
                          {"voter", r.voter},
                          {"state", ReplicaStateName(r.state)},
                          {"reason", r.reason}};
      if (r.facts) {
        const ReplicaFacts& f = *r.facts;
        j["data_state"] = DataStateName(f.data_state);
        j["role"] = RoleName(f.role);
        j["term"] = f.term;
        j["leader_uuid"] = f.leader_uuid;
        j["committed_config"] = ConfigJson(f.committed_config);
        j["pending_config"] = f.pending_config ? ConfigJson(*f.pending_config) : nlohmann::json();
        j["last_logged"] = OpIdJson(f.last_logged);
        j["last_committed"] = OpIdJson(f.last_committed);
        j["last_applied"] = OpIdJson(f.last_applied);
        j["on_disk_bytes"] = f.on_disk_bytes;
        if (!f.write_refusal.empty()) j["write_refusal"] = f.write_refusal;
      }
      replicas.push_back(j);
    }
    nlohmann::json fixes = nlohmann::json::array();
    for (const FixCommand& f : t.fixes) {
      fixes.push_back({{"command", f.command}, {"why", f.why}, {"warnings", f.warnings}});
    }
    doc["tablets"].push_back({{"tablet_id", t.tablet_id},
                              {"table", t.table_name},
                              {"health", HealthName(t.health)},
                              {"reason", t.reason},
                              {"master_config", ConfigJson(t.master_config)},
                              {"replicas", replicas},
                              {"fixes", fixes},
                              {"fix_note", t.fix_note}});
  }
  doc["checksums"] = nlohmann::json::array();
  for (const ChecksumResult& c : results.checksums) {
    nlohmann::json by = nlohmann::json::object();
    for (const auto& [uuid, f] : c.by_replica) {
      by[uuid] = {{"ok", f.ok},
                  {"reason", f.reason},
                  {"digest", absl::StrFormat("%016x", f.digest)},
                  {"op_index", f.op_index},
                  {"row_count", f.row_count}};
    }
    doc["checksums"].push_back(
        {{"tablet_id", c.tablet_id},
         {"result", c.match ? "MATCH" : (c.unknown ? "UNKNOWN" : "MISMATCH")},
         {"replicas", by}});
  }
  for (const char* section : kSectionNames) {
    if (!options.Shows(section)) doc.erase(section);
  }
  doc["problems"] = nlohmann::json::array();
  for (const Problem& p : results.problems) {
    doc["problems"].push_back({{"severity", SeverityName(p.severity)},
                               {"section", p.section},
                               {"subject", p.subject},
                               {"message", p.message}});
  }
  doc["notes"] = nlohmann::json::array();
  for (const Note& n : results.notes) {
    doc["notes"].push_back({{"tablet_id", n.tablet_id}, {"message", n.message}});
  }
  return doc;
}

}  // namespace kmend::check
