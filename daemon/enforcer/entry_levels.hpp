// lockc's entry_levels map: the cgroup levels at which an entry was ever
// made, so that the hooks look up only those levels of a task's cgroup.
#pragma once

#include <optional>

namespace lockc {

// Flags the level of a cgroup about to get an entry, before the entry is
// written (an entry at an unflagged level is never found: an escape).
// `depth` is the cgroup's depth under the cgroup mount lockc reads
// (cgroup_depth()), nullopt when it cannot be told: then every level.
// When the mount is not the hierarchy's root (`mount_is_root` false: a
// cgroup namespace or a subtree mount) the kernel's level is the depth
// plus an unknown number: the depth and every deeper level are flagged.
// Throws on a map error.
void flag_entry_levels(int levels_fd, std::optional<int> depth, bool mount_is_root);

} // namespace lockc
