// The cost of security (issue 18): the same real cluster (one master, three
// tablet servers, kmend-server processes on loopback, RF 3, WAL fsync on)
// in three modes, measured in one run:
//
//   plaintext   no TLS, no role checks;
//   tls         mutual TLS (kmend cert init's ECDSA P-256 certificates)
//               and a roles file: every call's role is checked; the client
//               is identity "admin" by its certificate;
//   tls+token   the same servers, but the client has no certificate: only
//               the CA and a bearer token (sent as call metadata on every
//               call, mapped by the roles file to "token:bench").
//
// Per mode and trial, on a fresh cluster each time:
//   - one-row writes/s (INSERT of fresh keys, ~100-byte rows, 3-tablet
//     table) with 1 client thread and with 16 (each thread its own
//     TableWriter, sharing one TableLocator: one connection per server);
//     per-call cost is where TLS framing and the token weigh most;
//   - a fresh `kmend ksck` process end to end (process start, a connection
//     and handshake to the master and each tablet server, the checks);
//     median of --ksck runs within the trial;
//   - a fresh connection (own channel, so its own TCP + TLS handshake) and
//     one GetStatus to a tablet server from this process; median of 20.
// Trials rotate the modes' order so a drift in the (shared) machine's load
// does not fall on one mode. The table gives each figure's median over the
// trials and its range (min-max).
//
//   bazel test //bench/tls:tls_cost_bench --test_tag_filters=benchmark --test_output=all
//   KMEND_BENCH_TRIALS (default 5), KMEND_BENCH_SECONDS per write phase
//   (default 5), KMEND_BENCH_KSCK ksck runs per trial (default 5): through
//   --test_env, or run bazel-bin/bench/tls/tls_cost_bench with
//   KMEND_SERVER_BIN set.
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "lib/client/table_locator.h"
#include "lib/client/table_writer.h"
#include "lib/io/file.h"
#include "lib/rpc/authz.h"
#include "lib/rpc/grpc_util.h"
#include "lib/rpc/tls.h"
#include "proto/master.grpc.pb.h"
#include "proto/status.grpc.pb.h"
#include "testing/cluster/external_cluster.h"
#include "testing/cluster/tool_runner.h"

namespace kmend {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kStringLen = 92;
constexpr char kToken[] = "bench-token-8c1f0d9e2a7b4c65";

enum class Mode { kPlaintext, kTls, kTlsToken };
constexpr Mode kModes[] = {Mode::kPlaintext, Mode::kTls, Mode::kTlsToken};

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kPlaintext:
      return "plaintext";
    case Mode::kTls:
      return "tls";
    case Mode::kTlsToken:
      return "tls+token";
  }
  return "?";
}

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// One trial's figures for one mode.
struct Figures {
  double writes_1 = 0;      // one-row writes/s, 1 client thread
  double writes_16 = 0;     // one-row writes/s, 16 client threads
  double ksck_ms = 0;       // fresh `kmend ksck` process, median in the trial
  double handshake_ms = 0;  // fresh connection + GetStatus, median in the trial
};

int EnvInt(const char* name, int fallback) {
  const char* v = ::getenv(name);
  return v == nullptr ? fallback : std::atoi(v);
}

absl::Status CreateTable(testing::ExternalCluster* c, const std::string& name) {
  master::CreateTableRequestPB req;
  req.set_name(name);
  auto* id = req.mutable_schema()->add_columns();
  id->set_name("id");
  id->set_type(INT64);
  id->set_is_key(true);
  auto* payload = req.mutable_schema()->add_columns();
  payload->set_name("payload");
  payload->set_type(STRING);
  req.set_num_tablets(3);
  req.set_num_replicas(3);
  master::CreateTableResponsePB resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status gs = c->MasterStub()->CreateTable(&ctx, req, &resp);
  if (!gs.ok()) return absl::UnavailableError("CreateTable: " + gs.error_message());
  return absl::OkStatus();
}

// Rows acknowledged per second by `threads` writers of one row per Write.
absl::StatusOr<double> WriteRate(client::TableLocator* loc, int threads, double seconds,
                                 std::atomic<int64_t>* next_key) {
  std::atomic<int64_t> acked{0};
  std::atomic<bool> failed{false};
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      client::TableWriter w(loc, absl::Seconds(30));
      std::vector<tablet::Row> rows(1);
      while (Clock::now() < end && !failed) {
        rows[0] = client::GeneratedRow(loc->schema(), next_key->fetch_add(1), kStringLen);
        auto r = w.Write(rows, RowOpPB::INSERT);
        if (!r.ok()) {
          std::cerr << "write: " << r.status() << "\n";
          failed = true;
          return;
        }
        for (auto o : r->outcomes) acked += o == client::RowOutcome::kAcked;
      }
    });
  }
  for (auto& t : pool) t.join();
  if (failed) return absl::InternalError("a write failed");
  return acked.load() / std::chrono::duration<double>(Clock::now() - start).count();
}

// The roles both TLS modes' servers load: servers call each other as
// "service"; the bench's certificate user and its token are admin (which
// includes write and read).
std::string Roles() {
  return absl::StrCat("kmend-server service\nadmin admin\ntoken_sha256=",
                      rpc::TokenSha256Hex(kToken), " admin bench\n");
}

absl::StatusOr<Figures> MeasureOnce(Mode mode, double seconds, int ksck_runs) {
  testing::ClusterOptions o;
  o.num_tservers = 3;
  o.tls = mode != Mode::kPlaintext;
  if (o.tls) o.tls_roles = Roles();
  testing::ExternalCluster cluster(o);
  // This process's own TLS: the harness installs user-admin's certificate
  // for a TLS cluster; plaintext must undo an earlier trial's TLS.
  if (mode == Mode::kPlaintext) {
    if (absl::Status s = rpc::SetProcessTls({}); !s.ok()) return s;
  }
  if (absl::Status s = cluster.Start(); !s.ok()) {
    cluster.DumpLogs(std::cerr);
    return s;
  }
  std::string tool_tls;  // what the ksck command line adds
  if (mode == Mode::kTlsToken) {
    const std::string token_file = io::JoinPath(cluster.base_dir(), "bench.token");
    if (absl::Status s = io::WriteFileAtomically(token_file, absl::StrCat(kToken, "\n"));
        !s.ok()) {
      return s;
    }
    rpc::TlsOptions t;
    t.ca_file = cluster.CertPath("ca.crt");
    t.token_file = token_file;
    if (absl::Status s = rpc::SetProcessTls(t); !s.ok()) return s;
    // Flags on the command line replace the harness's KMEND_TLS_* (the
    // admin certificate) as a whole: the tool has the CA and the token only.
    tool_tls = absl::StrCat(" --tls_ca ", t.ca_file, " --token_file ", token_file);
  }
  if (absl::Status s = CreateTable(&cluster, "bench"); !s.ok()) return s;
  auto loc = client::TableLocator::Open(cluster.master_address(), "bench",
                                        std::chrono::milliseconds(5000));
  if (!loc.ok()) return loc.status();
  std::atomic<int64_t> next_key{0};
  // Warm-up: elections, the leaders' first appends, the connections.
  if (auto r = WriteRate(loc->get(), 4, 1.5, &next_key); !r.ok()) return r.status();

  Figures f;
  auto w1 = WriteRate(loc->get(), 1, seconds, &next_key);
  if (!w1.ok()) return w1.status();
  f.writes_1 = *w1;
  auto w16 = WriteRate(loc->get(), 16, seconds, &next_key);
  if (!w16.ok()) return w16.status();
  f.writes_16 = *w16;

  std::vector<double> ksck;
  const std::string ksck_args =
      absl::StrCat("ksck --masters ", cluster.master_address(), tool_tls);
  for (int i = 0; i < ksck_runs; ++i) {
    const auto t0 = Clock::now();
    testing::ToolResult r = testing::RunKmend(ksck_args, cluster.base_dir());
    const double ms = Ms(Clock::now() - t0);
    if (r.exit_code != 0) return absl::InternalError("ksck: " + r.out + r.err);
    ksck.push_back(ms);
  }
  f.ksck_ms = Median(ksck);

  // Each channel gets distinct arguments, so gRPC cannot share another
  // channel's connection: every sample pays TCP + (TLS) handshake.
  std::vector<double> hs;
  const std::string target = cluster.tserver(0)->address();
  static int nonce = 0;
  for (int i = 0; i < 20; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("kmend.bench.nonce", ++nonce);
    const auto t0 = Clock::now();
    auto channel =
        grpc::CreateCustomChannel(target, rpc::ChannelCredentials(rpc::ProcessTls()), args);
    auto stub = server::StatusService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    server::GetStatusRequestPB req;
    req.set_include_replicas(false);
    server::GetStatusResponsePB resp;
    grpc::Status s = stub->GetStatus(&ctx, req, &resp);
    if (!s.ok()) return absl::UnavailableError("GetStatus: " + s.error_message());
    hs.push_back(Ms(Clock::now() - t0));
  }
  f.handshake_ms = Median(hs);
  // The locator's channels go before the cluster they point at.
  loc->reset();
  return f;
}

int Main() {
  const int trials = std::max(1, EnvInt("KMEND_BENCH_TRIALS", 5));
  const int ksck_runs = std::max(1, EnvInt("KMEND_BENCH_KSCK", 5));
  double seconds = 5;
  if (const char* s = ::getenv("KMEND_BENCH_SECONDS")) seconds = std::atof(s);
  ::unsetenv("KMEND_TEST_TLS");  // each mode chooses for itself
  std::printf("tls_cost_bench: %d trials, %.1f s per write phase, %d ksck runs per trial\n",
              trials, seconds, ksck_runs);

  std::vector<Figures> results[3];
  for (int t = 0; t < trials; ++t) {
    for (int k = 0; k < 3; ++k) {
      const int m = (t + k) % 3;  // rotate the order per trial
      auto f = MeasureOnce(kModes[m], seconds, ksck_runs);
      if (!f.ok()) {
        std::cerr << ModeName(kModes[m]) << ", trial " << t + 1 << ": " << f.status() << "\n";
        return 1;
      }
      std::printf("trial %d %-10s writes/s 1 client %8.1f  16 clients %8.1f  ksck %7.1f ms  "
                  "connect+GetStatus %6.2f ms\n",
                  t + 1, ModeName(kModes[m]), f->writes_1, f->writes_16, f->ksck_ms,
                  f->handshake_ms);
      std::fflush(stdout);
      results[m].push_back(*f);
    }
  }

  struct Stat {
    double median, min, max;
  };
  auto stat = [](const std::vector<Figures>& v, double Figures::*field) {
    std::vector<double> x;
    for (const Figures& f : v) x.push_back(f.*field);
    return Stat{Median(x), *std::min_element(x.begin(), x.end()),
                *std::max_element(x.begin(), x.end())};
  };
  struct Row {
    const char* what;
    double Figures::*field;
    const char* unit;
    int decimals;
  };
  const Row rows[] = {
      {"one-row writes, 1 client", &Figures::writes_1, "rows/s", 0},
      {"one-row writes, 16 clients", &Figures::writes_16, "rows/s", 0},
      {"fresh `kmend ksck` process", &Figures::ksck_ms, "ms", 0},
      {"fresh connection + GetStatus", &Figures::handshake_ms, "ms", 2},
  };
  std::printf("\nmedian over %d trials [min-max]; change vs plaintext (of the medians)\n", trials);
  std::printf("%-30s %-22s %-30s %-30s\n", "figure", "plaintext", "tls", "tls+token");
  for (const Row& r : rows) {
    const Stat p = stat(results[0], r.field);
    std::printf("%-30s", r.what);
    for (int m = 0; m < 3; ++m) {
      const Stat s = stat(results[m], r.field);
      std::string cell = absl::StrFormat("%.*f [%.*f-%.*f]", r.decimals, s.median, r.decimals,
                                         s.min, r.decimals, s.max);
      if (m > 0) {
        absl::StrAppend(&cell, absl::StrFormat(" %+.1f%%", p.median == 0 ? 0.0
                                                            : 100.0 * (s.median - p.median) /
                                                                  p.median));
      }
      std::printf(" %-*s", m == 0 ? 22 : 30, cell.c_str());
    }
    std::printf(" %s\n", r.unit);
  }
  return 0;
}

}  // namespace
}  // namespace kmend

int main() { return kmend::Main(); }
