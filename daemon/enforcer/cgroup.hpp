// cgroup v2 ids, the keys of lockc's policy map.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

namespace lockc {

// Where cgroup v2 is mounted (/sys/fs/cgroup on a unified host,
// /sys/fs/cgroup/unified on a hybrid one). Throws if it is not mounted.
[[nodiscard]] std::filesystem::path cgroup2_mount();

// Whether `dir` is the root of the cgroup v2 hierarchy (not a cgroup
// namespace's root, nor a bind mount of a subtree): only then is a path's
// depth under it the kernel's cgroup level. Told by cgroup.type, a file
// every cgroup but the root has.
[[nodiscard]] bool is_hierarchy_root(const std::filesystem::path &dir);

// The depth of a cgroup path relative to the cgroup mount ("/a/b" is at 2,
// "/" at 0): the kernel's cgroup level when the mount is the hierarchy's
// root.
[[nodiscard]] int cgroup_depth(const std::filesystem::path &relative);

// The id of the cgroup v2 directory at `path` (what the kernel's
// bpf_get_current_cgroup_id() returns for tasks in it). Throws on error.
[[nodiscard]] std::uint64_t cgroup_id(const std::filesystem::path &path);

// The cgroup v2 path of a process, relative to the cgroup root
// ("/system.slice/foo.service"), from /proc/<pid>/cgroup. Throws on error.
[[nodiscard]] std::filesystem::path cgroup_of_pid(int pid);

// The path (relative to the cgroup root, "/system.slice/x.scope") of the
// cgroup v2 directory with this id, or nullopt if there is none (removed).
// Needs CAP_DAC_READ_SEARCH (open_by_handle_at). Throws on other errors.
[[nodiscard]] std::optional<std::filesystem::path>
cgroup_path_of_id(const std::filesystem::path &mount, std::uint64_t id);

} // namespace lockc
