#include "lib/util/alloc_probe.h"

#include <atomic>
#include <cstdlib>
#include <new>

namespace kmend::alloc_probe {
namespace {
std::atomic<size_t> largest{0};
}  // namespace

// Also called by operator new below.
void Note(size_t n) {
  size_t seen = largest.load(std::memory_order_relaxed);
  while (n > seen && !largest.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
}

void Reset() { largest.store(0, std::memory_order_relaxed); }
size_t LargestAllocationBytes() { return largest.load(std::memory_order_relaxed); }

}  // namespace kmend::alloc_probe

// Only the plain forms: std::string and std::vector use these.
void* operator new(size_t n) {
  kmend::alloc_probe::Note(n);
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }
