// lockcd's client of systemd (org.freedesktop.systemd1 on the system bus):
// news of units coming and going, the cgroups of running container scopes,
// and transient scopes for RunConfined.
#pragma once

#include <sdbus-c++/sdbus-c++.h>

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace lockc {

class SystemdUnits {
  public:
    // Subscribes to UnitNew/UnitRemoved; `on_unit` gets the unit name of
    // each. Throws sdbus::Error when systemd is not on this bus (a test
    // bus, a container without systemd).
    SystemdUnits(sdbus::IConnection &connection,
                 const std::function<void(const std::string &)> &on_unit);
    SystemdUnits(const SystemdUnits &) = delete;
    SystemdUnits &operator=(const SystemdUnits &) = delete;
    SystemdUnits(SystemdUnits &&) = delete;
    SystemdUnits &operator=(SystemdUnits &&) = delete;
    ~SystemdUnits();

    // The cgroups (relative to the cgroup2 root) of the active units
    // matching any of the glob patterns.
    [[nodiscard]] std::vector<std::string> cgroups_of(const std::vector<std::string> &patterns);

    // Starts a transient scope `unit` in `slice` holding process `pid`;
    // returns systemd's job path. Throws sdbus::Error when systemd refuses.
    std::string start_scope(const std::string &unit, pid_t pid, const std::string &slice,
                            const std::string &description);

  private:
    sdbus::IConnection &connection_;
    std::unique_ptr<sdbus::IProxy> manager_;
};

// The slice a new scope for the process in `cgroup` (relative to the
// cgroup2 root) belongs in: the deepest "*.slice" component that PID 1's
// systemd manages (the path up to a service unit, such as a user's
// user@.service, is its own); "system.slice" when there is none.
[[nodiscard]] std::string slice_for_cgroup(const std::string &cgroup);

} // namespace lockc
