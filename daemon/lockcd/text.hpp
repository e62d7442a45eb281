// Text that came from the kernel or a container (paths, comm, cgroup
// names): made safe for D-Bus strings (valid UTF-8) and log lines, and
// cgroup paths taken apart.
#pragma once

#include <string>
#include <string_view>

namespace lockc {

// Printable ASCII stays; backslash and every other byte become \xNN.
[[nodiscard]] std::string escape_untrusted(std::string_view text);

// The last two components of a '/'-separated path: a cgroup directory's name
// and its parent directory's name, as the kernel's name patterns see them.
// Both view into the path. Nothing is collapsed: a component after the last
// '/', or between the last two, is empty where there is nothing ("a/b/" is
// "" under "b"; "a//b" is "b" under ""), and a path without '/' is a name
// with no parent.
struct PathTail {
    std::string_view name;
    std::string_view parent;
};
[[nodiscard]] PathTail path_tail(std::string_view path);

} // namespace lockc
