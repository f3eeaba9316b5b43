// Duration flags, one way for every tool and the server: a value with a unit
// (`500ms`, `5s`, `2m`, `1h30m`, absl::ParseDuration's syntax) or a bare
// number, which means milliseconds because that is what every duration flag
// took before units were accepted (`--timeout 3000`, `--heartbeat_interval_ms
// 500`). docs/cli.md, "Flags".
#ifndef KMEND_TOOLS_COMMON_DURATION_FLAG_H_
#define KMEND_TOOLS_COMMON_DURATION_FLAG_H_

#include <cstdint>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kmend::tools {

// `text` as whole milliseconds. Errors name what was wrong with the value,
// not the flag (the caller knows the flag).
absl::StatusOr<int64_t> ParseMilliseconds(absl::string_view text);

// A CLI11 transform for an integer option holding milliseconds: rewrites the
// given value to its number of milliseconds, so the option's variable and any
// later ->check(CLI::Range(...)) see milliseconds. A bad value fails the parse
// with "--flag: ..." (exit 2 through ParseArgs).
CLI::Validator MillisecondsDuration();

}  // namespace kmend::tools

#endif  // KMEND_TOOLS_COMMON_DURATION_FLAG_H_
