#include "policy.hpp"

#include "error.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>
#include <utility>

namespace lockc {

namespace {

constexpr std::array kLevelNames = {std::pair{Level::Privileged, "privileged"},
                                    std::pair{Level::Baseline, "baseline"},
                                    std::pair{Level::Restricted, "restricted"}};
constexpr std::array kModeNames = {std::pair{Mode::Enforce, "enforce"},
                                   std::pair{Mode::Audit, "audit"}};

// Superblock magics (include/uapi/linux/magic.h).
constexpr std::array<std::pair<std::string_view, std::uint64_t>, 22> kFsMagics = {{
    {"proc", 0x9fa0},           {"sysfs", 0x62656572},
    {"tmpfs", 0x01021994},      {"devtmpfs", 0x01021994},
    {"devpts", 0x1cd1},         {"mqueue", 0x19800202},
    {"cgroup2", 0x63677270},    {"cgroup", 0x27e0eb},
    {"debugfs", 0x64626720},    {"tracefs", 0x74726163},
    {"securityfs", 0x73636673}, {"bpf", 0xcafe4a11},
    {"configfs", 0x62656570},   {"pstore", 0x6165676c},
    {"efivarfs", 0xde5e81e4},   {"binfmt_misc", 0x42494e4d},
    {"fusectl", 0x65735543},    {"hugetlbfs", 0x958458f6},
    {"overlay", 0x794c7630},    {"nsfs", 0x6e736673},
    {"autofs", 0x0187},         {"selinuxfs", 0xf97cff8c},
}};

constexpr std::uint8_t kRW = LOCKC_ACCESS_ALL;
constexpr std::uint8_t kW = LOCKC_ACCESS_WRITE;
constexpr std::uint8_t kR = LOCKC_ACCESS_READ;
constexpr LevelDeny kDenyBoth{kRW, kRW};
constexpr LevelDeny kAllow{0, 0};

lockc_rule to_rule(const LevelDeny &d) {
    lockc_rule r{};
    r.deny[LOCKC_LEVEL_PRIVILEGED] = 0;
    r.deny[LOCKC_LEVEL_BASELINE] = d.baseline;
    r.deny[LOCKC_LEVEL_RESTRICTED] = d.restricted;
    return r;
}

// A driver's rule, for driver_rules and for the majors it holds: marked so
// that the kernel replaces it once the major is handed to another driver.
lockc_rule to_driver_rule(const LevelDeny &d) {
    lockc_rule r = to_rule(d);
    r.flags |= LOCKC_RULE_OF_DRIVER;
    return r;
}

std::string describe(const PathRule &r) {
    switch (r.space) {
    case RuleSpace::OpenPath:
        return "open path rule '" + r.path + "'";
    case RuleSpace::MountSource:
        return "mount source rule '" + r.path + "'";
    case RuleSpace::UnixSocket:
        return "socket rule '" + r.path + "'";
    case RuleSpace::FsPath:
        return "filesystem path rule '" + r.fs + ":" + r.path + "'";
    }
    return "rule";
}

lockc_dev_key dev_key(const DeviceRule &r) {
    lockc_dev_key key{};
    key.type = r.type == 'c' ? LOCKC_DEV_CHAR : LOCKC_DEV_BLOCK;
    key.major = r.major.value_or(LOCKC_DEV_ANY);
    key.minor = r.minor.value_or(LOCKC_DEV_ANY);
    return key;
}

// A driver's or misc device's name as the kernel registers it: a key of
// driver_rules or misc_rules.
lockc_driver_key name_key(const std::string &what, const std::string &name, std::string_view kind) {
    if (name.size() >= LOCKC_DRIVER_NAME_LEN ||
        name.find_first_of(std::string_view("\0\n", 2)) != std::string::npos) {
        throw Error(ErrorKind::InvalidArgument,
                    what + ": not a " + std::string(kind) + " name (1-" +
                        std::to_string(LOCKC_DRIVER_NAME_LEN - 1) + " bytes, one line)");
    }
    lockc_driver_key key{};
    std::memcpy(key.name, name.data(), name.size());
    return key;
}

lockc_driver_key check_driver_rule(const DeviceRule &r) {
    const std::string what = "device rule for driver '" + r.driver + "'";
    const auto key = name_key(what, r.driver, "driver");
    if (r.type != 'c') {
        throw Error(ErrorKind::InvalidArgument, what + ": drivers are character devices ('c')");
    }
    if (r.minor) {
        throw Error(ErrorKind::InvalidArgument, what + ": it covers every minor, name none");
    }
    if (!r.misc.empty()) {
        throw Error(ErrorKind::InvalidArgument, what + ": names a misc device too");
    }
    return key;
}

lockc_driver_key check_misc_rule(const DeviceRule &r) {
    const std::string what = "device rule for misc device '" + r.misc + "'";
    const auto key = name_key(what, r.misc, "misc device");
    if (r.type != 'c' || (r.major && *r.major != LOCKC_MISC_MAJOR)) {
        throw Error(ErrorKind::InvalidArgument,
                    what + ": misc devices are character devices of major " +
                        std::to_string(LOCKC_MISC_MAJOR));
    }
    if (r.major.has_value() != r.minor.has_value()) {
        throw Error(ErrorKind::InvalidArgument,
                    what + ": its minor is the kernel's to give (name neither major nor minor)");
    }
    return key;
}

// Rules by major and minor first; then the majors drivers already had,
// which give way to a rule for the same device (as the kernel side does
// for majors registered later: lockc_chrdev_*).
void compile_devices(const std::vector<DeviceRule> &rules, CompiledRules &out) {
    std::set<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>> seen;
    std::set<std::string, std::less<>> drivers;
    std::set<std::string, std::less<>> misc;
    for (const auto &r : rules) {
        if (r.type != 'c' && r.type != 'b') {
            throw Error(ErrorKind::InvalidArgument,
                        std::string("device rule type must be 'c' or 'b', not '") + r.type + "'");
        }
        if (!r.driver.empty()) {
            const auto key = check_driver_rule(r);
            if (!r.major) {
                if (!drivers.insert(r.driver).second) {
                    throw Error(ErrorKind::InvalidArgument,
                                "device rule for driver '" + r.driver + "' given twice");
                }
                out.drivers.emplace_back(key, to_driver_rule(r.deny));
            }
            continue;
        }
        if (!r.misc.empty()) {
            const auto key = check_misc_rule(r);
            if (!r.minor) {
                if (!misc.insert(r.misc).second) {
                    throw Error(ErrorKind::InvalidArgument,
                                "device rule for misc device '" + r.misc + "' given twice");
                }
                out.misc.emplace_back(key, to_driver_rule(r.deny));
            }
            continue;
        }
        if (!r.major && r.minor) {
            throw Error(ErrorKind::InvalidArgument,
                        "device rule with any major must have any minor");
        }
        const auto key = dev_key(r);
        if (!seen.emplace(key.type, key.major, key.minor).second) {
            throw Error(ErrorKind::InvalidArgument, "device rule given twice");
        }
        out.devices.emplace_back(key, to_rule(r.deny));
    }
    if (out.devices.size() > LOCKC_MAX_DEV_RULES) {
        throw Error(ErrorKind::InvalidArgument, "too many device rules");
    }
    // The majors drivers hold and the minors misc devices hold.
    for (const auto &r : rules) {
        if ((r.driver.empty() || !r.major) && (r.misc.empty() || !r.minor)) {
            continue;
        }
        const auto key = dev_key(r);
        if (seen.emplace(key.type, key.major, key.minor).second) {
            out.devices.emplace_back(key, to_driver_rule(r.deny));
        }
    }
    if (out.devices.size() > LOCKC_MAX_DEV_RULES + LOCKC_DRIVER_MAJORS_ROOM) {
        throw Error(ErrorKind::InvalidArgument, "the drivers and misc devices named by device "
                                                "rules hold too many majors and minors");
    }
    if (out.drivers.size() > LOCKC_MAX_DRIVER_RULES) {
        throw Error(ErrorKind::InvalidArgument, "too many device rules for drivers");
    }
    if (out.misc.size() > LOCKC_MAX_MISC_RULES) {
        throw Error(ErrorKind::InvalidArgument, "too many device rules for misc devices");
    }
}

} // namespace

std::string_view to_string(Level level) {
    for (const auto &[l, name] : kLevelNames) {
        if (l == level) {
            return name;
        }
    }
    return "unknown";
}

std::string_view to_string(Mode mode) {
    for (const auto &[m, name] : kModeNames) {
        if (m == mode) {
            return name;
        }
    }
    return "unknown";
}

std::string_view to_string(Phase phase) {
    switch (phase) {
    case Phase::Setup:
        return "setup";
    case Phase::Pivoted:
        return "pivoted";
    case Phase::Running:
        return "running";
    }
    return "unknown";
}

std::optional<Level> parse_level(std::string_view text) {
    for (const auto &[l, name] : kLevelNames) {
        if (text == name) {
            return l;
        }
    }
    return std::nullopt;
}

std::optional<Mode> parse_mode(std::string_view text) {
    for (const auto &[m, name] : kModeNames) {
        if (text == name) {
            return m;
        }
    }
    return std::nullopt;
}

std::optional<std::uint64_t> fs_magic(std::string_view name) {
    for (const auto &[fs, magic] : kFsMagics) {
        if (fs == name) {
            return magic;
        }
    }
    return std::nullopt;
}

lockc_path_key make_path_key(std::uint32_t space, std::string_view path) {
    const bool abstract_socket = space == LOCKC_SPACE_UNIX_SOCKET && path.starts_with('@');
    if (!abstract_socket && !path.starts_with('/')) {
        throw Error(ErrorKind::InvalidArgument, "path '" + std::string(path) + "' is not absolute");
    }
    if (path.find('\0') != std::string_view::npos) {
        throw Error(ErrorKind::InvalidArgument, "path contains a NUL byte");
    }
    // "/a/b/" and "/a/b" name the same prefix; "/" becomes "".
    while (!abstract_socket && path.ends_with('/')) {
        path.remove_suffix(1);
    }
    if (path.size() + 1 > LOCKC_PATH_LEN) {
        throw Error(ErrorKind::InvalidArgument, "path '" + std::string(path) + "' is longer than " +
                                                    std::to_string(LOCKC_PATH_LEN - 1) + " bytes");
    }
    lockc_path_key key{};
    key.space = space;
    std::memcpy(key.path, path.data(), path.size());
    key.path[path.size()] = '/';
    key.prefixlen = 32 + 8 * static_cast<std::uint32_t>(path.size() + 1);
    return key;
}

std::string key_path(const lockc_path_key &key) {
    // A path of the full length leaves no room for a terminating NUL.
    return {key.path, ::strnlen(key.path, sizeof key.path)};
}

lockc_path_key key_of(const PathRule &rule) {
    std::uint32_t space = 0;
    switch (rule.space) {
    case RuleSpace::OpenPath:
        space = LOCKC_SPACE_OPEN_PATH;
        break;
    case RuleSpace::MountSource:
        space = LOCKC_SPACE_MOUNT_SOURCE;
        break;
    case RuleSpace::UnixSocket:
        space = LOCKC_SPACE_UNIX_SOCKET;
        break;
    case RuleSpace::FsPath: {
        auto magic = fs_magic(rule.fs);
        if (!magic) {
            throw Error(ErrorKind::InvalidArgument,
                        describe(rule) + ": unknown filesystem '" + rule.fs + "'");
        }
        space = static_cast<std::uint32_t>(*magic);
        break;
    }
    }
    try {
        return make_path_key(space, rule.path);
    } catch (const Error &e) {
        throw Error(ErrorKind::InvalidArgument, describe(rule) + ": " + e.what());
    }
}

RuleSet with_added_rules(RuleSet base, std::span<const PathRule> added) {
    std::map<std::pair<std::uint32_t, std::string>, std::size_t> index;
    for (std::size_t i = 0; i < base.paths.size(); ++i) {
        const auto key = key_of(base.paths[i]);
        index.emplace(std::pair{key.space, key_path(key)}, i);
    }
    for (const auto &rule : added) {
        const auto key = key_of(rule);
        const auto [at, inserted] =
            index.emplace(std::pair{key.space, key_path(key)}, base.paths.size());
        if (inserted) {
            base.paths.push_back(rule);
            continue;
        }
        // The same prefix: deny what either denies, so an added rule can
        // make a rule stricter but never relax it.
        auto &existing = base.paths[at->second];
        existing.deny.baseline |= rule.deny.baseline;
        existing.deny.restricted |= rule.deny.restricted;
        existing.unless_own_netns = existing.unless_own_netns && rule.unless_own_netns;
    }
    return base;
}

CompiledRules compile(const RuleSet &rules) {
    CompiledRules out;
    std::set<std::pair<std::uint32_t, std::string>> seen_paths;
    for (const auto &r : rules.paths) {
        const lockc_path_key key = key_of(r);
        if (!seen_paths.emplace(key.space, key_path(key)).second) {
            throw Error(ErrorKind::InvalidArgument, describe(r) + " is given twice");
        }
        lockc_rule rule = to_rule(r.deny);
        rule.flags = r.unless_own_netns ? LOCKC_RULE_UNLESS_OWN_NETNS : 0;
        out.paths.emplace_back(key, rule);
    }
    // The union of the open-path rules, which lets file_open skip
    // composing a path for levels no such rule can deny; and the heads of
    // the socket rules, which let unix_stream_connect skip the trie for
    // names no rule starts like.
    for (const auto &[key, rule] : out.paths) {
        if (key.space == LOCKC_SPACE_OPEN_PATH) {
            for (std::size_t level = 0; level < LOCKC_LEVEL_COUNT; ++level) {
                out.summary.path_deny[level] |= rule.deny[level];
            }
        } else if (key.space == LOCKC_SPACE_UNIX_SOCKET) {
            // The rule's name: the key without the '/' it ends in.
            if (key_path(key).size() - 1 < LOCKC_SOCK_HEAD_LEN) {
                out.summary.sock_short = 1;
            } else {
                const std::uint32_t bit = lockc_sock_filter_bit(lockc_sock_head(key.path));
                out.summary.sock_filter[bit / 64] |= std::uint64_t{1} << (bit % 64);
            }
        }
    }
    if (out.paths.size() > LOCKC_MAX_PATH_RULES) {
        throw Error(ErrorKind::InvalidArgument,
                    "too many path rules (limit " + std::to_string(LOCKC_MAX_PATH_RULES) + ")");
    }

    std::set<std::uint64_t> seen_fs;
    for (const auto &r : rules.filesystems) {
        auto magic = fs_magic(r.fs);
        if (!magic) {
            throw Error(ErrorKind::InvalidArgument, "unknown filesystem '" + r.fs + "'");
        }
        // tmpfs and devtmpfs share a magic: one rule must serve both.
        if (!seen_fs.insert(*magic).second) {
            throw Error(ErrorKind::InvalidArgument,
                        "filesystem '" + r.fs + "' has a rule already (same magic)");
        }
        lockc_fs_rule fr{};
        fr.open_deny[LOCKC_LEVEL_BASELINE] = r.open_deny.baseline;
        fr.open_deny[LOCKC_LEVEL_RESTRICTED] = r.open_deny.restricted;
        const std::uint8_t mount_deny = r.mount_allowed ? 0 : 1;
        fr.mount_deny[LOCKC_LEVEL_BASELINE] = mount_deny;
        fr.mount_deny[LOCKC_LEVEL_RESTRICTED] = mount_deny;
        fr.flags = r.open_by_path ? LOCKC_FS_OPEN_BY_PATH : 0;
        out.filesystems.emplace_back(*magic, fr);
    }
    if (out.filesystems.size() > LOCKC_MAX_FS_RULES) {
        throw Error(ErrorKind::InvalidArgument, "too many filesystem rules");
    }
    // The filesystems whose rules can decide an open, which lets file_open
    // skip the fs_rules lookup for all others (tmpfs, overlay, ext4, ...).
    for (const auto &[magic, rule] : out.filesystems) {
        const bool decides_opens =
            (rule.flags & LOCKC_FS_OPEN_BY_PATH) != 0 ||
            std::ranges::any_of(rule.open_deny, [](auto d) { return d != 0; });
        if (decides_opens) {
            const std::uint32_t bit = lockc_fs_filter_bit(magic);
            out.summary.fs_filter[bit / 64] |= std::uint64_t{1} << (bit % 64);
        }
    }
    out.summary.ready = 1;

    compile_devices(rules.devices, out);
    return out;
}

lockc_settings compile(const Settings &settings) {
    lockc_settings out{};
    out.abi_version = LOCKC_ABI_VERSION;
    out.default_level = static_cast<std::uint8_t>(settings.default_level);
    out.default_mode = static_cast<std::uint8_t>(settings.default_mode);
    out.host_netns_ino = settings.host_netns_inode;
    if (settings.container_patterns.size() > LOCKC_MAX_PATTERNS) {
        throw Error(ErrorKind::InvalidArgument, "too many container name patterns (limit " +
                                                    std::to_string(LOCKC_MAX_PATTERNS) + ")");
    }
    std::size_t i = 0;
    for (const auto &p : settings.container_patterns) {
        if (p.prefix.empty() && p.parent.empty()) {
            throw Error(ErrorKind::InvalidArgument,
                        "a container name pattern needs a prefix or a parent (it would match "
                        "every cgroup)");
        }
        if (p.prefix.size() >= LOCKC_PATTERN_PREFIX_LEN ||
            p.suffix.size() >= LOCKC_PATTERN_SUFFIX_LEN ||
            p.parent.size() >= LOCKC_PATTERN_PARENT_LEN) {
            throw Error(ErrorKind::InvalidArgument,
                        "container name pattern '" + p.text() + "' is too long");
        }
        const std::string_view forbidden("/*\0", 3);
        if (p.prefix.find_first_of(forbidden) != std::string::npos ||
            p.suffix.find_first_of(forbidden) != std::string::npos ||
            p.parent.find_first_of(forbidden) != std::string::npos) {
            throw Error(ErrorKind::InvalidArgument,
                        "container name pattern '" + p.text() +
                            "' may not contain '/', '*' or NUL in its parts");
        }
        std::memcpy(out.patterns[i].prefix, p.prefix.data(), p.prefix.size());
        std::memcpy(out.patterns[i].suffix, p.suffix.data(), p.suffix.size());
        std::memcpy(out.patterns[i].parent, p.parent.data(), p.parent.size());
        ++i;
    }
    out.pattern_count = static_cast<std::uint8_t>(i);
    return out;
}

bool NamePattern::matches(std::string_view name, std::string_view parent_name) const {
    if (prefix.empty() && parent.empty()) {
        return false; // as in the kernel: it would match every cgroup
    }
    return (parent.empty() || parent_name == parent) &&
           name.size() >= prefix.size() + suffix.size() && name.starts_with(prefix) &&
           name.ends_with(suffix);
}

std::string NamePattern::text() const {
    return (parent.empty() ? "" : parent + "/") + prefix + "*" + suffix;
}

std::span<const DefaultPattern> default_patterns() {
    static const std::array<DefaultPattern, 6> kPatterns = {{
        // The systemd cgroup driver: one scope unit per container.
        {{"docker-", ".scope", ""}, "docker"},
        {{"libpod-", ".scope", ""}, "podman"},
        {{"cri-containerd-", ".scope", ""}, "kubernetes"},
        {{"crio-", ".scope", ""}, "kubernetes"},
        // The cgroupfs driver: Docker's /docker/<id>, podman's
        // /libpod_parent/libpod-<id>.
        {{"", "", "docker"}, "docker"},
        {{"libpod-", "", "libpod_parent"}, "podman"},
    }};
    return kPatterns;
}

Settings default_settings() {
    Settings s;
    for (const auto &d : default_patterns()) {
        s.container_patterns.push_back(d.pattern);
    }
    return s;
}

RuleSet default_rules() {
    RuleSet r;
    const auto fs_path = [&r](std::string fs, std::string path, LevelDeny deny) {
        r.paths.push_back({RuleSpace::FsPath, std::move(fs), std::move(path), deny});
    };
    const auto path = [&r](RuleSpace space, std::string p, LevelDeny deny) {
        r.paths.push_back({space, "", std::move(p), deny});
    };

    // Filesystems a runtime mounts inside a container; all others (and any
    // block-device filesystem) may not be mounted by confined containers.
    for (const char *fs : {"tmpfs", "devpts", "mqueue", "cgroup2"}) {
        r.filesystems.push_back({fs, false, kAllow, true});
    }
    // proc and sysfs are mounted by runtimes too; their files are decided
    // path by path below.
    r.filesystems.push_back({"proc", true, kAllow, true});
    r.filesystems.push_back({"sysfs", true, kAllow, true});
    // Kernel interfaces: any access is a way to the host kernel.
    for (const char *fs : {"debugfs", "tracefs", "securityfs", "bpf", "configfs", "pstore",
                           "efivarfs", "binfmt_misc", "cgroup", "fusectl", "selinuxfs"}) {
        r.filesystems.push_back({fs, false, kDenyBoth, false});
    }

    // sysfs is not namespaced: deny it, then allow what programs need.
    fs_path("sysfs", "/", kDenyBoth);
    fs_path("sysfs", "/devices/system/cpu", {kW, kW});             // nproc, runtimes
    fs_path("sysfs", "/devices/system/node", {kW, kW});            // NUMA libraries
    fs_path("sysfs", "/kernel/mm/transparent_hugepage", {kW, kW}); // allocators
    fs_path("sysfs", "/kernel/mm/hugepages", {kW, kW});
    fs_path("sysfs", "/fs/cgroup", {kW, kW}); // the mount point directory

    // procfs: per-process files are namespaced; these are the host's.
    fs_path("proc", "/sys", {kW, kW}); // sysctls: core_pattern, modprobe, ...
    // Network sysctls belong to the writer's network namespace: a container
    // with its own may set them (Docker sets ip_unprivileged_port_start).
    r.paths.push_back({RuleSpace::FsPath, "proc", "/sys/net", {kW, kW}, true});
    for (const char *p : {"/sysrq-trigger", "/kcore", "/kmsg", "/kallsyms", "/keys", "/timer_list",
                          "/sched_debug", "/acpi", "/latency_stats", "/timer_stats", "/kpagecount",
                          "/kpageflags", "/kpagecgroup"}) {
        fs_path("proc", p, kDenyBoth);
    }
    for (const char *p : {"/bus", "/fs", "/irq", "/scsi", "/sysvipc", "/mtrr"}) {
        fs_path("proc", p, {kW, kW});
    }

    // Kubernetes service-account tokens: restricted pods may not read them.
    path(RuleSpace::OpenPath, "/var/run/secrets/kubernetes.io", {0, kR});
    path(RuleSpace::OpenPath, "/run/secrets/kubernetes.io", {0, kR});

    // Bind mounts: nothing but what runtimes and kubelet bind from their
    // own storage, plus /home for baseline (source code, data).
    path(RuleSpace::MountSource, "/", {1, 1});
    for (const char *p :
         {"/var/lib/docker", "/var/lib/containerd", "/var/lib/containers/storage",
          "/run/containerd", "/run/containers/storage", "/var/lib/kubelet/pods", "/run/k3s",
          "/var/lib/rancher", "/dev/null", "/dev/pts", "/usr/bin/docker-init",
          // runc >= 1.1.12 binds its own binary read-only (CVE-2024-21626)
          "/proc/self/exe"}) {
        path(RuleSpace::MountSource, p, kAllow);
    }
    path(RuleSpace::MountSource, "/home", {0, 1});

    // Container engines and the host's service managers: a container that
    // reaches them can start anything.
    for (const char *p :
         {"/run/docker.sock", "/var/run/docker.sock", "/run/docker", "/run/containerd",
          "/var/run/containerd", "/run/podman", "/run/crio", "/var/run/crio", "/run/buildkit",
          "@/containerd-shim", "/run/dbus/system_bus_socket", "/var/run/dbus/system_bus_socket",
          "/run/systemd/private"}) {
        path(RuleSpace::UnixSocket, p, {1, 1});
    }

    // Devices, denied at both confined levels: by number, or by the name
    // of a driver whose major the kernel picks (with_driver_majors()).
    const auto device = [&r](char type, std::optional<std::uint32_t> major,
                             std::optional<std::uint32_t> minor) {
        DeviceRule rule;
        rule.type = type;
        rule.major = major;
        rule.minor = minor;
        rule.deny = kDenyBoth;
        r.devices.push_back(rule);
    };
    const auto driver_devices = [&r](const char *driver) {
        DeviceRule rule;
        rule.deny = kDenyBoth;
        rule.driver = driver;
        r.devices.push_back(rule);
    };
    const auto misc_device = [&r](const char *name) {
        DeviceRule rule;
        rule.deny = kDenyBoth;
        rule.misc = name;
        r.devices.push_back(rule);
    };
    // Physical memory, I/O ports, MSRs, and every block device.
    device('c', 1, 1);              // /dev/mem
    device('c', 1, 2);              // /dev/kmem
    device('c', 1, 4);              // /dev/port
    device('c', 202, std::nullopt); // /dev/cpu/*/msr
    device('b', std::nullopt, std::nullopt);
    // The disks again, through character devices that pass commands
    // straight to them: SCSI generic (/dev/sg*, whose read-safe and
    // write-safe commands, READ and WRITE among them, need no capability),
    // block SCSI generic (/dev/bsg/*), NVMe controllers (/dev/nvme0: admin
    // and I/O commands) and NVMe namespaces (/dev/ng0n1).
    device('c', 21, std::nullopt); // sg
    for (const char *driver : {"bsg", "nvme", "nvme-generic"}) {
        driver_devices(driver);
    }
    // Hardware watchdogs: opened, one reboots the host unless it is fed.
    device('c', 10, 130); // /dev/watchdog
    driver_devices("watchdog");
    // The host's consoles and its keyboard. A container's terminal is a
    // pty of its own (c 136:*, its /dev/console too); these are the host's:
    // its virtual consoles and serial ports, where its logins run (read,
    // they give away what is typed there; written with TIOCSTI, where the
    // kernel still has it, they type into a root shell), the console
    // device, the screen memory of the virtual consoles, input devices
    // (keyboards: a keylogger) and uinput (a keyboard of one's own that
    // types into the host's session).
    device('c', 4, std::nullopt);  // /dev/tty0-63, /dev/ttyS*
    device('c', 5, 1);             // /dev/console
    device('c', 7, std::nullopt);  // /dev/vcs*, /dev/vcsa*, /dev/vcsu*
    device('c', 13, std::nullopt); // /dev/input/*
    // Below the input layer: raw HID (a keyboard's reports, read without
    // taking the keyboard from the host; a security key's challenges),
    // every USB device through usbfs (the keyboard again; a USB disk's
    // SCSI commands, around the block layer), and the traffic of every USB
    // bus (usbmon).
    driver_devices("hidraw");
    device('c', 189, std::nullopt); // /dev/bus/usb/*/*
    driver_devices("usbmon");
    device('c', 10, 223); // /dev/uinput
    // uhid: a HID device of one's own (a keyboard, as with uinput).
    device('c', 10, 239); // /dev/uhid
    // The host's firmware. The CMOS memory behind /dev/nvram holds the
    // BIOS's settings (boot order, on older machines its password), which
    // the next boot reads. A capsule written to /dev/efi_capsule_loader is
    // applied by the UEFI firmware at the next reboot, below every system
    // the host will boot; its minor is the kernel's to pick, so the rule
    // names the device.
    device('c', 10, 144); // /dev/nvram
    misc_device("efi_capsule_loader");
    // Device-mapper's control: the host's volumes (LVM, LUKS) suspended,
    // removed, or mapped onto other disks.
    device('c', 10, 236); // /dev/mapper/control
    // The host's TPM: its keys, its PCRs (what the host's sealed secrets
    // unseal against), its owner hierarchy, often with an empty lockout
    // password. The first chip keeps the old misc minor; the others and
    // every resource manager (/dev/tpmrmN) are on the "tpm" major. vtpmx
    // makes a TPM that the container would answer for, which the host
    // would take as a chip (random numbers, measurements).
    device('c', 10, 224); // /dev/tpm0
    driver_devices("tpm");
    misc_device("vtpmx");
    // CUSE: a character device of the container's making, in the host's
    // /dev under the name the container gives it, which the host's
    // software would take for the real one.
    device('c', 10, 203); // /dev/cuse
    // The host's confidential-computing firmware. /dev/sev (AMD's secure
    // processor) resets the platform, which destroys the keys of every
    // SEV guest, or makes it new platform keys; /dev/sgx_provision gives
    // enclaves Intel's provisioning key, the platform's identity for
    // attestation. Both minors are the kernel's to pick. (/dev/sgx_enclave,
    // for running enclaves of one's own, stays allowed.)
    misc_device("sev");
    misc_device("sgx_provision");

    // restricted: no character device but those Docker's device cgroup
    // gives every container it starts (lockc holds to it under
    // --privileged, where Docker drops it). A device the list above does
    // not know (a GPU, /dev/vfio, /dev/sev, one not yet made) stays
    // baseline's to open and restricted's to be refused. The rules above
    // decide their devices first (the kernel looks up the exact device,
    // then its major, then this rule), so /dev/console stays denied.
    // The allowed numbers come first: rules are written in this order, and
    // the other way round an upgrade would refuse them for a moment.
    const auto restricted_allows = [&r](std::uint32_t major, std::optional<std::uint32_t> minor) {
        r.devices.push_back({'c', major, minor, kAllow, "", ""});
    };
    // null, zero, full, random, urandom: every program's. /dev/kmsg (1:11)
    // is not among them: it is written without the syslog hook's check.
    for (std::uint32_t minor : {3U, 5U, 7U, 8U, 9U}) {
        restricted_allows(1, minor);
    }
    restricted_allows(5, 0);              // /dev/tty: the caller's own terminal
    restricted_allows(5, 2);              // /dev/ptmx: new ptys of its own devpts
    restricted_allows(136, std::nullopt); // /dev/pts/*, its /dev/console too
    restricted_allows(10, 200);           // /dev/net/tun: interfaces in its own netns
    r.devices.push_back({'c', std::nullopt, std::nullopt, {0, kRW}, "", ""});
    return r;
}

std::string read_proc_devices() {
    std::ifstream devices("/proc/devices");
    std::ostringstream text;
    text << devices.rdbuf();
    if (!devices) {
        throw Error(ErrorKind::System, "cannot read /proc/devices for the device rules");
    }
    return text.str();
}

namespace {

// Calls `each` with every line of `text`, without its newline.
void for_each_line(std::string_view text, const std::function<void(std::string_view)> &each) {
    std::size_t start = 0;
    while (start < text.size()) {
        auto end = text.find('\n', start);
        if (end == std::string_view::npos) {
            end = text.size();
        }
        each(text.substr(start, end - start));
        start = end + 1;
    }
}

// A "<number> <name>" line of /proc/devices or /proc/misc (the number
// right-aligned): the number and the name, if the line is one.
std::optional<std::pair<std::uint32_t, std::string_view>> number_and_name(std::string_view line) {
    const auto first = line.find_first_not_of(' ');
    const auto space = line.find(' ', first);
    if (first == std::string_view::npos || space == std::string_view::npos) {
        return std::nullopt;
    }
    std::uint32_t number = 0;
    const auto digits = line.substr(first, space - first);
    const auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (ec != std::errc() || ptr != digits.data() + digits.size()) {
        return std::nullopt;
    }
    return std::pair{number, line.substr(space + 1)};
}

} // namespace

std::multimap<std::string, std::uint32_t, std::less<>>
char_driver_majors(std::string_view proc_devices) {
    // "Character devices:" then "<major> <name>" lines, a blank line, then
    // "Block devices:" (whose names are another namespace).
    std::multimap<std::string, std::uint32_t, std::less<>> majors;
    bool in_char = false;
    for_each_line(proc_devices, [&](std::string_view line) {
        if (line.ends_with("devices:")) {
            in_char = line == "Character devices:";
            return;
        }
        if (const auto entry = number_and_name(line); in_char && entry) {
            majors.emplace(std::string(entry->second), entry->first);
        }
    });
    return majors;
}

RuleSet with_driver_majors(RuleSet rules, std::string_view proc_devices) {
    const auto majors = char_driver_majors(proc_devices);
    // A driver may hold more than one major: a rule for each.
    std::vector<DeviceRule> registered;
    for (const auto &r : rules.devices) {
        if (r.driver.empty() || r.major) {
            continue;
        }
        const auto [first_major, end_major] = majors.equal_range(r.driver);
        for (auto it = first_major; it != end_major; ++it) {
            registered.push_back(r);
            registered.back().major = it->second;
        }
    }
    rules.devices.insert(rules.devices.end(), registered.begin(), registered.end());
    return rules;
}

std::string read_proc_misc() {
    std::ifstream misc("/proc/misc");
    std::ostringstream text;
    text << misc.rdbuf();
    if (!misc) {
        throw Error(ErrorKind::System, "cannot read /proc/misc for the device rules");
    }
    return text.str();
}

std::map<std::string, std::uint32_t, std::less<>> misc_minors(std::string_view proc_misc) {
    // "<minor> <name>" lines.
    std::map<std::string, std::uint32_t, std::less<>> minors;
    for_each_line(proc_misc, [&](std::string_view line) {
        if (const auto entry = number_and_name(line)) {
            minors.emplace(std::string(entry->second), entry->first);
        }
    });
    return minors;
}

RuleSet with_misc_minors(RuleSet rules, std::string_view proc_misc) {
    const auto minors = misc_minors(proc_misc);
    std::vector<DeviceRule> registered;
    for (const auto &r : rules.devices) {
        if (r.misc.empty() || r.minor) {
            continue;
        }
        if (const auto it = minors.find(r.misc); it != minors.end()) {
            registered.push_back(r);
            registered.back().major = LOCKC_MISC_MAJOR;
            registered.back().minor = it->second;
        }
    }
    rules.devices.insert(rules.devices.end(), registered.begin(), registered.end());
    return rules;
}

} // namespace lockc
