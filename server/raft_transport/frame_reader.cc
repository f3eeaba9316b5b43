#include "server/raft_transport/frame_reader.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "server/raft_transport/tcp_socket.h"

namespace kmend::raft_transport::tcp {
namespace {
// Enough for a round's frame of one-row appends many times over; a larger
// frame grows the buffer to its size.
constexpr size_t kReadBytes = 64 << 10;
}  // namespace

bool FrameReader::Fill(size_t n) {
  if (end_ - begin_ >= n) return true;
  // Move what is left to the front, then make room for the rest and for a
  // full read after it.
  if (begin_ > 0) {
    std::memmove(buf_.data(), buf_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  // After the move end_ < n, so the read below always has room.
  if (const size_t want = std::max(n, kReadBytes); buf_.size() < want) buf_.resize(want);
  while (end_ < n) {
    ssize_t got = read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    end_ += static_cast<size_t>(got);
  }
  return true;
}

bool FrameReader::ReadExact(char* out, size_t n) {
  if (!Fill(n)) return false;
  std::memcpy(out, buf_.data() + begin_, n);
  begin_ += n;
  return true;
}

bool FrameReader::Next(absl::string_view* body) {
  if (!Fill(kFrameLengthBytes)) return false;
  const uint32_t len = DecodeFrameLength(buf_.data() + begin_);
  if (len > kMaxFrameBytes) return false;
  if (!Fill(kFrameLengthBytes + len)) return false;
  *body = absl::string_view(buf_.data() + begin_ + kFrameLengthBytes, len);
  begin_ += kFrameLengthBytes + len;
  return true;
}

bool FrameReader::MoreWaiting() const {
  if (end_ > begin_) return true;
  int unread = 0;
  return ioctl(fd_, FIONREAD, &unread) != 0 || unread > 0;
}

}  // namespace kmend::raft_transport::tcp
