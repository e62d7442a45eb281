// lockcd's public D-Bus API (dbus/org.lockc.Manager.xml), and nothing
// else: every call lockcctl makes is here. D-Bus errors become Failure
// with the exit code and a message that says what to do.
#pragma once

#include "model.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockc::cli {

// How a change is authorised: whether polkit may ask for a password (an
// agent is running), and what to tell the person if polkit says no.
struct Authorization {
    bool interactive = false;
    std::string hint_when_denied = "run as root or join group lockc";
};

// What RunConfined answers: the container lockcd registered for the new
// scope, and the scope's unit name.
struct RunConfinedResult {
    std::string container; // its object path
    std::string unit;      // "lockc-run-<random>.scope" unless one was asked for
};

class Client {
  public:
    // Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS if set).
    Client();

    [[nodiscard]] DaemonStatus status();
    [[nodiscard]] std::vector<ContainerSummary> list_containers();
    // The Decisions of a listed container; nullopt if it was unregistered
    // since the list was read.
    [[nodiscard]] std::optional<CountsPerHook> decisions_of(const ContainerSummary &container);
    [[nodiscard]] ContainerDetails container(const std::string &id);
    // Every level and what it denies, least confined first.
    [[nodiscard]] std::vector<LevelDescription> describe_levels();

    // Returns the container's object path.
    std::string register_container(const Registration &registration,
                                   const Authorization &authorization);
    void unregister_container(const std::string &id, const Authorization &authorization);
    void set_level(const std::string &id, const std::string &level,
                   const Authorization &authorization);
    void set_mode(const std::string &id, const std::string &mode,
                  const Authorization &authorization);
    void set_default_level(const std::string &level, const Authorization &authorization);
    void set_default_mode(const std::string &mode, const Authorization &authorization);
    void reload(const Authorization &authorization);

    // Asks lockcd to move this process into a new transient scope confined
    // at `level` in `mode` ("": the default mode); `unit` and
    // `description` "" for lockcd's defaults. The move itself is systemd's
    // and comes after the answer.
    RunConfinedResult run_confined(const std::string &level, const std::string &mode,
                                   const std::string &unit, const std::string &description,
                                   const Authorization &authorization);
    // The State of the container object at `object_path` (id `id`, for
    // messages): "active", "pending" or "gone".
    [[nodiscard]] std::string container_state(const std::string &object_path,
                                              const std::string &id);

    // Subscribes, and returns the unique bus name of the lockcd that
    // accepted the subscription (Denied signals come from it).
    std::string subscribe_denials(const Authorization &authorization);
    // Unsubscribes from that lockcd only: calling its unique name cannot
    // start (activate) a lockcd that has stopped meanwhile.
    void unsubscribe_denials(const std::string &daemon);

    [[nodiscard]] sdbus::IConnection &connection() { return *connection_; }

  private:
    // The unique bus name that owns org.lockc.Manager now.
    [[nodiscard]] std::string owner_of_manager_name();

    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> manager_;
};

// Denied signals for as long as it lives: subscribes at construction,
// subscribes again when lockcd restarts, unsubscribes at destruction.
// Signals from anyone but the subscribed lockcd are ignored (any peer can
// send this connection a signal).
class DenialSubscription {
  public:
    // on_denial returns false to stop (its output is gone); on_notice gets
    // news for stderr ("lockcd stopped; ...").
    DenialSubscription(Client &client, const Authorization &authorization,
                       std::function<bool(const Denial &)> on_denial,
                       std::function<void(const std::string &)> on_notice);
    DenialSubscription(const DenialSubscription &) = delete;
    DenialSubscription &operator=(const DenialSubscription &) = delete;
    DenialSubscription(DenialSubscription &&) = delete;
    DenialSubscription &operator=(DenialSubscription &&) = delete;
    ~DenialSubscription();

    // Handles the bus until `stop_fd` is readable or on_denial returned
    // false. Throws Failure (and rethrows what the callbacks threw).
    void run_until_readable(int stop_fd);

  private:
    void on_owner_changed(const std::string &old_owner, const std::string &new_owner);
    void on_signal(sdbus::Message &message);
    void process_pending();

    Client &client_;
    std::function<bool(const Denial &)> on_denial_;
    std::function<void(const std::string &)> on_notice_;
    std::string daemon_; // the lockcd subscribed to; "" while none
    bool resubscribe_ = false;
    bool stop_ = false;
    std::exception_ptr callback_error_;
    sdbus::Slot owner_match_;
    sdbus::Slot denied_match_;
};

// Errors that mean lockcd is not there to answer: not running and not
// activatable, gone while answering, or no bus at all.
[[nodiscard]] bool means_unreachable(const std::string &name);

} // namespace lockc::cli
