// kmend-server: the bundled reference server.
//
//   kmend-server master  --fs_root DIR [--rpc_bind HOST:PORT] [--port_file F]
//                        [--tserver_unresponsive_timeout_ms N] [--tserver_rpc_timeout_ms N]
//                        [--rereplication_delay_ms N] [--rereplication_max_copies_per_server N]
//                        [--master_addrs HOST:PORT,HOST:PORT,...]
//                        [--log_file F]
//                        [--tls_cert F --tls_key F --tls_ca F] [--insecure_allow_plaintext]
//                        [--roles_file F]   (both servers)
//   kmend-server tserver --fs_root DIR --master_addrs HOST:PORT[,...]
//                        [--rpc_bind HOST:PORT] [--port_file F]
//                        [--heartbeat_interval_ms N] [--log_file F]
//                        [--flush_threshold_rows N] [--flush_threshold_mb N]
//                        [--flush_interval_ms N] [--wal_segment_size_bytes N]
//                        [--wal_max_segments_retained_for_peers N]
//                        [--maintenance_interval_ms N] [--fs_reserved_bytes N]
//                        [--replica_start_threads N] [--raft_max_election_backoff N]
//                        [--raft_max_inflight_appends N] [--raft_round_worker[=false]]
//                        [--raft_quiesce[=false]] [--raft_tcp[=false]]
//
// Every *_ms flag also takes a unit (`--heartbeat_interval_ms 2s`); a bare
// number is milliseconds (tools/common/duration_flag.h).
//
// Runs until SIGTERM or SIGINT, then shuts down cleanly: in-flight RPCs get a
// grace period, the data directory lock is released. Exit status 0 after a
// clean shutdown, 1 when the server could not start, 2 for bad flags.
#include <signal.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"
#include "lib/util/version.h"
#include "server/master/master.h"
#include "server/tserver/tablet_server.h"
#include "tools/common/duration_flag.h"
#include "tools/common/tls_flags.h"

namespace kmend::server {
namespace {

constexpr auto kShutdownGrace = std::chrono::milliseconds(3000);

// Blocks SIGTERM and SIGINT in this thread and every thread created after,
// so that WaitForShutdownSignal() receives them synchronously.
sigset_t BlockShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  return set;
}

int WaitForShutdownSignal(const sigset_t& set) {
  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  return sig;
}

// The flags both servers share, bound into their options struct (MasterOptions
// and TabletServerOptions name these fields alike). --log_file is not an
// option of either: logging is set up here, before the server exists.
template <typename Options>
void AddCommonFlags(CLI::App* app, Options* opts, std::string* log_file, rpc::TlsOptions* tls) {
  app->add_option("--fs_root", opts->fs_root, "Data directory (created if missing)")->required();
  app->add_option("--rpc_bind", opts->rpc_bind,
                  "Address to serve RPCs on; port 0 picks a free one")
      ->capture_default_str();
  app->add_option("--port_file", opts->port_file,
                  "Write the bound port to this file once serving (for harnesses)");
  app->add_option("--log_file", *log_file, "Also append log lines to this file");
  // TLS is process-wide (lib/rpc/tls.h), installed before the server starts.
  tools::AddTlsFlags(app, tls, /*server=*/true);
}

// A HOST:PORT,... list straight into `out` (normalised, IPv6 bracketed);
// a malformed list is a parse error naming the flag (exit 2).
CLI::Option* AddHostPortsFlag(CLI::App* app, const std::string& name,
                              std::vector<std::string>* out, const std::string& help) {
  return app->add_option_function<std::string>(
      name,
      [name, out](const std::string& text) {
        auto hps = ParseHostPorts(text);
        if (!hps.ok()) throw CLI::ValidationError(name, std::string(hps.status().message()));
        out->clear();
        for (const auto& hp : *hps) out->push_back(HostPortToString(hp));
      },
      help);
}

// A duration flag in milliseconds that also takes units (tools/common).
template <typename T>
CLI::Option* AddMillisFlag(CLI::App* app, const std::string& name, T* ms, const std::string& help,
                           T min, T max) {
  return app->add_option(name, *ms, help)
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::Range(min, max));
}

void AddMasterFlags(CLI::App* cmd, master::MasterOptions* o) {
  AddMillisFlag(cmd, "--tserver_unresponsive_timeout_ms", &o->tserver_unresponsive_timeout_ms,
                "A tablet server without a heartbeat for this long is marked dead", int64_t{1},
                int64_t{3'600'000});
  AddMillisFlag(cmd, "--tserver_rpc_timeout_ms", &o->tserver_rpc_timeout_ms,
                "Deadline of the master's CreateTablet/DeleteTablet calls", int64_t{1},
                int64_t{600'000});
  AddMillisFlag(cmd, "--rereplication_delay_ms", &o->rereplication_delay_ms,
                "Replace the replicas of a tablet server silent this long", int64_t{1},
                int64_t{86'400'000});
  AddMillisFlag(cmd, "--rereplication_failed_grace_ms", &o->rereplication_failed_grace_ms,
                "Replace a replica its live server reports FAILED for this long", int64_t{1},
                int64_t{86'400'000});
  cmd->add_option("--rereplication_max_copies_per_server", o->rereplication_max_copies_per_server,
                  "Re-replication: concurrent tablet copies into one tablet server")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  // Sys-catalog WAL retention (docs/design/server.md, "Replicated catalog").
  cmd->add_option("--catalog_wal_retained_entries", o->catalog_log_retained_entries,
                  "Sys-catalog WAL entries kept behind the catalog snapshot")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  cmd->add_option("--catalog_wal_max_entries_retained_for_peers",
                  o->catalog_log_max_entries_retained_for_peers,
                  "... and at most this many more for a lagging master (beyond: catalog copy)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{100'000'000}));
  cmd->add_option("--catalog_wal_segment_size_bytes", o->catalog_wal_segment_size_bytes,
                  "Start a new sys-catalog WAL segment at this size (GC deletes whole segments)")
      ->type_name("INT")  // as before (the option is unsigned)
      ->capture_default_str()
      ->check(CLI::Range(int64_t{4096}, int64_t{1} << 30));
  AddHostPortsFlag(cmd, "--master_addrs", &o->master_addresses,
                   "Every master of a multi-master cluster, this one included, HOST:PORT,... "
                   "(the same list on each); absent: a single master");
}

void AddTabletServerFlags(CLI::App* cmd, tserver::TabletServerOptions* o) {
  AddHostPortsFlag(cmd, "--master_addrs", &o->master_addresses,
                   "Masters, HOST:PORT[,HOST:PORT...]")
      ->required();
  AddMillisFlag(cmd, "--heartbeat_interval_ms", &o->heartbeat_interval_ms, "Heartbeat period",
                int64_t{10}, int64_t{600'000});
  // Flush and WAL GC (docs/cli/server.md, docs/design/server.md).
  cmd->add_option("--flush_threshold_rows", o->flush_threshold_rows,
                  "Flush a replica's in-memory rows to column blocks at this many rows")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}));
  // The flag counts MiB, the option bytes.
  cmd->add_option_function<int64_t>(
         "--flush_threshold_mb",
         [o](const int64_t& mb) { o->flush_threshold_bytes = static_cast<uint64_t>(mb) << 20; },
         "... or at this many MiB of them")
      ->default_str(std::to_string(o->flush_threshold_bytes >> 20))
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  AddMillisFlag(cmd, "--flush_interval_ms", &o->flush_interval_ms,
                "... or once ops applied this long ago are unflushed", int64_t{10},
                int64_t{86'400'000});
  cmd->add_option("--wal_segment_size_bytes", o->wal_segment_size_bytes,
                  "Start a new WAL segment at this size (GC deletes whole segments)")
      ->type_name("INT")  // as before (the option is unsigned)
      ->capture_default_str()
      ->check(CLI::Range(int64_t{4096}, int64_t{1} << 30));
  cmd->add_option("--wal_max_segments_retained_for_peers", o->wal_max_segments_retained_for_peers,
                  "WAL segments past the flushed op kept for a lagging peer")
      ->capture_default_str()
      ->check(CLI::Range(0, 100'000));
  cmd->add_option("--raft_max_election_backoff", o->raft_max_election_backoff,
                  "After two elections in a row without a leader, a replica's election timeout "
                  "doubles per further one up to this many times (1: no backoff)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--raft_max_inflight_appends", o->raft_max_inflight_appends,
                  "Append requests a leader keeps outstanding per follower (1: each append "
                  "carries everything proposed while the previous one was out, as Kudu does)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_flag("--raft_round_worker", o->raft_round_worker,
                "One thread runs every replica's Raft work in rounds (write every group's "
                "entries, sync each WAL, then send one frame per peer); --raft_round_worker=false "
                "for a pool of 8 threads that runs one group's Ready at a time")
      ->capture_default_str();
  cmd->add_option("--replica_start_threads", o->replica_start_threads,
                  "Threads that open the hosted replicas at start-up (a restart after a crash "
                  "waits mostly for each replica's WAL footer sync; they overlap)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  cmd->add_option("--ack_log_file", o->ack_log_file,
                  "Fault tests only: append each acknowledged write (tablet, term, index, "
                  "leader) to this file; empty: off");
  AddMillisFlag(cmd, "--maintenance_interval_ms", &o->maintenance_interval_ms,
                "Period of the flush/WAL GC thread's rounds", int64_t{10}, int64_t{600'000});
  cmd->add_flag("--raft_quiesce", o->raft_quiesce,
                "Quiesce idle Raft groups (no heartbeats while nothing changes; a dead leader "
                "is detected by one liveness call per server pair); --raft_quiesce=false to "
                "heartbeat every group every tick")
      ->capture_default_str();
  cmd->add_flag("--raft_tcp", o->raft_tcp,
                "Without TLS, send Raft messages to other tablet servers on a plain TCP "
                "connection (fewer thread hand-offs per write than the gRPC stream); "
                "--raft_tcp=false for the gRPC stream. Ignored with TLS")
      ->capture_default_str();
  cmd->add_option("--fs_reserved_bytes", o->fs_reserved_bytes,
                  "Space kept free in the data directory for metadata and flushes: client "
                  "writes and new replicas are refused below it; -1 = 1% of the filesystem")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 50));
}

}  // namespace

int Main(int argc, char** argv) {
  // Debian's Abseil is built with Mutex deadlock detection on: every lock
  // acquisition updated a global lock-order graph (GraphCycles), a few % of
  // the server's CPU per replicated write (docs/benchmarks.md, "Write path
  // CPU"). Unit tests, which do not run this main, keep the check on.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  sigset_t signals = BlockShutdownSignals();

  CLI::App app{"kmend reference server: a master or a tablet server"};
  app.set_version_flag("--version", kKmendVersion);
  app.require_subcommand(1);

  master::MasterOptions master_opts;
  std::string master_log_file;
  CLI::App* master_cmd = app.add_subcommand("master", "Run a master");
  rpc::TlsOptions master_tls;
  AddCommonFlags(master_cmd, &master_opts, &master_log_file, &master_tls);
  AddMasterFlags(master_cmd, &master_opts);

  tserver::TabletServerOptions ts_opts;
  std::string ts_log_file;
  CLI::App* ts_cmd = app.add_subcommand("tserver", "Run a tablet server");
  rpc::TlsOptions ts_tls;
  AddCommonFlags(ts_cmd, &ts_opts, &ts_log_file, &ts_tls);
  AddTabletServerFlags(ts_cmd, &ts_opts);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  const bool is_master = master_cmd->parsed();
  const std::string& rpc_bind = is_master ? master_opts.rpc_bind : ts_opts.rpc_bind;
  if (auto s = ParseHostPort(rpc_bind); !s.ok()) {
    std::cerr << "kmend-server: --rpc_bind: " << s.status().message() << "\n";
    return 2;
  }
  if (auto s = tools::ApplyTlsFlags(is_master ? master_tls : ts_tls); !s.ok()) {
    std::cerr << "kmend-server: " << s.message() << "\n";
    return 2;
  }
  if (auto s = InitLogging(is_master ? master_log_file : ts_log_file); !s.ok()) {
    std::cerr << "kmend-server: --log_file: " << s.message() << "\n";
    return 2;
  }

  int rc = 0;
  if (is_master) {
    master::Master m(master_opts);
    absl::Status s = m.Start();
    if (!s.ok()) {
      KLOG(ERROR) << "master could not start: " << s;
      rc = 1;
    } else {
      int sig = WaitForShutdownSignal(signals);
      KLOG(INFO) << "received signal " << sig << ", shutting down";
      m.Shutdown(kShutdownGrace);
      KLOG(INFO) << "master " << m.uuid() << " stopped";
    }
  } else {
    tserver::TabletServer ts(ts_opts);
    absl::Status s = ts.Start();
    if (!s.ok()) {
      KLOG(ERROR) << "tablet server could not start: " << s;
      rc = 1;
    } else {
      int sig = WaitForShutdownSignal(signals);
      KLOG(INFO) << "received signal " << sig << ", shutting down";
      ts.Shutdown(kShutdownGrace);
      KLOG(INFO) << "tablet server " << ts.uuid() << " stopped";
    }
  }
  ShutdownLogging();
  return rc;
}

}  // namespace kmend::server

int main(int argc, char** argv) { return kmend::server::Main(argc, argv); }
