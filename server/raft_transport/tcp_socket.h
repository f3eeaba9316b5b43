// The plain TCP connection that carries Raft messages between tablet
// servers (tcp_listener.h receives through frame_reader.h, peer_transport.h
// sends): the framing and the socket options both ends share. The wire
// format is in proto/tserver.proto (RaftEndpointResponsePB): the 8 bytes
// "KMRAFT01", then frames of a 4-byte little-endian length and a serialized
// RaftMessageRequestPB.
//
// Why not gRPC: each message received on a gRPC stream cost about three
// context switches in gRPC's callback threads, and each batch sent a wake-up
// of a sender thread (docs/benchmarks.md, "Context switches per write"). A
// frame written inline by the Raft thread that made it, and read by one
// blocked reader thread per peer, costs one wake-up at the receiver.
#ifndef KMEND_SERVER_RAFT_TRANSPORT_TCP_SOCKET_H_
#define KMEND_SERVER_RAFT_TRANSPORT_TCP_SOCKET_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "proto/tserver.pb.h"

namespace kmend::raft_transport::tcp {

inline constexpr char kMagic[8] = {'K', 'M', 'R', 'A', 'F', 'T', '0', '1'};
// A larger length is a corrupt or foreign stream: the reader closes it. The
// sender's batches are bounded far below (PeerTransport::Options).
inline constexpr uint32_t kMaxFrameBytes = 64u << 20;

// A frame's length prefix: 4 bytes, little-endian. The one definition both
// ends (AppendFrame, frame_reader.h) use.
inline constexpr size_t kFrameLengthBytes = 4;
inline void EncodeFrameLength(uint32_t len, char* out) {
  for (size_t i = 0; i < kFrameLengthBytes; ++i) out[i] = static_cast<char>((len >> (8 * i)) & 0xff);
}
inline uint32_t DecodeFrameLength(const char* in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  return uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 | uint32_t{p[3]} << 24;
}

// No Nagle delay; keepalive probes after 1 s of silence, every 1 s, three
// of them; and unacknowledged data fails the connection after 3 s
// (TCP_USER_TIMEOUT): a peer cut off by a partition is noticed within
// seconds at either end, as gRPC's keepalive does for its channels
// (lib/rpc/grpc_util.h), instead of after TCP's backed-off resends.
void ConfigureSocket(int fd);

// Appends the frame of `req` (length, then bytes) to `out`.
void AppendFrame(const tserver::RaftMessageRequestPB& req, std::string* out);

// A connected, configured, blocking socket to host:port, or UNAVAILABLE
// naming the address (refused, unreachable, no answer within `timeout`).
absl::StatusOr<int> Connect(const std::string& host, int port, std::chrono::milliseconds timeout);

// Writes all of `data` to a blocking socket; false on an error or a closed
// connection (no SIGPIPE).
bool WriteAll(int fd, const char* data, size_t size);

}  // namespace kmend::raft_transport::tcp

#endif  // KMEND_SERVER_RAFT_TRANSPORT_TCP_SOCKET_H_
