#include "systemd_units.hpp"

#include <cstdint>
#include <sstream>
#include <tuple>

namespace lockc {

namespace {

constexpr const char *kSystemd = "org.freedesktop.systemd1";
constexpr const char *kSystemdPath = "/org/freedesktop/systemd1";
constexpr const char *kManagerInterface = "org.freedesktop.systemd1.Manager";

using Property = sdbus::Struct<std::string, sdbus::Variant>;

} // namespace

SystemdUnits::SystemdUnits(sdbus::IConnection &connection,
                           const std::function<void(const std::string &)> &on_unit)
    : connection_(connection), manager_(sdbus::createProxy(connection, kSystemd, kSystemdPath)) {
    const auto forward = [on_unit](const std::string &name, const sdbus::ObjectPath &) {
        on_unit(name);
    };
    manager_->uponSignal("UnitNew").onInterface(kManagerInterface).call(forward);
    manager_->uponSignal("UnitRemoved").onInterface(kManagerInterface).call(forward);
    manager_->finishRegistration();
    // Without Subscribe, systemd does not send UnitNew/UnitRemoved. The
    // subscription ends when this connection closes.
    manager_->callMethod("Subscribe").onInterface(kManagerInterface);
}

SystemdUnits::~SystemdUnits() {
    try {
        manager_->callMethod("Unsubscribe").onInterface(kManagerInterface).dontExpectReply();
    } catch (const sdbus::Error &) {
        // the bus is gone; so is the subscription
    }
}

std::vector<std::string> SystemdUnits::cgroups_of(const std::vector<std::string> &patterns) {
    using Unit =
        sdbus::Struct<std::string, std::string, std::string, std::string, std::string, std::string,
                      sdbus::ObjectPath, std::uint32_t, std::string, sdbus::ObjectPath>;
    std::vector<Unit> units;
    manager_->callMethod("ListUnitsByPatterns")
        .onInterface(kManagerInterface)
        .withArguments(std::vector<std::string>{"active", "activating"}, patterns)
        .storeResultsTo(units);
    std::vector<std::string> out;
    for (const auto &unit : units) {
        const auto &path = std::get<6>(unit);
        const auto proxy = sdbus::createProxy(connection_, kSystemd, path);
        // Scopes, services and slices all have ControlGroup; containers are
        // scopes.
        const sdbus::Variant cgroup =
            proxy->getProperty("ControlGroup").onInterface("org.freedesktop.systemd1.Scope");
        const auto text = cgroup.get<std::string>();
        if (!text.empty()) {
            out.push_back(text);
        }
    }
    return out;
}

std::string SystemdUnits::start_scope(const std::string &unit, pid_t pid, const std::string &slice,
                                      const std::string &description) {
    std::vector<Property> properties;
    properties.emplace_back(
        "PIDs", sdbus::Variant(std::vector<std::uint32_t>{static_cast<std::uint32_t>(pid)}));
    properties.emplace_back("Slice", sdbus::Variant(slice));
    properties.emplace_back("Description", sdbus::Variant(description));
    // Gone from systemd (and so from lockc) when its processes have exited,
    // even if one failed.
    properties.emplace_back("CollectMode", sdbus::Variant(std::string("inactive-or-failed")));
    const std::vector<sdbus::Struct<std::string, std::vector<Property>>> auxiliary;
    sdbus::ObjectPath job;
    manager_->callMethod("StartTransientUnit")
        .onInterface(kManagerInterface)
        .withArguments(unit, std::string("fail"), properties, auxiliary)
        .storeResultsTo(job);
    return job;
}

std::string slice_for_cgroup(const std::string &cgroup) {
    std::string slice = "system.slice";
    std::istringstream parts(cgroup);
    std::string part;
    while (std::getline(parts, part, '/')) {
        if (part.ends_with(".service") || part.ends_with(".scope")) {
            break; // below here, units are not PID 1's to place
        }
        if (part.ends_with(".slice")) {
            slice = part;
        }
    }
    return slice;
}

} // namespace lockc
