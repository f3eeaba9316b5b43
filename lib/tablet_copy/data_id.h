// Names of tablet copy data ids for messages: "block 123", "WAL segment 7",
// "superblock". Shared by the source (server/tablet_copy) and the copier.
#ifndef KMEND_LIB_TABLET_COPY_DATA_ID_H_
#define KMEND_LIB_TABLET_COPY_DATA_ID_H_

#include <string>

#include "proto/tablet_copy.pb.h"

namespace kmend::tablet_copy {

std::string DataIdName(const tserver::DataIdPB& id);

}  // namespace kmend::tablet_copy

#endif  // KMEND_LIB_TABLET_COPY_DATA_ID_H_
