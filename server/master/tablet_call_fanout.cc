#include "server/master/tablet_call_fanout.h"

#include <algorithm>
#include <map>
#include <memory>

#include "absl/strings/str_cat.h"
#include "grpcpp/grpcpp.h"
#include "proto/tserver.grpc.pb.h"
#include "server/common/grpc_util.h"

namespace kmend::master {
namespace {

// One destination server: its calls in order, and how far they got.
struct Destination {
  std::string address;
  std::unique_ptr<tserver::TabletServerService::Stub> stub;
  std::vector<TabletCall*> calls;
  size_t next = 0;  // calls[next..] not sent yet
  int in_flight = 0;
  absl::Status hung;  // set by the first call that ran out of time
};

// One call on the wire. Its address is the completion queue's tag.
struct Pending {
  Destination* dest = nullptr;
  TabletCall* call = nullptr;
  grpc::ClientContext ctx;
  grpc::Status status;
  tserver::CreateTabletResponsePB create_resp;
  tserver::DeleteTabletResponsePB delete_resp;
  std::unique_ptr<grpc::ClientAsyncResponseReader<tserver::CreateTabletResponsePB>> create;
  std::unique_ptr<grpc::ClientAsyncResponseReader<tserver::DeleteTabletResponsePB>> del;
};

std::string Describe(const TabletCall& c) {
  return absl::StrCat(c.is_create ? "CreateTablet " : "DeleteTablet ",
                      c.is_create ? c.create.tablet_id() : c.del.tablet_id(), " on ", c.ts_uuid,
                      " (", c.address, ")");
}

// Sends `d`'s next calls until its window is full; returns how many it sent.
int Fill(Destination* d, std::chrono::milliseconds timeout, int window, grpc::CompletionQueue* cq) {
  int sent = 0;
  while (d->in_flight < window && d->next < d->calls.size()) {
    TabletCall* c = d->calls[d->next++];
    if (!d->hung.ok()) {
      c->result = absl::Status(d->hung.code(),
                               absl::StrCat(Describe(*c), ": not sent, an earlier call to this "
                                                          "server ran out of time: ",
                                            d->hung.message()));
      continue;
    }
    auto* p = new Pending;  // deleted when its completion is taken off `cq`
    p->dest = d;
    p->call = c;
    server::SetDeadline(&p->ctx, timeout);
    if (c->is_create) {
      p->create = d->stub->AsyncCreateTablet(&p->ctx, c->create, cq);
      p->create->Finish(&p->create_resp, &p->status, p);
    } else {
      p->del = d->stub->AsyncDeleteTablet(&p->ctx, c->del, cq);
      p->del->Finish(&p->delete_resp, &p->status, p);
    }
    ++d->in_flight;
    ++sent;
  }
  return sent;
}

}  // namespace

void FanOut(std::vector<TabletCall>* calls, std::chrono::milliseconds timeout,
            int max_in_flight_per_server) {
  const int window = std::max(1, max_in_flight_per_server);
  std::map<std::string, Destination> dests;
  for (TabletCall& c : *calls) {
    Destination& d = dests[c.address];
    if (d.stub == nullptr) {
      d.address = c.address;
      d.stub = tserver::TabletServerService::NewStub(server::NewChannel(c.address));
    }
    d.calls.push_back(&c);
  }
  grpc::CompletionQueue cq;
  int64_t outstanding = 0;
  for (auto& [address, d] : dests) outstanding += Fill(&d, timeout, window, &cq);
  while (outstanding > 0) {
    void* tag = nullptr;
    bool ok = false;
    // Every call has a deadline, so every tag comes back.
    if (!cq.Next(&tag, &ok)) break;
    std::unique_ptr<Pending> p(static_cast<Pending*>(tag));
    --outstanding;
    Destination* d = p->dest;
    --d->in_flight;
    p->call->result = server::FromGrpcStatus(p->status, Describe(*p->call));
    if (p->status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && d->hung.ok()) {
      d->hung = p->call->result;
    }
    outstanding += Fill(d, timeout, window, &cq);
  }
  cq.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (cq.Next(&tag, &ok)) delete static_cast<Pending*>(tag);
}

}  // namespace kmend::master
