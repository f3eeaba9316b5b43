// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status and absl::StatusOr.
// Debian's Abseil (20220623) predates absl/status/status_macros.h; these are
// the small local equivalents STYLE.md asks for.
#ifndef KMEND_LIB_UTIL_STATUS_MACROS_H_
#define KMEND_LIB_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define KMEND_CONCAT_INNER_(a, b) a##b
#define KMEND_CONCAT_(a, b) KMEND_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function when it is not OK.
#define RETURN_IF_ERROR(expr)                \
  do {                                       \
    ::absl::Status kmend_status_ = (expr);   \
    if (!kmend_status_.ok()) return kmend_status_; \
  } while (0)

// `lhs = value of rexpr` where rexpr is an absl::StatusOr<T>; returns the
// error status from the enclosing function when it is not OK.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  KMEND_ASSIGN_OR_RETURN_IMPL_(KMEND_CONCAT_(kmend_statusor_, __LINE__), lhs, rexpr)

#define KMEND_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                  \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()

namespace kmend {

// Returns `status` with "context: " prepended to its message (code kept).
// Used on the way up so that an error names the file, then the record, then
// the field.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace kmend

#endif  // KMEND_LIB_UTIL_STATUS_MACROS_H_
