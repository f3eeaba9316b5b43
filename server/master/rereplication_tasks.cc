#include "server/master/rereplication_tasks.h"

#include <algorithm>
#include <utility>

namespace kmend::master {

RereplicationTasks::RereplicationTasks(int num_workers, int max_copies_per_destination)
    : num_workers_(std::max(1, num_workers)), max_copies_(std::max(1, max_copies_per_destination)) {
  workers_.reserve(num_workers_);
  for (int i = 0; i < num_workers_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

RereplicationTasks::~RereplicationTasks() { Shutdown(); }

bool RereplicationTasks::TryStart(Task task) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || in_flight_.count(task.tablet_id) > 0) return false;
  // Every in-flight task holds a worker (running) or will get one at once
  // (queued behind fewer than num_workers_ others): never more than that.
  if (static_cast<int>(in_flight_.size()) >= num_workers_) return false;
  if (!task.copy_destination.empty() &&
      !CopySlotFreeLocked(task.tablet_id, task.copy_destination)) {
    return false;
  }
  in_flight_[task.tablet_id] = task.copy_destination;
  queue_.push_back(std::move(task));
  return true;
}

bool RereplicationTasks::CopySlotFreeLocked(const std::string& tablet_id,
                                            const std::string& destination) const {
  int n = 0;
  for (const auto& [id, dest] : in_flight_) n += id != tablet_id && dest == destination;
  return n < max_copies_;
}

bool RereplicationTasks::SetCopyDestination(const std::string& tablet_id,
                                            const std::string& destination) {
  absl::MutexLock lock(&mu_);
  auto it = in_flight_.find(tablet_id);
  if (it == in_flight_.end()) return false;
  if (!destination.empty() && !CopySlotFreeLocked(tablet_id, destination)) return false;
  it->second = destination;
  return true;
}

bool RereplicationTasks::InFlight(const std::string& tablet_id) const {
  absl::MutexLock lock(&mu_);
  return in_flight_.count(tablet_id) > 0;
}

std::set<std::string> RereplicationTasks::TabletsInFlight() const {
  absl::MutexLock lock(&mu_);
  std::set<std::string> out;
  for (const auto& [id, dest] : in_flight_) out.insert(id);
  return out;
}

int RereplicationTasks::FreeWorkers() const {
  absl::MutexLock lock(&mu_);
  return stopping_ ? 0 : num_workers_ - static_cast<int>(in_flight_.size());
}

std::map<std::string, std::set<std::string>> RereplicationTasks::CopiesInFlight() const {
  absl::MutexLock lock(&mu_);
  std::map<std::string, std::set<std::string>> out;
  for (const auto& [id, dest] : in_flight_) {
    if (!dest.empty()) out[dest].insert(id);
  }
  return out;
}

void RereplicationTasks::WaitIdle() const {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](const std::map<std::string, std::string>* m) { return m->empty(); }, &in_flight_));
}

void RereplicationTasks::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && workers_.empty()) return;
    stopping_ = true;
  }
  // Workers drain the queue (tasks already accepted still run: their
  // callers count on them finishing), then exit.
  for (std::thread& t : workers_) {
    if (t.joinable()) t.join();
  }
  workers_.clear();
}

void RereplicationTasks::WorkerLoop() {
  for (;;) {
    Task task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](RereplicationTasks* self) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      if (queue_.empty()) return;  // stopping, nothing left
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    if (task.run) task.run();
    absl::MutexLock lock(&mu_);
    in_flight_.erase(task.tablet_id);
  }
}

}  // namespace kmend::master
