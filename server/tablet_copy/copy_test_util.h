// Test and benchmark scaffolding for tablet copy: a real source replica
// (formatted root, tablet with flushed rows, a WAL of several segments and
// consensus metadata) served by an in-process TabletCopyService on
// 127.0.0.1:0.
//
// Thread safety: none; one test thread drives it. Lifetime: the server stops
// and the directories stay (under $TEST_TMPDIR) when the object is destroyed.
#ifndef KMEND_SERVER_TABLET_COPY_COPY_TEST_UTIL_H_
#define KMEND_SERVER_TABLET_COPY_COPY_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "lib/blocks/log_block_manager.h"
#include "lib/tablet/tablet.h"
#include "lib/wal/log.h"
#include "server/common/rpc_server.h"
#include "server/tablet_copy/copy_service.h"
#include "server/tablet_copy/copy_source.h"

namespace kmend::tablet_copy::testing {

// A fresh empty directory under $TEST_TMPDIR (or /tmp).
std::string FreshDir(const std::string& name);

// A formatted root with its block manager (sync off).
struct Root {
  std::string path;
  std::unique_ptr<blocks::LogBlockManager> bm;
  absl::Status Open(const std::string& dir);   // formats `dir` and opens
  absl::Status Reopen();                       // a new block manager (restart)
};

struct SourceSpec {
  int64_t rows = 1000;
  size_t string_bytes = 20;      // length of each row's string cell
  int flushes = 2;               // rows are applied and flushed in this many parts
  int wal_entries = 200;         // NO_OP entries in the WAL
  size_t wal_payload_bytes = 200;
  uint64_t wal_segment_size_bytes = 16 << 10;
  int64_t term = 7;
};

class SourceReplicaProvider : public TabletCopySourceProvider {
 public:
  absl::StatusOr<SourceReplica> GetReplica(const std::string& tablet_id) override;
  std::string tablet_id;
  SourceReplica replica;
};

// The source server.
class CopySource {
 public:
  // Builds the replica in a fresh directory and starts the service.
  absl::Status Start(const SourceSpec& spec, SourceOptions options = {});
  ~CopySource();

  std::string address() const;
  const std::string& tablet_id() const { return tablet_id_; }
  Root& root() { return root_; }
  tablet::Tablet* tablet() { return tablet_.get(); }
  wal::Log* log() { return log_.get(); }
  TabletCopySourceManager* manager() { return manager_.get(); }
  SourceReplicaProvider& provider() { return provider_; }

 private:
  Root root_;
  std::string tablet_id_;
  std::unique_ptr<tablet::Tablet> tablet_;
  std::unique_ptr<wal::Log> log_;
  SourceReplicaProvider provider_;
  std::unique_ptr<TabletCopySourceManager> manager_;
  std::unique_ptr<TabletCopyServiceImpl> service_;
  server::RpcServer rpc_;
};

// Every row of a tablet, in key order, as text (for comparisons).
std::vector<std::string> RowsAsText(const tablet::Tablet& tablet);

}  // namespace kmend::tablet_copy::testing

#endif  // KMEND_SERVER_TABLET_COPY_COPY_TEST_UTIL_H_
