// Test helper for cluster_dir_janitor_test: constructs an ExternalCluster
// (which creates its base directory and hands it to the janitor), prints
// the directory, puts a file in it, and dies by SIGKILL, so that no
// destructor runs: only the janitor can remove the directory.
#include <signal.h>

#include <fstream>
#include <iostream>

#include "testing/cluster/external_cluster.h"

int main() {
  kmend::testing::ExternalCluster cluster;
  if (cluster.base_dir().empty()) return 2;
  std::ofstream(cluster.base_dir() + "/left-behind") << "x";
  std::cout << cluster.base_dir() << std::endl;
  ::raise(SIGKILL);
  return 1;
}
