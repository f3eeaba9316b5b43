#include "server/master/master_consensus_service.h"

#include "absl/strings/str_cat.h"
#include "server/master/raft_catalog_store.h"

namespace kmend::master {

void MasterConsensusService::SetDriver(std::shared_ptr<consensus_driver::RaftDriver> driver) {
  absl::MutexLock l(&mu_);
  driver_ = std::move(driver);
}

grpc::Status MasterConsensusService::RaftMessage(grpc::ServerContext*,
                                                 const tserver::RaftMessageRequestPB* req,
                                                 tserver::RaftMessageResponsePB* resp) {
  std::shared_ptr<consensus_driver::RaftDriver> driver;
  {
    absl::MutexLock l(&mu_);
    driver = driver_;
  }
  for (int i = 0; i < req->messages_size(); ++i) {
    const consensus::RaftMessagePB& m = req->messages(i);
    if (!m.to_uuid().empty() && m.to_uuid() != uuid_) {
      // A master restarted on another data directory at the same address.
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("message for ", m.to_uuid(), " reached master ", uuid_));
    }
    if (m.tablet_id() != kSysCatalogTabletId) {
      resp->add_unknown_tablet_message_indexes(i);
      continue;
    }
    if (driver == nullptr) {
      // Still learning the other masters' uuids: Raft tolerates the loss.
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("master ", uuid_, " has not opened its sys catalog yet"));
    }
    // A message the driver refuses (after shutdown, malformed) is dropped
    // alone: Raft tolerates lost messages.
    (void)driver->Receive(m);
  }
  return grpc::Status::OK;
}

}  // namespace kmend::master
