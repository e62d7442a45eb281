#include "authorizer.hpp"

#include "log.hpp"

#include <sdbus-c++/Error.h>
#include <sdbus-c++/Types.h>

#include <chrono>
#include <map>

namespace lockc {

namespace {

constexpr std::uint32_t kAllowUserInteraction = 1;
// Without interaction polkit answers at once; with it, a person may need
// time to type a password (polkit's own agents time out before this).
constexpr auto kQuickTimeout = std::chrono::seconds(25);
constexpr auto kInteractiveTimeout = std::chrono::minutes(5);

} // namespace

Authorizer::Authorizer(sdbus::IConnection &connection)
    : polkit_(sdbus::createProxy(connection, "org.freedesktop.PolicyKit1",
                                 "/org/freedesktop/PolicyKit1/Authority")) {
    polkit_->finishRegistration();
}

void Authorizer::check(const Caller &caller, std::string_view action, bool interactive,
                       const std::function<void(const Verdict &)> &done) {
    if (caller.uid == 0U) {
        done(std::nullopt);
        return;
    }
    using Subject = sdbus::Struct<std::string, std::map<std::string, sdbus::Variant>>;
    const Subject subject{std::string("system-bus-name"),
                          std::map<std::string, sdbus::Variant>{{"name", caller.bus_name}}};
    const std::map<std::string, std::string> details;
    const std::uint32_t flags = interactive ? kAllowUserInteraction : 0;
    auto action_id = std::string(action);
    auto on_reply =
        [this, done, action_id,
         interactive](const sdbus::Error *error,
                      const sdbus::Struct<bool, bool, std::map<std::string, std::string>> &result) {
            --pending_;
            if (error != nullptr) {
                log::warning("polkit did not answer for " + action_id + ": " + error->getMessage());
                done("polkit is not available to authorize " + action_id + " (" + error->getName() +
                     "); only root may do this now");
                return;
            }
            const bool authorized = std::get<0>(result);
            const bool challenge = std::get<1>(result);
            if (authorized) {
                done(std::nullopt);
            } else if (challenge && !interactive) {
                done("authentication is required for " + action_id +
                     "; retry with the option interactive=true and a polkit agent, or as a member "
                     "of group lockc");
            } else {
                done("not authorized for " + action_id);
            }
        };
    try {
        const std::string method = "CheckAuthorization";
        polkit_->callMethodAsync(method)
            .onInterface("org.freedesktop.PolicyKit1.Authority")
            .withTimeout(
                interactive
                    ? std::chrono::duration_cast<std::chrono::microseconds>(kInteractiveTimeout)
                    : std::chrono::duration_cast<std::chrono::microseconds>(kQuickTimeout))
            .withArguments(subject, action_id, details, flags, std::string())
            .uponReplyInvoke(std::move(on_reply));
        ++pending_;
    } catch (const sdbus::Error &e) {
        done("cannot ask polkit: " + e.getMessage());
    }
}

} // namespace lockc
