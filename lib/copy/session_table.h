// SessionTable: the open sessions of a copy source (tablet copy's
// TabletCopySourceManager, catalog copy's CatalogCopySource), with idle
// expiry. A session unused for longer than the idle timeout is dropped: its
// last reference goes (descriptors closed, anchors released) outside the
// table's lock. Expiry runs when the owner calls ExpireIdle (every RPC may)
// and, with a reaper interval, on a background thread.
//
// Thread safety: all methods are thread-safe. Lifetime: the destructor
// stops the reaper and drops every session.
#ifndef KMEND_LIB_COPY_SESSION_TABLE_H_
#define KMEND_LIB_COPY_SESSION_TABLE_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace kmend::copy {

struct SessionTableOptions {
  // A session unused for this long is dropped.
  absl::Duration idle_timeout = absl::Seconds(60);
  // Time source (tests inject one). Default absl::Now.
  std::function<absl::Time()> clock;
  // > 0: a background thread expires idle sessions this often. Zero: only
  // ExpireIdle calls do.
  absl::Duration reaper_interval = absl::ZeroDuration();
  // Add fails with Unavailable beyond this many sessions (<= 0: no limit).
  int max_sessions = 0;
};

template <typename Session>
class SessionTable {
 public:
  explicit SessionTable(SessionTableOptions options) : options_(std::move(options)) {
    if (options_.reaper_interval > absl::ZeroDuration()) {
      reaper_ = std::thread([this] { ReaperLoop(); });
    }
  }
  ~SessionTable() {
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
    }
    if (reaper_.joinable()) reaper_.join();
    std::map<std::string, Entry> dropped;
    absl::MutexLock l(&mu_);
    dropped.swap(sessions_);
  }
  SessionTable(const SessionTable&) = delete;
  SessionTable& operator=(const SessionTable&) = delete;

  // Unavailable (naming `what` and the limit) when max_sessions are open.
  // Checked again under the lock, so concurrent Adds cannot pass it.
  absl::Status CheckRoom(absl::string_view what) const {
    absl::MutexLock l(&mu_);
    return RoomLocked(what);
  }

  // Adds `session` under `id`, used now.
  absl::Status Add(const std::string& id, std::shared_ptr<Session> session,
                   absl::string_view what) {
    absl::MutexLock l(&mu_);
    if (absl::Status s = RoomLocked(what); !s.ok()) return s;
    sessions_[id] = Entry{std::move(session), Now()};
    return absl::OkStatus();
  }

  // The session, marked used now; null if unknown (never added, removed or
  // expired).
  std::shared_ptr<Session> Find(const std::string& id) {
    absl::MutexLock l(&mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return nullptr;
    it->second.last_used = std::max(it->second.last_used, Now());
    return it->second.session;
  }

  // Marks the session used now (after a long read); nothing if unknown.
  void Touch(const std::string& id) { (void)Find(id); }

  // Removes and returns the session; null if unknown.
  std::shared_ptr<Session> Remove(const std::string& id) {
    absl::MutexLock l(&mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) return nullptr;
    std::shared_ptr<Session> s = std::move(it->second.session);
    sessions_.erase(it);
    return s;
  }

  // Drops the sessions idle longer than the timeout; returns how many.
  int ExpireIdle() {
    std::vector<std::shared_ptr<Session>> expired;  // destroyed outside the lock
    {
      absl::MutexLock l(&mu_);
      const absl::Time now = Now();
      for (auto it = sessions_.begin(); it != sessions_.end();) {
        if (now - it->second.last_used > options_.idle_timeout) {
          expired.push_back(std::move(it->second.session));
          it = sessions_.erase(it);
        } else {
          ++it;
        }
      }
    }
    return static_cast<int>(expired.size());
  }

  int size() const {
    absl::MutexLock l(&mu_);
    return static_cast<int>(sessions_.size());
  }

 private:
  struct Entry {
    std::shared_ptr<Session> session;
    absl::Time last_used;
  };

  absl::Time Now() const { return options_.clock ? options_.clock() : absl::Now(); }

  absl::Status RoomLocked(absl::string_view what) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (options_.max_sessions > 0 &&
        static_cast<int>(sessions_.size()) >= options_.max_sessions) {
      return absl::UnavailableError(
          absl::StrCat(what, ": ", sessions_.size(), " sessions open (the limit); retry later"));
    }
    return absl::OkStatus();
  }

  void ReaperLoop() {
    absl::MutexLock l(&mu_);
    while (!stopping_) {
      // Wakes early when the destructor sets stopping_.
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.reaper_interval);
      if (stopping_) break;
      mu_.Unlock();
      ExpireIdle();
      mu_.Lock();
    }
  }

  const SessionTableOptions options_;
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> sessions_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread reaper_;
};

}  // namespace kmend::copy

#endif  // KMEND_LIB_COPY_SESSION_TABLE_H_
