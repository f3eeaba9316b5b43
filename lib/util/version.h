// The version every kmend server reports in its status and registration, and
// `kmend --version` prints: one constant, so the two cannot disagree.
#ifndef KMEND_LIB_UTIL_VERSION_H_
#define KMEND_LIB_UTIL_VERSION_H_

namespace kmend {

inline constexpr char kKmendVersion[] = "kmend 0.1.0";

}  // namespace kmend

#endif  // KMEND_LIB_UTIL_VERSION_H_
