#include "lib/util/thread_count.h"

#include <filesystem>

namespace kmend::util {

int ThreadsOfThisProcess() {
  int n = 0;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    (void)task;
    ++n;
  }
  return n;
}

}  // namespace kmend::util
