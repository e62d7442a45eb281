// lockcd's denials on the system bus, for as long as the user may see them.
//
// Subscribes with SubscribeDenials (non-interactive: a desktop service
// never asks for a password). Not authorised (AccessDenied): says so once
// and stays idle; lockcd not there: waits for it. Either way it tries
// again when org.lockc.Manager gets a new owner (lockcd restarted, maybe
// with another policy), and after an error other than AccessDenied also
// after a while. Signals from anyone but the subscribed lockcd are
// ignored (any peer can send this connection a signal).
#pragma once

#include "denial_digest.hpp"
#include "model.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <exception>
#include <functional>
#include <optional>
#include <string>

namespace lockc::notify {

enum class SubscriptionState {
    Subscribed,    // denials come
    NotAuthorised, // polkit said no; idle until lockcd restarts
    Waiting,       // lockcd not reachable or failed; retrying
};

// The line lockc-notify logs when polkit says no.
inline constexpr const char *kNotAuthorisedLine =
    "not authorised to see lockc's denials (polkit action "
    "org.lockc.manager.subscribe-denials); no notifications";

class DenialSubscription {
  public:
    // Installs the matches and subscribes once. Throws sdbus::Error when
    // the matches cannot be installed.
    DenialSubscription(sdbus::IConnection &system_bus,
                       std::function<void(const cli::Denial &)> on_denial,
                       std::function<void(const std::string &)> log);
    DenialSubscription(const DenialSubscription &) = delete;
    DenialSubscription &operator=(const DenialSubscription &) = delete;
    DenialSubscription(DenialSubscription &&) = delete;
    DenialSubscription &operator=(DenialSubscription &&) = delete;
    ~DenialSubscription();

    // Handles what the system bus has (on_denial is called from here),
    // then subscribes again if lockcd came back or a retry is due.
    // Throws sdbus::Error when the connection to the bus is lost.
    void process(Clock::time_point now);
    // When process() must run even if the bus is quiet (a retry).
    [[nodiscard]] std::optional<Clock::time_point> next_deadline() const;
    [[nodiscard]] SubscriptionState state() const { return state_; }

  private:
    void subscribe(Clock::time_point now);
    void on_owner_changed(const std::string &old_owner, const std::string &new_owner);
    void on_coalesced(sdbus::Message &message);

    sdbus::IConnection &bus_;
    std::function<void(const cli::Denial &)> on_denial_;
    std::function<void(const std::string &)> log_;
    SubscriptionState state_ = SubscriptionState::Waiting;
    std::string daemon_; // unique name of the lockcd subscribed to; "" while none
    bool resubscribe_ = false;
    std::optional<Clock::time_point> retry_at_;
    std::string last_problem_;          // logged once until it changes
    std::exception_ptr callback_error_; // thrown by on_denial, rethrown by process()
    sdbus::Slot owner_match_;
    sdbus::Slot denied_match_;
};

} // namespace lockc::notify
