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

std::string level_of(const std::string &id) {
    auto bus = sdbus::createSystemBusConnection();
    auto manager = sdbus::createProxy(*bus, kBusName, kManagerPath);
    std::string level;
    manager->callMethod("GetLevel")
        .onInterface(kManagerInterface)
        .withTimeout(kStartTimeout) // may start lockcd
        .withArguments(id)
        .storeResultsTo(level);
    return level;
}

TEST(BusRestart, EnforcementHoldsAndLockcdAnswersAgainWithItsState) {
    ASSERT_EQ(sh("systemctl start lockcd").status, 0);
    TestCgroup cg("bus-restart");
    {
        auto bus = sdbus::createSystemBusConnection();
        auto manager = sdbus::createProxy(*bus, kBusName, kManagerPath);
        sdbus::ObjectPath path;
        manager->callMethod("RegisterContainer")
            .onInterface(kManagerInterface)
            .withArguments(std::string("bus-restart"), std::string("restricted"),
                           std::string("enforce"),
                           Options{{"cgroup", sdbus::Variant(cg.path().string())}})
            .storeResultsTo(path);
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
    EXPECT_EQ(level_of("bus-restart"), "restricted");
    EXPECT_EQ(sysrq_in(cg), EPERM);
    EXPECT_NE(sh("journalctl --no-pager -u lockcd.service -o cat")
                  .output.find("the bus connection failed"),
              std::string::npos);
    auto bus = sdbus::createSystemBusConnection();
    auto manager = sdbus::createProxy(*bus, kBusName, kManagerPath);
    manager->callMethod("UnregisterContainer")
        .onInterface(kManagerInterface)
        .withArguments(std::string("bus-restart"), Options{});
}

} // namespace
} // namespace lockc::vmtest
