// The system bus restarts (dbus-daemon stopped and started again, as an
// upgrade of dbus does; dbus.socket keeps the listening socket). lockc's
// enforcement never depends on the bus: a registered container stays
// denied throughout. lockcd loses its connection, exits, and systemd starts
// it again; once the bus is back it answers with every level as it was.
// Linked last in its driver: it breaks every connection the process has.
#include "bus_support.hpp"
#include "vm_support.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

namespace lockc::vmtest {
namespace {

TEST(BusRestart, EnforcementHoldsAndLockcdAnswersAgainWithItsState) {
    ASSERT_EQ(sh("systemctl start lockcd").status, 0);
    TestCgroup cg("bus-restart");
    {
        auto bus = sdbus::createSystemBusConnection();
        register_cgroup(*sdbus::createProxy(*bus, kBusName, kManagerPath), "bus-restart",
                        "restricted", "enforce", cg);
    }
    const pid_t before = main_pid();
    ASSERT_GT(before, 0);

    std::atomic<bool> done{false};
    std::atomic<int> checks{0};
    std::atomic<int> lapses{0};
    std::thread watcher([&] {
        while (!done) {
            lapses += sysrq_in(cg) == EPERM ? 0 : 1;
            ++checks;
        }
    });
    const auto restart = sh("systemctl restart dbus.service");
    const bool back = wait_until(
        [&] {
            const pid_t now = main_pid();
            return now > 0 && now != before && unit_property("ActiveState") == "active";
        },
        std::chrono::seconds(120));
    done = true;
    watcher.join();
    EXPECT_EQ(restart.status, 0) << restart.output;
    EXPECT_TRUE(back) << "lockcd did not come back: " << unit_property("ActiveState");
    EXPECT_EQ(lapses.load(), 0) << "enforcement lapsed in " << lapses << " of " << checks
                                << " checks";
    EXPECT_GE(checks.load(), 1);
    auto bus = sdbus::createSystemBusConnection();
    auto manager = sdbus::createProxy(*bus, kBusName, kManagerPath);
    EXPECT_EQ(get_on(*manager, "GetLevel", "bus-restart"), "restricted");
    EXPECT_EQ(sysrq_in(cg), EPERM);
    EXPECT_NE(sh("journalctl --no-pager -u lockcd.service -o cat")
                  .output.find("the bus connection failed"),
              std::string::npos);
    unregister(*manager, "bus-restart");
}

} // namespace
} // namespace lockc::vmtest
