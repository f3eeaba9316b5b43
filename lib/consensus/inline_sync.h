// AllowInlineSync: lets a thread that received Raft messages for a single
// group also run that group's Ready when it must fsync (a follower's
// append), instead of waking a scheduler worker for it.
//
// A follower's acknowledgement is on every write's path: receive the
// append, persist it, answer. Handing the persist to a worker cost a
// context switch there (~5 % of a one-client write on this project's
// 2-vCPU machines: docs/benchmarks.md). The receiving thread may block on
// the fsync instead when that delays little else: the TCP reader
// (server/raft_transport/tcp_listener.h) allows it for a frame whose
// messages all belong to one group, when nothing more from that peer is
// waiting to be read. A frame for several groups, or with more behind it,
// goes the usual way, so fsyncs of a busy server pair run in parallel on
// the workers rather than one after another on the reader. What arrives
// during the fsync waits for it (a disk that stalls for a second stalls the
// reader of that peer as long). RaftDriver::Propose with run_ready_here
// allows it too: a Write's thread logs and sends its own entry when the
// group is idle.
//
// RaftDriver::Receive honours it only with DriverOptions::inline_light_readies
// and only for a Ready that persists new entries alone (no vote or term,
// no truncation) and is otherwise light (raft_driver.cc, IsLight): no
// config, no tablet copy, no election events, few applies.
//
// Thread safety: per thread (thread_local).
#ifndef KMEND_LIB_CONSENSUS_INLINE_SYNC_H_
#define KMEND_LIB_CONSENSUS_INLINE_SYNC_H_

namespace kmend::consensus_driver {

class AllowInlineSync {
 public:
  AllowInlineSync();
  ~AllowInlineSync();
  AllowInlineSync(const AllowInlineSync&) = delete;
  AllowInlineSync& operator=(const AllowInlineSync&) = delete;

  static bool Active();
};

}  // namespace kmend::consensus_driver

#endif  // KMEND_LIB_CONSENSUS_INLINE_SYNC_H_
