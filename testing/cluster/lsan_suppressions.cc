// LeakSanitizer's built-in suppressions for every test process that drives a
// real-process cluster (linked into :cluster). Only a --config=asan build
// asks for them; in any other build nothing calls this function.
//
// Only leaks inside third-party libraries belong here, each with its reason.
extern "C" const char* __lsan_default_suppressions() {
  // c-ares (gRPC's DNS resolver) keeps a 10-byte allocation for the life of
  // the process, and the tests never shut gRPC down at exit. Seen in
  // //testing/cluster:tls_test.
  return "leak:libcares.so\n";
}
