// The audit log on real processes (issue 18): on a TLS cluster with roles,
// every admin RPC lands in the serving process's <fs_root>/audit/audit.log
// with the caller's identity, the request and the outcome (refusals too);
// read calls do not; `kmend audit show` prints it as text and JSON.
#include <chrono>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lib/audit/audit_log.h"
#include "nlohmann/json.hpp"
#include "proto/master.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

using ::testing::HasSubstr;

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<ExternalCluster>(TlsRolesClusterOptions());
    absl::Status s = cluster_->Start();
    if (!s.ok()) cluster_->DumpLogs(std::cerr);
    ASSERT_TRUE(s.ok()) << s;
  }

  grpc::Status UnsafeChangeConfigAs(const std::string& user) {
    return UnsafeChangeConfigOfNoTabletAs(*cluster_, user, "audit_test as " + user);
  }

  std::vector<audit::AuditRecord> Records(const std::string& fs_root,
                                          const std::string& action) {
    std::vector<audit::AuditRecord> out;
    auto all = audit::ReadAudit(fs_root);
    if (!all.ok()) return out;
    for (const auto& r : *all) {
      if (r.action == action) out.push_back(r);
    }
    return out;
  }

  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(AuditTest, AdminCallsAreRecordedWithIdentityRequestAndOutcomeReadsAreNot) {
  // CreateTable as admin (this process's identity): the master records it,
  // the tablet server records the master's CreateTablet.
  master::CreateTableRequestPB create;
  create.set_name("audited");
  auto* col = create.mutable_schema()->add_columns();
  col->set_name("id");
  col->set_type(INT64);
  col->set_is_key(true);
  create.set_num_tablets(1);
  create.set_num_replicas(1);
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    master::CreateTableResponsePB resp;
    grpc::Status s = cluster_->MasterStub()->CreateTable(&ctx, create, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const std::string master_root = cluster_->master()->fs_root();
  const std::string ts_root = cluster_->tserver(0)->fs_root();
  auto creates = Records(master_root, "create_table");
  ASSERT_EQ(creates.size(), 1u);
  EXPECT_EQ(creates[0].identity, "cert:admin");
  EXPECT_EQ(creates[0].outcome, "OK");
  EXPECT_THAT(creates[0].request, HasSubstr("name: \"audited\""));
  ASSERT_TRUE(ExternalCluster::WaitFor([&] { return !Records(ts_root, "create_tablet").empty(); },
                                       std::chrono::seconds(20), "CreateTablet audited")
                  .ok());
  EXPECT_EQ(Records(ts_root, "create_tablet")[0].identity, "cert:kmend-server");

  // The reader is refused before any handler: recorded as refused.
  EXPECT_EQ(UnsafeChangeConfigAs("reader").error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The admin reaches the handler: no such tablet.
  EXPECT_EQ(UnsafeChangeConfigAs("admin").error_code(), grpc::StatusCode::NOT_FOUND);
  auto forces = Records(ts_root, "unsafe_change_config");
  ASSERT_EQ(forces.size(), 2u);
  EXPECT_EQ(forces[0].identity, "cert:reader");
  EXPECT_THAT(forces[0].outcome, HasSubstr("PERMISSION_DENIED: not authorized"));
  EXPECT_EQ(forces[1].identity, "cert:admin");
  EXPECT_EQ(forces[1].tablet_id, std::string(32, 'a'));
  EXPECT_EQ(forces[1].caller, "audit_test as admin");
  EXPECT_THAT(forces[1].outcome, HasSubstr("NOT_FOUND"));
  EXPECT_THAT(forces[1].request, HasSubstr("caller_id: \"audit_test as admin\""));

  // Reads (the harness's GetStatus and ListTabletServers, ksck) leave no line.
  // (ksck until healthy: the new tablet elects its leader meanwhile.)
  ToolResult r;
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    r = RunKmend(absl::StrCat("ksck --masters ", cluster_->master_address()),
                                 cluster_->base_dir());
                    return r.exit_code == 0;
                  },
                  std::chrono::seconds(30), "ksck healthy")
                  .ok())
      << r.out << r.err;
  for (const std::string& root : {master_root, ts_root}) {
    // Held by name: `*ReadAudit(root)` in the range would refer into a
    // temporary that dies before the loop runs (ASan: stack-use-after-scope).
    auto records = audit::ReadAudit(root);
    ASSERT_TRUE(records.ok()) << records.status();
    for (const auto& rec : *records) {
      EXPECT_NE(rec.action, "get_status");
      EXPECT_NE(rec.action, "list_tables");
      EXPECT_NE(rec.action, "raft_message");
      EXPECT_NE(rec.action, "heartbeat");
    }
  }

  // kmend audit show, JSON and text.
  r = RunKmend(absl::StrCat("audit show --format=json --fs_root ", ts_root), cluster_->base_dir());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  nlohmann::json doc = nlohmann::json::parse(r.out);
  EXPECT_EQ(doc["schema"], "kmend.audit/1");
  bool refused_shown = false;
  for (const auto& rec : doc["records"]) {
    refused_shown |= rec["identity"] == "cert:reader" && rec["action"] == "unsafe_change_config";
  }
  EXPECT_TRUE(refused_shown) << r.out;
  r = RunKmend(absl::StrCat("audit show --fs-root ", master_root), cluster_->base_dir());
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("create_table  cert:admin  OK"));
  EXPECT_THAT(r.out, HasSubstr("record(s) in "));
  r = RunKmend(absl::StrCat("audit show --fs_root ", cluster_->base_dir(), "/nothing-here"),
               cluster_->base_dir());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("no audit log"));
}

}  // namespace
}  // namespace kmend::testing
