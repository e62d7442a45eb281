// Checks of what callers send: container ids, level and mode names, cgroup
// paths and names, and a{sv} options. Each failure is an ApiError whose
// message says what was wrong and what is accepted.
#pragma once

#include "bus_types.hpp"
#include "policy.hpp"

#include <sdbus-c++/Types.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

namespace lockc {

using bus::Options;

inline constexpr std::size_t kMaxContainerIdLength = 255;

// 1 to 255 printable ASCII characters without spaces.
void check_container_id(std::string_view id);

// A level or mode name; "" means `fallback`.
[[nodiscard]] Level level_argument(std::string_view name, Level fallback);
[[nodiscard]] Mode mode_argument(std::string_view name, Mode fallback);

// The same where a name is required ("" is an error too).
[[nodiscard]] Level required_level(std::string_view name);
[[nodiscard]] Mode required_mode(std::string_view name);

// A cgroup v2 path as a caller gives it: relative to the cgroup root
// ("/system.slice/x.scope") or absolute under `mount`. Returns the path
// relative to the root ("/system.slice/x.scope", "/" for the root), with
// no ".", ".." or empty components.
[[nodiscard]] std::string normalize_cgroup_path(std::string_view path,
                                                const std::filesystem::path &mount);
// The same for a path that is relative to the root already (the kernel's
// /proc/<pid>/cgroup): never read as one under the mount, so that a cgroup
// named like the mount ("/sys/fs/cgroup/x" below the root) keeps its name.
[[nodiscard]] std::string normalize_relative_cgroup_path(std::string_view path);

// A cgroup directory name registered before it exists.
void check_cgroup_name(std::string_view name);

// Reads a{sv} options: each key must be known and of the right type;
// every key must be taken before finish() or it is reported as unknown.
class OptionReader {
  public:
    explicit OptionReader(const Options &options) : options_(options) {}
    [[nodiscard]] std::optional<std::string> string(const std::string &key);
    [[nodiscard]] std::optional<std::uint32_t> uint32(const std::string &key);
    [[nodiscard]] std::optional<bool> boolean(const std::string &key);
    // Throws InvalidArgument naming the first key nobody took.
    void finish() const;

  private:
    const sdbus::Variant *find(const std::string &key, std::string_view signature,
                               std::string_view type_name);
    const Options &options_;
    std::set<std::string> taken_;
};

} // namespace lockc
