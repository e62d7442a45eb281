// The kernel stamps decision events with CLOCK_BOOTTIME; callers want the
// wall-clock time. The two clocks differ by an offset that changes only
// when the wall clock is set or slewed, so it is sampled once per batch of
// events rather than per event: two clock reads per event let a preemption
// between them shift that one event late, and a later event could then
// seem older than an earlier one.
#pragma once

#include <chrono>
#include <cstdint>
#include <ctime>
#include <span>

namespace lockc {

// `clock` now, in µs.
inline std::uint64_t clock_usec(clockid_t clock) {
    timespec ts{};
    ::clock_gettime(clock, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000U +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
}

// One reading of CLOCK_REALTIME bracketed by two of CLOCK_BOOTTIME, in µs.
struct ClockReading {
    std::uint64_t boot_before = 0;
    std::uint64_t wall = 0;
    std::uint64_t boot_after = 0;
};

class BootToWallClock {
  public:
    // From the tightest of a few readings, so that one preempted reading
    // does not skew the offset.
    static BootToWallClock sample();
    // From readings already taken: the one whose bracket is tightest.
    // An empty span gives an offset of 0.
    static BootToWallClock from(std::span<const ClockReading> readings);

    // The wall-clock time, in µs since the epoch, of a CLOCK_BOOTTIME stamp.
    [[nodiscard]] std::uint64_t wall_usec(std::chrono::nanoseconds boot_time) const;

  private:
    explicit BootToWallClock(std::int64_t offset_usec) : offset_usec_(offset_usec) {}
    std::int64_t offset_usec_; // wall − boot
};

} // namespace lockc
