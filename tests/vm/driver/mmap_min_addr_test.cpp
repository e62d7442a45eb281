// lockc's mmap_addr program follows vm.mmap_min_addr as it changes: the
// kernel side copies each write of the sysctl into the settings
// (lockc_mmap_min_addr_set), raised or lowered, with no settings write
// from user space in between.
#include "host_capabilities.hpp"
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <string>

namespace lockc::vmtest {
namespace {

constexpr const char *kSysctl = "/proc/sys/vm/mmap_min_addr";

std::uint64_t read_limit() {
    std::ifstream in(kSysctl);
    std::uint64_t value = 0;
    in >> value;
    return value;
}

void write_limit(std::uint64_t value) {
    std::ofstream out(kSysctl);
    out << value << "\n";
    out.close();
    ASSERT_TRUE(out.good()) << "cannot write " << kSysctl;
    ASSERT_EQ(read_limit(), value);
}

// A page at `address` from a baseline container with CAP_SYS_RAWIO (the
// driver runs as root): the errno, and how many events lockc reported.
std::pair<int, std::size_t> map_from_container(std::uintptr_t address) {
    TestCgroup cg("mmap-min-addr");
    enforcer().set_policy(cg.id(), Level::Baseline, Mode::Enforce, Phase::Running);
    (void)take_events();
    const auto r = run_child(&cg.path(), nullptr,
                             [address] { return host_capabilities::map_page_at(address); });
    const auto events = take_events(cg.id());
    enforcer().remove_policy(cg.id());
    EXPECT_TRUE(r.ok);
    for (const auto &e : events) {
        EXPECT_EQ(e.hook, LOCKC_HOOK_CAPABLE);
        EXPECT_EQ(e.target, "CAP_SYS_RAWIO mmap_min_addr");
    }
    return {r.err, events.size()};
}

TEST(MmapMinAddr, TheLimitFollowsTheSysctlRaisedAndLowered) {
    const auto original = read_limit();
    ASSERT_GE(original, 4096U);
    enforcer().configure(default_settings());
    EXPECT_EQ(enforcer().settings().mmap_min_addr, original);

    // Raised: an address between the old and the new limit takes
    // CAP_SYS_RAWIO now, and lockc denies it to the container.
    const std::uint64_t raised = original * 2;
    write_limit(raised);
    EXPECT_EQ(enforcer().settings().mmap_min_addr, raised);
    EXPECT_EQ(map_from_container(original), std::make_pair(EPERM, std::size_t{1}));

    // Lowered to one page: the same address and one below the old limit
    // are ordinary again; the kernel asks for no capability there, and
    // lockc denies nothing the kernel would allow anyone.
    write_limit(4096);
    EXPECT_EQ(enforcer().settings().mmap_min_addr, 4096U);
    EXPECT_EQ(map_from_container(original), std::make_pair(0, std::size_t{0}));
    EXPECT_EQ(map_from_container(original / 2), std::make_pair(0, std::size_t{0}));
    // Page 0 stays denied whatever the limit.
    EXPECT_EQ(map_from_container(0), std::make_pair(EPERM, std::size_t{1}));

    // A rejected write (not a number) changes neither the sysctl nor lockc.
    {
        std::ofstream bad(kSysctl);
        bad << "not-a-number\n";
    }
    EXPECT_EQ(read_limit(), 4096U);
    EXPECT_EQ(enforcer().settings().mmap_min_addr, 4096U);

    write_limit(original);
    EXPECT_EQ(enforcer().settings().mmap_min_addr, original);
    EXPECT_EQ(map_from_container(original / 2), std::make_pair(EPERM, std::size_t{1}));
}

} // namespace
} // namespace lockc::vmtest
