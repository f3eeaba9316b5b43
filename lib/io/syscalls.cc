#include "lib/io/syscalls.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <unordered_map>

#include "absl/synchronization/mutex.h"

namespace kmend::io::sys {
namespace {

std::atomic<FaultInjector*> g_injector{nullptr};

struct FdTable {
  absl::Mutex mu;
  std::unordered_map<int, std::string> paths ABSL_GUARDED_BY(mu);
};

FdTable& Fds() {
  static FdTable* table = new FdTable;  // never destroyed: used until exit
  return *table;
}

void Remember(int fd, const char* path) {
  if (fd < 0) return;
  FdTable& t = Fds();
  absl::MutexLock l(&t.mu);
  t.paths[fd] = path;
}

std::string PathOf(int fd) {
  FdTable& t = Fds();
  absl::MutexLock l(&t.mu);
  auto it = t.paths.find(fd);
  return it == t.paths.end() ? std::string() : it->second;
}

// The fault the installed injector wants for this call, if any.
std::optional<Fault> Consult(Op op, const std::string& path) {
  FaultInjector* f = g_injector.load(std::memory_order_acquire);
  if (f == nullptr) return std::nullopt;
  return f->Before(op, path);
}

std::optional<Fault> ConsultFd(Op op, int fd) {
  if (g_injector.load(std::memory_order_relaxed) == nullptr) return std::nullopt;
  return Consult(op, PathOf(fd));
}

// Applies a failing fault: sets errno and returns true when the call must
// fail; clamps *n for a short transfer.
bool Inject(const std::optional<Fault>& fault, size_t* n = nullptr) {
  if (!fault) return false;
  if (fault->err != 0) {
    errno = fault->err;
    return true;
  }
  if (n != nullptr && fault->short_bytes && *fault->short_bytes < *n) *n = *fault->short_bytes;
  return false;
}

}  // namespace

const char* OpName(Op op) {
  switch (op) {
    case Op::kOpen: return "open";
    case Op::kRead: return "read";
    case Op::kWrite: return "write";
    case Op::kSync: return "sync";
    case Op::kAllocate: return "fallocate";
    case Op::kTruncate: return "ftruncate";
    case Op::kRename: return "rename";
    case Op::kUnlink: return "unlink";
  }
  return "?";
}

void SetFaultInjector(FaultInjector* injector) {
  g_injector.store(injector, std::memory_order_release);
}

int Open(const char* path, int flags, mode_t mode) {
  if (Inject(Consult(Op::kOpen, path))) return -1;
  int fd = ::open(path, flags, mode);
  Remember(fd, path);
  return fd;
}

int Mkstemp(char* path_template) {
  if (Inject(Consult(Op::kOpen, path_template))) return -1;
  int fd = ::mkstemp(path_template);
  Remember(fd, path_template);
  return fd;
}

int Mkostemp(char* path_template, int flags) {
  if (Inject(Consult(Op::kOpen, path_template))) return -1;
  int fd = ::mkostemp(path_template, flags);
  Remember(fd, path_template);
  return fd;
}

int Close(int fd) {
  {
    FdTable& t = Fds();
    absl::MutexLock l(&t.mu);
    t.paths.erase(fd);
  }
  return ::close(fd);
}

ssize_t Read(int fd, void* buf, size_t n) {
  if (Inject(ConsultFd(Op::kRead, fd), &n)) return -1;
  return ::read(fd, buf, n);
}

ssize_t Pread(int fd, void* buf, size_t n, off_t offset) {
  if (Inject(ConsultFd(Op::kRead, fd), &n)) return -1;
  return ::pread(fd, buf, n, offset);
}

ssize_t Write(int fd, const void* buf, size_t n) {
  if (Inject(ConsultFd(Op::kWrite, fd), &n)) return -1;
  return ::write(fd, buf, n);
}

ssize_t Pwrite(int fd, const void* buf, size_t n, off_t offset) {
  if (Inject(ConsultFd(Op::kWrite, fd), &n)) return -1;
  return ::pwrite(fd, buf, n, offset);
}

ssize_t Pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset) {
  std::optional<Fault> fault = ConsultFd(Op::kWrite, fd);
  if (Inject(fault)) return -1;
  if (fault && fault->short_bytes && iovcnt > 0) {
    // A short transfer: part of the first buffer only.
    size_t n = std::min(iov[0].iov_len, *fault->short_bytes);
    return ::pwrite(fd, iov[0].iov_base, n, offset);
  }
  return ::pwritev(fd, iov, iovcnt, offset);
}

int Fsync(int fd) {
  if (Inject(ConsultFd(Op::kSync, fd))) return -1;
  return ::fsync(fd);
}

int Fdatasync(int fd) {
  if (Inject(ConsultFd(Op::kSync, fd))) return -1;
  return ::fdatasync(fd);
}

int Syncfs(int fd) {
  if (Inject(ConsultFd(Op::kSync, fd))) return -1;
  return ::syncfs(fd);
}

int Fallocate(int fd, int mode, off_t offset, off_t len) {
  if (Inject(ConsultFd(Op::kAllocate, fd))) return -1;
  return ::fallocate(fd, mode, offset, len);
}

int Ftruncate(int fd, off_t length) {
  if (Inject(ConsultFd(Op::kTruncate, fd))) return -1;
  return ::ftruncate(fd, length);
}

int Rename(const char* from, const char* to) {
  if (Inject(Consult(Op::kRename, to))) return -1;
  return ::rename(from, to);
}

int Unlink(const char* path) {
  if (Inject(Consult(Op::kUnlink, path))) return -1;
  return ::unlink(path);
}

}  // namespace kmend::io::sys
