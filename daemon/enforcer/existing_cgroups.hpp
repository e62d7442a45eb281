// Classifying the cgroups that exist when lockc's maps are new: what the
// cgroup_mkdir program would have done had it been attached when they were
// made.
#pragma once

#include "lockc_shared.h"
#include "policy_generation.hpp"

#include <cstddef>
#include <filesystem>

namespace lockc {

// Walks the cgroup tree under `mount` (at most LOCKC_CGROUP_MAX_DEPTH deep)
// and gives each cgroup with no entry on its path from the root the entry
// lockc_cgroup_mkdir would have given it: its name's pending registration
// (taken from `pending_fd`) or, when its name matches one of `settings`'
// patterns, the default level. Cgroups below an entry are left alone: they
// inherit it. Entries are written with BPF_NOEXIST, so one made meanwhile
// (by user space or the attached mkdir program) wins. Found cgroups may
// have run for a long time, so their entries start in phase RUNNING, not
// SETUP: a container half way through its setup is then held to its
// running rules (it may fail to start; it never starts weaker).
// Each entry's level is flagged in `levels_fd` (entry_levels) first: its
// depth under `mount` when `mount_is_root` (is_hierarchy_root()), else
// that depth and every deeper level, one of which is the kernel's.
// Each write is made under a PolicyGeneration::Write of `generation`.
// Returns how many entries were written.
std::size_t classify_existing_cgroups(const std::filesystem::path &mount, bool mount_is_root,
                                      const lockc_settings &settings, int policies_fd,
                                      int pending_fd, int levels_fd,
                                      const PolicyGeneration &generation);

} // namespace lockc
