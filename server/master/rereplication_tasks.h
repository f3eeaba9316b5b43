// The re-replication task runner: a fixed pool of worker threads that run
// per-tablet steps off the master's monitor thread (rereplicator.h), with
// two invariants the caller relies on:
//   - at most one task in flight per tablet (a second TryStart for the same
//     tablet is refused until the first one has returned), so two steps of
//     one tablet never race each other;
//   - a task is accepted only when a worker is free to run it at once, so
//     nothing queues behind a slow copy: the caller decides again on its
//     next pass with fresher reports.
// It also counts the copies in flight into each destination server and
// enforces the per-server copy limit atomically (two tasks deciding on
// their own cannot both take the last slot).
//
// Thread safety: every method but Shutdown is thread-safe. Lifetime: Shutdown (or the
// destructor) waits for running tasks; a task must therefore end on its own
// (its RPCs have deadlines, and the owner cancels them before Shutdown).
#ifndef KMEND_SERVER_MASTER_REREPLICATION_TASKS_H_
#define KMEND_SERVER_MASTER_REREPLICATION_TASKS_H_

#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace kmend::master {

class RereplicationTasks {
 public:
  struct Task {
    std::string tablet_id;
    // The destination server's uuid when the task is a tablet copy; empty
    // otherwise.
    std::string copy_destination;
    std::function<void()> run;
  };

  // `max_copies_per_destination`: copy tasks (and claimed copies) in
  // flight into one server at most.
  RereplicationTasks(int num_workers, int max_copies_per_destination);
  ~RereplicationTasks();
  RereplicationTasks(const RereplicationTasks&) = delete;
  RereplicationTasks& operator=(const RereplicationTasks&) = delete;

  // Hands `task` to a free worker and returns true; false (task dropped)
  // when its tablet has a task in flight, no worker is free, its copy
  // destination is at the copy limit, or after Shutdown.
  bool TryStart(Task task);

  // For a running task that goes on to a copy (or finished one): makes
  // `destination` its tablet's copy destination ("" releases it). False,
  // leaving the record unchanged, when `destination` is at the copy limit
  // (not counting this tablet) or the tablet has no task in flight.
  bool SetCopyDestination(const std::string& tablet_id, const std::string& destination);

  bool InFlight(const std::string& tablet_id) const;
  std::set<std::string> TabletsInFlight() const;
  // Workers not running or about to run a task.
  int FreeWorkers() const;
  // Destination uuid -> tablets being copied into it by tasks in flight.
  std::map<std::string, std::set<std::string>> CopiesInFlight() const;

  // Blocks until no task is in flight (for tests and orderly shutdown).
  void WaitIdle() const;

  // Refuses new tasks, waits for the running ones, joins the workers.
  // Idempotent; from one thread at a time (the owner's shutdown path).
  void Shutdown();

 private:
  void WorkerLoop();

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool CopySlotFreeLocked(const std::string& tablet_id, const std::string& destination) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  int num_workers_;
  int max_copies_;
  std::deque<Task> queue_ ABSL_GUARDED_BY(mu_);
  // Tablet id -> copy destination ("" for other steps), queued or running.
  std::map<std::string, std::string> in_flight_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> workers_;
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_REREPLICATION_TASKS_H_
