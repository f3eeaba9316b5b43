// The version every kmend server reports in its status and registration, and
// `kmend --version` prints: one constant, so the two cannot disagree.
#ifndef KMEND_SERVER_COMMON_VERSION_H_
#define KMEND_SERVER_COMMON_VERSION_H_

namespace kmend::server {

inline constexpr char kVersion[] = "kmend 0.1.0";

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_VERSION_H_
