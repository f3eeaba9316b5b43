#include "tools/common/cli.h"

#include "tools/common/tls_flags.h"

#include <unistd.h>

#include <iostream>
#include <algorithm>
#include <map>

namespace kmend::tools {

std::string FlagWithDashedAlias(const std::string& underscored_name) {
  std::string dashed = underscored_name;
  std::replace(dashed.begin(), dashed.end(), '_', '-');
  return "--" + underscored_name + ",--" + dashed;
}

void AddFormatOption(CLI::App* app, OutputFormat* format) {
  static const std::map<std::string, OutputFormat> kFormats = {
      {"plain", OutputFormat::kPlain}, {"json", OutputFormat::kJson}};
  app->add_option("--format", *format, "Output format: plain (for people) or json (for scripts)")
      ->transform(CLI::CheckedTransformer(kFormats, CLI::ignore_case))
      ->default_str("plain");
}

int ReportError(const std::string& tool, const absl::Status& status) {
  std::cerr << tool << ": " << status.message() << std::endl;
  return kExitError;
}

void PrintJson(const nlohmann::json& doc) { std::cout << doc.dump(2) << std::endl; }

int ParseArgs(CLI::App& app, int argc, char** argv) {
  // Every tool may talk to servers: the TLS flags are added here, once, so
  // that no tool is left plaintext (tls_flags.h).
  static rpc::TlsOptions tls;
  AddTlsFlags(&app, &tls, /*server=*/false);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitError;
  }
  if (absl::Status s = ApplyTlsFlags(tls); !s.ok()) {
    std::cerr << app.get_name() << ": " << s.message() << std::endl;
    return kExitError;
  }
  return -1;
}

bool StdoutIsTty() { return ::isatty(STDOUT_FILENO) == 1; }

}  // namespace kmend::tools
