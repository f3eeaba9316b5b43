#include "lib/consensus/inline_sync.h"

namespace kmend::consensus_driver {

namespace {
thread_local int depth = 0;
}  // namespace

AllowInlineSync::AllowInlineSync() { ++depth; }
AllowInlineSync::~AllowInlineSync() { --depth; }
bool AllowInlineSync::Active() { return depth > 0; }

}  // namespace kmend::consensus_driver
