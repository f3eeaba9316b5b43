// kmend-table: create, list, describe and delete tables through the master
// (proto/master.proto). A thin front over TableClient; see docs/cli/table.md
// for the commands and the JSON schema.
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "lib/net/host_port.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"
#include "tools/table/schema_spec.h"
#include "tools/table/table_client.h"

namespace kmend::tools {
namespace {

constexpr char kTool[] = "kmend-table";
constexpr int kSchemaVersion = 1;

std::string StateName(master::TableState s) {
  return s == master::RUNNING ? "RUNNING" : s == master::DELETED ? "DELETED" : "UNKNOWN";
}

std::string RoleName(consensus::RaftPeerPB::Role r) {
  return r == consensus::RaftPeerPB::UNKNOWN_ROLE ? "UNKNOWN"
                                                  : consensus::RaftPeerPB::Role_Name(r);
}

std::string DataStateName(server::ReplicaDataState s) {
  std::string n = server::ReplicaDataState_Name(s);
  const std::string prefix = "TABLET_DATA_";
  return n.rfind(prefix, 0) == 0 ? n.substr(prefix.size()) : n;
}

nlohmann::json TableJson(const master::TableInfoPB& t) {
  nlohmann::json columns = nlohmann::json::array();
  for (const auto& c : t.schema().columns()) {
    columns.push_back({{"name", c.name()},
                       {"type", DataType_Name(c.type())},
                       {"key", c.is_key()},
                       {"nullable", c.is_nullable()}});
  }
  return {{"name", t.name()},
          {"id", t.table_id()},
          {"state", StateName(t.state())},
          {"num_tablets", t.num_tablets()},
          {"num_replicas", t.num_replicas()},
          {"created_time_us", t.created_time_us()},
          {"columns", columns}};
}

int RunCreate(TableClient& client, OutputFormat format, const std::string& name,
              const std::string& schema_spec, int tablets, int replicas) {
  auto schema = ParseSchemaSpec(schema_spec);
  if (!schema.ok()) return ReportError(kTool, schema.status());
  master::CreateTableRequestPB req;
  req.set_name(name);
  *req.mutable_schema() = *schema;
  req.set_num_tablets(tablets);
  req.set_num_replicas(replicas);
  auto resp = client.CreateTable(req);
  if (!resp.ok()) return ReportError(kTool, resp.status());
  if (format == OutputFormat::kJson) {
    nlohmann::json ids = nlohmann::json::array();
    for (const auto& id : resp->tablet_ids()) ids.push_back(id);
    PrintJson({{"schema_version", kSchemaVersion},
               {"created", {{"name", name}, {"id", resp->table_id()}, {"tablet_ids", ids}}}});
  } else {
    std::cout << "created table " << name << " (id " << resp->table_id() << ") with "
              << resp->tablet_ids_size() << " tablets x " << replicas << " replicas\n";
  }
  return kExitOk;
}

int RunList(TableClient& client, OutputFormat format, const std::string& filter) {
  auto resp = client.ListTables(filter);
  if (!resp.ok()) return ReportError(kTool, resp.status());
  if (format == OutputFormat::kJson) {
    nlohmann::json tables = nlohmann::json::array();
    for (const auto& t : resp->tables()) tables.push_back(TableJson(t));
    PrintJson({{"schema_version", kSchemaVersion}, {"tables", tables}});
    return kExitOk;
  }
  if (resp->tables_size() == 0) {
    std::cout << "no tables\n";
    return kExitOk;
  }
  std::cout << absl::StrFormat("%-24s %-32s %7s %8s\n", "NAME", "ID", "TABLETS", "REPLICAS");
  for (const auto& t : resp->tables()) {
    std::cout << absl::StrFormat("%-24s %-32s %7d %8d\n", t.name(), t.table_id(),
                                 t.num_tablets(), t.num_replicas());
  }
  return kExitOk;
}

int RunDescribe(TableClient& client, OutputFormat format, const std::string& name) {
  auto resp = client.DescribeTable(name);
  if (!resp.ok()) return ReportError(kTool, resp.status());
  const master::TableInfoPB& t = resp->table();
  if (format == OutputFormat::kJson) {
    nlohmann::json doc = TableJson(t);
    nlohmann::json tablets = nlohmann::json::array();
    for (const auto& tl : resp->tablets()) {
      nlohmann::json replicas = nlohmann::json::array();
      for (const auto& r : tl.replicas()) {
        replicas.push_back({{"ts_uuid", r.ts_uuid()},
                            {"address", net::HostPortToString(r.rpc_address())},
                            {"live", r.ts_live()},
                            {"role", RoleName(r.role())},
                            {"data_state", DataStateName(r.data_state())}});
      }
      tablets.push_back(
          {{"id", tl.tablet_id()},
           {"hash_bucket",
            tl.partition().hash_buckets_size() > 0 ? tl.partition().hash_buckets(0) : 0},
           {"leader_uuid", tl.leader_uuid().empty() ? nlohmann::json()
                                                    : nlohmann::json(tl.leader_uuid())},
           {"config_opid_index", tl.config().opid_index()},
           {"replicas", replicas}});
    }
    doc["tablets"] = tablets;
    PrintJson({{"schema_version", kSchemaVersion}, {"table", doc}});
    return kExitOk;
  }
  std::cout << "table:    " << t.name() << "\n"
            << "id:       " << t.table_id() << "\n"
            << "state:    " << StateName(t.state()) << "\n"
            << "schema:   " << SchemaSpecString(t.schema()) << "\n"
            << "tablets:  " << t.num_tablets() << " (hash of the key), " << t.num_replicas()
            << " replicas each\n";
  for (const auto& tl : resp->tablets()) {
    std::cout << "\ntablet " << tl.tablet_id() << "  bucket "
              << (tl.partition().hash_buckets_size() > 0 ? tl.partition().hash_buckets(0) : 0)
              << "  leader " << (tl.leader_uuid().empty() ? "(unknown)" : tl.leader_uuid())
              << "\n";
    for (const auto& r : tl.replicas()) {
      std::cout << absl::StrFormat("  %-32s %-21s %-5s %-8s %s\n", r.ts_uuid(),
                                   net::HostPortToString(r.rpc_address()),
                                   r.ts_live() ? "live" : "DEAD", RoleName(r.role()),
                                   DataStateName(r.data_state()));
    }
  }
  return kExitOk;
}

int RunDelete(TableClient& client, OutputFormat format, const std::string& name) {
  auto resp = client.DeleteTable(name);
  if (!resp.ok()) return ReportError(kTool, resp.status());
  if (format == OutputFormat::kJson) {
    PrintJson({{"schema_version", kSchemaVersion},
               {"deleted", {{"name", name}, {"id", resp->table_id()}}}});
  } else {
    std::cout << "deleted table " << name << " (id " << resp->table_id() << ")\n";
  }
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{"kmend table: create, list, describe and delete tables (talks to the master)"};
  app.require_subcommand(1);
  std::string masters;
  int64_t timeout_ms = 10000;
  OutputFormat format = OutputFormat::kPlain;
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("--masters", masters, "Master addresses HOST:PORT[,HOST:PORT...]")
        ->required();
    cmd->add_option("--timeout,--timeout_ms", timeout_ms,
                    "Deadline of each RPC, e.g. 10s, 500ms (bare number: ms)")
        ->capture_default_str()
        ->transform(MillisecondsDuration())
        ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));
    AddFormatOption(cmd, &format);
  };

  std::string name, schema, filter;
  int tablets = 1, replicas = 3;
  CLI::App* create = app.add_subcommand("create", "Create a hash-partitioned table");
  create->add_option("NAME", name, "Table name")->required();
  create->add_option("--schema", schema,
                     "Columns NAME:TYPE[:key|:nullable|:not_null],... with TYPE one of "
                     "int64, double, string, bool; key columns first")
      ->required();
  create->add_option("--tablets", tablets, "Number of hash partitions")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  create->add_option("--replicas", replicas, "Replication factor")
      ->capture_default_str()
      ->check(CLI::Range(1, 7));
  add_common(create);

  CLI::App* list = app.add_subcommand("list", "List tables");
  list->add_option("--filter", filter, "Only names containing this text");
  add_common(list);

  CLI::App* describe = app.add_subcommand("describe", "Show a table's schema, tablets, replicas");
  describe->add_option("NAME", name, "Table name")->required();
  add_common(describe);

  CLI::App* del = app.add_subcommand("delete", "Delete a table (its replicas are tombstoned)");
  del->add_option("NAME", name, "Table name")->required();
  add_common(del);

  int rc = ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;

  auto client = TableClient::Create(masters, std::chrono::milliseconds(timeout_ms));
  if (!client.ok()) return ReportError(kTool, client.status());
  if (create->parsed()) return RunCreate(*client, format, name, schema, tablets, replicas);
  if (list->parsed()) return RunList(*client, format, filter);
  if (describe->parsed()) return RunDescribe(*client, format, name);
  return RunDelete(*client, format, name);
}

}  // namespace
}  // namespace kmend::tools

int main(int argc, char** argv) { return kmend::tools::Main(argc, argv); }
