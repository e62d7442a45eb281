#include "boot_to_wall_clock.hpp"

#include <array>

namespace lockc {

namespace {

// A bracket this tight is as good as the µs resolution allows: no need to
// read again.
constexpr std::uint64_t kGoodEnoughUsec = 2;
constexpr std::size_t kMaxReadings = 5;

} // namespace

BootToWallClock BootToWallClock::sample() {
    std::array<ClockReading, kMaxReadings> readings{};
    std::size_t taken = 0;
    while (taken < readings.size()) {
        auto &r = readings.at(taken++);
        r.boot_before = clock_usec(CLOCK_BOOTTIME);
        r.wall = clock_usec(CLOCK_REALTIME);
        r.boot_after = clock_usec(CLOCK_BOOTTIME);
        if (r.boot_after - r.boot_before <= kGoodEnoughUsec) {
            break;
        }
    }
    return from(std::span(readings).first(taken));
}

BootToWallClock BootToWallClock::from(std::span<const ClockReading> readings) {
    const ClockReading *best = nullptr;
    for (const auto &r : readings) {
        if (best == nullptr ||
            r.boot_after - r.boot_before < best->boot_after - best->boot_before) {
            best = &r;
        }
    }
    if (best == nullptr) {
        return BootToWallClock(0);
    }
    // The wall clock was read halfway through the bracket, as far as
    // anyone can tell.
    const auto boot_mid = best->boot_before + (best->boot_after - best->boot_before) / 2;
    return BootToWallClock(static_cast<std::int64_t>(best->wall) -
                           static_cast<std::int64_t>(boot_mid));
}

std::uint64_t BootToWallClock::wall_usec(std::chrono::nanoseconds boot_time) const {
    const auto boot_usec = std::chrono::duration_cast<std::chrono::microseconds>(boot_time).count();
    const auto wall = boot_usec + offset_usec_;
    return wall > 0 ? static_cast<std::uint64_t>(wall) : 0;
}

} // namespace lockc
