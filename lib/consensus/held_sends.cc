#include "lib/consensus/held_sends.h"

#include <utility>
#include <vector>

namespace kmend::consensus_driver {

namespace {

struct ThreadState {
  int depth = 0;
  std::vector<std::pair<const void*, std::function<void()>>> flushes;
};

ThreadState& State() {
  thread_local ThreadState state;
  return state;
}

}  // namespace

HoldSends::HoldSends() { ++State().depth; }

HoldSends::~HoldSends() {
  if (--State().depth == 0) FlushNow();
}

bool HoldSends::Active() { return State().depth > 0; }

void HoldSends::AtEnd(const void* key, std::function<void()> flush) {
  auto& flushes = State().flushes;
  for (const auto& f : flushes) {
    if (f.first == key) return;
  }
  flushes.emplace_back(key, std::move(flush));
}

void HoldSends::FlushNow() {
  // Taken out first: a flush may register again (it must not, but a loop
  // here must not depend on it).
  auto flushes = std::move(State().flushes);
  State().flushes.clear();
  for (auto& f : flushes) f.second();
}

}  // namespace kmend::consensus_driver
