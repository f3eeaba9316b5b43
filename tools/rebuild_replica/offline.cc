#include "tools/rebuild_replica/offline.h"

#include "absl/status/status.h"
#include "tools/common/cli.h"

namespace kmend::rebuild_tool {

int RunOffline(const OfflineOptions&) {
  return tools::ReportError("kmend rebuild-replica",
                            absl::UnimplementedError("--fs_root (offline) is not built yet"));
}

}  // namespace kmend::rebuild_tool
