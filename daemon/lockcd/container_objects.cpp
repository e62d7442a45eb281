#include "container_objects.hpp"

#include "api_error.hpp"
#include "bus_names.hpp"
#include "log.hpp"

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string_view>

namespace lockc {

namespace {

using bus::kContainerInterface;
using bus::kContainerPathPrefix;

// The property flags of the vtable (ContainerObjects::vtable()), as the
// interface's EmitsChangedSignal annotations say: no annotation (a change
// is signalled), "const", and no flag for "false".
constexpr auto kChanges = SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE;
constexpr auto kConst = SD_BUS_VTABLE_PROPERTY_CONST;

struct FreeDeleter {
    void operator()(void *p) const noexcept { std::free(p); }
};

// The id a container path encodes, or "" when `path` is not one (deeper
// paths and other prefixes included).
std::string id_of_path(const char *path) {
    char *raw = nullptr;
    if (sd_bus_path_decode(path, kContainerPathPrefix, &raw) <= 0 || raw == nullptr) {
        return "";
    }
    const std::unique_ptr<char, FreeDeleter> owned(raw);
    // sd_bus_path_decode() takes everything after the prefix's slash;
    // a container's path has one element there, and no id is empty.
    const std::string_view rest(path + std::strlen(kContainerPathPrefix));
    if (rest.size() < 2 || rest.find('/', 1) != std::string_view::npos) {
        return "";
    }
    return raw;
}

// An exception as the D-Bus error a caller gets.
int set_error(sd_bus_error *error, const std::exception &e) {
    auto reply = api::to_error_reply(e);
    if (reply.name.empty()) {
        reply.name = api::kFailed;
    }
    return sd_bus_error_set(error, reply.name.c_str(), reply.message.c_str());
}

int append_string(sd_bus_message *reply, const std::string &value) {
    return sd_bus_message_append_basic(reply, 's', value.c_str());
}

int append_u64(sd_bus_message *reply, std::uint64_t value) {
    return sd_bus_message_append_basic(reply, 't', &value);
}

int append_counts(sd_bus_message *reply, const std::map<std::string, std::uint64_t> &counts) {
    int r = sd_bus_message_open_container(reply, 'a', "{st}");
    for (auto it = counts.begin(); r >= 0 && it != counts.end(); ++it) {
        r = sd_bus_message_append(reply, "{st}", it->first.c_str(), it->second);
    }
    return r < 0 ? r : sd_bus_message_close_container(reply);
}

// A strv (NULL-terminated, each string and the array malloc'd) for sd-bus,
// which frees it.
char **to_strv(const std::vector<std::string> &strings) {
    auto *strv = static_cast<char **>(std::calloc(strings.size() + 1, sizeof(char *)));
    if (strv == nullptr) {
        return nullptr;
    }
    for (std::size_t i = 0; i < strings.size(); ++i) {
        strv[i] = ::strdup(strings[i].c_str());
        if (strv[i] == nullptr) {
            for (std::size_t j = 0; j < i; ++j) {
                std::free(strv[j]);
            }
            std::free(strv);
            return nullptr;
        }
    }
    return strv;
}

} // namespace

std::string container_path(const std::string &id) {
    char *raw = nullptr;
    const int r = sd_bus_path_encode(kContainerPathPrefix, id.c_str(), &raw);
    const std::unique_ptr<char, FreeDeleter> owned(raw);
    if (r < 0 || raw == nullptr) {
        throw api::ApiError(api::kFailed, "cannot encode an object path for " + id);
    }
    return raw;
}

ContainerObjects::ContainerObjects(sdbus::IConnection &connection, Service &service)
    : service_(service), bus_(sd_bus_of(connection)) {
    sd_bus_slot *slot = nullptr;
    int r = sd_bus_add_fallback_vtable(bus_.get(), &slot, kContainerPathPrefix, kContainerInterface,
                                       vtable(), &ContainerObjects::find, this);
    if (r < 0) {
        throw std::runtime_error(std::string("cannot serve the container objects: ") +
                                 std::strerror(-r));
    }
    vtable_slot_.reset(slot);
    r = sd_bus_add_node_enumerator(bus_.get(), &slot, kContainerPathPrefix,
                                   &ContainerObjects::enumerate, this);
    if (r < 0) {
        throw std::runtime_error(std::string("cannot list the container objects: ") +
                                 std::strerror(-r));
    }
    enumerator_slot_.reset(slot);
}

const sd_bus_vtable *ContainerObjects::vtable() {
    // Read-only properties, all from one getter, named as in
    // dbus/org.lockc.Manager.xml; tests/dbus checks the two agree.
    static const sd_bus_vtable table[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Id", "s", &ContainerObjects::get_property, 0, kConst),
        SD_BUS_PROPERTY("Level", "s", &ContainerObjects::get_property, 0, kChanges),
        SD_BUS_PROPERTY("Mode", "s", &ContainerObjects::get_property, 0, kChanges),
        SD_BUS_PROPERTY("Runtime", "s", &ContainerObjects::get_property, 0, kConst),
        SD_BUS_PROPERTY("State", "s", &ContainerObjects::get_property, 0, kChanges),
        SD_BUS_PROPERTY("CgroupPath", "s", &ContainerObjects::get_property, 0, kChanges),
        SD_BUS_PROPERTY("CgroupId", "t", &ContainerObjects::get_property, 0, kChanges),
        SD_BUS_PROPERTY("PendingName", "s", &ContainerObjects::get_property, 0, kConst),
        SD_BUS_PROPERTY("RegisteredAt", "t", &ContainerObjects::get_property, 0, kConst),
        SD_BUS_PROPERTY("Decisions", "a{st}", &ContainerObjects::get_property, 0, 0),
        SD_BUS_VTABLE_END,
    };
    return table;
}

const ContainerRecord *ContainerObjects::record_at(const char *path) {
    const auto id = id_of_path(path);
    return id.empty() ? nullptr : service_.find_container(id);
}

int ContainerObjects::find(sd_bus * /*bus*/, const char *path, const char * /*interface*/,
                           void *userdata, void **found, sd_bus_error * /*error*/) {
    auto *self = static_cast<ContainerObjects *>(userdata);
    try {
        if (self->record_at(path) == nullptr) {
            return 0; // no such object: sd-bus answers UnknownObject
        }
    } catch (const std::exception &) {
        return -ENOMEM; // only allocation can fail here
    }
    *found = self;
    return 1;
}

int ContainerObjects::enumerate(sd_bus * /*bus*/, const char * /*prefix*/, void *userdata,
                                char ***nodes, sd_bus_error * /*error*/) {
    auto *self = static_cast<ContainerObjects *>(userdata);
    try {
        std::vector<std::string> paths;
        const auto records = self->service_.containers();
        paths.reserve(records.size());
        for (const auto *record : records) {
            paths.push_back(container_path(record->id));
        }
        *nodes = to_strv(paths);
        return *nodes == nullptr ? -ENOMEM : 0;
    } catch (const std::exception &) {
        return -ENOMEM;
    }
}

int ContainerObjects::get_property(sd_bus * /*bus*/, const char *path, const char * /*interface*/,
                                   const char *property, sd_bus_message *reply, void *userdata,
                                   sd_bus_error *error) {
    auto *self = static_cast<ContainerObjects *>(userdata);
    // Nothing may be thrown through sd-bus (C): every exception becomes
    // the caller's error.
    try {
        const std::string_view name(property);
        // State and the cgroup fields change when a pending container's
        // cgroup appears: bind it first.
        if (name == "State" || name == "CgroupPath" || name == "CgroupId") {
            self->service_.refresh_pending();
        }
        const ContainerRecord *record = self->record_at(path);
        if (record == nullptr) {
            return sd_bus_error_setf(error, "org.freedesktop.DBus.Error.UnknownObject",
                                     "no container at %s", path);
        }
        if (name == "Id") {
            return append_string(reply, record->id);
        }
        if (name == "Level") {
            return append_string(reply, std::string(to_string(record->level)));
        }
        if (name == "Mode") {
            return append_string(reply, std::string(to_string(record->mode)));
        }
        if (name == "Runtime") {
            return append_string(reply, record->runtime);
        }
        if (name == "State") {
            return append_string(reply, std::string(to_string(self->service_.state_of(*record))));
        }
        if (name == "CgroupPath") {
            return append_string(reply, record->cgroup_path);
        }
        if (name == "CgroupId") {
            return append_u64(reply, record->cgroup_id);
        }
        if (name == "PendingName") {
            return append_string(reply, record->pending_name);
        }
        if (name == "RegisteredAt") {
            return append_u64(reply, record->registered_usec);
        }
        if (name == "Decisions") {
            return append_counts(reply, self->service_.decisions_of(*record));
        }
        return sd_bus_error_setf(error, "org.freedesktop.DBus.Error.UnknownProperty",
                                 "no property %s", property);
    } catch (const std::exception &e) {
        return set_error(error, e);
    }
}

void ContainerObjects::announce_added(const std::string &id) {
    const int r = sd_bus_emit_interfaces_added(bus_.get(), container_path(id).c_str(),
                                               kContainerInterface, nullptr);
    if (r < 0) {
        log::warning("cannot announce the container " + id + ": " + std::strerror(-r));
    }
}

void ContainerObjects::announce_removed(const std::string &id) {
    const int r = sd_bus_emit_interfaces_removed(bus_.get(), container_path(id).c_str(),
                                                 kContainerInterface, nullptr);
    if (r < 0) {
        log::warning("cannot announce a removed container: " + std::string(std::strerror(-r)));
    }
}

void ContainerObjects::announce_changed(const std::string &id,
                                        const std::vector<std::string> &properties) {
    std::vector<const char *> names;
    names.reserve(properties.size() + 1);
    for (const auto &p : properties) {
        names.push_back(p.c_str());
    }
    names.push_back(nullptr);
    // sd-bus takes char ** but only reads the strings.
    const int r =
        sd_bus_emit_properties_changed_strv(bus_.get(), container_path(id).c_str(),
                                            kContainerInterface, const_cast<char **>(names.data()));
    if (r < 0) {
        log::warning("cannot announce a change of the container " + id + ": " + std::strerror(-r));
    }
}

} // namespace lockc
