// HoldSends: lets a thread that handles several Raft Readies in a row send
// each peer one batch instead of one write per message.
//
// A transport that writes on the caller's thread (server/raft_transport's
// TCP connections) would otherwise pay a syscall, and the peer a wake-up,
// for every message: a worker handling the heartbeats of a thousand groups
// one Ready after another would make thousands of writes per tick, where a
// sender thread draining a queue made one. While a HoldSends is alive on a
// thread, such a transport keeps that thread's messages per peer and
// registers a flush with AtEnd; the outermost HoldSends runs the flushes
// when it ends. FlushNow runs them early: a leader's appends must leave
// before its own fsync (raft/ready.h, step 0), not after.
//
// Who holds: the RaftScheduler's workers (across consecutive Readies while
// more are queued) and the receiving threads of a batch of incoming
// messages (the light Readies they run inline). A transport that queues to
// a thread of its own ignores all this.
//
// Thread safety: everything here is per thread (thread_local state); a
// flush runs on the thread that registered it.
#ifndef KMEND_LIB_CONSENSUS_HELD_SENDS_H_
#define KMEND_LIB_CONSENSUS_HELD_SENDS_H_

#include <functional>

namespace kmend::consensus_driver {

class HoldSends {
 public:
  HoldSends();
  ~HoldSends();  // the outermost one runs the registered flushes
  HoldSends(const HoldSends&) = delete;
  HoldSends& operator=(const HoldSends&) = delete;

  // Whether a HoldSends is alive on this thread.
  static bool Active();
  // Runs `flush` when the outermost HoldSends of this thread ends, or at the
  // next FlushNow. A `key` already registered and not yet flushed is not
  // registered twice (one flush per peer however many messages it holds).
  static void AtEnd(const void* key, std::function<void()> flush);
  // Runs this thread's registered flushes now; the HoldSends stay open.
  static void FlushNow();
};

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_HELD_SENDS_H_
