#include "lib/fs/uuid.h"

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>

#include "absl/strings/escaping.h"

namespace kmend::fs {

namespace {

bool FillRandom(unsigned char* buf, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::getrandom(buf + got, n - got, 0);
    if (r < 0) break;
    got += static_cast<size_t>(r);
  }
  if (got == n) return true;
  int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  got = 0;
  while (got < n) {
    ssize_t r = ::read(fd, buf + got, n - got);
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  return got == n;
}

}  // namespace

std::string NewUuid() {
  unsigned char buf[16];
  if (!FillRandom(buf, sizeof(buf))) {
    // Unique within a machine (time, pid, counter), not unpredictable.
    static std::atomic<uint64_t> counter{0};
    uint64_t a = static_cast<uint64_t>(
        std::chrono::system_clock::now().time_since_epoch().count());
    uint64_t b = (static_cast<uint64_t>(::getpid()) << 32) ^ counter.fetch_add(1);
    for (int i = 0; i < 8; ++i) {
      buf[i] = static_cast<unsigned char>(a >> (8 * i));
      buf[8 + i] = static_cast<unsigned char>(b >> (8 * i));
    }
  }
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(buf), sizeof(buf)));
}

}  // namespace kmend::fs
