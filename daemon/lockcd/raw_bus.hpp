// The sd_bus under an sdbus-c++ connection, for what sdbus-c++ 1.2 cannot
// do: fallback vtables and node enumerators, which serve every container
// object from one registration (container_objects.hpp).
#pragma once

#include <sdbus-c++/IConnection.h>
#include <systemd/sd-bus.h>

#include <memory>

namespace lockc {

struct SdBusUnref {
    void operator()(sd_bus *bus) const noexcept { (void)sd_bus_unref(bus); }
};
using SdBusRef = std::unique_ptr<sd_bus, SdBusUnref>;

struct SdBusSlotUnref {
    void operator()(sd_bus_slot *slot) const noexcept { (void)sd_bus_slot_unref(slot); }
};
using SdBusSlotRef = std::unique_ptr<sd_bus_slot, SdBusSlotUnref>;

// A new reference to the sd_bus `connection` runs on. It is processed by
// `connection` (its callbacks run in its processing); the reference only
// keeps the object alive for as long as slots on it are held. Throws
// std::runtime_error.
[[nodiscard]] SdBusRef sd_bus_of(sdbus::IConnection &connection);

} // namespace lockc
