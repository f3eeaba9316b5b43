// The system calls through which lib/ reads and persists the files kmend
// owns (WAL segments, PB containers, block containers, atomically replaced
// metadata). Each behaves exactly as the POSIX call of the same name, except
// that a test may install a FaultInjector that makes a chosen call fail with
// an errno or transfer fewer bytes than asked (LevelDB's fault-injection Env
// is the model). Persistence code calls these instead of ::write & co. so
// that every persistence path can be tested under every failure.
//
// Cost without an injector: one relaxed atomic load per call. The fd -> path
// table used to tell an injector which file a call is for is kept by
// Open/Mkstemp/Close here (a mutex per open and close, never per transfer).
#ifndef KMEND_LIB_IO_SYSCALLS_H_
#define KMEND_LIB_IO_SYSCALLS_H_

#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <optional>
#include <string>

namespace kmend::io::sys {

// What a call does, as a FaultInjector sees it. kSync covers fsync and
// fdatasync, kOpen every open that may create or write (and reads too: an
// injector can tell them apart by the path if it must).
enum class Op { kOpen, kRead, kWrite, kSync, kAllocate, kTruncate, kRename, kUnlink };
const char* OpName(Op op);

struct Fault {
  // Fail with this errno (EIO, ENOSPC, ...); 0 = do not fail.
  int err = 0;
  // For kRead/kWrite with err == 0: transfer at most this many bytes and
  // return that count (a short transfer, which callers must loop over).
  std::optional<size_t> short_bytes;
};

class FaultInjector {
 public:
  virtual ~FaultInjector() = default;
  // Called before every call while installed, from any thread. `path` names
  // the file (the new name for kRename; "" when the fd was not opened here).
  virtual std::optional<Fault> Before(Op op, const std::string& path) = 0;
};

// Installs `injector` for the whole process (nullptr removes it). The caller
// keeps ownership and must remove it before destroying it, with no call in
// flight.
void SetFaultInjector(FaultInjector* injector);

int Open(const char* path, int flags, mode_t mode = 0);
int Mkstemp(char* path_template);
int Mkostemp(char* path_template, int flags);
int Close(int fd);
ssize_t Read(int fd, void* buf, size_t n);
ssize_t Pread(int fd, void* buf, size_t n, off_t offset);
ssize_t Write(int fd, const void* buf, size_t n);
ssize_t Pwrite(int fd, const void* buf, size_t n, off_t offset);
ssize_t Pwritev(int fd, const struct iovec* iov, int iovcnt, off_t offset);
int Fsync(int fd);
int Fdatasync(int fd);
// syncfs(2): every file of the filesystem holding `fd` (an injector sees kSync).
int Syncfs(int fd);
int Fallocate(int fd, int mode, off_t offset, off_t len);
int Ftruncate(int fd, off_t length);
int Rename(const char* from, const char* to);
int Unlink(const char* path);

}  // namespace kmend::io::sys

#endif  // KMEND_LIB_IO_SYSCALLS_H_
