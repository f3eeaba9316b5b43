// Where the master keeps its catalog (tables, tablets, replica assignments).
//
// The catalog manager reads the whole catalog once at start-up and hands the
// whole new catalog to Save() after every change; Save() returns once the
// change is durable. The master's store is RaftCatalogStore
// (raft_catalog_store.h): Save() replicates the SysCatalogPB through the
// sys-catalog tablet and returns once applied; Load() reads the applied
// state (again after a leader change).
//
// Thread safety: implementations need not be thread-safe; the catalog
// manager serializes calls.
#ifndef KMEND_SERVER_MASTER_CATALOG_STORE_H_
#define KMEND_SERVER_MASTER_CATALOG_STORE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/master.pb.h"

namespace kmend::master {

class CatalogStore {
 public:
  virtual ~CatalogStore() = default;
  // The stored catalog; an empty SysCatalogPB (version 0) when none exists.
  virtual absl::StatusOr<SysCatalogPB> Load() = 0;
  // Replaces the stored catalog; durable when OK is returned.
  virtual absl::Status Save(const SysCatalogPB& catalog) = 0;
};

// One PB container file (lib/format/pb_container.h) at <root>/master-catalog
// holding one SysCatalogPB, replaced atomically (temp file, fsync, rename,
// fsync dir) on every Save. The master used it before the catalog was
// replicated; the same file is now RaftCatalogStore's snapshot.
class FileCatalogStore : public CatalogStore {
 public:
  explicit FileCatalogStore(std::string root);
  absl::StatusOr<SysCatalogPB> Load() override;
  absl::Status Save(const SysCatalogPB& catalog) override;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Keeps the catalog in memory; for tests of the catalog manager.
class MemoryCatalogStore : public CatalogStore {
 public:
  absl::StatusOr<SysCatalogPB> Load() override { return stored_; }
  absl::Status Save(const SysCatalogPB& catalog) override {
    if (!fail_next_save_.ok()) {
      absl::Status s = fail_next_save_;
      fail_next_save_ = absl::OkStatus();
      return s;
    }
    stored_ = catalog;
    ++saves_;
    return absl::OkStatus();
  }
  const SysCatalogPB& stored() const { return stored_; }
  int saves() const { return saves_; }
  // The next Save fails with `s` and stores nothing.
  void FailNextSave(absl::Status s) { fail_next_save_ = std::move(s); }

 private:
  SysCatalogPB stored_;
  int saves_ = 0;
  absl::Status fail_next_save_;
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_CATALOG_STORE_H_
