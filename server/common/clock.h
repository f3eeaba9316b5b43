// Time as the server's logic sees it. Failure detection and uptime read a
// Clock so that their tests advance time by hand instead of sleeping.
//
// Thread safety: SystemClock is stateless; FakeClock is safe to read and
// advance from any thread.
#ifndef KMEND_SERVER_COMMON_CLOCK_H_
#define KMEND_SERVER_COMMON_CLOCK_H_

#include <atomic>
#include <chrono>
#include <cstdint>

namespace kmend::server {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic microseconds from an arbitrary origin.
  virtual int64_t NowMicros() const = 0;
  // Microseconds since the Unix epoch (for display and persisted times).
  virtual int64_t WallMicros() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t NowMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t WallMicros() const override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_micros = 1'000'000) : now_(start_micros) {}
  int64_t NowMicros() const override { return now_.load(); }
  int64_t WallMicros() const override { return now_.load(); }
  void AdvanceMillis(int64_t ms) { now_ += ms * 1000; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_CLOCK_H_
