// The receiving half of tcp_socket.h's framing: frames read from a blocking
// socket through a buffer. One read() takes whatever the peer has sent so
// far, often several frames, where reading each frame's length and then its
// body cost two reads per frame, and a buffered byte tells the caller that
// more is waiting without asking the kernel (FIONREAD).
//
// Thread safety: one thread per reader, as one reader thread per connection.
#ifndef KMEND_SERVER_RAFT_TRANSPORT_FRAME_READER_H_
#define KMEND_SERVER_RAFT_TRANSPORT_FRAME_READER_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace kmend::raft_transport::tcp {

class FrameReader {
 public:
  // `fd` is a connected blocking socket the caller owns and closes.
  explicit FrameReader(int fd) : fd_(fd) {}

  // Reads exactly `n` bytes into `out` (the stream's magic); false on end of
  // stream or an error.
  bool ReadExact(char* out, size_t n);

  // The next frame's body in `*body`, valid until the next call; false on
  // end of stream (also in the middle of a frame), an error, or a length
  // above kMaxFrameBytes (a corrupt or foreign stream).
  bool Next(absl::string_view* body);

  // Whether more bytes have arrived than the frames returned so far: in
  // this reader's buffer, or unread in the socket. True when the socket
  // cannot say, so that callers assume the worst (more is waiting).
  bool MoreWaiting() const;

 private:
  // Until at least `n` bytes are buffered from begin_; false as Next.
  bool Fill(size_t n);

  const int fd_;
  std::string buf_;
  size_t begin_ = 0;  // the first byte not yet returned
  size_t end_ = 0;    // one past the last byte read
};

}  // namespace kmend::raft_transport::tcp

#endif  // KMEND_SERVER_RAFT_TRANSPORT_FRAME_READER_H_
