// lockcd's coalescing of denials for DeniedCoalesced subscribers
// (daemon/lockcd/denial_coalescer.hpp): repeats counted with their first and
// last time, every other field keeping denials apart, the window, the cap
// on distinct entries.
#include "denial_coalescer.hpp"

#include <gtest/gtest.h>

#include <limits>

namespace lockc {
namespace {

using namespace std::chrono_literals;
using Clock = DenialCoalescer::Clock;
const Clock::time_point kT0 = Clock::time_point{} + 1000h;

Denial denial(std::uint64_t time_usec) {
    Denial d;
    d.container = "web";
    d.level = Level::Baseline;
    d.mode = Mode::Enforce;
    d.hook = "file_open";
    d.target = "/proc/sysrq-trigger";
    d.pid = 42;
    d.uid = 0;
    d.comm = "sh";
    d.error = 1;
    d.time_usec = time_usec;
    return d;
}

TEST(DenialCoalescer, RepeatsBecomeOneEntryWithTheirCountAndFirstAndLastTime) {
    DenialCoalescer c(100ms, 16);
    EXPECT_FALSE(c.due());
    c.add(denial(1000), kT0);
    c.add(denial(1500), kT0 + 1ms);
    c.add(denial(1200), kT0 + 2ms); // another CPU's event, read late
    c.add(denial(2000), kT0 + 3ms);
    const auto entries = c.take();
    ASSERT_EQ(entries.size(), 1U);
    EXPECT_EQ(entries[0].count, 4U);
    EXPECT_EQ(entries[0].denial.time_usec, 1000U);
    EXPECT_EQ(entries[0].last_usec, 2000U);
    EXPECT_EQ(entries[0].denial.target, "/proc/sysrq-trigger");
    EXPECT_TRUE(c.empty());
    EXPECT_FALSE(c.due());
}

TEST(DenialCoalescer, EveryFieldButTheTimeKeepsDenialsApart) {
    DenialCoalescer c(100ms, 64);
    const auto base = denial(1);
    std::vector<Denial> variants(10, base);
    variants[1].container = "db";
    variants[2].level = Level::Restricted;
    variants[3].mode = Mode::Audit;
    variants[4].hook = "sb_mount";
    variants[5].target = "/proc/kcore";
    variants[6].pid = 43;
    variants[7].uid = 1000;
    variants[8].comm = "cat";
    variants[9].error = 13;
    for (const auto &v : variants) {
        c.add(v, kT0);
        c.add(v, kT0);
    }
    // Fields that would run together without a separator stay apart too.
    auto run_together = base;
    run_together.container = "we";
    run_together.hook = "bfile_open";
    c.add(run_together, kT0);
    const auto entries = c.take();
    ASSERT_EQ(entries.size(), variants.size() + 1);
    for (std::size_t i = 0; i < variants.size(); ++i) {
        EXPECT_EQ(entries[i].count, 2U) << i; // in the order first seen
        EXPECT_EQ(entries[i].denial.container, variants[i].container) << i;
        EXPECT_EQ(entries[i].denial.pid, variants[i].pid) << i;
    }
    EXPECT_EQ(entries.back().count, 1U);
}

TEST(DenialCoalescer, IsDueAWindowAfterItsFirstDenial) {
    DenialCoalescer c(100ms, 16);
    c.add(denial(1), kT0);
    c.add(denial(2), kT0 + 90ms);
    ASSERT_TRUE(c.due());
    EXPECT_EQ(*c.due(), kT0 + 100ms);
    (void)c.take();
    c.add(denial(3), kT0 + 150ms); // a new window
    EXPECT_EQ(*c.due(), kT0 + 250ms);
}

TEST(DenialCoalescer, IsDueAtOnceWhenItHoldsItsMostDistinctDenials) {
    DenialCoalescer c(100ms, 3);
    for (std::uint32_t pid = 1; pid <= 2; ++pid) {
        auto d = denial(1);
        d.pid = pid;
        c.add(d, kT0 + 10ms);
    }
    EXPECT_EQ(*c.due(), kT0 + 110ms);
    c.add(denial(1), kT0 + 20ms);
    EXPECT_EQ(*c.due(), kT0 + 10ms); // already past
}

TEST(DenialCoalescer, ClearDropsWhatItHeld) {
    DenialCoalescer c(100ms, 16);
    c.add(denial(1), kT0);
    c.clear();
    EXPECT_TRUE(c.empty());
    EXPECT_FALSE(c.due());
    c.add(denial(5), kT0 + 1s);
    const auto entries = c.take();
    ASSERT_EQ(entries.size(), 1U);
    EXPECT_EQ(entries[0].count, 1U); // nothing left of before
    EXPECT_EQ(entries[0].denial.time_usec, 5U);
}

} // namespace
} // namespace lockc
