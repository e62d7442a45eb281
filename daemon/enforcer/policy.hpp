// Policy as a person writes it (levels, modes, rules on paths, filesystems
// and devices) and its compiled form, the entries of the BPF maps.
#pragma once

#include "lockc_shared.h"

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lockc {

enum class Level : std::uint8_t {
    Privileged = LOCKC_LEVEL_PRIVILEGED,
    Baseline = LOCKC_LEVEL_BASELINE,
    Restricted = LOCKC_LEVEL_RESTRICTED,
};

enum class Mode : std::uint8_t {
    Enforce = LOCKC_MODE_ENFORCE,
    Audit = LOCKC_MODE_AUDIT,
};

enum class Phase : std::uint8_t {
    Setup = LOCKC_PHASE_SETUP,
    Pivoted = LOCKC_PHASE_PIVOTED,
    Running = LOCKC_PHASE_RUNNING,
};

[[nodiscard]] std::string_view to_string(Level level);
[[nodiscard]] std::string_view to_string(Mode mode);
[[nodiscard]] std::string_view to_string(Phase phase);
[[nodiscard]] std::optional<Level> parse_level(std::string_view text);
[[nodiscard]] std::optional<Mode> parse_mode(std::string_view text);

// Access kinds denied at each confined level (privileged is never denied).
// Bits are LOCKC_ACCESS_*; for mount sources and sockets any bit denies.
struct LevelDeny {
    std::uint8_t baseline = 0;
    std::uint8_t restricted = 0;
    friend bool operator==(const LevelDeny &, const LevelDeny &) = default;
};

enum class RuleSpace {
    OpenPath,    // file opens, by the path the container sees
    MountSource, // bind-mount sources
    UnixSocket,  // unix socket addresses ("@name" for abstract ones)
    FsPath,      // paths inside one filesystem (PathRule::fs), wherever mounted
};

// A prefix rule: `path` and everything below it. The longest prefix wins.
struct PathRule {
    RuleSpace space = RuleSpace::OpenPath;
    std::string fs; // filesystem name, only for RuleSpace::FsPath
    std::string path;
    LevelDeny deny;
    // Deny only tasks in the host's network namespace (per-netns files).
    bool unless_own_netns = false;
};

struct FsRule {
    std::string fs;             // e.g. "sysfs", "debugfs"
    bool open_by_path = false;  // decide opens by FsPath rules of this fs
    LevelDeny open_deny;        // used when !open_by_path
    bool mount_allowed = false; // confined levels may create such mounts
};

struct DeviceRule {
    char type = 'c';                    // 'c' or 'b'
    std::optional<std::uint32_t> major; // nullopt: any
    std::optional<std::uint32_t> minor; // nullopt: any
    LevelDeny deny;
    // A character device driver whose major the kernel picks at boot or
    // module load, by its name in /proc/devices ("bsg"); all its minors.
    // Unset major: the rule itself, which the kernel applies to each major
    // the driver registers from then on. Set major: one the driver already
    // had (with_driver_majors()).
    std::string driver;
    // A misc device (character major 10) by its name in /proc/misc
    // ("efi_capsule_loader"), whose minor the kernel may pick when it
    // registers. Unset minor: the rule itself, which the kernel applies to
    // the minor the device registers from then on. Set minor: the one it
    // already had (with_misc_minors()).
    std::string misc;
};

struct RuleSet {
    std::vector<PathRule> paths;
    std::vector<FsRule> filesystems;
    std::vector<DeviceRule> devices;
};

// A container-like cgroup name: starts with prefix, ends with suffix, and
// when parent is set its parent directory has exactly that name (the
// cgroupfs driver: /docker/<id>). Written "prefix*suffix" or
// "parent/prefix*suffix"; without a parent the prefix may not be empty.
struct NamePattern {
    std::string prefix;
    std::string suffix;
    std::string parent;

    // Whether a cgroup directory with this name under this parent matches.
    [[nodiscard]] bool matches(std::string_view name, std::string_view parent_name) const;
    [[nodiscard]] std::string text() const;
    friend bool operator==(const NamePattern &, const NamePattern &) = default;
};

struct Settings {
    Level default_level = Level::Baseline;
    Mode default_mode = Mode::Enforce;
    std::vector<NamePattern> container_patterns;
    // Inode of the host's network namespace; Enforcer::configure fills it
    // from /proc/1/ns/net when unset.
    std::uint32_t host_netns_inode = 0;
};

// The built-in policy; docs/policy.md explains each rule.
[[nodiscard]] RuleSet default_rules();
// The text of /proc/devices: the character and block drivers' majors as the
// kernel lists them now.
[[nodiscard]] std::string read_proc_devices();
// The character drivers' majors in `proc_devices` (the text of
// /proc/devices), by driver name; a driver may hold several.
[[nodiscard]] std::multimap<std::string, std::uint32_t, std::less<>>
char_driver_majors(std::string_view proc_devices);
// `rules` plus, for each driver's device rule, a copy with each major that
// `proc_devices` (the text of /proc/devices) lists for that character
// driver: the majors it registered before the rules were applied.
[[nodiscard]] RuleSet with_driver_majors(RuleSet rules, std::string_view proc_devices);
// The text of /proc/misc: the misc devices registered now, "<minor> <name>".
[[nodiscard]] std::string read_proc_misc();
// The misc devices' minors in `proc_misc` (the text of /proc/misc), by name.
[[nodiscard]] std::map<std::string, std::uint32_t, std::less<>>
misc_minors(std::string_view proc_misc);
// `rules` plus, for each misc device's rule, a copy with the minor that
// `proc_misc` lists for that name: the device registered before the rules
// were applied.
[[nodiscard]] RuleSet with_misc_minors(RuleSet rules, std::string_view proc_misc);
[[nodiscard]] Settings default_settings();

// A built-in container name pattern and the engine whose containers' cgroups
// it names ("docker", "podman", "kubernetes"). The engine is a label for
// lockcd, which reads a cgroup's engine and container id from the pattern its
// name matches; the enforcer uses the patterns only.
struct DefaultPattern {
    NamePattern pattern;
    std::string_view engine;
};
// The built-in patterns in the order of default_settings(), which has them
// all and no other.
[[nodiscard]] std::span<const DefaultPattern> default_patterns();

// Superblock magic of a filesystem type name, if lockc knows it.
[[nodiscard]] std::optional<std::uint64_t> fs_magic(std::string_view name);

struct CompiledRules {
    std::vector<std::pair<lockc_path_key, lockc_rule>> paths;
    lockc_rule_summary summary{}; // ready, summing up paths, filesystems, sockets
    std::vector<std::pair<std::uint64_t, lockc_fs_rule>> filesystems;
    std::vector<std::pair<lockc_dev_key, lockc_rule>> devices;
    std::vector<std::pair<lockc_driver_key, lockc_rule>> drivers;
    std::vector<std::pair<lockc_driver_key, lockc_rule>> misc;
};

// Validates and compiles; throws Error(InvalidArgument) naming the bad rule.
[[nodiscard]] CompiledRules compile(const RuleSet &rules);
[[nodiscard]] lockc_settings compile(const Settings &settings);

// The trie key of a path in a space (for lookups and tests): the path
// without trailing '/', plus one '/'. Throws on paths that are not absolute
// (or "@..." in the socket space), are too long, or contain NUL.
[[nodiscard]] lockc_path_key make_path_key(std::uint32_t space, std::string_view path);

// The path part of a trie key ("/a/b/" for "/a/b"), as text.
[[nodiscard]] std::string key_path(const lockc_path_key &key);

// The trie key a path rule compiles to: two rules with the same key are
// rules for the same prefix. Throws like compile() on a bad rule.
[[nodiscard]] lockc_path_key key_of(const PathRule &rule);

// `base` plus `added`. An added rule for a prefix `base` already has a rule
// for is merged into it, denying what either denies: added rules (the
// config file's) make the built-in policy stricter, never weaker.
[[nodiscard]] RuleSet with_added_rules(RuleSet base, std::span<const PathRule> added);

} // namespace lockc
