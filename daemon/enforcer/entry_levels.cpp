#include "entry_levels.hpp"

#include "error.hpp"
#include "lockc_shared.h"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <string>

namespace lockc {

void flag_entry_levels(int levels_fd, std::optional<int> depth, bool mount_is_root) {
    // The root (level 0) has no entry the hooks look up.
    const int first = std::max(depth.value_or(1), 1);
    const int last = depth && mount_is_root ? first : LOCKC_CGROUP_MAX_DEPTH;
    for (int level = first; level <= std::min(last, LOCKC_CGROUP_MAX_DEPTH); ++level) {
        const auto key = static_cast<std::uint32_t>(level);
        const std::uint32_t one = 1;
        if (bpf_map_update_elem(levels_fd, &key, &one, BPF_ANY) != 0) {
            throw_system("cannot mark cgroup level " + std::to_string(level), errno);
        }
    }
}

} // namespace lockc
