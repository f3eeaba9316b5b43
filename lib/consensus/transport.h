// Transport: how a RaftDriver sends Raft messages to its peers. The server
// team plugs gRPC in behind it; tests and benchmarks use InMemoryNetwork.
//
// Contract: Send is best-effort and asynchronous (Raft tolerates loss,
// duplication and reordering); it must not block on the network and must not
// call back into the sending driver on the calling thread.
// Thread safety: Send may be called from any thread.
#ifndef KMEND_LIB_CONSENSUS_TRANSPORT_H_
#define KMEND_LIB_CONSENSUS_TRANSPORT_H_

#include <string>

#include "proto/raft.pb.h"

namespace kmend::consensus_driver {

class Transport {
 public:
  virtual ~Transport() = default;
  virtual void Send(const std::string& to_uuid, const consensus::RaftMessagePB& msg) = 0;
};

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_TRANSPORT_H_
