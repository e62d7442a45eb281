// What each level denies, for people (DescribeLevels, `lockcctl levels`):
// the running policy's rules (rules_of(config): the built-in ones plus
// [[rules]]) and the fixed behaviours of the BPF programs
// (bpf/lockc.bpf.c, docs/policy.md), as (kind, target, what) entries.
#pragma once

#include "config.hpp"
#include "policy.hpp"

#include <string>
#include <vector>

namespace lockc {

// One thing a level denies.
//   kind          target                            what
//   "operation"   a hook name as `monitor` shows it  what is denied, in words
//   "open"        a path as the container sees it   "read", "write", "read,write"
//   "fs-open"     "fs" (all of it) or "fs:/path"    the same, maybe with a condition
//   "fs-mount"    a filesystem type                 "mount"
//   "mount-source" a bind-mount source prefix       "bind during setup"
//   "unix-socket" a socket address ("@name")        "connect"
//   "device"      "c 1:1", "c 202:*", "b *:*"       "read", "write", "read,write"
// A path entry of what "allowed" is an exception to a shorter prefix of the
// same kind that denies (e.g. runtime storage under mount-source "/").
struct LevelDenial {
    std::string kind;
    std::string target;
    std::string what;
    friend bool operator==(const LevelDenial &, const LevelDenial &) = default;
};

struct LevelDescription {
    Level level = Level::Privileged;
    std::vector<LevelDenial> denies; // empty for privileged
};

// Every level, least confined first (privileged, baseline, restricted).
// Within a level: operations first, then the rules by kind and target.
[[nodiscard]] std::vector<LevelDescription> describe_levels(const RuleSet &rules);
[[nodiscard]] std::vector<LevelDescription> describe_levels(const Config &config);

} // namespace lockc
