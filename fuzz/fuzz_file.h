// A scratch file for fuzz targets whose code under test reads a path (WAL
// segments, consensus metadata): each input is written to one file per
// process, replaced in place, so a run does not create a file per input.
#ifndef KMEND_FUZZ_FUZZ_FILE_H_
#define KMEND_FUZZ_FUZZ_FILE_H_

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace kmend::fuzz {

// Writes `bytes` to this process's scratch file (under $TMPDIR) and returns
// its path. Aborts when the file cannot be written: a fuzz run must not
// silently test nothing.
inline const std::string& WriteScratch(const std::string& bytes) {
  static const std::string* path = [] {
    const char* dir = std::getenv("TEST_TMPDIR");
    if (dir == nullptr) dir = std::getenv("TMPDIR");
    if (dir == nullptr) dir = "/tmp";
    return new std::string(std::string(dir) + "/kmend-fuzz-" + std::to_string(::getpid()));
  }();
  int fd = ::open(path->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) std::abort();
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return *path;
}

}  // namespace kmend::fuzz

#endif  // KMEND_FUZZ_FUZZ_FILE_H_
