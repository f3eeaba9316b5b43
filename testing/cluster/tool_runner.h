// Runs a kmend tool binary as a user would (through the `kmend` front
// command) and captures its exit code, stdout and stderr, for integration
// tests of the tools against real clusters.
#ifndef KMEND_TESTING_CLUSTER_TOOL_RUNNER_H_
#define KMEND_TESTING_CLUSTER_TOOL_RUNNER_H_

#include <string>

namespace kmend::testing {

struct ToolResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string out;
  std::string err;
};

// Runs `<runfiles>/tools/kmend <args>` through /bin/sh (args are shell
// words, quote them as in a terminal), with output captured in files under
// `scratch_dir`. The test must list //tools:kmend and the tool in its data.
ToolResult RunKmend(const std::string& args, const std::string& scratch_dir);

// Like RunKmend, with `input` on the tool's standard input.
ToolResult RunKmendWithInput(const std::string& args, const std::string& input,
                             const std::string& scratch_dir);

}  // namespace kmend::testing

#endif  // KMEND_TESTING_CLUSTER_TOOL_RUNNER_H_
