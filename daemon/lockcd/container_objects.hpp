// The D-Bus objects of the registered containers: org.lockc.Container at
// /org/lockc/Manager/container/<id, path-encoded>, listed by the manager's
// ObjectManager.
//
// One sd-bus fallback vtable and one node enumerator serve every
// container: sd-bus looks the container up in the Service when a call
// arrives. One sdbus-c++ object per container cost about 5 KB each
// (a vtable, a node and hash entries per member); this costs nothing per
// container (docs/benchmarks.md, "Memory"). What a client sees is the
// same: the properties, their change signals and InterfacesAdded/Removed.
#pragma once

#include "raw_bus.hpp"
#include "service.hpp"

#include <sdbus-c++/IConnection.h>

#include <string>
#include <vector>

namespace lockc {

// The object path of a container id (sd_bus_path_encode).
[[nodiscard]] std::string container_path(const std::string &id);

class ContainerObjects {
  public:
    // Serves every container of `service` from now on. Throws
    // std::runtime_error when sd-bus refuses the registration.
    ContainerObjects(sdbus::IConnection &connection, Service &service);
    ContainerObjects(const ContainerObjects &) = delete;
    ContainerObjects &operator=(const ContainerObjects &) = delete;
    ContainerObjects(ContainerObjects &&) = delete;
    ContainerObjects &operator=(ContainerObjects &&) = delete;
    ~ContainerObjects() = default;

    // The signals: InterfacesAdded once `id` is in the service,
    // InterfacesRemoved once it is not, PropertiesChanged of `properties`
    // (which must be ones the interface says emit a change). Failures to
    // send are logged, not thrown: the call that changed the container
    // has succeeded.
    void announce_added(const std::string &id);
    void announce_removed(const std::string &id);
    void announce_changed(const std::string &id, const std::vector<std::string> &properties);

  private:
    static const sd_bus_vtable *vtable();
    static int find(sd_bus *bus, const char *path, const char *interface, void *userdata,
                    void **found, sd_bus_error *error);
    static int enumerate(sd_bus *bus, const char *prefix, void *userdata, char ***nodes,
                         sd_bus_error *error);
    static int get_property(sd_bus *bus, const char *path, const char *interface,
                            const char *property, sd_bus_message *reply, void *userdata,
                            sd_bus_error *error);
    // The registered container at `path`, or nullptr.
    [[nodiscard]] const ContainerRecord *record_at(const char *path);

    Service &service_;
    SdBusRef bus_;
    // Released before bus_ (declared after it).
    SdBusSlotRef vtable_slot_;
    SdBusSlotRef enumerator_slot_;
};

} // namespace lockc
