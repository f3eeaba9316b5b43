#include "lib/rpc/grpc_util.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "lib/rpc/tls.h"
#include "proto/rpc_status.pb.h"

namespace kmend::rpc {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // Payloads (status_payloads.h) travel in error_details.
  StatusPayloadsPB payloads;
  status.ForEachPayload([&payloads](absl::string_view url, const absl::Cord& value) {
    StatusPayloadPB* p = payloads.add_payloads();
    p->set_type_url(std::string(url));
    p->set_value(std::string(value));
  });
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()),
                      payloads.payloads_size() > 0 ? payloads.SerializeAsString() : "");
}

namespace {
// Restores the payloads ToGrpcStatus put in error_details. A peer that sent
// none, or details that do not parse (another implementation's), adds none.
void RestorePayloads(const grpc::Status& from, absl::Status* to) {
  if (from.error_details().empty()) return;
  StatusPayloadsPB payloads;
  if (!payloads.ParseFromString(from.error_details())) return;
  for (const StatusPayloadPB& p : payloads.payloads()) {
    to->SetPayload(p.type_url(), absl::Cord(p.value()));
  }
}
}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status s(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  RestorePayloads(status, &s);
  return s;
}

absl::Status FromGrpcStatus(const grpc::Status& status, absl::string_view context) {
  if (status.ok()) return absl::OkStatus();
  absl::Status s(static_cast<absl::StatusCode>(status.error_code()),
                 absl::StrCat(context, ": ", status.error_message()));
  RestorePayloads(status, &s);
  return s;
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address,
                                          int max_receive_message_bytes) {
  grpc::ChannelArguments args;
  if (max_receive_message_bytes > 0) args.SetMaxReceiveMessageSize(max_receive_message_bytes);
  // Reconnect quickly after a peer restarts: the default backoff grows to
  // two minutes, longer than any test or failover should wait.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  // Despite its name this is gRPC's MIN_CONNECT_TIMEOUT (doc/connection-
  // backoff.md): how long one connection attempt may take, TCP connect to
  // the server's first SETTINGS frame. At 100 ms a loaded host failed first
  // calls with "connection attempt timed out before receiving SETTINGS
  // frame"; a refused connection (dead or restarting peer) still fails at
  // once, so only a hung peer is retried less often.
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 2000);
  // A connection that stops answering is closed within kKeepaliveTimeMs +
  // kKeepaliveTimeoutMs, and the next call connects afresh. Without it, a
  // connection that carried data into a partition waits out TCP's resend
  // backoff (0.2 s doubling) after the heal, and a call blocked in a write
  // to it (the Raft transport's stream under flow control) with it: 9-25 s
  // of silence between healthy servers (testing/nemesis/reconnect_test.cc).
  // Pings go also without calls or data, so an idle peer link is checked
  // too; servers accept them (AddServerKeepaliveArgs). Setting a keepalive
  // time also makes gRPC set TCP_USER_TIMEOUT (the keepalive timeout) on the
  // socket: the kernel drops a connection whose sent data stays unacknowledged
  // for 2 s, whatever the load, which is most of what unblocks a stalled
  // write. So a link losing every packet for 2 s (or a 256 kbit/s one with a
  // deep queue) is reset and reconnected rather than waited on.
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  // TLS when the process has it (tls.h): every channel goes through here.
  return grpc::CreateCustomChannel(address, ChannelCredentials(ProcessTls()), args);
}

void AddServerKeepaliveArgs(grpc::ServerBuilder* builder) {
  // Strikes 0 is what turns the "too_many_pings" GOAWAY off (gRPC counts
  // strikes only when the limit is non-zero); the interval and
  // permit-without-calls would keep our pings from being strikes anyway
  // if it were ever set.
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, 0);
  builder->AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                              kKeepaliveTimeMs / 2);
  builder->AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
}

void SetDeadline(grpc::ClientContext* ctx, std::chrono::milliseconds timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace kmend::rpc
