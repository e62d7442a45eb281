#include "raw_bus.hpp"

#include <sdbus-c++/IProxy.h>
#include <sdbus-c++/Message.h>

#include <stdexcept>

namespace lockc {

namespace {

// sdbus-c++ 1.2 (Debian 12's) has no accessor for a connection's sd_bus
// and no way to adopt an sd_bus made elsewhere.
// A message keeps its sd_bus_message in the protected member
// Message::msg_; a pointer to that member, formed through a derived class
// as the language allows, reads it from any message, and
// sd_bus_message_get_bus() leads from there to the connection.
struct MessageInternals : sdbus::Message {
    static sd_bus_message *raw(const sdbus::Message &message) {
        return static_cast<sd_bus_message *>(message.*(&MessageInternals::msg_));
    }
};

} // namespace

SdBusRef sd_bus_of(sdbus::IConnection &connection) {
    // A call that is made, never sent: only its bus is wanted.
    const auto driver =
        sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    const auto call = driver->createMethodCall("org.freedesktop.DBus", "GetId");
    sd_bus_message *message = MessageInternals::raw(call);
    sd_bus *bus = message == nullptr ? nullptr : sd_bus_message_get_bus(message);
    if (bus == nullptr) {
        throw std::runtime_error("cannot reach the sd_bus of the bus connection");
    }
    return SdBusRef(sd_bus_ref(bus));
}

} // namespace lockc
