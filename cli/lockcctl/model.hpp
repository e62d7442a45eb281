// What lockcd tells and is told, as plain values: the client fills them
// from D-Bus, the commands print them.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace lockc::cli {

// The names lockcd accepts (its Levels and Modes properties), least
// confined first; checked locally so that a typo is a usage error.
inline constexpr std::array<std::string_view, 3> kLevels = {"privileged", "baseline", "restricted"};
inline constexpr std::array<std::string_view, 2> kModes = {"enforce", "audit"};

using CountsPerHook = std::map<std::string, std::uint64_t>;

[[nodiscard]] inline std::uint64_t total(const CountsPerHook &counts) {
    std::uint64_t sum = 0;
    for (const auto &[hook, count] : counts) {
        sum += count;
    }
    return sum;
}

struct DaemonStatus {
    std::string version;
    bool enforcing = false;
    std::string enforcement_problem;
    std::vector<std::string> kernel_lsms;
    std::string default_level;
    std::string default_mode;
    std::uint32_t container_count = 0;
    CountsPerHook denials;
    CountsPerHook audits;
    std::uint64_t kernel_drops = 0;
    std::uint64_t events_received = 0;
    std::uint64_t journal_suppressed = 0;
    std::uint64_t signals_suppressed = 0;
};

// One row of ListContainers.
struct ContainerSummary {
    std::string id;
    std::string level;
    std::string mode;
    std::string runtime;
    std::string state;
    std::string object_path;
};

// Every property of an org.lockc.Container object.
struct ContainerDetails {
    std::string id;
    std::string level;
    std::string mode;
    std::string runtime;
    std::string state;
    std::string cgroup_path;
    std::uint64_t cgroup_id = 0;
    std::string pending_name;
    std::uint64_t registered_at_usec = 0;
    CountsPerHook decisions;
};

// One Denied signal.
struct Denial {
    std::string container;
    std::string level;
    std::string mode;
    std::string hook;
    std::string target;
    std::uint32_t pid = 0;
    std::uint32_t uid = 0;
    std::string comm;
    std::int32_t errnum = 0;
    std::uint64_t time_usec = 0; // the first time, for a repeated denial
    // From DeniedCoalesced: how many times this same denial was made, and
    // the last time; otherwise 1, and 0 for "not given" (time_usec is the
    // only time).
    std::uint32_t count = 1;
    std::uint64_t last_usec = 0;
};

// What one level denies (DescribeLevels): kind ("operation", "open",
// "fs-open", "fs-mount", "mount-source", "unix-socket", "device"), target
// and access (what is denied, e.g. "read,write" or words for an operation).
struct LevelDenial {
    std::string kind;
    std::string target;
    std::string access;
};

struct LevelDescription {
    std::string level;
    std::vector<LevelDenial> denies;
};

// Where a container to register lives: exactly one of these.
struct CgroupLocation {
    std::string path;
};
struct ScopeLocation {
    std::string name;
};
struct PidLocation {
    std::uint32_t pid = 0;
};
using Location = std::variant<CgroupLocation, ScopeLocation, PidLocation>;

struct Registration {
    std::string id;
    std::string level;
    std::string mode; // "" for the default mode
    Location location;
    std::string runtime; // "" for none
};

} // namespace lockc::cli
