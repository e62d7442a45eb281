// The wall-clock time of decision events (daemon/lockcd/boot_to_wall_clock.hpp):
// the offset comes from the tightest reading, so a preempted one cannot skew
// it, and events keep their order and spacing.
#include "boot_to_wall_clock.hpp"

#include <gtest/gtest.h>

#include <array>
#include <ctime>

namespace lockc {
namespace {

using namespace std::chrono_literals;

std::chrono::nanoseconds boottime() {
    timespec ts{};
    ::clock_gettime(CLOCK_BOOTTIME, &ts);
    return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

TEST(BootToWallClock, TheTightestReadingGivesTheOffset) {
    // Wall = boot + 1,000,000 µs. The first reading was preempted for 8 ms
    // before the wall clock was read; the second is tight.
    const std::array readings{
        ClockReading{.boot_before = 5'000, .wall = 1'013'000, .boot_after = 13'010},
        ClockReading{.boot_before = 20'000, .wall = 1'020'001, .boot_after = 20'002},
    };
    const auto clock = BootToWallClock::from(readings);
    EXPECT_EQ(clock.wall_usec(30ms), 1'030'000U);
    // The other way round gives the same answer.
    const std::array reversed{readings[1], readings[0]};
    EXPECT_EQ(BootToWallClock::from(reversed).wall_usec(30ms), 1'030'000U);
}

TEST(BootToWallClock, EventsKeepTheirOrderAndSpacing) {
    const std::array readings{
        ClockReading{.boot_before = 100, .wall = 7'000'100, .boot_after = 100}};
    const auto clock = BootToWallClock::from(readings);
    EXPECT_EQ(clock.wall_usec(2'000'000ns), 7'002'000U);
    EXPECT_EQ(clock.wall_usec(2'000'999ns), 7'002'000U) << "nanoseconds below a µs are cut";
    EXPECT_EQ(clock.wall_usec(2'003'000ns) - clock.wall_usec(2'000'000ns), 3U);
}

TEST(BootToWallClock, NoReadingOrATimeBeforeTheEpochGivesNoNegativeTime) {
    EXPECT_EQ(BootToWallClock::from({}).wall_usec(5us), 5U);
    // A wall clock set to just after the epoch, long after boot.
    const std::array readings{
        ClockReading{.boot_before = 10'000'000, .wall = 1'000, .boot_after = 10'000'000}};
    EXPECT_EQ(BootToWallClock::from(readings).wall_usec(1s), 0U);
}

TEST(BootToWallClock, ASampleOfTheRealClocksMatchesTheWallClock) {
    const auto clock = BootToWallClock::sample();
    const auto before = clock_usec(CLOCK_REALTIME);
    const auto wall = clock.wall_usec(boottime());
    const auto after = clock_usec(CLOCK_REALTIME);
    // Within a millisecond: the bracket of a sample is a few µs unless this
    // test was preempted on every one of the readings.
    EXPECT_GE(wall + 1000U, before);
    EXPECT_LE(wall, after + 1000U);
}

} // namespace
} // namespace lockc
