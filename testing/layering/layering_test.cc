// The layering rule, checked on the build graph: lib/ depends on neither
// server/ nor tools/, and tools/ does not depend on server/ (docs/architecture.md:
// the tools and the libraries must work without the reference server).
//
// The graph is a genquery (BUILD: dependency_graph), evaluated at build time
// because a test cannot run `bazel query` in its sandbox: every edge of the
// dependency closure of the default tests and the binaries. A target breaks
// the rule when it has an edge into a forbidden tree, directly or through a
// target outside lib/ and tools/ (testing/, bench/, ...) whose closure reaches
// it. Reported as "from -> to".
//
// Verified to fail by adding temporary edges: //tools/wal:wal_commands on
// //server/common:logger (reported as that edge), and //lib/raft:core_test on
// //testing/cluster (reported: testing/cluster reaches server/).
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace {

// Today's violations. Nothing may be added here; remove an entry when its
// edge goes (the test fails on an entry no longer present).
const std::set<std::string>& AllowedViolations() {
  static const auto* allowed = new std::set<std::string>{
      // End-to-end tests of tools that start a cluster (the server binary
      // as data, testing/cluster's harness, which uses server/common). They
      // go if these tests move to testing/.
      "//tools/client:write_scan_tool_test -> //server:kmend-server",
      "//tools/client:write_scan_tool_test -> //testing/cluster:cluster",
      "//tools/client:write_scan_tool_test -> //testing/cluster:tool_runner",
      "//tools/ksck:ksck_tool_test -> //server:kmend-server",
      "//tools/ksck:ksck_tool_test -> //testing/cluster:cluster",
      "//tools/ksck:ksck_tool_test -> //testing/cluster:tool_runner",
      "//tools/table:table_tool_test -> //server:kmend-server",
      "//tools/table:table_tool_test -> //testing/cluster:cluster",
      "//tools/table:table_tool_test -> //testing/cluster:tool_runner",
  };
  return *allowed;
}

using Graph = std::map<std::string, std::set<std::string>>;

// Parses `bazel query --output=graph --nograph:factored`: lines
// `  "//a:b"\n  "//a:b" -> "//c:d"`.
Graph ParseGraph(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  Graph g;
  const std::regex edge(R"re(^\s*"([^"]+)"\s*->\s*"([^"]+)"\s*$)re");
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (std::regex_match(line, m, edge)) g[m[1]].insert(m[2]);
  }
  return g;
}

std::string TreeOf(const std::string& label) {
  static const std::regex tree(R"(^//(lib|tools|server)[/:])");
  std::smatch m;
  return std::regex_search(label, m, tree) ? m[1].str() : "";
}

bool Forbidden(const std::string& from_tree, const std::string& to_tree) {
  if (from_tree == "lib") return to_tree == "server" || to_tree == "tools";
  if (from_tree == "tools") return to_tree == "server";
  return false;
}

// Whether `label`'s closure, walking only targets outside lib/ and tools/,
// reaches a target of `tree` (memoized per (label, tree)).
class Reach {
 public:
  explicit Reach(const Graph& g) : g_(g) {}
  bool Reaches(const std::string& label, const std::string& tree) {
    if (TreeOf(label) == tree) return true;
    if (TreeOf(label) == "lib" || TreeOf(label) == "tools") return false;  // checked itself
    auto key = std::make_pair(label, tree);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    memo_[key] = false;  // cycles cannot reach through themselves
    bool reaches = false;
    if (auto it = g_.find(label); it != g_.end()) {
      for (const std::string& next : it->second) {
        if (Reaches(next, tree)) {
          reaches = true;
          break;
        }
      }
    }
    return memo_[key] = reaches;
  }

 private:
  const Graph& g_;
  std::map<std::pair<std::string, std::string>, bool> memo_;
};

std::string GraphPath() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  if (srcdir == nullptr || workspace == nullptr) return "testing/layering/dependency_graph";
  return std::string(srcdir) + "/" + workspace + "/testing/layering/dependency_graph";
}

std::set<std::string> Violations(const Graph& g) {
  Reach reach(g);
  std::set<std::string> out;
  for (const auto& [from, tos] : g) {
    const std::string from_tree = TreeOf(from);
    if (from_tree != "lib" && from_tree != "tools") continue;
    for (const std::string& to : tos) {
      for (const std::string tree : {"server", "tools"}) {
        if (Forbidden(from_tree, tree) && reach.Reaches(to, tree)) out.insert(from + " -> " + to);
      }
    }
  }
  return out;
}

TEST(LayeringTest, GraphCoversLibToolsAndServer) {
  // A graph of the wrong shape (empty, factored) would pass the rule trivially.
  const Graph g = ParseGraph(GraphPath());
  std::set<std::string> trees;
  for (const auto& [from, tos] : g) trees.insert(TreeOf(from));
  EXPECT_THAT(trees, testing::IsSupersetOf({"lib", "tools", "server"}));
  EXPECT_GT(g.size(), 100u);
}

TEST(LayeringTest, LibAndToolsDoNotDependOnServerAndLibNotOnTools) {
  const std::set<std::string> found = Violations(ParseGraph(GraphPath()));
  std::vector<std::string> fresh;
  for (const std::string& v : found) {
    if (!AllowedViolations().count(v)) fresh.push_back(v);
  }
  EXPECT_THAT(fresh, testing::IsEmpty())
      << "new dependencies breaking the layering (lib/ must not depend on server/ or tools/, "
         "tools/ not on server/)";
  std::vector<std::string> gone;
  for (const std::string& v : AllowedViolations()) {
    if (!found.count(v)) gone.push_back(v);
  }
  EXPECT_THAT(gone, testing::IsEmpty()) << "allowed violations no longer present: remove them";
}

}  // namespace
