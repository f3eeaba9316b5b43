#include "server/common/status_service.h"

#include <unistd.h>

#include "server/common/grpc_util.h"
#include "lib/util/version.h"

namespace kmend::server {

StatusServiceImpl::StatusServiceImpl(ServerRole role, std::string uuid, std::string fs_root,
                                     const Clock* clock, StatusSource* source)
    : role_(role),
      uuid_(std::move(uuid)),
      fs_root_(std::move(fs_root)),
      clock_(clock),
      source_(source),
      start_mono_us_(clock->NowMicros()),
      start_wall_us_(clock->WallMicros()) {}

void StatusServiceImpl::SetRpcAddress(const HostPortPB& address) {
  absl::MutexLock lock(&mu_);
  rpc_address_ = address;
}

ServerInfoPB StatusServiceImpl::Info() const {
  ServerInfoPB info;
  info.set_uuid(uuid_);
  info.set_role(role_);
  info.set_version(kKmendVersion);
  info.set_start_time_us(start_wall_us_);
  info.set_uptime_ms((clock_->NowMicros() - start_mono_us_) / 1000);
  info.set_pid(::getpid());
  info.set_fs_root(fs_root_);
  absl::MutexLock lock(&mu_);
  if (rpc_address_.has_host()) *info.mutable_rpc_address() = rpc_address_;
  return info;
}

grpc::Status StatusServiceImpl::GetStatus(grpc::ServerContext*, const GetStatusRequestPB* req,
                                          GetStatusResponsePB* resp) {
  *resp->mutable_server() = Info();
  if (source_ != nullptr) return ToGrpcStatus(source_->FillStatus(*req, resp));
  return grpc::Status::OK;
}

}  // namespace kmend::server
