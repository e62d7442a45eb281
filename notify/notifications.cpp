#include "notifications.hpp"

#include <chrono>
#include <map>
#include <utility>
#include <vector>

namespace lockc::notify {

namespace {

constexpr const char *kName = "org.freedesktop.Notifications";
constexpr const char *kPath = "/org/freedesktop/Notifications";
constexpr const char *kInterface = "org.freedesktop.Notifications";
// A server that hangs must not stop lockc-notify from reading the system
// bus for long (lockcd drops signals for subscribers that do not read).
constexpr auto kCallTimeout = std::chrono::seconds(5);
// -1: the server's default expiry (GNOME keeps them in its message tray).
constexpr std::int32_t kServerDefaultTimeout = -1;

} // namespace

Notifications::Notifications(sdbus::IConnection &session_bus,
                             std::function<void(const std::string &)> log)
    : proxy_(sdbus::createProxy(session_bus, kName, kPath)), log_(std::move(log)) {}

std::optional<std::uint32_t> Notifications::notify(const NotificationText &text) {
    std::map<std::string, sdbus::Variant> hints;
    hints["urgency"] = sdbus::Variant(static_cast<std::uint8_t>(text.urgency));
    // Desktops that keep notifications list this one under lockc.
    hints["desktop-entry"] = sdbus::Variant(std::string("lockc-notify"));
    try {
        auto call = proxy_->createMethodCall(kInterface, "Notify");
        call << std::string("lockc") << text.replaces_id << std::string("security-high")
             << text.summary << text.body << std::vector<std::string>{} << hints
             << kServerDefaultTimeout;
        auto reply = proxy_->callMethod(call, kCallTimeout);
        std::uint32_t id = 0;
        reply >> id;
        if (unreachable_) {
            unreachable_ = false;
            log_("the notification server answers again");
        }
        return id;
    } catch (const sdbus::Error &e) {
        if (!unreachable_) {
            unreachable_ = true;
            log_("cannot show a notification (" + e.getName() + ": " + e.getMessage() +
                 "); trying again later");
        }
        return std::nullopt;
    }
}

} // namespace lockc::notify
