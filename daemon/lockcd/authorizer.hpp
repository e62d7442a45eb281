// polkit checks for lockcd's privileged methods: asynchronous
// CheckAuthorization calls (subject system-bus-name), so other callers are
// served while polkit thinks or asks for a password. Root is allowed
// without asking; no polkit on the bus means no.
#pragma once

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IProxy.h>

#include <sys/types.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace lockc {

// polkit action ids (polkit/org.lockc.Manager.policy).
namespace action {
inline constexpr std::string_view kRegisterContainer = "org.lockc.manager.register-container";
inline constexpr std::string_view kSetContainerPolicy = "org.lockc.manager.set-container-policy";
inline constexpr std::string_view kSetDefaults = "org.lockc.manager.set-defaults";
inline constexpr std::string_view kReload = "org.lockc.manager.reload";
inline constexpr std::string_view kSubscribeDenials = "org.lockc.manager.subscribe-denials";
inline constexpr std::string_view kRunConfined = "org.lockc.manager.run-confined";
} // namespace action

struct Caller {
    std::string bus_name; // unique name, ":1.42"
    std::optional<uid_t> uid;
    std::optional<pid_t> pid;
};

class Authorizer {
  public:
    explicit Authorizer(sdbus::IConnection &connection);

    // nullopt: allowed; otherwise why not, for an AccessDenied message.
    using Verdict = std::optional<std::string>;
    // Calls `done` exactly once, now (root) or when polkit answers.
    void check(const Caller &caller, std::string_view action, bool interactive,
               const std::function<void(const Verdict &)> &done);

    // Questions polkit has not answered yet.
    [[nodiscard]] std::size_t pending() const noexcept { return pending_; }

  private:
    std::unique_ptr<sdbus::IProxy> polkit_;
    std::size_t pending_ = 0;
};

} // namespace lockc
