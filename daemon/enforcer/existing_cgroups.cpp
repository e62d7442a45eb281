#include "existing_cgroups.hpp"

#include "cgroup.hpp"
#include "entry_levels.hpp"
#include "error.hpp"
#include "policy.hpp"

#include <bpf/bpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace lockc {

namespace fs = std::filesystem;

namespace {

// A fixed-size C string field as text (not necessarily NUL-terminated).
template <std::size_t N> std::string field(const char (&chars)[N]) {
    return {chars, strnlen(chars, N)};
}

std::vector<NamePattern> patterns_of(const lockc_settings &s) {
    std::vector<NamePattern> out;
    for (unsigned i = 0; i < s.pattern_count && i < LOCKC_MAX_PATTERNS; ++i) {
        out.push_back({field(s.patterns[i].prefix), field(s.patterns[i].suffix),
                       field(s.patterns[i].parent)});
    }
    return out;
}

struct Maps {
    int policies;
    int pending;
    int levels;
    bool mount_is_root;
    const PolicyGeneration &generation;
};

// Writes an entry for a cgroup `depth` below the mount unless it has one;
// true when written. The level's flag first: the hooks look there from
// then on.
bool write_entry(const Maps &maps, std::uint64_t id, int depth, lockc_policy p) {
    flag_entry_levels(maps.levels, depth, maps.mount_is_root);
    p.phase = LOCKC_PHASE_RUNNING;
    const PolicyGeneration::Write write(maps.generation);
    if (bpf_map_update_elem(maps.policies, &id, &p, BPF_NOEXIST) == 0) {
        return true;
    }
    if (errno == EEXIST) {
        return false;
    }
    throw_system("cannot write the entry of cgroup " + std::to_string(id), errno);
}

struct Dir {
    fs::path path;
    int depth = 0; // the cgroup level: children of the root are at 1
};

} // namespace

std::size_t classify_existing_cgroups(const fs::path &mount, bool mount_is_root,
                                      const lockc_settings &settings, int policies_fd,
                                      int pending_fd, int levels_fd,
                                      const PolicyGeneration &generation) {
    const Maps maps{policies_fd, pending_fd, levels_fd, mount_is_root, generation};
    const auto patterns = patterns_of(settings);
    // Enough for any host; bounds the walk if cgroups are made faster than
    // it reads them.
    constexpr std::size_t kMaxVisited = 1'000'000;
    std::size_t visited = 0;
    std::size_t written = 0;
    std::vector<Dir> todo{{mount, 0}};
    while (!todo.empty() && visited < kMaxVisited) {
        const Dir dir = std::move(todo.back());
        todo.pop_back();
        std::error_code ec;
        // A cgroup removed during the walk has no children to classify.
        for (fs::directory_iterator it(dir.path, ec), end; !ec && it != end; it.increment(ec)) {
            if (!it->is_directory(ec) || ++visited > kMaxVisited) {
                continue;
            }
            std::uint64_t id = 0;
            try {
                id = cgroup_id(it->path());
            } catch (const Error &) {
                continue; // removed meanwhile
            }
            lockc_policy p{};
            if (bpf_map_lookup_elem(policies_fd, &id, &p) == 0) {
                continue; // it has an entry: it and its children are decided
            }
            // As the program reads the name: at most LOCKC_CGROUP_NAME_LEN - 1 bytes.
            std::string name = it->path().filename().string();
            name.resize(std::min<std::size_t>(name.size(), LOCKC_CGROUP_NAME_LEN - 1));
            lockc_pending_key key{};
            std::memcpy(key.name, name.data(), name.size());
            if (bpf_map_lookup_elem(pending_fd, &key, &p) == 0) {
                p.origin = LOCKC_ORIGIN_PENDING;
                written += write_entry(maps, id, dir.depth + 1, p) ? 1 : 0;
                // One-shot, as in the program: the name is this cgroup's now.
                bpf_map_delete_elem(pending_fd, &key);
                continue;
            }
            const std::string parent = dir.depth == 0 ? "" : dir.path.filename().string();
            const bool container_like = std::ranges::any_of(
                patterns, [&](const NamePattern &np) { return np.matches(name, parent); });
            if (container_like) {
                lockc_policy q{};
                q.level = settings.default_level;
                q.mode = settings.default_mode;
                q.origin = LOCKC_ORIGIN_PATTERN;
                written += write_entry(maps, id, dir.depth + 1, q) ? 1 : 0;
                continue;
            }
            if (dir.depth + 1 < LOCKC_CGROUP_MAX_DEPTH) {
                todo.push_back({it->path(), dir.depth + 1});
            }
        }
    }
    return written;
}

} // namespace lockc
