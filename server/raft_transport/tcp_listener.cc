#include "server/raft_transport/tcp_listener.h"

#include <netdb.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "lib/consensus/held_sends.h"
#include "lib/consensus/inline_sync.h"
#include "server/raft_transport/frame_reader.h"
#include "server/raft_transport/tcp_socket.h"

namespace kmend::raft_transport {

absl::Status TcpListener::Start(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), "0", &hints, &res); rc != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("raft tcp listener on ", host, ": cannot resolve: ", gai_strerror(rc)));
  }
  int fd = socket(res->ai_family, res->ai_socktype | SOCK_CLOEXEC, res->ai_protocol);
  const bool ok = fd >= 0 && bind(fd, res->ai_addr, res->ai_addrlen) == 0 && listen(fd, 64) == 0;
  const int err = errno;
  freeaddrinfo(res);
  if (!ok) {
    if (fd >= 0) close(fd);
    return absl::UnavailableError(
        absl::StrCat("raft tcp listener on ", host, ": ", strerror(err)));
  }
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int port = addr.ss_family == AF_INET6
                       ? ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port)
                       : ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  absl::MutexLock l(&mu_);
  if (stop_ || listen_fd_ >= 0) {
    close(fd);
    return absl::FailedPreconditionError("raft tcp listener: started twice or shut down");
  }
  listen_fd_ = fd;
  port_ = port;
  acceptor_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "raft-accept");
    AcceptLoop();
  });
  return absl::OkStatus();
}

int TcpListener::port() const {
  absl::MutexLock l(&mu_);
  return port_;
}

int TcpListener::open_connections() const {
  absl::MutexLock l(&mu_);
  return static_cast<int>(conns_.size());
}

void TcpListener::AcceptLoop() {
  int listen_fd;
  {
    absl::MutexLock l(&mu_);
    listen_fd = listen_fd_;
  }
  while (true) {
    int fd = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    absl::MutexLock l(&mu_);
    ReapLocked();
    if (stop_) {
      if (fd >= 0) close(fd);
      return;
    }
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of descriptors or memory: a pause, not a busy loop.
      mu_.Unlock();
      usleep(50 * 1000);
      mu_.Lock();
      continue;
    }
    if (static_cast<int>(conns_.size()) >= kMaxConnections) {
      close(fd);
      continue;
    }
    tcp::ConfigureSocket(fd);
    conns_.insert(fd);
    readers_.emplace_back([this, fd] {
      pthread_setname_np(pthread_self(), "raft-recv");
      ReadLoop(fd);
    });
  }
}

void TcpListener::ReadLoop(int fd) {
  tcp::FrameReader reader(fd);
  char magic[sizeof(tcp::kMagic)];
  bool ok = reader.ReadExact(magic, sizeof(magic)) &&
            std::memcmp(magic, tcp::kMagic, sizeof(magic)) == 0;
  tserver::RaftMessageRequestPB req;
  while (ok) {
    absl::string_view body;
    if (!reader.Next(&body)) break;
    req.Clear();
    if (!req.ParseFromArray(body.data(), static_cast<int>(body.size()))) break;
    {
      absl::MutexLock l(&mu_);
      if (stop_) break;
    }
    // A frame for one group may persist on this thread (inline_sync.h), if
    // nothing else from the peer is waiting to be read: the next frames
    // (other groups' appends, heartbeats) must not wait behind the fsync.
    bool one_group = req.messages_size() > 0;
    for (const auto& m : req.messages()) one_group &= m.tablet_id() == req.messages(0).tablet_id();
    if (one_group && reader.MoreWaiting()) one_group = false;
    consensus_driver::HoldSends hold;
    std::optional<consensus_driver::AllowInlineSync> allow;
    if (one_group) allow.emplace();
    handle_(req);
  }
  absl::MutexLock l(&mu_);
  conns_.erase(fd);
  close(fd);
  ended_.push_back(std::this_thread::get_id());
}

void TcpListener::ReapLocked() {
  for (std::thread::id id : ended_) {
    auto it = std::find_if(readers_.begin(), readers_.end(),
                           [id](const std::thread& t) { return t.get_id() == id; });
    if (it == readers_.end()) continue;
    it->join();  // it has left ReadLoop's last lock: ends at once
    readers_.erase(it);
  }
  ended_.clear();
}

void TcpListener::Shutdown() {
  std::vector<std::thread> threads;
  {
    absl::MutexLock l(&mu_);
    if (stop_) return;
    stop_ = true;
    port_ = 0;
    if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept
    for (int fd : conns_) ::shutdown(fd, SHUT_RDWR);         // wakes the readers
  }
  if (acceptor_.joinable()) acceptor_.join();
  {
    absl::MutexLock l(&mu_);
    threads = std::move(readers_);
    readers_.clear();
    ended_.clear();
  }
  for (auto& t : threads) t.join();
  absl::MutexLock l(&mu_);
  if (listen_fd_ >= 0) close(listen_fd_);
  listen_fd_ = -1;
}

}  // namespace kmend::raft_transport
