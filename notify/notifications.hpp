// A client of org.freedesktop.Notifications on the session bus: whatever
// server the desktop runs (GNOME Shell, KDE Plasma, dunst, mako, ...).
#pragma once

#include "denial_digest.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace lockc::notify {

class Notifications {
  public:
    // `log` gets one line when the server cannot be reached and one when
    // it answers again (not one per notification).
    Notifications(sdbus::IConnection &session_bus, std::function<void(const std::string &)> log);

    // Notify: app_name "lockc", icon "security-high", the urgency hint,
    // replaces_id. Returns the server's id for the notification, or
    // nullopt when no server answered (the caller retries later). Never
    // throws for what the server does.
    [[nodiscard]] std::optional<std::uint32_t> notify(const NotificationText &text);

  private:
    std::unique_ptr<sdbus::IProxy> proxy_;
    std::function<void(const std::string &)> log_;
    bool unreachable_ = false;
};

} // namespace lockc::notify
