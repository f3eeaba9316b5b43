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
