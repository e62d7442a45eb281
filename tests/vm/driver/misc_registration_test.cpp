// A device rule that names a misc device ("efi_capsule_loader") holds for
// the minor the device registers after the rules were applied: the kernel
// side writes the rule when the device registers (lockc_misc_register),
// with no Reload. The device is the EFI capsule loader, a module in
// Debian's kernels that takes a minor the kernel picks and needs EFI
// runtime services (the suite boots with UEFI firmware). An open of it that
// got through uploads nothing: a capsule is sent only by a write. Once the
// loader unloads and the kernel hands its minor to another misc device, the
// rule goes (ecryptfs's messaging device is that other device).
#include "policy.hpp"
#include "unique_fd.hpp"
#include "vm_support.hpp"

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

namespace lockc::vmtest {
namespace {

namespace fs = std::filesystem;

const fs::path kCapsuleLoader = "/dev/efi_capsule_loader";
constexpr const char *kCapsuleName = "efi_capsule_loader";

// The minor /proc/misc lists for the misc device `name`, if registered.
std::optional<std::uint32_t> misc_minor(const std::string &name) {
    const auto minors = misc_minors(read_proc_misc());
    const auto it = minors.find(name);
    if (it == minors.end()) {
        return std::nullopt;
    }
    return it->second;
}

void unload(const std::string &module, const std::string &misc_name) {
    (void)sh("rmmod " + module);
    ASSERT_FALSE(misc_minor(misc_name)) << module << " is still loaded";
}

void unload_capsule_loader() {
    unload("capsule-loader", kCapsuleName);
}

// Loads the capsule loader; the minor it registered.
std::uint32_t load_capsule_loader() {
    const auto loaded = sh("modprobe capsule-loader");
    EXPECT_EQ(loaded.status, 0) << loaded.output;
    EXPECT_TRUE(wait_until([] { return fs::exists(kCapsuleLoader); }, std::chrono::seconds(10)));
    return misc_minor(kCapsuleName).value_or(0);
}

// An open for writing of the capsule loader from a baseline container:
// denied, with one event that names the device by its numbers.
void expect_denied(std::uint32_t minor, const char *when) {
    const auto r = run_contained("misc-registered", Level::Baseline,
                                 [] { return open_err(kCapsuleLoader.c_str(), O_WRONLY); });
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.err, EPERM) << when;
    ASSERT_EQ(r.events.size(), 1U) << when << "\n" << describe_all(r.events);
    EXPECT_EQ(r.events[0].hook, LOCKC_HOOK_FILE_OPEN);
    EXPECT_EQ(r.events[0].target,
              "c " + std::to_string(LOCKC_MISC_MAJOR) + ":" + std::to_string(minor))
        << when;
}

TEST(MiscRules, ADeviceLoadedAfterTheRulesIsDeniedFromItsRegistration) {
    const auto failures_before = enforcer().counters().driver_rule_failures;
    unload_capsule_loader();
    // Applied while the device is not registered: no minor to rule yet.
    enforcer().apply_rules(test_rules());

    const auto minor = load_capsule_loader();
    ASSERT_NE(minor, 0U);
    expect_denied(minor, "loaded after the rules were applied");

    // Unloaded and loaded again: the rule holds for the new registration
    // too, whether or not the kernel gives the same minor.
    unload_capsule_loader();
    const auto again = load_capsule_loader();
    ASSERT_NE(again, 0U);
    expect_denied(again, "loaded a second time");

    // Applied again with the device registered: its minor comes from
    // /proc/misc now, and stays denied.
    enforcer().apply_rules(test_rules());
    expect_denied(again, "rules applied again while loaded");
    EXPECT_EQ(enforcer().counters().driver_rule_failures, failures_before);

    unload_capsule_loader();
    enforcer().apply_rules(test_rules());
}

// The entry dev_rules has for minor `minor` of the misc major, if any.
std::optional<lockc_rule> minor_rule(std::uint32_t minor) {
    const UniqueFd fd = open_pinned_map("dev_rules");
    EXPECT_TRUE(fd.valid());
    const lockc_dev_key key{LOCKC_DEV_CHAR, LOCKC_MISC_MAJOR, minor};
    lockc_rule rule{};
    if (!fd.valid() || bpf_map_lookup_elem(fd.get(), &key, &rule) != 0) {
        return std::nullopt;
    }
    return rule;
}

// An open of misc minor `minor` (a node made for it in /dev) from a
// baseline container.
ContainedResult open_in_baseline(std::uint32_t minor) {
    const fs::path node = "/dev/lockc-test-misc";
    std::error_code ec;
    fs::remove(node, ec);
    if (::mknod(node.c_str(), S_IFCHR | 0600, makedev(LOCKC_MISC_MAJOR, minor)) != 0) {
        ADD_FAILURE() << "mknod " << node << ": " << std::strerror(errno);
        return {};
    }
    auto r = run_contained("misc-minor-reused", Level::Baseline,
                           [&] { return open_err(node.c_str(), O_RDWR); });
    fs::remove(node, ec);
    return r;
}

void unload_ecryptfs() {
    unload("ecryptfs", "ecryptfs");
}

// A misc device named by a rule unloads and the kernel hands its minor to
// a device no rule names: that device is not denied by the old rule, which
// is gone from dev_rules. When the named device registers again, its rule
// is written again.
TEST(MiscRules, AMinorHandedToAnotherDeviceLosesTheUnloadedDevicesRule) {
    unload_ecryptfs();
    unload_capsule_loader();
    enforcer().apply_rules(test_rules());
    const auto minor = load_capsule_loader();
    ASSERT_NE(minor, 0U);
    const auto ruled = minor_rule(minor);
    ASSERT_TRUE(ruled);
    EXPECT_EQ(ruled->flags, LOCKC_RULE_OF_DRIVER);
    unload_capsule_loader();
    EXPECT_TRUE(minor_rule(minor)) << "kept until the minor is handed out again";

    // Nothing else registers a misc device meanwhile, so the kernel picks
    // the capsule loader's minor for ecryptfs's device.
    const auto loaded = sh("modprobe ecryptfs");
    ASSERT_EQ(loaded.status, 0) << loaded.output;
    ASSERT_EQ(misc_minor("ecryptfs"), minor) << "ecryptfs did not get the loader's minor";
    EXPECT_FALSE(minor_rule(minor));
    // ecryptfs's device opens for anyone with no messaging daemon yet.
    const auto r = open_in_baseline(minor);
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.err, 0) << std::strerror(r.err);
    EXPECT_TRUE(r.events.empty()) << describe_all(r.events);
    unload_ecryptfs();

    const auto again = load_capsule_loader();
    ASSERT_NE(again, 0U);
    EXPECT_TRUE(minor_rule(again));
    expect_denied(again, "loaded again after ecryptfs had its minor");
    unload_capsule_loader();
    enforcer().apply_rules(test_rules());
}

// A host process is not confined by a misc device's rule: it may open the
// device the rule denies to containers.
TEST(MiscRules, HostProcessesStillOpenTheDevice) {
    unload_capsule_loader();
    enforcer().apply_rules(test_rules());
    ASSERT_NE(load_capsule_loader(), 0U);
    (void)take_events();
    const int err = open_err(kCapsuleLoader.c_str(), O_WRONLY);
    EXPECT_EQ(err, 0) << std::strerror(err);
    EXPECT_TRUE(take_events().empty());
    unload_capsule_loader();
}

} // namespace
} // namespace lockc::vmtest
