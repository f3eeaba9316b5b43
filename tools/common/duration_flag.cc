#include "tools/common/duration_flag.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace kmend::tools {

absl::StatusOr<int64_t> ParseMilliseconds(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  int64_t bare_ms;
  if (absl::SimpleAtoi(text, &bare_ms)) return bare_ms;
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d == absl::InfiniteDuration() ||
      d == -absl::InfiniteDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", text, "' is not a duration (use a unit: 500ms, 5s, 2m; a bare number is ms)"));
  }
  // Every consumer counts whole milliseconds; silently rounding 1500us would
  // run with a different deadline than the one asked for.
  if (d % absl::Milliseconds(1) != absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", text, "' is finer than the 1ms resolution of this flag"));
  }
  return absl::ToInt64Milliseconds(d);
}

CLI::Validator MillisecondsDuration() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        absl::StatusOr<int64_t> ms = ParseMilliseconds(value);
        if (!ms.ok()) return std::string(ms.status().message());
        value = std::to_string(*ms);
        return "";
      },
      "DURATION", "DURATION");
}

}  // namespace kmend::tools
