// A TLS cluster (issue 18): every server demands a client certificate signed
// by the cluster's CA, so a caller without one, or with an expired one, or
// one from another CA, never reaches a service; a channel refuses a server
// whose certificate does not name the host it dialled; the tools work over
// TLS with a user certificate and fail without one; a plaintext server
// refuses a non-loopback address.
#include <sys/wait.h>

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <thread>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "lib/io/file.h"
#include "lib/rpc/tls.h"
#include "lib/tls/cert_gen.h"
#include "proto/master.grpc.pb.h"
#include "proto/status.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"
#include "server/common/grpc_util.h"
#include "testing/cluster/cluster_test_util.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/server_process.h"
#include "testing/cluster/tool_runner.h"

namespace kmend::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class TlsClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterOptions o;
    o.num_tservers = 1;
    o.tls = true;
    cluster_ = std::make_unique<ExternalCluster>(o);
    absl::Status s = cluster_->Start();
    if (!s.ok()) cluster_->DumpLogs(std::cerr);
    ASSERT_TRUE(s.ok()) << s;
  }

  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = cluster_->CertPath(name);
    EXPECT_TRUE(io::WriteFileAtomically(path, content).ok());
    return path;
  }

  // GetStatus on the master with `creds`, dialling `host`.
  grpc::Status GetStatusWith(std::shared_ptr<grpc::ChannelCredentials> creds,
                             const std::string& host = "127.0.0.1") {
    auto channel = grpc::CreateChannel(absl::StrCat(host, ":", cluster_->master()->port()), creds);
    auto stub = server::StatusService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    server::GetStatusResponsePB resp;
    return stub->GetStatus(&ctx, server::GetStatusRequestPB(), &resp);
  }

  // TLS credentials presenting `cert`/`key` (PEM), trusting the cluster CA.
  std::shared_ptr<grpc::ChannelCredentials> WithCert(const tls::PemPair& pair) {
    rpc::TlsOptions o;
    o.cert_file = Write("probe.crt", pair.cert_pem);
    o.key_file = Write("probe.key", pair.key_pem);
    o.ca_file = cluster_->CertPath("ca.crt");
    absl::StatusOr<rpc::TlsMaterial> m = rpc::LoadTls(o);
    EXPECT_TRUE(m.ok()) << m.status();
    return rpc::ChannelCredentials(*m);
  }

  tls::PemPair ClusterCa() {
    tls::PemPair ca;
    ca.cert_pem = *io::ReadFileToString(cluster_->CertPath("ca.crt"));
    ca.key_pem = *io::ReadFileToString(cluster_->CertPath("ca.key"));
    return ca;
  }

  std::unique_ptr<ExternalCluster> cluster_;
};

TEST_F(TlsClusterTest, ServersTalkOverTlsAndTheAdminCertWorks) {
  // Start() waited for the tablet server's heartbeats: tserver -> master
  // went over TLS. This process holds user-admin.
  auto st = cluster_->GetStatus(cluster_->master());
  ASSERT_TRUE(st.ok()) << st.status();
  auto ts = cluster_->ListTabletServers();
  ASSERT_TRUE(ts.ok()) << ts.status();
  EXPECT_EQ(ts->servers_size(), 1);
}

TEST_F(TlsClusterTest, CallsWithoutAValidClientCertificateAreRefused) {
  // Plaintext.
  grpc::Status plain = GetStatusWith(grpc::InsecureChannelCredentials());
  EXPECT_EQ(plain.error_code(), grpc::StatusCode::UNAVAILABLE) << plain.error_message();

  // TLS, trusting the CA, but no client certificate.
  grpc::SslCredentialsOptions anon;
  anon.pem_root_certs = *io::ReadFileToString(cluster_->CertPath("ca.crt"));
  grpc::Status no_cert = GetStatusWith(grpc::SslCredentials(anon));
  EXPECT_EQ(no_cert.error_code(), grpc::StatusCode::UNAVAILABLE) << no_cert.error_message();

  // A certificate from another CA.
  auto other_ca = tls::MakeCa("someone else's CA");
  ASSERT_TRUE(other_ca.ok());
  tls::CertSpec spec;
  spec.common_name = "admin";
  auto foreign = tls::MakeSigned(*other_ca, spec);
  ASSERT_TRUE(foreign.ok());
  grpc::Status wrong_ca = GetStatusWith(WithCert(*foreign));
  EXPECT_EQ(wrong_ca.error_code(), grpc::StatusCode::UNAVAILABLE) << wrong_ca.error_message();

  // The cluster's CA, but expired yesterday.
  spec.not_before = absl::Now() - absl::Hours(48);
  spec.valid_for = absl::Hours(24);
  auto expired = tls::MakeSigned(ClusterCa(), spec);
  ASSERT_TRUE(expired.ok());
  grpc::Status old = GetStatusWith(WithCert(*expired));
  EXPECT_EQ(old.error_code(), grpc::StatusCode::UNAVAILABLE) << old.error_message();

  // Control: a fresh certificate of the same CA is accepted.
  spec.not_before = absl::InfinitePast();
  spec.valid_for = absl::Hours(1);
  auto fresh = tls::MakeSigned(ClusterCa(), spec);
  ASSERT_TRUE(fresh.ok());
  grpc::Status ok = GetStatusWith(WithCert(*fresh));
  EXPECT_TRUE(ok.ok()) << ok.error_message();

  // The server says why it refused (its log, for the operator).
  std::string log = cluster_->master()->LogTail(400);
  EXPECT_THAT(log, HasSubstr("certificate")) << log;
}

TEST_F(TlsClusterTest, ChannelRefusesAServerNotCertifiedForTheHostDialled) {
  // The server's certificate names 127.0.0.1 only; "localhost" reaches the
  // same socket but is not what the certificate vouches for.
  grpc::Status s = GetStatusWith(rpc::ChannelCredentials(rpc::ProcessTls()), "localhost");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
  EXPECT_TRUE(GetStatusWith(rpc::ChannelCredentials(rpc::ProcessTls())).ok());
}

TEST_F(TlsClusterTest, ToolsUseTlsFlagsOrEnvironmentAndFailWithout) {
  const std::string scratch = cluster_->base_dir();
  // $KMEND_TLS_* (user-admin) is set by the harness.
  ToolResult r = RunKmend(absl::StrCat("ksck --masters ", cluster_->master_address()), scratch);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // Explicit flags, the reader's certificate.
  r = RunKmend(absl::StrCat("ksck --masters ", cluster_->master_address(), " --tls_cert ",
                            cluster_->CertPath("user-reader.crt"), " --tls-key ",
                            cluster_->CertPath("user-reader.key"), " --tls_ca ",
                            cluster_->CertPath("ca.crt")),
               scratch);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  // Without TLS the master is unreachable.
  r = RunKmend(absl::StrCat("env -u KMEND_TLS_CERT -u KMEND_TLS_KEY -u KMEND_TLS_CA ",
                            RunfilePath("tools/kmend"), " ksck --timeout 2s --masters ",
                            cluster_->master_address()),
               scratch);
  EXPECT_NE(r.exit_code, 0) << r.out << r.err;
  // Half a configuration is a usage error, not a silent plaintext fallback.
  r = RunKmend(absl::StrCat("ksck --masters ", cluster_->master_address(), " --tls_ca ",
                            cluster_->CertPath("ca.crt"), " --tls_cert ",
                            cluster_->CertPath("user-reader.crt")),
               scratch);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("--tls_key is missing"));
}

// Roles (lib/rpc/authz.h): the reader runs ksck but may not force a
// config; the admin may; the servers (service) keep replicating.
class RolesTest : public TlsClusterTest {
 protected:
  void SetUp() override {
    cluster_ = std::make_unique<ExternalCluster>(TlsRolesClusterOptions());
    absl::Status s = cluster_->Start();
    if (!s.ok()) cluster_->DumpLogs(std::cerr);
    ASSERT_TRUE(s.ok()) << s;
  }

  grpc::Status UnsafeChangeConfigAs(const std::string& user) {
    return UnsafeChangeConfigOfNoTabletAs(*cluster_, user);
  }
};

TEST_F(RolesTest, ReaderRunsKsckButNotUnsafeChangeConfigAdminDoesBoth) {
  const std::string reader_flags = absl::StrCat(
      " --tls_cert ", cluster_->CertPath("user-reader.crt"), " --tls_key ",
      cluster_->CertPath("user-reader.key"), " --tls_ca ", cluster_->CertPath("ca.crt"));
  ToolResult r = RunKmend(
      absl::StrCat("ksck --masters ", cluster_->master_address(), reader_flags), cluster_->base_dir());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  grpc::Status reader = UnsafeChangeConfigAs("reader");
  EXPECT_EQ(reader.error_code(), grpc::StatusCode::PERMISSION_DENIED) << reader.error_message();
  EXPECT_THAT(reader.error_message(), HasSubstr("not authorized: identity \"reader\""));
  EXPECT_THAT(reader.error_message(), HasSubstr("needs admin"));

  grpc::Status admin = UnsafeChangeConfigAs("admin");
  EXPECT_NE(admin.error_code(), grpc::StatusCode::PERMISSION_DENIED) << admin.error_message();
  EXPECT_NE(admin.error_code(), grpc::StatusCode::UNAVAILABLE) << admin.error_message();
  // ksck as admin too (the harness's own identity).
  r = RunKmend(absl::StrCat("ksck --masters ", cluster_->master_address()), cluster_->base_dir());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// Issue 18: ksck as an identity with no read role. Every master refuses it,
// so the cluster is unknown to it: exit 1 (found something), a message
// saying "not authorized", the masters UNKNOWN, never "unreachable".
class ReadlessTest : public TlsClusterTest {
 protected:
  void SetUp() override {
    ClusterOptions o;
    o.num_tservers = 1;
    o.tls = true;
    o.tls_roles = "kmend-server service\nadmin admin\n";  // no "reader"
    cluster_ = std::make_unique<ExternalCluster>(o);
    absl::Status s = cluster_->Start();
    if (!s.ok()) cluster_->DumpLogs(std::cerr);
    ASSERT_TRUE(s.ok()) << s;
  }
};

TEST_F(ReadlessTest, KsckWithoutReadRoleReportsUnknownNotAuthorizedAndExitsOne) {
  const std::string reader_flags = absl::StrCat(
      " --tls_cert ", cluster_->CertPath("user-reader.crt"), " --tls_key ",
      cluster_->CertPath("user-reader.key"), " --tls_ca ", cluster_->CertPath("ca.crt"));
  ToolResult r = RunKmend(absl::StrCat("ksck --masters ", cluster_->master_address(), reader_flags),
                          cluster_->base_dir());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("not authorized: no master let this identity read"));
  EXPECT_THAT(r.out, HasSubstr("UNKNOWN (not authorized)"));
  EXPECT_THAT(r.out, HasSubstr("UNKNOWN: master refused ksck (not authorized"));
  EXPECT_THAT(r.out, Not(HasSubstr("ERROR"))) << r.out;
  EXPECT_THAT(r.out, Not(HasSubstr("UNREACHABLE"))) << r.out;

  r = RunKmend(absl::StrCat("ksck --format=json --masters ", cluster_->master_address(),
                            reader_flags),
               cluster_->base_dir());
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"unauthorized\": true"));

  // The admin sees everything.
  r = RunKmend(absl::StrCat("ksck --masters ", cluster_->master_address()), cluster_->base_dir());
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
}

// Bearer tokens (issue 18): the roles file names tokens by their SHA-256;
// a tool with --token_file and only the CA (no client certificate) is the
// token's identity. The read token runs ksck but not unsafe-change-config,
// the admin token does both, a wrong token and a caller with neither token
// nor certificate are refused.
class TokenTest : public TlsClusterTest {
 protected:
  void SetUp() override {
    ClusterOptions o;
    o.num_tservers = 3;
    o.tls = true;
    o.tls_roles = absl::StrCat("kmend-server service\nadmin admin\n",
                               "token_sha256=", rpc::TokenSha256Hex(kReadToken), " read reader-bot\n",
                               "token_sha256=", rpc::TokenSha256Hex(kAdminToken), " admin ops\n");
    cluster_ = std::make_unique<ExternalCluster>(o);
    absl::Status s = cluster_->Start();
    if (!s.ok()) cluster_->DumpLogs(std::cerr);
    ASSERT_TRUE(s.ok()) << s;
  }

  // `kmend ARGS` with only the CA and a token file holding `token`: TLS
  // flags on the command line replace the harness's KMEND_TLS_* (its admin
  // certificate) as a whole.
  ToolResult WithToken(const std::string& token, const std::string& args) {
    const std::string file = Write("token-" + std::to_string(token.size()), token + "\n");
    return RunKmend(absl::StrCat(args, " --tls_ca ", cluster_->CertPath("ca.crt"),
                                 " --token_file ", file),
                    cluster_->base_dir());
  }

  static constexpr char kReadToken[] = "read-token-0123456789";
  static constexpr char kAdminToken[] = "admin-token-9876543210-xyz";
};

TEST_F(TokenTest, ReadTokenRunsKsckNotUnsafeChangeConfigAdminTokenDoesBothWrongTokenRefused) {
  // RF 3: the force below keeps two of three.
  auto tablets = CreateTable(*cluster_, KeyValueTableRequest("t3", "v", 1, 3));
  ASSERT_TRUE(tablets.ok()) << tablets.status();
  auto uuids = GetTServerUuids(*cluster_);
  ASSERT_TRUE(uuids.ok()) << uuids.status();
  const std::string ksck = absl::StrCat("ksck --masters ", cluster_->master_address());
  ToolResult r;
  // ksck until healthy (the tablets elect their leaders meanwhile).
  ASSERT_TRUE(ExternalCluster::WaitFor(
                  [&] {
                    r = WithToken(kReadToken, ksck);
                    return r.exit_code == 0;
                  },
                  std::chrono::seconds(30), "ksck with the read token")
                  .ok())
      << r.out << r.err;
  // Forcing (2 of 3 voters kept, --force past the live majority) needs admin.
  const std::string force = absl::StrCat(
      "unsafe-change-config --tserver ", cluster_->tserver(0)->address(), " --tablet ",
      (*tablets)[0], " --voters ", (*uuids)[0], ",", (*uuids)[1], " --force --yes");
  r = WithToken(kReadToken, force);
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("not authorized: identity \"token:reader-bot\""));
  r = WithToken(kAdminToken, ksck);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  r = WithToken(kAdminToken, force);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  // A token the roles file does not name: every master refuses, ksck says
  // so (exit 1, part 1's rule) and names no identity it does not have.
  r = WithToken("guessed-token", ksck);
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("not authorized"));
  EXPECT_THAT(r.out, HasSubstr("is not in the server's roles file"));

  // TLS with neither certificate nor token: refused at the role check.
  grpc::SslCredentialsOptions anon;
  anon.pem_root_certs = *io::ReadFileToString(cluster_->CertPath("ca.crt"));
  grpc::Status none = GetStatusWith(grpc::SslCredentials(anon));
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << none.error_message();
  EXPECT_THAT(none.error_message(), HasSubstr("no client certificate and no token"));
  // A token without --tls_ca is a usage error, not a plaintext token.
  r = RunKmend(absl::StrCat(ksck, " --token_file ", Write("t", "x\n")), cluster_->base_dir());
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_THAT(r.err, HasSubstr("--token_file needs --tls_ca"));
}

TEST(PlaintextBindTest, ServerRefusesNonLoopbackWithoutTlsUnlessAllowed) {
  const std::string binary = RunfilePath("server/kmend-server");
  const std::string dir = std::string(::testing::TempDir()) + "/plaintext-bind";
  ServerProcess refused("m", binary, {"master"}, dir);
  // ServerProcess binds 127.0.0.1; a second instance with another bind
  // shows the rule (RunSecondInstance appends to the same flags), so run
  // the binary directly.
  auto run = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {binary, "master", "--fs_root", dir + "/data",
                                     "--rpc_bind", "0.0.0.0:0", "--port_file", dir + "/port"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto pid = Spawn(argv, dir + "/out.log");
    EXPECT_TRUE(pid.ok());
    // Refused: exits at once. Allowed: serving (port file), then SIGTERM.
    for (int i = 0; i < 300; ++i) {
      int status = 0;
      if (::waitpid(*pid, &status, WNOHANG) == *pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      if (io::FileExists(dir + "/port")) {
        ::kill(*pid, SIGTERM);
        ::waitpid(*pid, &status, 0);
        ::unlink((dir + "/port").c_str());
        return 100;  // was serving
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ::kill(*pid, SIGKILL);
    return -2;
  };
  std::filesystem::create_directories(dir);
  EXPECT_EQ(run({"--log_file", dir + "/a.log"}), 1);
  auto log = io::ReadFileToString(dir + "/out.log");
  ASSERT_TRUE(log.ok());
  EXPECT_THAT(*log, HasSubstr("refusing to serve plaintext RPCs on 0.0.0.0:0"));
  EXPECT_EQ(run({"--insecure_allow_plaintext"}), 100);
}

}  // namespace
}  // namespace kmend::testing
