// Test-only: how many threads this process has now (/proc/self/task), for
// tests that assert a component starts no thread of its own (the shared
// Raft scheduler, a WAL GC that has nothing to do).
#ifndef KMEND_LIB_UTIL_THREAD_COUNT_H_
#define KMEND_LIB_UTIL_THREAD_COUNT_H_

namespace kmend::util {

int ThreadsOfThisProcess();

}  // namespace kmend::util

#endif  // KMEND_LIB_UTIL_THREAD_COUNT_H_
