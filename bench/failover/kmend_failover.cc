// T_failover of kmend: the tablet server hosting a tablet's leader is
// killed with SIGKILL while a client writes single 100-byte rows
// (kmend_target.h: the cluster and the client; failover_runner.h: what is
// measured). The cluster is plaintext unless $KMEND_TEST_TLS=1 (the
// harness's switch); //bench/tls:tls_failover_bench measures both in one run.
//
//   bazel test //bench/failover:kmend_failover --test_tag_filters=benchmark --test_output=all
//   or, built: KMEND_SERVER_BIN=bazel-bin/server/kmend-server
//              bazel-bin/bench/failover/kmend_failover --trials=5 --out=FILE.json
#include "bench/failover/failover_runner.h"
#include "bench/failover/kmend_target.h"

namespace kmend::bench {
namespace {

int Main(int argc, char** argv) {
  KmendTarget target;
  return RunFailoverMain("kmend_failover", argc, argv, &target, [&] { return target.Start(); });
}

}  // namespace
}  // namespace kmend::bench

int main(int argc, char** argv) { return kmend::bench::Main(argc, argv); }
