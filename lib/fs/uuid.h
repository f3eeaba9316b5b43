// Random 128-bit identifiers in kmend's canonical form: 32 lowercase hex
// characters, no dashes (FORMATS.md section 0). Thread-safe.
#ifndef KMEND_LIB_FS_UUID_H_
#define KMEND_LIB_FS_UUID_H_

#include <string>

namespace kmend::fs {

// 16 bytes from getrandom(2) (the kernel CSPRNG), hex-encoded. Never fails:
// should getrandom be unavailable it falls back to /dev/urandom, and as a last
// resort to a time/pid/counter mix (unique, though not unpredictable).
std::string NewUuid();

}  // namespace kmend::fs

#endif  // KMEND_LIB_FS_UUID_H_
