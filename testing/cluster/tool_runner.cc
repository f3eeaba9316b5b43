#include "testing/cluster/tool_runner.h"

#include <sys/wait.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "lib/io/file.h"
#include "testing/cluster/external_cluster.h"

namespace kmend::testing {

namespace {

ToolResult Run(const std::string& args, const std::string& stdin_path,
               const std::string& scratch_dir) {
  std::string out = io::JoinPath(scratch_dir, "tool.out");
  std::string err = io::JoinPath(scratch_dir, "tool.err");
  std::string cmd =
      absl::StrCat(RunfilePath("tools/kmend"), " ", args, " >", out, " 2>", err, " <", stdin_path);
  int status = std::system(cmd.c_str());
  ToolResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = io::ReadFileToString(out).value_or("");
  r.err = io::ReadFileToString(err).value_or("");
  return r;
}

}  // namespace

ToolResult RunKmend(const std::string& args, const std::string& scratch_dir) {
  return Run(args, "/dev/null", scratch_dir);
}

ToolResult RunKmendWithInput(const std::string& args, const std::string& input,
                             const std::string& scratch_dir) {
  std::string in = io::JoinPath(scratch_dir, "tool.in");
  absl::Status s = io::WriteFileAtomically(in, input);
  if (!s.ok()) return ToolResult{-1, "", std::string(s.message())};
  return Run(args, in, scratch_dir);
}

}  // namespace kmend::testing
