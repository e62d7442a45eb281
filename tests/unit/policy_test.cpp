#include "error.hpp"
#include "policy.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace lockc {
namespace {

TEST(Level, ParsesAndFormatsEveryLevel) {
    for (auto level : {Level::Privileged, Level::Baseline, Level::Restricted}) {
        EXPECT_EQ(parse_level(to_string(level)), level);
    }
    EXPECT_FALSE(parse_level("Baseline"));
    EXPECT_FALSE(parse_level(""));
    EXPECT_FALSE(parse_level("unconfined"));
    EXPECT_EQ(parse_mode("audit"), Mode::Audit);
    EXPECT_FALSE(parse_mode("permissive"));
}

TEST(PathKey, AppendsOneSlashSoPrefixesMatchWholeComponents) {
    auto k = make_path_key(LOCKC_SPACE_OPEN_PATH, "/sys/");
    EXPECT_EQ(key_path(k), "/sys/");
    EXPECT_EQ(k.prefixlen, 32u + 8 * 5);
    EXPECT_EQ(k.space, unsigned(LOCKC_SPACE_OPEN_PATH));
    EXPECT_EQ(key_path(make_path_key(1, "/sys")), "/sys/");
    EXPECT_EQ(key_path(make_path_key(1, "/")), "/");
    EXPECT_EQ(key_path(make_path_key(1, "///")), "/");
}

TEST(PathKey, RejectsRelativeLongAndNulPaths) {
    EXPECT_THROW((void)make_path_key(1, "sys"), Error);
    EXPECT_THROW((void)make_path_key(1, ""), Error);
    EXPECT_THROW((void)make_path_key(1, std::string("/a\0b", 4)), Error);
    EXPECT_THROW((void)make_path_key(1, "/" + std::string(LOCKC_PATH_LEN, 'a')), Error);
    EXPECT_NO_THROW((void)make_path_key(1, "/" + std::string(LOCKC_PATH_LEN - 3, 'a')));
}

TEST(PathKey, APathOfTheFullLengthIsReadWithinItsKey) {
    // No room is left for a NUL: the path must be bounded by the array.
    const std::string longest = "/" + std::string(LOCKC_PATH_LEN - 2, 'a');
    const auto key = make_path_key(LOCKC_SPACE_OPEN_PATH, longest);
    EXPECT_EQ(key_path(key), longest + "/");
    RuleSet twice;
    twice.paths.push_back({RuleSpace::OpenPath, "", longest, {1, 1}});
    twice.paths.push_back({RuleSpace::OpenPath, "", longest + "/", {1, 1}});
    EXPECT_THROW((void)compile(twice), Error);
    twice.paths.pop_back();
    EXPECT_NO_THROW((void)compile(twice));
}

TEST(PathKey, AbstractSocketsOnlyInTheSocketSpace) {
    EXPECT_EQ(key_path(make_path_key(LOCKC_SPACE_UNIX_SOCKET, "@/containerd-shim")),
              "@/containerd-shim/");
    EXPECT_THROW((void)make_path_key(LOCKC_SPACE_OPEN_PATH, "@x"), Error);
}

// /proc/devices as a Debian 12 guest lists it, trimmed; "nvme" only among
// the block devices, where names are another namespace.
constexpr std::string_view kProcDevices = "Character devices:\n"
                                          "  1 mem\n"
                                          " 21 sg\n"
                                          "248 bsg\n"
                                          "249 watchdog\n"
                                          "\n"
                                          "Block devices:\n"
                                          "  7 loop\n"
                                          "259 nvme\n";

TEST(ProcDevices, CharacterDriversByNameWithEveryMajor) {
    const auto majors = char_driver_majors(kProcDevices);
    // Block names are another namespace: "loop" and "nvme" are not here.
    EXPECT_EQ(majors.size(), 4U);
    EXPECT_EQ(majors.count("nvme"), 0U);
    EXPECT_EQ(majors.find("sg")->second, 21U);
    EXPECT_EQ(majors.find("watchdog")->second, 249U);
    // A driver listed twice has both majors.
    const auto twice = char_driver_majors("Character devices:\n249 watchdog\n250 watchdog\n");
    const auto [first, last] = twice.equal_range("watchdog");
    EXPECT_EQ(std::distance(first, last), 2);
    // Lines that are not "<major> <name>" are skipped, not misread.
    const auto odd = char_driver_majors("Character devices:\nx1 bad\n12\n 13 ok\n");
    EXPECT_EQ(odd.size(), 1U);
    EXPECT_EQ(odd.find("ok")->second, 13U);
    EXPECT_TRUE(char_driver_majors("").empty());
}

TEST(Compile, DefaultRulesCompileAndCoverTheEscapes) {
    const auto c = compile(with_driver_majors(default_rules(), kProcDevices));
    const auto has_path = [&](std::uint32_t space, const std::string &p) {
        return std::ranges::any_of(c.paths, [&](const auto &e) {
            return e.first.space == space && key_path(e.first) == p;
        });
    };
    EXPECT_TRUE(has_path(LOCKC_SPACE_MOUNT_SOURCE, "/"));
    EXPECT_TRUE(has_path(LOCKC_SPACE_UNIX_SOCKET, "/run/docker.sock/"));
    EXPECT_TRUE(has_path(0x62656572, "/")); // sysfs denied by default
    EXPECT_TRUE(has_path(0x9fa0, "/sysrq-trigger/"));
    // The mount-source root rule denies every confined level.
    for (const auto &[key, rule] : c.paths) {
        if (key.space == LOCKC_SPACE_MOUNT_SOURCE && key_path(key) == "/") {
            EXPECT_NE(rule.deny[LOCKC_LEVEL_BASELINE], 0);
            EXPECT_NE(rule.deny[LOCKC_LEVEL_RESTRICTED], 0);
            EXPECT_EQ(rule.deny[LOCKC_LEVEL_PRIVILEGED], 0);
        }
    }
    // Kernel filesystems may neither be opened nor mounted.
    const auto debugfs =
        std::ranges::find_if(c.filesystems, [](const auto &e) { return e.first == 0x64626720; });
    ASSERT_NE(debugfs, c.filesystems.end());
    EXPECT_EQ(debugfs->second.open_deny[LOCKC_LEVEL_BASELINE], LOCKC_ACCESS_ALL);
    EXPECT_EQ(debugfs->second.mount_deny[LOCKC_LEVEL_BASELINE], 1);
    // Block devices: any major and minor.
    EXPECT_TRUE(std::ranges::any_of(c.devices, [](const auto &e) {
        return e.first.type == LOCKC_DEV_BLOCK && e.first.major == LOCKC_DEV_ANY &&
               e.first.minor == LOCKC_DEV_ANY;
    }));
}

// What the file_open program decides for a character device: the rule for
// the device, else for its major, else for any character device (the
// kernel's lookup order, bpf/lockc.bpf.c check_device()).
std::uint8_t char_device_denied(const CompiledRules &c, std::uint32_t major, std::uint32_t minor,
                                int level) {
    for (const auto &want : {std::pair{major, minor}, std::pair{major, LOCKC_DEV_ANY},
                             std::pair{LOCKC_DEV_ANY, LOCKC_DEV_ANY}}) {
        const auto it = std::ranges::find_if(c.devices, [&](const auto &e) {
            return e.first.type == LOCKC_DEV_CHAR && e.first.major == want.first &&
                   e.first.minor == want.second;
        });
        if (it != c.devices.end()) {
            return it->second.deny[level];
        }
    }
    return 0;
}

TEST(Compile, RestrictedOpensNoCharacterDeviceButDockersDefaults) {
    const auto c = compile(with_driver_majors(default_rules(), kProcDevices));
    const auto restricted = [&](std::uint32_t major, std::uint32_t minor) {
        return char_device_denied(c, major, minor, LOCKC_LEVEL_RESTRICTED);
    };
    const auto baseline = [&](std::uint32_t major, std::uint32_t minor) {
        return char_device_denied(c, major, minor, LOCKC_LEVEL_BASELINE);
    };
    // Docker's device cgroup: null, zero, full, random, urandom, tty,
    // ptmx, the ptys, tun. Not /dev/console (the host's).
    for (const auto &[major, minor] :
         std::vector<std::pair<std::uint32_t, std::uint32_t>>{{1, 3},
                                                              {1, 5},
                                                              {1, 7},
                                                              {1, 8},
                                                              {1, 9},
                                                              {5, 0},
                                                              {5, 2},
                                                              {136, 0},
                                                              {136, 4095},
                                                              {10, 200}}) {
        EXPECT_EQ(restricted(major, minor), 0) << major << ":" << minor;
        EXPECT_EQ(baseline(major, minor), 0) << major << ":" << minor;
    }
    EXPECT_EQ(restricted(5, 1), LOCKC_ACCESS_ALL);
    EXPECT_EQ(baseline(5, 1), LOCKC_ACCESS_ALL);
    // Known to no rule: baseline's, not restricted's. /dev/kmsg written,
    // /dev/fuse, /dev/kvm, a GPU, hiddev.
    for (const auto &[major, minor] : std::vector<std::pair<std::uint32_t, std::uint32_t>>{
             {1, 11}, {10, 229}, {10, 232}, {226, 0}, {180, 96}}) {
        EXPECT_EQ(restricted(major, minor), LOCKC_ACCESS_ALL) << major << ":" << minor;
        EXPECT_EQ(baseline(major, minor), 0) << major << ":" << minor;
    }
    // Written in this order: the allowed numbers before the rule that
    // would refuse them, so that no upgrade refuses them for a moment.
    const auto position = [&](std::uint32_t major, std::uint32_t minor) {
        return std::ranges::find_if(c.devices,
                                    [&](const auto &e) {
                                        return e.first.type == LOCKC_DEV_CHAR &&
                                               e.first.major == major && e.first.minor == minor;
                                    }) -
               c.devices.begin();
    };
    EXPECT_LT(position(1, 3), position(LOCKC_DEV_ANY, LOCKC_DEV_ANY));
    EXPECT_LT(position(136, LOCKC_DEV_ANY), position(LOCKC_DEV_ANY, LOCKC_DEV_ANY));
    // The denied ones stay denied at both levels, a driver's major too.
    for (const auto &[major, minor] : std::vector<std::pair<std::uint32_t, std::uint32_t>>{
             {1, 1}, {4, 1}, {10, 239}, {249, 0}}) {
        EXPECT_EQ(restricted(major, minor), LOCKC_ACCESS_ALL) << major << ":" << minor;
        EXPECT_EQ(baseline(major, minor), LOCKC_ACCESS_ALL) << major << ":" << minor;
    }
}

TEST(Compile, DriversDeviceRulesAreForTheKernelAndForTheMajorsTheyHave) {
    // Unresolved, a driver's rule goes to the kernel by name, which applies
    // it to each major the driver registers; it is never read as any major.
    const auto unresolved = compile(default_rules());
    const auto names = [](const CompiledRules &c) {
        std::vector<std::string> out;
        for (const auto &[key, rule] : c.drivers) {
            out.emplace_back(key.name);
            EXPECT_NE(rule.deny[LOCKC_LEVEL_BASELINE], 0) << key.name;
            EXPECT_EQ(rule.deny[LOCKC_LEVEL_PRIVILEGED], 0) << key.name;
            EXPECT_EQ(rule.flags, LOCKC_RULE_OF_DRIVER) << key.name;
        }
        std::ranges::sort(out);
        return out;
    };
    EXPECT_EQ(names(unresolved), (std::vector<std::string>{"bsg", "hidraw", "nvme", "nvme-generic",
                                                           "tpm", "usbmon", "watchdog"}));
    // (restricted's rule for any character device denies baseline nothing.)
    const auto any_char_major = [](const CompiledRules &c) {
        return std::ranges::any_of(c.devices, [](const auto &e) {
            return e.first.type == LOCKC_DEV_CHAR && e.first.major == LOCKC_DEV_ANY &&
                   e.second.deny[LOCKC_LEVEL_BASELINE] != 0;
        });
    };
    EXPECT_FALSE(any_char_major(unresolved));

    const auto resolved = with_driver_majors(default_rules(), kProcDevices);
    const auto c = compile(resolved);
    const auto denies_char = [&](std::uint32_t major, std::uint32_t minor) {
        return std::ranges::any_of(c.devices, [&](const auto &e) {
            return e.first.type == LOCKC_DEV_CHAR && e.first.major == major &&
                   e.first.minor == minor && e.second.deny[LOCKC_LEVEL_BASELINE] != 0;
        });
    };
    EXPECT_TRUE(denies_char(21, LOCKC_DEV_ANY));  // sg: a fixed major
    EXPECT_TRUE(denies_char(248, LOCKC_DEV_ANY)); // bsg
    EXPECT_TRUE(denies_char(249, LOCKC_DEV_ANY)); // watchdog
    EXPECT_TRUE(denies_char(10, 130));            // the misc /dev/watchdog
    // Only the majors that drivers hold are marked as theirs: the kernel
    // replaces those once it hands the major to another driver.
    const auto flags_of = [&](std::uint32_t major, std::uint32_t minor) {
        const auto it = std::ranges::find_if(c.devices, [&](const auto &e) {
            return e.first.type == LOCKC_DEV_CHAR && e.first.major == major &&
                   e.first.minor == minor;
        });
        return it == c.devices.end() ? -1 : int{it->second.flags};
    };
    EXPECT_EQ(flags_of(248, LOCKC_DEV_ANY), LOCKC_RULE_OF_DRIVER);
    EXPECT_EQ(flags_of(249, LOCKC_DEV_ANY), LOCKC_RULE_OF_DRIVER);
    EXPECT_EQ(flags_of(21, LOCKC_DEV_ANY), 0);
    EXPECT_EQ(flags_of(10, 130), 0);
    // Not loaded (nvme is only a block name here): left to the kernel.
    EXPECT_FALSE(denies_char(259, LOCKC_DEV_ANY));
    EXPECT_EQ(resolved.devices.size(), default_rules().devices.size() + 2);
    EXPECT_EQ(c.devices.size(), unresolved.devices.size() + 2);
    EXPECT_EQ(names(c), names(unresolved));
    EXPECT_FALSE(any_char_major(c));
    // A driver with two majors gets a rule for each.
    const auto twice = with_driver_majors(
        default_rules(), "Character devices:\n248 bsg\n249 watchdog\n250 watchdog\n");
    EXPECT_EQ(std::ranges::count_if(twice.devices,
                                    [](const DeviceRule &r) {
                                        return r.driver == "watchdog" && r.major.has_value();
                                    }),
              2);
    EXPECT_EQ(compile(twice).devices.size(), unresolved.devices.size() + 3);
    // Nothing listed at all: no majors, the drivers' rules stay for later.
    EXPECT_EQ(with_driver_majors(default_rules(), "").devices.size(),
              default_rules().devices.size());
}

TEST(Compile, ARuleForTheDeviceItselfDecidesOverItsDriversRule) {
    RuleSet rules;
    rules.devices.push_back({'c', 249, std::nullopt, LevelDeny{LOCKC_ACCESS_WRITE, 0}, "", ""});
    rules.devices.push_back({'c', std::nullopt, std::nullopt,
                             LevelDeny{LOCKC_ACCESS_ALL, LOCKC_ACCESS_ALL}, "watchdog", ""});
    const auto c = compile(with_driver_majors(rules, "Character devices:\n249 watchdog\n"));
    ASSERT_EQ(c.devices.size(), 1U);
    EXPECT_EQ(c.devices[0].second.deny[LOCKC_LEVEL_BASELINE], LOCKC_ACCESS_WRITE);
    EXPECT_EQ(c.devices[0].second.deny[LOCKC_LEVEL_RESTRICTED], 0);
    // The device's own rule: never replaced by the kernel.
    EXPECT_EQ(c.devices[0].second.flags, 0);
    ASSERT_EQ(c.drivers.size(), 1U);
    EXPECT_EQ(c.drivers[0].second.deny[LOCKC_LEVEL_RESTRICTED], LOCKC_ACCESS_ALL);
}

// Compiling `devices` fails with an error that says `says`.
void expect_refused(std::vector<DeviceRule> devices, const std::string &says) {
    RuleSet rules;
    rules.devices = std::move(devices);
    try {
        (void)compile(rules);
        ADD_FAILURE() << "compiled: " << says;
    } catch (const Error &e) {
        EXPECT_NE(std::string(e.what()).find(says), std::string::npos) << e.what();
    }
}

TEST(Compile, BadDriverRulesAreRefusedWithTheirName) {
    const auto refused = [](DeviceRule rule, const std::string &says) {
        expect_refused({std::move(rule)}, says);
    };
    const LevelDeny deny{LOCKC_ACCESS_ALL, LOCKC_ACCESS_ALL};
    refused({'b', std::nullopt, std::nullopt, deny, "nvme", ""}, "'nvme': drivers are character");
    refused({'c', std::nullopt, 1, deny, "watchdog", ""}, "'watchdog': it covers every minor");
    refused({'c', std::nullopt, std::nullopt, deny, std::string(LOCKC_DRIVER_NAME_LEN, 'x'), ""},
            "not a driver name");
    refused({'c', std::nullopt, std::nullopt, deny, std::string("a\nb"), ""}, "not a driver name");
    RuleSet twice;
    twice.devices.push_back({'c', std::nullopt, std::nullopt, deny, "bsg", ""});
    twice.devices.push_back({'c', std::nullopt, std::nullopt, deny, "bsg", ""});
    EXPECT_THROW((void)compile(twice), Error);
}

// /proc/misc as the kernel prints it: the minor right-aligned in three
// columns, then the name.
constexpr std::string_view kProcMisc = " 60 efi_capsule_loader\n144 nvram\n  1 psaux\n"
                                       "223 uinput\n260 vga_arbiter\n124 vtpmx\n122 sev\n";

TEST(ProcMisc, MinorsAreReadByName) {
    const auto minors = misc_minors(kProcMisc);
    EXPECT_EQ(minors.size(), 7U);
    EXPECT_EQ(minors.at("efi_capsule_loader"), 60U);
    EXPECT_EQ(minors.at("psaux"), 1U);
    EXPECT_EQ(minors.at("vga_arbiter"), 260U);
    EXPECT_TRUE(misc_minors("").empty());
    EXPECT_TRUE(misc_minors("x nvram\n\n144\n").empty());
}

// A misc device named by a rule: its rule goes to misc_rules for the
// kernel, and the minor it holds now gets the rule in dev_rules, marked as
// the device's so that the kernel drops it once the minor goes to another.
TEST(Compile, MiscDevicesByNameGetTheMinorTheyHold) {
    const auto unresolved = compile(with_driver_majors(default_rules(), kProcDevices));
    std::vector<std::string> names;
    for (const auto &[key, rule] : unresolved.misc) {
        names.emplace_back(key.name);
        EXPECT_EQ(rule.flags, LOCKC_RULE_OF_DRIVER) << key.name;
        EXPECT_EQ(rule.deny[LOCKC_LEVEL_PRIVILEGED], 0) << key.name;
        EXPECT_EQ(rule.deny[LOCKC_LEVEL_BASELINE], LOCKC_ACCESS_ALL) << key.name;
        EXPECT_EQ(rule.deny[LOCKC_LEVEL_RESTRICTED], LOCKC_ACCESS_ALL) << key.name;
    }
    std::ranges::sort(names);
    EXPECT_EQ(names,
              (std::vector<std::string>{"efi_capsule_loader", "sev", "sgx_provision", "vtpmx"}));

    const auto c =
        compile(with_misc_minors(with_driver_majors(default_rules(), kProcDevices), kProcMisc));
    const auto flags_of = [&](std::uint32_t minor) {
        const auto it = std::ranges::find_if(c.devices, [&](const auto &e) {
            return e.first.type == LOCKC_DEV_CHAR && e.first.major == LOCKC_MISC_MAJOR &&
                   e.first.minor == minor;
        });
        return it == c.devices.end() ? -1 : int{it->second.flags};
    };
    EXPECT_EQ(flags_of(60), LOCKC_RULE_OF_DRIVER);
    EXPECT_EQ(flags_of(124), LOCKC_RULE_OF_DRIVER); // vtpmx
    EXPECT_EQ(flags_of(122), LOCKC_RULE_OF_DRIVER); // sev
    EXPECT_EQ(flags_of(144), 0);                    // nvram: a rule for the number itself
    EXPECT_EQ(flags_of(224), 0);                    // the first TPM
    EXPECT_EQ(flags_of(236), 0);                    // device-mapper's control
    EXPECT_EQ(flags_of(239), 0);                    // uhid, not loaded: numbered rules hold anyway
    EXPECT_EQ(flags_of(260), -1);
    EXPECT_EQ(c.devices.size(), unresolved.devices.size() + 3);
    EXPECT_EQ(c.misc.size(), 4U); // every named device, for the kernel
}

TEST(Compile, ARuleForTheMinorItselfDecidesOverAMiscDevicesRule) {
    RuleSet rules;
    rules.devices.push_back({'c', LOCKC_MISC_MAJOR, 60, LevelDeny{LOCKC_ACCESS_WRITE, 0}, "", ""});
    rules.devices.push_back({'c', std::nullopt, std::nullopt,
                             LevelDeny{LOCKC_ACCESS_ALL, LOCKC_ACCESS_ALL}, "",
                             "efi_capsule_loader"});
    const auto c = compile(with_misc_minors(rules, kProcMisc));
    ASSERT_EQ(c.devices.size(), 1U);
    EXPECT_EQ(c.devices[0].second.deny[LOCKC_LEVEL_BASELINE], LOCKC_ACCESS_WRITE);
    EXPECT_EQ(c.devices[0].second.flags, 0);
    ASSERT_EQ(c.misc.size(), 1U);
}

TEST(Compile, BadMiscRulesAreRefusedWithTheirName) {
    const LevelDeny deny{LOCKC_ACCESS_ALL, LOCKC_ACCESS_ALL};
    expect_refused({{'b', std::nullopt, std::nullopt, deny, "", "nvram"}},
                   "'nvram': misc devices are character devices of major 10");
    expect_refused({{'c', 11, 1, deny, "", "nvram"}},
                   "misc devices are character devices of major 10");
    expect_refused({{'c', std::nullopt, 1, deny, "", "nvram"}},
                   "its minor is the kernel's to give");
    expect_refused(
        {{'c', std::nullopt, std::nullopt, deny, "", std::string(LOCKC_DRIVER_NAME_LEN, 'x')}},
        "not a misc device name");
    expect_refused({{'c', std::nullopt, std::nullopt, deny, "misc", "nvram"}},
                   "names a misc device too");
    expect_refused({{'c', std::nullopt, std::nullopt, deny, "", "nvram"},
                    {'c', std::nullopt, std::nullopt, deny, "", "nvram"}},
                   "'nvram' given twice");
    std::vector<DeviceRule> many;
    for (int i = 0; i <= LOCKC_MAX_MISC_RULES; ++i) {
        many.push_back({'c', std::nullopt, std::nullopt, deny, "", "misc" + std::to_string(i)});
    }
    expect_refused(many, "too many device rules for misc devices");
}

// The union that lets file_open skip composing paths: per level, the deny
// bits of every open-path rule, and nothing of other spaces.
TEST(Compile, OpenPathUnionHasEveryOpenPathRulesBitsPerLevel) {
    const auto union_of = [](const RuleSet &rules) {
        const auto c = compile(with_driver_majors(rules, kProcDevices));
        EXPECT_EQ(c.summary.ready, 1); // file_open may trust it
        return c.summary;
    };
    // Built in: only restricted has open-path rules (service-account tokens).
    const auto defaults = union_of(default_rules());
    EXPECT_EQ(defaults.path_deny[LOCKC_LEVEL_PRIVILEGED], 0);
    EXPECT_EQ(defaults.path_deny[LOCKC_LEVEL_BASELINE], 0);
    EXPECT_EQ(defaults.path_deny[LOCKC_LEVEL_RESTRICTED], LOCKC_ACCESS_READ);

    RuleSet added = default_rules();
    added.paths.push_back({RuleSpace::OpenPath, "", "/srv/secret", {LOCKC_ACCESS_WRITE, 0}});
    const auto more = union_of(added);
    EXPECT_EQ(more.path_deny[LOCKC_LEVEL_BASELINE], LOCKC_ACCESS_WRITE);
    EXPECT_EQ(more.path_deny[LOCKC_LEVEL_RESTRICTED], LOCKC_ACCESS_READ);

    // Rules of other spaces do not count.
    RuleSet none;
    none.paths.push_back({RuleSpace::MountSource, "", "/", {1, 1}});
    const auto empty = union_of(none);
    EXPECT_EQ(empty.path_deny[LOCKC_LEVEL_BASELINE], 0);
    EXPECT_EQ(empty.path_deny[LOCKC_LEVEL_RESTRICTED], 0);
}

bool filter_has(const lockc_rule_summary &summary, std::uint64_t magic) {
    const std::uint32_t bit = lockc_fs_filter_bit(magic);
    return (summary.fs_filter[bit / 64] >> (bit % 64) & 1) != 0;
}

// The filter that lets file_open skip the fs_rules lookup: a bit for every
// filesystem rule that can decide an open, none for mount-only rules.
TEST(Compile, FsFilterHasABitForEveryFilesystemRuleThatDecidesOpens) {
    const auto c = compile(with_driver_majors(default_rules(), kProcDevices));
    ASSERT_FALSE(c.filesystems.empty());
    std::size_t deciding = 0;
    for (const auto &[magic, rule] : c.filesystems) {
        const bool decides = (rule.flags & LOCKC_FS_OPEN_BY_PATH) != 0 ||
                             rule.open_deny[LOCKC_LEVEL_BASELINE] != 0 ||
                             rule.open_deny[LOCKC_LEVEL_RESTRICTED] != 0;
        if (decides) {
            ++deciding;
            EXPECT_TRUE(filter_has(c.summary, magic)) << std::hex << magic;
        }
    }
    EXPECT_GT(deciding, 0U);
    // The built-in rules that only decide mounts (tmpfs: allowed, opens
    // unruled), and what has no rule at all, stay out unless a bit is
    // shared: a container's everyday opens skip the lookup.
    const std::pair<const char *, std::uint64_t> everyday[] = {
        {"tmpfs", 0x01021994}, {"overlay", 0x794c7630}, {"ext4", 0xef53},
        {"xfs", 0x58465342},   {"btrfs", 0x9123683e},   {"devpts", 0x1cd1},
        {"nfs", 0x6969},       {"fuse", 0x65735546},    {"squashfs", 0x73717368}};
    for (const auto &[fs, magic] : everyday) {
        EXPECT_FALSE(filter_has(c.summary, magic)) << fs;
    }

    // A rule's bit comes and goes with the rule.
    const auto tmpfs = *fs_magic("tmpfs");
    RuleSet tmpfs_denied;
    tmpfs_denied.filesystems.push_back({"tmpfs", false, {LOCKC_ACCESS_WRITE, 0}, true});
    EXPECT_TRUE(filter_has(compile(tmpfs_denied).summary, tmpfs));
    RuleSet tmpfs_by_path;
    tmpfs_by_path.filesystems.push_back({"tmpfs", true, {}, true});
    EXPECT_TRUE(filter_has(compile(tmpfs_by_path).summary, tmpfs));
    RuleSet tmpfs_mount_only;
    tmpfs_mount_only.filesystems.push_back({"tmpfs", false, {}, false});
    EXPECT_FALSE(filter_has(compile(tmpfs_mount_only).summary, tmpfs));
    EXPECT_EQ(compile(tmpfs_mount_only).summary.ready, 1);
}

bool sock_filter_has(const lockc_rule_summary &summary, std::string_view name) {
    std::array<char, LOCKC_SOCK_HEAD_LEN> head{};
    std::memcpy(head.data(), name.data(), std::min(name.size(), head.size()));
    const std::uint32_t bit = lockc_sock_filter_bit(lockc_sock_head(head.data()));
    return (summary.sock_filter[bit / 64] >> (bit % 64) & 1) != 0;
}

// The filter that lets unix_stream_connect skip the trie: a bit for the
// head of every socket rule at least a head long; any shorter rule makes
// every connect look up.
TEST(Compile, SockFilterHasTheHeadOfEverySocketRule) {
    const auto c = compile(with_driver_majors(default_rules(), kProcDevices));
    EXPECT_EQ(c.summary.sock_short, 0); // no built-in rule is that short
    std::size_t sockets = 0;
    for (const auto &[key, rule] : c.paths) {
        if (key.space == LOCKC_SPACE_UNIX_SOCKET) {
            ++sockets;
            EXPECT_TRUE(sock_filter_has(c.summary, key_path(key))) << key_path(key);
        }
    }
    EXPECT_GT(sockets, 0U);
    // Sockets a container uses every day have heads no built-in rule has.
    for (const char *name :
         {"/tmp/.X11-unix/X0", "@/tmp/.X11-unix/X0", "/run/user/1000/bus", "/run/lockc-bench/x",
          "/var/lib/mysql/mysql.sock", "/run/mysqld/mysqld.sock", "/run/php/php-fpm.sock",
          "/run/nginx.sock", "/tmp/tmux-1000/default", "/run/redis/redis.sock"}) {
        EXPECT_FALSE(sock_filter_has(c.summary, name)) << name;
    }

    RuleSet exact;
    exact.paths.push_back({RuleSpace::UnixSocket, "", "/srv/abc", {1, 1}}); // the head exactly
    exact.paths.push_back({RuleSpace::OpenPath, "", "/tmp/.X11-unix", {1, 1}});
    const auto e = compile(exact).summary;
    EXPECT_EQ(e.sock_short, 0);
    EXPECT_TRUE(sock_filter_has(e, "/srv/abc"));
    EXPECT_FALSE(sock_filter_has(e, "/tmp/.X11-unix")) << "an open-path rule set a socket bit";
    EXPECT_EQ(e.ready, 1);

    for (const char *shorter : {"/srv/ab", "@/x", "/"}) {
        RuleSet r;
        r.paths.push_back({RuleSpace::UnixSocket, "", shorter, {1, 1}});
        EXPECT_EQ(compile(r).summary.sock_short, 1) << shorter;
    }
}

// unix_stream_connect reads the head as one little-endian u64.
TEST(Compile, SockHeadIsTheFirstBytesInMemoryOrder) {
    const char name[] = "@/containerd-shim";
    std::uint64_t in_memory = 0;
    std::memcpy(&in_memory, name, sizeof in_memory);
    EXPECT_EQ(lockc_sock_head(name), in_memory);
    EXPECT_EQ(lockc_sock_head(name) & 0xff, static_cast<std::uint64_t>('@'));
}

TEST(Compile, RejectsBadRulesNamingThem) {
    RuleSet r;
    r.paths.push_back({RuleSpace::FsPath, "nosuchfs", "/x", {}});
    try {
        (void)compile(r);
        FAIL() << "accepted an unknown filesystem";
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument);
        EXPECT_NE(std::string(e.what()).find("nosuchfs"), std::string::npos);
    }
    RuleSet dup;
    dup.paths.push_back({RuleSpace::OpenPath, "", "/a", {}});
    dup.paths.push_back({RuleSpace::OpenPath, "", "/a/", {}});
    EXPECT_THROW((void)compile(dup), Error);
    RuleSet same_magic;
    same_magic.filesystems.push_back({"tmpfs", false, {}, true});
    same_magic.filesystems.push_back({"devtmpfs", false, {}, true});
    EXPECT_THROW((void)compile(same_magic), Error);
    RuleSet dev;
    dev.devices.emplace_back().type = 'x';
    dev.devices.back().major = 1;
    dev.devices.back().minor = 1;
    EXPECT_THROW((void)compile(dev), Error);
    RuleSet wild;
    wild.devices.emplace_back().minor = 3; // any major
    EXPECT_THROW((void)compile(wild), Error);
}

TEST(Compile, SettingsCarryDefaultsAndPatterns) {
    Settings s = default_settings();
    s.default_level = Level::Restricted;
    s.default_mode = Mode::Audit;
    const auto c = compile(s);
    EXPECT_EQ(c.abi_version, unsigned(LOCKC_ABI_VERSION));
    EXPECT_EQ(c.default_level, LOCKC_LEVEL_RESTRICTED);
    EXPECT_EQ(c.default_mode, LOCKC_MODE_AUDIT);
    ASSERT_EQ(c.pattern_count, s.container_patterns.size());
    EXPECT_STREQ(c.patterns[0].prefix, "docker-");
    EXPECT_STREQ(c.patterns[0].suffix, ".scope");
    EXPECT_STREQ(c.patterns[0].parent, "");
    // The cgroupfs driver's /docker/<id>: any name under "docker".
    const auto docker = std::ranges::find(s.container_patterns, NamePattern{"", "", "docker"});
    ASSERT_NE(docker, s.container_patterns.end());
    const auto &compiled = c.patterns[docker - s.container_patterns.begin()];
    EXPECT_STREQ(compiled.prefix, "");
    EXPECT_STREQ(compiled.parent, "docker");
}

TEST(NamePattern, MatchesNameAndParentLikeTheKernelProgram) {
    const NamePattern scope{"docker-", ".scope", ""};
    EXPECT_TRUE(scope.matches("docker-1.scope", "system.slice"));
    EXPECT_TRUE(scope.matches("docker-.scope", ""));
    EXPECT_FALSE(scope.matches("docker-1.slice", "system.slice"));
    EXPECT_FALSE(scope.matches("docker.scope", "system.slice")) << "prefix and suffix overlap";
    const NamePattern under{"", "", "docker"};
    EXPECT_TRUE(under.matches("0123abc", "docker"));
    EXPECT_FALSE(under.matches("0123abc", "dockerd"));
    EXPECT_FALSE(under.matches("0123abc", "docke"));
    EXPECT_FALSE(under.matches("0123abc", ""));
    EXPECT_FALSE((NamePattern{"", "", ""}).matches("anything", "anything"));
    EXPECT_EQ(under.text(), "docker/*");
    EXPECT_EQ(scope.text(), "docker-*.scope");
}

TEST(Compile, RejectsPatternsThatMatchEverythingOrTooMany) {
    Settings empty_prefix;
    empty_prefix.container_patterns = {{"", ".scope", ""}};
    EXPECT_THROW((void)compile(empty_prefix), Error);
    Settings slash;
    slash.container_patterns = {{"a/b", "", ""}};
    EXPECT_THROW((void)compile(slash), Error);
    Settings star_parent;
    star_parent.container_patterns = {{"", "", "pod*"}};
    EXPECT_THROW((void)compile(star_parent), Error);
    Settings long_parent;
    long_parent.container_patterns = {{"", "", std::string(LOCKC_PATTERN_PARENT_LEN, 'p')}};
    EXPECT_THROW((void)compile(long_parent), Error);
    Settings parent_only;
    parent_only.container_patterns = {{"", "", std::string(LOCKC_PATTERN_PARENT_LEN - 1, 'p')}};
    EXPECT_NO_THROW((void)compile(parent_only));
    Settings many;
    many.container_patterns.assign(LOCKC_MAX_PATTERNS + 1, NamePattern{"x-", ".scope", ""});
    EXPECT_THROW((void)compile(many), Error);
    Settings longp;
    longp.container_patterns = {{std::string(LOCKC_PATTERN_PREFIX_LEN, 'a'), "", ""}};
    EXPECT_THROW((void)compile(longp), Error);
}

TEST(AddedRules, AreAppendedOrMergedIntoTheRuleForTheSamePrefixNeverRelaxingIt) {
    RuleSet base;
    base.paths.push_back({RuleSpace::MountSource, "", "/home", {0, 1}});
    base.paths.push_back({RuleSpace::UnixSocket, "", "/run/docker.sock", {1, 1}});
    base.paths.push_back({RuleSpace::FsPath, "proc", "/sys/net", {2, 2}, true});
    const std::vector<PathRule> added = {
        {RuleSpace::MountSource, "", "/home/", {1, 1}},          // stricter: baseline too
        {RuleSpace::UnixSocket, "", "/run/docker.sock", {0, 1}}, // would relax: ignored part
        {RuleSpace::OpenPath, "", "/home", {1, 1}},              // another space: a new rule
        {RuleSpace::FsPath, "proc", "/sys/net", {2, 2}, false},  // drops the exception
    };
    const auto merged = with_added_rules(base, added);
    ASSERT_EQ(merged.paths.size(), 4U);
    EXPECT_EQ(merged.paths[0].path, "/home");
    EXPECT_EQ(merged.paths[0].deny, (LevelDeny{1, 1}));
    EXPECT_EQ(merged.paths[1].deny, (LevelDeny{1, 1}));
    EXPECT_FALSE(merged.paths[2].unless_own_netns);
    EXPECT_EQ(merged.paths[3].space, RuleSpace::OpenPath);
    EXPECT_NO_THROW((void)compile(merged));
    // The built-in policy itself: a file rule repeating one of its
    // prefixes leaves one rule for it, so the result compiles.
    const auto defaults = default_rules();
    const auto again = with_added_rules(defaults, defaults.paths);
    EXPECT_EQ(again.paths.size(), defaults.paths.size());
    EXPECT_NO_THROW((void)compile(with_driver_majors(again, kProcDevices)));
    RuleSet bad;
    bad.paths.push_back({RuleSpace::OpenPath, "", "relative", {1, 1}});
    EXPECT_THROW((void)with_added_rules(base, bad.paths), Error);
}

TEST(FsMagic, KnowsTheFilesystemsTheRulesUse) {
    EXPECT_EQ(fs_magic("sysfs"), 0x62656572u);
    EXPECT_EQ(fs_magic("proc"), 0x9fa0u);
    EXPECT_FALSE(fs_magic("ext4"));
}

} // namespace
} // namespace lockc
