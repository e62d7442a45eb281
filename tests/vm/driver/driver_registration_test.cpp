// A device rule that names a driver ("watchdog") holds for a major the
// driver registers after the rules were applied: the kernel side writes the
// rule when the module registers it (lockc_chrdev_*), with no Reload. The
// driver is softdog's watchdog core, a module in Debian's kernels, with
// soft_noboot=1 so that an open that got through could not reboot the VM.
// Once the driver unloads and the kernel hands its major to another driver,
// the rule goes (uio's core is that other driver).
#include "policy.hpp"
#include "unique_fd.hpp"
#include "vm_support.hpp"
#include "watchdog.hpp"

#include <bpf/bpf.h>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lockc::vmtest {
namespace {

namespace fs = std::filesystem;

const fs::path kWatchdog = "/dev/watchdog0"; // softdog's

// The character major /proc/devices lists for `driver`, if it is loaded.
std::optional<std::uint32_t> char_major(const std::string &driver) {
    const auto majors = char_driver_majors(read_proc_devices());
    const auto it = majors.find(driver);
    if (it == majors.end()) {
        return std::nullopt;
    }
    return it->second;
}

void unload_watchdog() {
    (void)sh("rmmod softdog watchdog");
    ASSERT_FALSE(char_major("watchdog")) << "the watchdog core is still loaded";
}

// Loads softdog (and with it the watchdog core); its major.
std::uint32_t load_watchdog() {
    const auto loaded = sh("modprobe softdog soft_noboot=1");
    EXPECT_EQ(loaded.status, 0) << loaded.output;
    EXPECT_TRUE(wait_until([] { return fs::exists(kWatchdog); }, std::chrono::seconds(10)));
    return char_major("watchdog").value_or(0);
}

// An open of softdog's node from a baseline container: denied, with one
// event that names the device.
void expect_denied(std::uint32_t major, const char *when) {
    const auto r = run_contained("driver-registered", Level::Baseline,
                                 [] { return watchdog::arm_and_disarm(kWatchdog.string()); });
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.err, EPERM) << when;
    ASSERT_EQ(r.events.size(), 1U) << when << "\n" << describe_all(r.events);
    EXPECT_EQ(r.events[0].hook, LOCKC_HOOK_FILE_OPEN);
    EXPECT_EQ(r.events[0].target, "c " + std::to_string(major) + ":0") << when;
}

TEST(DriverRules, AModuleLoadedAfterTheRulesIsDeniedFromItsRegistration) {
    const auto failures_before = enforcer().counters().driver_rule_failures;
    unload_watchdog();
    // Applied while no watchdog driver is loaded: no major to rule yet.
    enforcer().apply_rules(test_rules());

    const auto major = load_watchdog();
    ASSERT_NE(major, 0U);
    expect_denied(major, "loaded after the rules were applied");

    // Unloaded and loaded again: the rule holds for the new registration
    // too, whether or not the kernel gives the same major.
    unload_watchdog();
    const auto again = load_watchdog();
    ASSERT_NE(again, 0U);
    expect_denied(again, "loaded a second time");

    // Applied again with the driver loaded: its major comes from
    // /proc/devices now, and stays denied.
    enforcer().apply_rules(test_rules());
    expect_denied(again, "rules applied again while loaded");
    EXPECT_EQ(enforcer().counters().driver_rule_failures, failures_before);

    unload_watchdog();
    enforcer().apply_rules(test_rules());
}

// uio's core: a module of Debian's kernels that takes a major from the
// dynamic range when it loads ("uio", alloc_chrdev_region) and needs no
// hardware. No rule names it.
void unload_uio() {
    (void)sh("rmmod uio");
    ASSERT_FALSE(char_major("uio")) << "uio is still loaded";
}

// An open of minor 0 of `major` (a node made for it in /dev) from a
// baseline container.
ContainedResult open_in_baseline(std::uint32_t major) {
    const fs::path node = "/dev/lockc-test-major";
    std::error_code ec;
    fs::remove(node, ec);
    if (::mknod(node.c_str(), S_IFCHR | 0600, makedev(major, 0)) != 0) {
        ADD_FAILURE() << "mknod " << node << ": " << std::strerror(errno);
        return {};
    }
    auto r = run_contained("driver-major-reused", Level::Baseline,
                           [&] { return open_err(node.c_str(), O_RDONLY); });
    fs::remove(node, ec);
    return r;
}

// The entry dev_rules has for all of `major`, if any.
std::optional<lockc_rule> major_rule(std::uint32_t major) {
    const UniqueFd fd = open_pinned_map("dev_rules");
    EXPECT_TRUE(fd.valid());
    const lockc_dev_key key{LOCKC_DEV_CHAR, major, LOCKC_DEV_ANY};
    lockc_rule rule{};
    if (!fd.valid() || bpf_map_lookup_elem(fd.get(), &key, &rule) != 0) {
        return std::nullopt;
    }
    return rule;
}

// A driver named by a rule unloads and the kernel hands its major to a
// driver no rule names: that driver's devices are not denied by the old
// rule, which is gone from dev_rules. When the named driver gets the major
// back, its rule is written again.
TEST(DriverRules, AMajorHandedToAnotherDriverLosesTheUnloadedDriversRule) {
    unload_uio();
    unload_watchdog();
    enforcer().apply_rules(test_rules());
    const auto major = load_watchdog();
    ASSERT_NE(major, 0U);
    const auto ruled = major_rule(major);
    ASSERT_TRUE(ruled);
    EXPECT_EQ(ruled->flags, LOCKC_RULE_OF_DRIVER);
    unload_watchdog();
    EXPECT_TRUE(major_rule(major)) << "kept until the major is handed out again";

    // The kernel gives the highest free dynamic major: the watchdog's.
    const auto loaded = sh("modprobe uio");
    ASSERT_EQ(loaded.status, 0) << loaded.output;
    ASSERT_EQ(char_major("uio"), major) << "uio did not get the watchdog's major";
    EXPECT_FALSE(major_rule(major));
    // uio has no device 0: the open reaches the driver, which says so.
    const auto r = open_in_baseline(major);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.err, ENODEV) << std::strerror(r.err);
    EXPECT_TRUE(r.events.empty()) << describe_all(r.events);
    unload_uio();

    const auto again = load_watchdog();
    ASSERT_NE(again, 0U);
    EXPECT_TRUE(major_rule(again));
    expect_denied(again, "loaded again after uio had its major");
    unload_watchdog();
    enforcer().apply_rules(test_rules());
}

// A host process is not confined by a driver's rule: it may open the
// device the rule denies to containers.
TEST(DriverRules, HostProcessesStillOpenTheDriversDevices) {
    unload_watchdog();
    enforcer().apply_rules(test_rules());
    ASSERT_NE(load_watchdog(), 0U);
    (void)take_events();
    const int err = watchdog::arm_and_disarm(kWatchdog.string());
    EXPECT_EQ(err, 0) << std::strerror(err);
    EXPECT_TRUE(take_events().empty());
    unload_watchdog();
}

} // namespace
} // namespace lockc::vmtest
