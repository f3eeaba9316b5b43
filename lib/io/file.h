// Small POSIX file helpers with absl::Status errors that name the path.
//
// Every mutation of a file kmend owns goes through WriteFileAtomically:
// temp file in the same directory, write, fsync, rename over the target,
// fsync the directory. A crash leaves either the old or the new file, plus at
// most a stray "<path>.kudutmp.XXXXXX" that readers ignore.
#ifndef KMEND_LIB_IO_FILE_H_
#define KMEND_LIB_IO_FILE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kmend::io {

// Error for a failed system call: IO error naming the path and errno text.
absl::Status ErrnoError(absl::string_view what, absl::string_view path, int err);

absl::StatusOr<std::string> ReadFileToString(const std::string& path);
absl::StatusOr<uint64_t> FileSize(const std::string& path);
bool FileExists(const std::string& path);

// Reads exactly n bytes at offset; OutOfRange naming path and offset when the
// file ends first.
absl::Status PreadFully(int fd, const std::string& path, uint64_t offset, size_t n,
                        char* out);
absl::Status WriteFully(int fd, const std::string& path, absl::string_view data);

// fsyncs the directory holding `path` so that a rename or create in it is
// durable.
absl::Status SyncParentDir(const std::string& path);
absl::Status SyncDir(const std::string& dir);
// Makes everything written to the filesystem holding `path` durable (syncfs:
// one journal commit instead of one fsync per file).
absl::Status SyncFilesystemOf(const std::string& path);

// Replaces `path` with `contents` atomically and durably (see file comment).
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// mkdir -p.
absl::Status CreateDirs(const std::string& path);

// Names of the entries of `dir` (no "." or ".."), sorted.
absl::StatusOr<std::vector<std::string>> ListDir(const std::string& dir);

std::string JoinPath(absl::string_view a, absl::string_view b);
std::string Dirname(const std::string& path);
std::string Basename(const std::string& path);

// Space of the filesystem holding `path` (statvfs). available_bytes is what
// an unprivileged writer can still use (f_bavail: the blocks reserved for
// root are not counted, since kmend must not rely on them).
struct FilesystemSpace {
  uint64_t available_bytes = 0;
  uint64_t capacity_bytes = 0;
};
absl::StatusOr<FilesystemSpace> GetFilesystemSpace(const std::string& path);

// True for names of temp files that a crash can leave behind ("*.kudutmp*").
bool IsTempFileName(absl::string_view name);

}  // namespace kmend::io

#endif  // KMEND_LIB_IO_FILE_H_
