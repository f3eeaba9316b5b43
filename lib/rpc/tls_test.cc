#include "lib/rpc/tls.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kmend::rpc {
namespace {

using ::testing::HasSubstr;

TEST(TlsTest, PlaintextBindsOnlyLoopbackUnlessAllowed) {
  TlsMaterial plain;
  for (const char* ok : {"127.0.0.1:0", "127.1.2.3:7051", "localhost:7051", "[::1]:7051"}) {
    EXPECT_TRUE(CheckBindAllowed(ok, plain).ok()) << ok;
  }
  for (const char* bad : {"0.0.0.0:7051", "10.0.0.5:7051", "[::]:7051", "db1:7051"}) {
    absl::Status s = CheckBindAllowed(bad, plain);
    EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << bad;
    EXPECT_THAT(s.message(), HasSubstr("--insecure_allow_plaintext"));
  }
  plain.insecure_allow_plaintext = true;
  EXPECT_TRUE(CheckBindAllowed("0.0.0.0:7051", plain).ok());
  TlsMaterial tls;
  tls.enabled = true;
  EXPECT_TRUE(CheckBindAllowed("0.0.0.0:7051", tls).ok());
}

TEST(TlsTest, HalfAConfigurationIsRefusedNamingTheMissingFlag) {
  TlsOptions o;
  EXPECT_FALSE(LoadTls(o)->enabled);
  o.cert_file = "/x.crt";
  EXPECT_THAT(LoadTls(o).status().message(), HasSubstr("--tls_key is missing"));
  o.key_file = "/x.key";
  o.ca_file = "/nonexistent/ca.crt";
  EXPECT_THAT(LoadTls(o).status().message(), HasSubstr("cannot be read"));
}

}  // namespace
}  // namespace kmend::rpc

namespace kmend::rpc {
namespace {

TEST(AuthzTest, RolesFromFileDecideEveryMethod) {
  auto roles = ParseRoles(
      "# who may do what\n"
      "kmend-server service\n"
      "alice admin\n"
      "monitor  read   # ksck\n"
      "app write\n",
      "roles");
  ASSERT_TRUE(roles.ok()) << roles.status();
  const char* unsafe = "/kmend.tserver.ConsensusService/UnsafeChangeConfig";
  const char* status = "/kmend.server.StatusService/GetStatus";
  const char* raft = "/kmend.tserver.ConsensusService/RaftMessage";
  const char* write = "/kmend.tserver.TabletServerService/Write";
  EXPECT_TRUE(Authorize(*roles, "monitor", status).ok());
  absl::Status s = Authorize(*roles, "monitor", unsafe);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(s.message(), HasSubstr("not authorized: identity \"monitor\" (roles: read)"));
  EXPECT_THAT(s.message(), HasSubstr("needs admin"));
  EXPECT_FALSE(Authorize(*roles, "monitor", write).ok());
  EXPECT_TRUE(Authorize(*roles, "app", write).ok());
  EXPECT_FALSE(Authorize(*roles, "app", unsafe).ok());
  EXPECT_TRUE(Authorize(*roles, "alice", unsafe).ok());
  EXPECT_TRUE(Authorize(*roles, "alice", write).ok());
  // Admins are not servers: Raft traffic is the service identity's.
  EXPECT_FALSE(Authorize(*roles, "alice", raft).ok());
  EXPECT_TRUE(Authorize(*roles, "kmend-server", raft).ok());
  EXPECT_TRUE(Authorize(*roles, "kmend-server", unsafe).ok());
  // Unknown identities and unknown methods fail closed.
  EXPECT_THAT(Authorize(*roles, "mallory", status).message(), HasSubstr("roles: none"));
  EXPECT_EQ(RequiredRole("/kmend.x.NewService/SomethingNew"), Role::kAdmin);
}

TEST(AuthzTest, MalformedRolesFileNamesTheLine) {
  EXPECT_THAT(ParseRoles("a read\nb superuser\n", "r.txt").status().message(),
              HasSubstr("r.txt:2: unknown role \"superuser\""));
  EXPECT_THAT(ParseRoles("a\n", "r.txt").status().message(), HasSubstr("r.txt:1: expected"));
  TlsOptions o;
  o.roles_file = "/x";
  EXPECT_THAT(LoadTls(o).status().message(), HasSubstr("--roles_file needs TLS"));
}

}  // namespace
}  // namespace kmend::rpc
