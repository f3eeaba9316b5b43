#include "server/master/catalog_store.h"

#include "lib/fs/layout.h"
#include "lib/format/pb_container.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"

namespace kmend::master {

FileCatalogStore::FileCatalogStore(std::string root)
    : path_(io::JoinPath(root, fs::kMasterCatalogFileName)) {}

absl::StatusOr<SysCatalogPB> FileCatalogStore::Load() {
  SysCatalogPB catalog;
  if (!io::FileExists(path_)) return catalog;
  RETURN_IF_ERROR(pbc::ReadSingleMessageFile(path_, &catalog));
  return catalog;
}

absl::Status FileCatalogStore::Save(const SysCatalogPB& catalog) {
  return pbc::WriteSingleMessageFile(path_, catalog);
}

}  // namespace kmend::master
