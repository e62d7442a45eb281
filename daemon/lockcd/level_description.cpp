#include "level_description.hpp"

#include "lockc_shared.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

namespace lockc {

namespace {

// The order of kinds in a level's list.
constexpr std::array<std::string_view, 7> kKindOrder = {
    "operation", "open", "fs-open", "fs-mount", "mount-source", "unix-socket", "device"};

std::size_t kind_rank(std::string_view kind) {
    return static_cast<std::size_t>(std::find(kKindOrder.begin(), kKindOrder.end(), kind) -
                                    kKindOrder.begin());
}

std::uint8_t denied_at(const LevelDeny &deny, Level level) {
    return level == Level::Baseline ? deny.baseline : deny.restricted;
}

std::string access_text(std::uint8_t bits) {
    const bool read = (bits & LOCKC_ACCESS_READ) != 0U;
    const bool write = (bits & LOCKC_ACCESS_WRITE) != 0U;
    if (read && write) {
        return "read,write";
    }
    return read ? "read" : "write";
}

std::string_view kind_of(RuleSpace space) {
    switch (space) {
    case RuleSpace::OpenPath:
        return "open";
    case RuleSpace::MountSource:
        return "mount-source";
    case RuleSpace::UnixSocket:
        return "unix-socket";
    case RuleSpace::FsPath:
        return "fs-open";
    }
    return "open";
}

// `prefix` covers `path` as a trie rule does: the path itself or below it.
bool covers(std::string_view prefix, std::string_view path) {
    while (prefix.size() > 1 && prefix.ends_with('/')) {
        prefix.remove_suffix(1);
    }
    if (prefix == "/") {
        return path.starts_with('/');
    }
    return path == prefix ||
           (path.starts_with(prefix) && path.size() > prefix.size() && path[prefix.size()] == '/');
}

// The longest other rule of the same space (and filesystem) above `rule`.
const PathRule *enclosing(const RuleSet &rules, const PathRule &rule) {
    const PathRule *best = nullptr;
    for (const auto &other : rules.paths) {
        if (&other == &rule || other.space != rule.space || other.fs != rule.fs ||
            other.path.size() >= rule.path.size() || !covers(other.path, rule.path)) {
            continue;
        }
        if (best == nullptr || other.path.size() > best->path.size()) {
            best = &other;
        }
    }
    return best;
}

// What a path rule denies at a level; nullopt if it is not worth a line
// (it denies nothing and is no exception to a rule that does).
std::optional<std::string> path_rule_what(const RuleSet &rules, const PathRule &rule, Level level) {
    const auto bits = denied_at(rule.deny, level);
    if (bits == 0) {
        const auto *outer = enclosing(rules, rule);
        if (outer != nullptr && denied_at(outer->deny, level) != 0) {
            return "allowed";
        }
        return std::nullopt;
    }
    switch (rule.space) {
    case RuleSpace::MountSource:
        return "bind during setup";
    case RuleSpace::UnixSocket:
        return "connect";
    case RuleSpace::OpenPath:
        return access_text(bits);
    case RuleSpace::FsPath:
        return access_text(bits) +
               (rule.unless_own_netns ? " (from the host's network namespace)" : "");
    }
    return access_text(bits);
}

std::string device_text(const DeviceRule &rule) {
    const auto number = [](const std::optional<std::uint32_t> &n) {
        return n ? std::to_string(*n) : std::string("*");
    };
    if (!rule.misc.empty()) {
        return std::string(1, rule.type) + " " + std::to_string(LOCKC_MISC_MAJOR) + ":" + rule.misc;
    }
    const auto major = rule.driver.empty() ? number(rule.major) : rule.driver;
    return std::string(1, rule.type) + " " + major + ":" + number(rule.minor);
}

// Whether device rule `outer` (by number, with wildcards) covers `inner`'s
// devices too: the kernel looks the exact device up first, then its major,
// then any, so `inner` is an exception to it.
bool device_covers(const DeviceRule &outer, const DeviceRule &inner) {
    if (&outer == &inner || outer.type != inner.type || !outer.driver.empty() ||
        !outer.misc.empty() || !inner.driver.empty() || !inner.misc.empty()) {
        return false;
    }
    if (!outer.major) {
        return inner.major.has_value();
    }
    return !outer.minor && inner.major == outer.major && inner.minor.has_value();
}

// What a device rule denies at a level; nullopt if it is not worth a line
// (it denies nothing and is no exception to a rule that does).
std::optional<std::string> device_rule_what(const RuleSet &rules, const DeviceRule &rule,
                                            Level level) {
    if (const auto bits = denied_at(rule.deny, level); bits != 0) {
        return access_text(bits);
    }
    const bool exception = std::ranges::any_of(rules.devices, [&](const DeviceRule &outer) {
        return device_covers(outer, rule) && denied_at(outer.deny, level) != 0;
    });
    return exception ? std::optional<std::string>("allowed") : std::nullopt;
}

// The fixed behaviours of the BPF programs, by hook.
void add_operations(const RuleSet &rules, Level level, std::vector<LevelDenial> &out) {
    const auto add = [&out](std::string target, std::string what) {
        out.push_back({"operation", std::move(target), std::move(what)});
    };
    std::string mountable;
    for (const auto &fs : rules.filesystems) {
        if (fs.mount_allowed) {
            mountable += (mountable.empty() ? "" : ", ") + fs.fs;
        }
    }
    add("syslog", "the kernel log: syslog(2), dmesg, /dev/kmsg");
    add("kernel_module", "loading kernel modules (also automatically), kexec, firmware, policies");
    add("bpf", "bpf(2)");
    add("perf_event_open", "perf_event_open(2)");
    add("ptrace", "ptrace and /proc/PID/{root,cwd,mem,environ,ns} of tasks outside the container");
    add("task_kill", "signals to tasks outside the container, also as a file's SIGIO owner");
    add("file_open", "open_by_handle_at(2)");
    add("file_open", "writing cgroup v2 files outside the container's cgroup, or its own "
                     "cgroup's limits; moving tasks (cgroup.procs, cgroup.threads) unless from "
                     "a cgroup namespace of the container's own, with nsdelegate on the "
                     "hierarchy or a PID namespace of the container's own");
    add("cgroup_tree", "making cgroups outside the container's cgroup, removing any but those "
                       "below it, changing the mode or owner of cgroups and cgroup files but "
                       "those below it, and from Linux 6.10 their extended attributes");
    add("sb_kern_mount", "mounting a filesystem of another type than " +
                             (mountable.empty() ? std::string("none") : mountable) +
                             ", or any on a block device");
    add("sb_mount", "bind mounts from a relative source or one with a '..' component, or "
                    "through a symlink during setup");
    add("move_mount", "move_mount(2): attaching detached mount trees");
    add("capable", "capabilities that act on the whole host: CAP_SYS_RAWIO (port I/O, "
                   "mapping page 0), CAP_SYS_TIME (the clock), CAP_AUDIT_CONTROL (audit "
                   "rules), CAP_SYS_BOOT in the host's PID namespace (reboot), CAP_NET_ADMIN "
                   "in the host's network namespace, or through a socket of it handed in "
                   "(netlink, interface and routing ioctls, firewall and multicast routing "
                   "options); moving a serial port's I/O base "
                   "(TIOCSSERIAL), hibernation's /dev/snapshot and /dev/efi_test; typing into a "
                   "terminal (TIOCSTI), a virtual console's selection (TIOCLINUX), taking the "
                   "console's output (TIOCCONS)");
    if (level == Level::Restricted) {
        add("sb_mount", "any mount(2) once running");
        add("sb_pivotroot", "pivot_root(2) once running");
        add("task_fix_setuid", "a non-root task becoming root (setuid(2) and friends)");
        add("exec_setuid", "exec of a setuid-root binary by a non-root task");
        add("userns_create", "new user namespaces");
        add("socket_create", "AF_PACKET sockets, raw IPv4 and IPv6 sockets");
    }
}

std::vector<LevelDenial> describe(const RuleSet &rules, Level level) {
    std::vector<LevelDenial> ops;
    add_operations(rules, level, ops);

    std::vector<LevelDenial> listed;
    for (const auto &rule : rules.paths) {
        if (const auto what = path_rule_what(rules, rule, level)) {
            const auto target =
                rule.space == RuleSpace::FsPath ? rule.fs + ":" + rule.path : rule.path;
            listed.push_back({std::string(kind_of(rule.space)), target, *what});
        }
    }
    for (const auto &fs : rules.filesystems) {
        const auto bits = denied_at(fs.open_deny, level);
        if (!fs.open_by_path && bits != 0) {
            listed.push_back({"fs-open", fs.fs, access_text(bits)});
        }
        if (!fs.mount_allowed) {
            listed.push_back({"fs-mount", fs.fs, "mount"});
        }
    }
    for (const auto &device : rules.devices) {
        if (const auto what = device_rule_what(rules, device, level)) {
            listed.push_back({"device", device_text(device), *what});
        }
    }
    std::stable_sort(listed.begin(), listed.end(), [](const auto &a, const auto &b) {
        const auto ka = kind_rank(a.kind);
        const auto kb = kind_rank(b.kind);
        return ka != kb ? ka < kb : a.target < b.target;
    });
    ops.insert(ops.end(), std::make_move_iterator(listed.begin()),
               std::make_move_iterator(listed.end()));
    return ops;
}

} // namespace

std::vector<LevelDescription> describe_levels(const RuleSet &rules) {
    return {{Level::Privileged, {}},
            {Level::Baseline, describe(rules, Level::Baseline)},
            {Level::Restricted, describe(rules, Level::Restricted)}};
}

std::vector<LevelDescription> describe_levels(const Config &config) {
    return describe_levels(rules_of(config));
}

} // namespace lockc
