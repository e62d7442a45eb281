// Text that came from the kernel or a container (paths, comm, cgroup
// names) made safe for D-Bus strings (valid UTF-8) and log lines.
#pragma once

#include <string>
#include <string_view>

namespace lockc {

// Printable ASCII stays; backslash and every other byte become \xNN.
[[nodiscard]] std::string escape_untrusted(std::string_view text);

} // namespace lockc
