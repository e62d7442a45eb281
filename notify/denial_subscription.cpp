#include "denial_subscription.hpp"

#include "bus_names.hpp"
#include "bus_types.hpp"
#include "client.hpp"

#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

namespace lockc::notify {

namespace {

using bus::kBusName;
using bus::kManagerInterface;
using bus::kManagerPath;
constexpr const char *kBusDriverName = "org.freedesktop.DBus";
constexpr const char *kBusDriverPath = "/org/freedesktop/DBus";
// After an error that a restart of lockcd would not announce (it failed
// to start, or refused for lack of room): try again this much later.
constexpr auto kRetryDelay = std::chrono::seconds(60);

bool means_not_authorised(const std::string &name) {
    return name == "org.freedesktop.DBus.Error.AccessDenied" ||
           name == "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired";
}

} // namespace

DenialSubscription::DenialSubscription(sdbus::IConnection &system_bus,
                                       std::function<void(const cli::Denial &)> on_denial,
                                       std::function<void(const std::string &)> log)
    : bus_(system_bus), on_denial_(std::move(on_denial)), log_(std::move(log)) {
    // The matches first: no restart of lockcd, and nothing it sends after
    // SubscribeDenials, can be missed.
    owner_match_ =
        bus_.addMatch(std::string("type='signal',sender='") + kBusDriverName + "',path='" +
                          kBusDriverPath + "',interface='" + kBusDriverName +
                          "',member='NameOwnerChanged',arg0='" + kBusName + "'",
                      [this](sdbus::Message &message) {
                          // Only the bus itself speaks as org.freedesktop.DBus.
                          if (message.getSender() != kBusDriverName) {
                              return;
                          }
                          std::string name;
                          std::string old_owner;
                          std::string new_owner;
                          try {
                              message >> name >> old_owner >> new_owner;
                          } catch (const sdbus::Error &) {
                              return;
                          }
                          if (name == kBusName) {
                              on_owner_changed(old_owner, new_owner);
                          }
                      });
    denied_match_ =
        bus_.addMatch(std::string("type='signal',sender='") + kBusName + "',path='" + kManagerPath +
                          "',interface='" + kManagerInterface + "',member='DeniedCoalesced'",
                      [this](sdbus::Message &message) { on_coalesced(message); });
    subscribe(Clock::now());
}

DenialSubscription::~DenialSubscription() {
    if (daemon_.empty()) {
        return;
    }
    try {
        // The subscribed lockcd by its unique name: this cannot start a
        // lockcd that stopped meanwhile.
        auto proxy = sdbus::createProxy(bus_, daemon_, kManagerPath);
        auto call = proxy->createMethodCall(kManagerInterface, "UnsubscribeDenials");
        (void)proxy->callMethod(call, std::chrono::seconds(2));
    } catch (const sdbus::Error &) {
        // lockcd drops the subscription anyway when the connection closes.
    }
}

void DenialSubscription::subscribe(Clock::time_point now) {
    retry_at_.reset();
    daemon_.clear();
    try {
        auto manager = sdbus::createProxy(bus_, kBusName, kManagerPath);
        auto call = manager->createMethodCall(kManagerInterface, "SubscribeDenials");
        bus::Options options;
        // Never ask for a password: there is nobody to ask.
        options["interactive"] = sdbus::Variant(false);
        // Repeats counted, one signal per 100 ms instead of one per denial:
        // a burst reaches the digest, with its count, instead of being
        // dropped at lockcd's queue to the bus, and costs the bus little.
        options[bus::kCoalescedOption] = sdbus::Variant(true);
        call << options;
        auto reply = manager->callMethod(call);
        // The lockcd that accepted the subscription, by its unique name,
        // from its own reply: asking the bus for the owner afterwards could
        // name a lockcd that replaced it meanwhile (no subscription there).
        auto sender = reply.getSender();
        if (sender.empty()) {
            throw sdbus::Error("org.freedesktop.DBus.Error.Failed",
                               "SubscribeDenials reply without a sender");
        }
        daemon_ = sender;
        if (state_ != SubscriptionState::Subscribed) {
            log_("receiving lockc's denials");
        }
        state_ = SubscriptionState::Subscribed;
        last_problem_.clear();
        return;
    } catch (const sdbus::Error &e) {
        daemon_.clear();
        std::string problem;
        if (means_not_authorised(e.getName())) {
            state_ = SubscriptionState::NotAuthorised;
            problem = kNotAuthorisedLine;
        } else {
            state_ = SubscriptionState::Waiting;
            retry_at_ = now + kRetryDelay;
            problem = cli::means_unreachable(e.getName())
                          ? "lockcd is not running (" + e.getName() + "); waiting for it"
                          : "cannot receive lockc's denials (" + e.getName() + ": " +
                                e.getMessage() + "); trying again later";
        }
        if (problem != last_problem_) {
            log_(problem);
            last_problem_ = problem;
        }
    }
}

void DenialSubscription::on_owner_changed(const std::string &old_owner,
                                          const std::string &new_owner) {
    if (!new_owner.empty()) {
        resubscribe_ = new_owner != daemon_;
        return;
    }
    if (!daemon_.empty() && old_owner == daemon_) {
        daemon_.clear();
        state_ = SubscriptionState::Waiting;
        last_problem_ = "lockcd stopped; waiting for it to start again";
        log_(last_problem_);
    }
}

void DenialSubscription::on_coalesced(sdbus::Message &message) {
    if (daemon_.empty() || message.getSender() != daemon_) {
        return;
    }
    std::vector<bus::CoalescedDenialEntry> entries;
    try {
        message >> entries;
    } catch (const sdbus::Error &) {
        return; // not the documented signature: nothing to show
    }
    // Nothing may be thrown through sd-bus: process() rethrows it.
    try {
        for (const auto &entry : entries) {
            cli::Denial d;
            std::tie(d.container, d.level, d.mode, d.hook, d.target, d.pid, d.uid, d.comm, d.errnum,
                     d.time_usec, d.last_usec, d.count) = entry;
            on_denial_(d);
        }
    } catch (...) {
        callback_error_ = std::current_exception();
    }
}

void DenialSubscription::process(Clock::time_point now) {
    while (bus_.processPendingRequest()) {
        if (callback_error_) {
            std::rethrow_exception(std::exchange(callback_error_, nullptr));
        }
    }
    // Subscribing is a call on this connection: never from a callback.
    if (resubscribe_ || (retry_at_ && now >= *retry_at_)) {
        resubscribe_ = false;
        subscribe(now);
    }
}

std::optional<Clock::time_point> DenialSubscription::next_deadline() const {
    return resubscribe_ ? std::optional<Clock::time_point>(Clock::now()) : retry_at_;
}

} // namespace lockc::notify
