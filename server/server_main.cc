// kmend-server: the bundled reference server.
//
//   kmend-server master  --fs_root DIR [--rpc_bind HOST:PORT] [--port_file F]
//                        [--tserver_unresponsive_timeout_ms N] [--tserver_rpc_timeout_ms N]
//                        [--rereplication_delay_ms N] [--rereplication_max_copies_per_server N]
//                        [--master_addrs HOST:PORT,HOST:PORT,...]
//                        [--log_file F]
//   kmend-server tserver --fs_root DIR --master_addrs HOST:PORT[,...]
//                        [--rpc_bind HOST:PORT] [--port_file F]
//                        [--heartbeat_interval_ms N] [--log_file F]
//                        [--flush_threshold_rows N] [--flush_threshold_mb N]
//                        [--flush_interval_ms N] [--wal_segment_size_bytes N]
//                        [--wal_max_segments_retained_for_peers N]
//                        [--maintenance_interval_ms N] [--fs_reserved_bytes N]
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

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"
#include "lib/util/version.h"
#include "server/master/master.h"
#include "server/tserver/tablet_server.h"
#include "tools/common/duration_flag.h"

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

struct CommonFlags {
  std::string fs_root;
  std::string rpc_bind = "127.0.0.1:0";
  std::string port_file;
  std::string log_file;
};

void AddCommonFlags(CLI::App* app, CommonFlags* f) {
  app->add_option("--fs_root", f->fs_root, "Data directory (created if missing)")->required();
  app->add_option("--rpc_bind", f->rpc_bind, "Address to serve RPCs on; port 0 picks a free one")
      ->capture_default_str();
  app->add_option("--port_file", f->port_file,
                  "Write the bound port to this file once serving (for harnesses)");
  app->add_option("--log_file", f->log_file, "Also append log lines to this file");
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

  CommonFlags master_flags;
  int64_t unresponsive_ms = master::MasterOptions().tserver_unresponsive_timeout_ms;
  CLI::App* master_cmd = app.add_subcommand("master", "Run a master");
  AddCommonFlags(master_cmd, &master_flags);
  master_cmd
      ->add_option("--tserver_unresponsive_timeout_ms", unresponsive_ms,
                   "A tablet server without a heartbeat for this long is marked dead")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::Range(int64_t{1}, int64_t{3'600'000}));

  int64_t tserver_rpc_timeout_ms = master::MasterOptions().tserver_rpc_timeout_ms;
  master_cmd
      ->add_option("--tserver_rpc_timeout_ms", tserver_rpc_timeout_ms,
                   "Deadline of the master's CreateTablet/DeleteTablet calls")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::Range(int64_t{1}, int64_t{600'000}));

  int64_t rereplication_delay_ms = master::MasterOptions().rereplication_delay_ms;
  master_cmd
      ->add_option("--rereplication_delay_ms", rereplication_delay_ms,
                   "Replace the replicas of a tablet server silent this long")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::Range(int64_t{1}, int64_t{86'400'000}));

  int64_t rereplication_failed_grace_ms = master::MasterOptions().rereplication_failed_grace_ms;
  master_cmd
      ->add_option("--rereplication_failed_grace_ms", rereplication_failed_grace_ms,
                   "Replace a replica its live server reports FAILED for this long")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::Range(int64_t{1}, int64_t{86'400'000}));

  int rereplication_max_copies = master::MasterOptions().rereplication_max_copies_per_server;
  master_cmd
      ->add_option("--rereplication_max_copies_per_server", rereplication_max_copies,
                   "Re-replication: concurrent tablet copies into one tablet server")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));

  // Sys-catalog WAL retention (docs/design/server.md, "Replicated catalog").
  master::MasterOptions master_defaults;
  int64_t catalog_retained = master_defaults.catalog_log_retained_entries;
  int64_t catalog_retained_peers = master_defaults.catalog_log_max_entries_retained_for_peers;
  int64_t catalog_segment_bytes =
      static_cast<int64_t>(master_defaults.catalog_wal_segment_size_bytes);
  master_cmd
      ->add_option("--catalog_wal_retained_entries", catalog_retained,
                   "Sys-catalog WAL entries kept behind the catalog snapshot")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  master_cmd
      ->add_option("--catalog_wal_max_entries_retained_for_peers", catalog_retained_peers,
                   "... and at most this many more for a lagging master (beyond: catalog copy)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{0}, int64_t{100'000'000}));
  master_cmd
      ->add_option("--catalog_wal_segment_size_bytes", catalog_segment_bytes,
                   "Start a new sys-catalog WAL segment at this size (GC deletes whole segments)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{4096}, int64_t{1} << 30));

  std::string master_peer_addrs;
  master_cmd->add_option(
      "--master_addrs", master_peer_addrs,
      "Every master of a multi-master cluster, this one included, HOST:PORT,... (the same "
      "list on each); absent: a single master");

  CommonFlags ts_flags;
  std::string master_addrs;
  int64_t heartbeat_ms = tserver::TabletServerOptions().heartbeat_interval_ms;
  CLI::App* ts_cmd = app.add_subcommand("tserver", "Run a tablet server");
  AddCommonFlags(ts_cmd, &ts_flags);
  ts_cmd->add_option("--master_addrs", master_addrs, "Masters, HOST:PORT[,HOST:PORT...]")
      ->required();
  ts_cmd->add_option("--heartbeat_interval_ms", heartbeat_ms, "Heartbeat period")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::Range(int64_t{10}, int64_t{600'000}));
  // Flush and WAL GC (docs/cli/server.md, docs/design/server.md).
  tserver::TabletServerOptions ts_defaults;
  int64_t flush_rows = ts_defaults.flush_threshold_rows;
  int64_t flush_mb = static_cast<int64_t>(ts_defaults.flush_threshold_bytes >> 20);
  int64_t flush_interval_ms = ts_defaults.flush_interval_ms;
  int64_t wal_segment_bytes = static_cast<int64_t>(ts_defaults.wal_segment_size_bytes);
  int wal_retained = ts_defaults.wal_max_segments_retained_for_peers;
  int64_t maintenance_ms = ts_defaults.maintenance_interval_ms;
  ts_cmd->add_option("--flush_threshold_rows", flush_rows,
                     "Flush a replica's in-memory rows to column blocks at this many rows")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}));
  ts_cmd->add_option("--flush_threshold_mb", flush_mb, "... or at this many MiB of them")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  ts_cmd->add_option("--flush_interval_ms", flush_interval_ms,
                     "... or once ops applied this long ago are unflushed")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::Range(int64_t{10}, int64_t{86'400'000}));
  ts_cmd->add_option("--wal_segment_size_bytes", wal_segment_bytes,
                     "Start a new WAL segment at this size (GC deletes whole segments)")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{4096}, int64_t{1} << 30));
  ts_cmd->add_option("--wal_max_segments_retained_for_peers", wal_retained,
                     "WAL segments past the flushed op kept for a lagging peer")
      ->capture_default_str()
      ->check(CLI::Range(0, 100'000));
  std::string ack_log_file;
  ts_cmd->add_option("--ack_log_file", ack_log_file,
                     "Fault tests only: append each acknowledged write (tablet, term, index, "
                     "leader) to this file; empty: off");
  ts_cmd->add_option("--maintenance_interval_ms", maintenance_ms,
                     "Period of the flush/WAL GC thread's rounds")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::Range(int64_t{10}, int64_t{600'000}));
  int64_t reserved_bytes = ts_defaults.fs_reserved_bytes;
  ts_cmd->add_option("--fs_reserved_bytes", reserved_bytes,
                     "Space kept free in the data directory for metadata and flushes: client "
                     "writes and new replicas are refused below it; -1 = 1% of the filesystem")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{-1}, int64_t{1} << 50));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }

  const CommonFlags& flags = master_cmd->parsed() ? master_flags : ts_flags;
  if (auto s = ParseHostPort(flags.rpc_bind); !s.ok()) {
    std::cerr << "kmend-server: --rpc_bind: " << s.status().message() << "\n";
    return 2;
  }
  if (auto s = InitLogging(flags.log_file); !s.ok()) {
    std::cerr << "kmend-server: --log_file: " << s.message() << "\n";
    return 2;
  }

  int rc = 0;
  if (master_cmd->parsed()) {
    master::MasterOptions opts;
    opts.fs_root = flags.fs_root;
    opts.rpc_bind = flags.rpc_bind;
    opts.port_file = flags.port_file;
    opts.tserver_unresponsive_timeout_ms = unresponsive_ms;
    opts.tserver_rpc_timeout_ms = tserver_rpc_timeout_ms;
    opts.rereplication_delay_ms = rereplication_delay_ms;
    opts.rereplication_max_copies_per_server = rereplication_max_copies;
    opts.rereplication_failed_grace_ms = rereplication_failed_grace_ms;
    opts.catalog_log_retained_entries = catalog_retained;
    opts.catalog_log_max_entries_retained_for_peers = catalog_retained_peers;
    opts.catalog_wal_segment_size_bytes = static_cast<uint64_t>(catalog_segment_bytes);
    if (!master_peer_addrs.empty()) {
      auto peers = ParseHostPorts(master_peer_addrs);
      if (!peers.ok()) {
        std::cerr << "kmend-server: --master_addrs: " << peers.status().message() << "\n";
        return 2;
      }
      for (const auto& hp : *peers) opts.master_addresses.push_back(HostPortToString(hp));
    }
    master::Master m(opts);
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
    auto addrs = ParseHostPorts(master_addrs);
    if (!addrs.ok()) {
      std::cerr << "kmend-server: --master_addrs: " << addrs.status().message() << "\n";
      return 2;
    }
    tserver::TabletServerOptions opts;
    opts.fs_root = flags.fs_root;
    opts.rpc_bind = flags.rpc_bind;
    opts.port_file = flags.port_file;
    opts.heartbeat_interval_ms = heartbeat_ms;
    opts.flush_threshold_rows = flush_rows;
    opts.flush_threshold_bytes = static_cast<uint64_t>(flush_mb) << 20;
    opts.flush_interval_ms = flush_interval_ms;
    opts.wal_segment_size_bytes = static_cast<uint64_t>(wal_segment_bytes);
    opts.wal_max_segments_retained_for_peers = wal_retained;
    opts.maintenance_interval_ms = maintenance_ms;
    opts.fs_reserved_bytes = reserved_bytes;
    opts.ack_log_file = ack_log_file;
    for (const auto& hp : *addrs) opts.master_addresses.push_back(HostPortToString(hp));
    tserver::TabletServer ts(opts);
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
