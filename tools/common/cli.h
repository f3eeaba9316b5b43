// What every kmend tool shares: exit codes, flag spelling, the --format
// option, and how a Status becomes a message on stderr.
//
// Exit codes (docs/cli.md):
//   0  ran, found nothing wrong
//   1  ran, found problems (corruption, unhealthy cluster, ...)
//   2  could not run: bad flags, unreadable input, I/O error
#ifndef KMEND_TOOLS_COMMON_CLI_H_
#define KMEND_TOOLS_COMMON_CLI_H_

#include <string>

#include "CLI/CLI.hpp"
#include "absl/status/status.h"
#include "nlohmann/json.hpp"

namespace kmend::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitProblems = 1;
inline constexpr int kExitError = 2;

// The names to register a multi-word long flag under: "--backup_dir,--backup-dir"
// for "backup_dir". Flags are spelled with underscores, as the server's and
// Kudu's are; a few tools once spelled theirs with dashes, and scripts written
// then keep working through the dashed alias. Use it for those flags only, so
// the help of every other flag shows one name (docs/cli.md, "Flags").
std::string FlagWithDashedAlias(const std::string& underscored_name);

enum class OutputFormat { kPlain, kJson };

// Adds --format=plain|json to `app`, storing into *format (default plain).
void AddFormatOption(CLI::App* app, OutputFormat* format);

// Prints "<tool>: <status message>" to stderr and returns kExitError.
int ReportError(const std::string& tool, const absl::Status& status);

// Prints a JSON document (2-space indent) and a newline to stdout.
void PrintJson(const nlohmann::json& doc);

// Runs CLI11's parse on argv; on --help or a parse error prints what CLI11
// prints and returns the exit code to use (0 for --help, kExitError for bad
// usage). Returns -1 when parsing succeeded and the tool should run.
int ParseArgs(CLI::App& app, int argc, char** argv);

// True when stdout is a terminal (progress output is shown only then).
bool StdoutIsTty();

}  // namespace kmend::tools

#endif  // KMEND_TOOLS_COMMON_CLI_H_
