#include "client.hpp"

#include "bus_names.hpp"
#include "bus_types.hpp"
#include "exit_codes.hpp"

#include <poll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <system_error>
#include <utility>

namespace lockc::cli {

namespace {

using bus::kBusName;
using bus::kContainerInterface;
using bus::kManagerInterface;
using bus::kManagerPath;
constexpr const char *kPropertiesInterface = "org.freedesktop.DBus.Properties";
constexpr const char *kBusDriverName = "org.freedesktop.DBus";
constexpr const char *kBusDriverPath = "/org/freedesktop/DBus";

// lockcd gives polkit 5 minutes to get a password typed; wait a little
// longer than that for its answer.
constexpr auto kInteractiveTimeout = std::chrono::minutes(6);

using bus::Options;
using Properties = std::map<std::string, sdbus::Variant>;
using bus::ContainerEntry;
using bus::LevelEntry;

// What a call is for, so that its errors can say so.
struct CallContext {
    std::string action;    // "change the level of container web"
    std::string container; // the id, when the call is about one
    const Authorization *authorization = nullptr;
};

std::string in_parentheses(const std::string &text) {
    return text.empty() ? "" : " (" + text + ")";
}

// What happened, without what lockcd advises a D-Bus caller to do (the
// part after "; "): lockcctl gives its own advice.
std::string first_clause(const std::string &message) {
    return message.substr(0, message.find("; "));
}

[[noreturn]] void throw_failure(const sdbus::Error &error, const CallContext &context) {
    const auto &name = error.getName();
    // A container's object that vanished between two calls is NotFound too.
    const bool not_found =
        name == "org.lockc.Error.NotFound" ||
        (!context.container.empty() && name == "org.freedesktop.DBus.Error.UnknownObject");
    if (not_found) {
        // Without a container in question (register), lockcd's message
        // says what was not found.
        throw Failure(ExitCode::NotFound,
                      context.container.empty()
                          ? "cannot " + context.action + ": " + error.getMessage()
                          : "no container " + context.container +
                                " is registered; see 'lockcctl list'");
    }
    if (name == "org.freedesktop.DBus.Error.AccessDenied" ||
        name == "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired") {
        const std::string hint = context.authorization != nullptr
                                     ? context.authorization->hint_when_denied
                                     : Authorization{}.hint_when_denied;
        throw Failure(ExitCode::NotAuthorised,
                      "not authorised to " + context.action +
                          in_parentheses(first_clause(error.getMessage())) + "; " + hint);
    }
    if (means_unreachable(name)) {
        throw Failure(ExitCode::Unreachable, "lockcd is not running and could not be started" +
                                                 in_parentheses(error.getMessage()) +
                                                 "; see 'systemctl status lockcd'");
    }
    throw Failure(ExitCode::Failure, "cannot " + context.action + ": " + error.getMessage());
}

[[noreturn]] void throw_unexpected_reply(const CallContext &context, const std::string &what) {
    throw Failure(ExitCode::Failure, "cannot " + context.action + ": lockcd's answer has " + what +
                                         "; are lockcd and lockcctl from the same version?");
}

// Throws sdbus::Error.
sdbus::MethodReply call(sdbus::IProxy &proxy, const sdbus::MethodCall &message,
                        const CallContext &context) {
    if (context.authorization != nullptr && context.authorization->interactive) {
        return proxy.callMethod(message, kInteractiveTimeout);
    }
    return proxy.callMethod(message);
}

sdbus::MethodReply invoke(sdbus::IProxy &proxy, const sdbus::MethodCall &message,
                          const CallContext &context) {
    try {
        return call(proxy, message, context);
    } catch (const sdbus::Error &e) {
        throw_failure(e, context);
    }
}

// Whether systemd is the service manager here, as sd_booted() tells.
bool booted_with_systemd() {
    std::error_code error;
    return std::filesystem::is_directory("/run/systemd/system", error);
}

// RunConfined's errors: those of every call, and two of its own. A lockcd
// from before RunConfined does not know the method; without systemd,
// lockcd answers Failed (the scope is systemd's to make).
[[noreturn]] void throw_run_failure(const sdbus::Error &error, const CallContext &context) {
    const auto &name = error.getName();
    if (name == "org.freedesktop.DBus.Error.UnknownMethod") {
        throw Failure(ExitCode::Failure, "cannot " + context.action +
                                             ": this lockcd does not know RunConfined" +
                                             in_parentheses(error.getMessage()) +
                                             "; update lockcd to lockcctl's version");
    }
    if (name == "org.lockc.Error.Failed" && !booted_with_systemd()) {
        throw Failure(ExitCode::Failure,
                      "cannot " + context.action + ": " + first_clause(error.getMessage()) +
                          "; lockcctl run needs systemd as the service manager (PID 1)");
    }
    throw_failure(error, context);
}

// Reads a method's reply into `values`.
template <typename... Values>
void read_reply(sdbus::MethodReply &reply, const CallContext &context, Values &...values) {
    try {
        (reply >> ... >> values);
    } catch (const sdbus::Error &) {
        throw_unexpected_reply(context, "unexpected types");
    }
}

Options options_for(const Authorization &authorization) {
    Options options;
    options["interactive"] = sdbus::Variant(authorization.interactive);
    return options;
}

Properties all_properties(sdbus::IProxy &proxy, const std::string &interface,
                          const CallContext &context) {
    auto message = proxy.createMethodCall(kPropertiesInterface, "GetAll");
    message << interface;
    auto reply = invoke(proxy, message, context);
    Properties properties;
    read_reply(reply, context, properties);
    return properties;
}

template <typename T>
T property(const Properties &properties, const std::string &name, const CallContext &context) {
    const auto it = properties.find(name);
    if (it == properties.end()) {
        throw_unexpected_reply(context, "no property " + name);
    }
    if (!it->second.containsValueOfType<T>()) {
        throw_unexpected_reply(context, "the property " + name + " with an unexpected type");
    }
    return it->second.get<T>();
}

} // namespace

// Errors that mean lockcd is not there to answer: not running and not
// activatable (the bus has no service file, or systemd could not start
// it), gone while answering, or no bus at all.
bool means_unreachable(const std::string &name) {
    static constexpr std::array<std::string_view, 9> kNames = {
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NameHasNoOwner",
        "org.freedesktop.DBus.Error.NoReply",
        "org.freedesktop.DBus.Error.Timeout",
        "org.freedesktop.DBus.Error.TimedOut",
        "org.freedesktop.DBus.Error.NoServer",
        "org.freedesktop.DBus.Error.Disconnected",
        "System.Error.ECONNRESET",
        "System.Error.ENOTCONN",
    };
    return std::find(kNames.begin(), kNames.end(), name) != kNames.end() ||
           name.starts_with("org.freedesktop.DBus.Error.Spawn.") ||
           name.starts_with("org.freedesktop.systemd1.");
}

Client::Client() {
    try {
        connection_ = sdbus::createSystemBusConnection();
    } catch (const sdbus::Error &e) {
        throw Failure(ExitCode::Unreachable, "cannot connect to the system bus" +
                                                 in_parentheses(e.getMessage()) +
                                                 "; see 'systemctl status dbus'");
    }
    manager_ = sdbus::createProxy(*connection_, kBusName, kManagerPath);
}

DaemonStatus Client::status() {
    const CallContext context{"read lockcd's state", ""};
    const auto p = all_properties(*manager_, kManagerInterface, context);
    DaemonStatus s;
    s.version = property<std::string>(p, "Version", context);
    s.enforcing = property<bool>(p, "Enforcing", context);
    s.enforcement_problem = property<std::string>(p, "EnforcementProblem", context);
    s.kernel_lsms = property<std::vector<std::string>>(p, "KernelLsms", context);
    s.default_level = property<std::string>(p, "DefaultLevel", context);
    s.default_mode = property<std::string>(p, "DefaultMode", context);
    s.container_count = property<std::uint32_t>(p, "ContainerCount", context);
    s.denials = property<CountsPerHook>(p, "Denials", context);
    s.audits = property<CountsPerHook>(p, "Audits", context);
    s.kernel_drops = property<std::uint64_t>(p, "KernelDrops", context);
    s.events_received = property<std::uint64_t>(p, "EventsReceived", context);
    s.journal_suppressed = property<std::uint64_t>(p, "JournalSuppressed", context);
    s.signals_suppressed = property<std::uint64_t>(p, "SignalsSuppressed", context);
    return s;
}

std::vector<ContainerSummary> Client::list_containers() {
    const CallContext context{"list the containers", ""};
    auto message = manager_->createMethodCall(kManagerInterface, "ListContainers");
    auto reply = invoke(*manager_, message, context);
    std::vector<ContainerEntry> entries;
    read_reply(reply, context, entries);
    std::vector<ContainerSummary> containers;
    containers.reserve(entries.size());
    for (auto &entry : entries) {
        containers.push_back({std::move(std::get<0>(entry)), std::move(std::get<1>(entry)),
                              std::move(std::get<2>(entry)), std::move(std::get<3>(entry)),
                              std::move(std::get<4>(entry)), std::move(std::get<5>(entry))});
    }
    return containers;
}

std::vector<LevelDescription> Client::describe_levels() {
    const CallContext context{"describe the levels", ""};
    auto message = manager_->createMethodCall(kManagerInterface, "DescribeLevels");
    auto reply = invoke(*manager_, message, context);
    std::vector<LevelEntry> entries;
    read_reply(reply, context, entries);
    std::vector<LevelDescription> levels;
    levels.reserve(entries.size());
    for (auto &entry : entries) {
        LevelDescription level{std::move(std::get<0>(entry)), {}};
        level.denies.reserve(std::get<1>(entry).size());
        for (auto &denial : std::get<1>(entry)) {
            level.denies.push_back({std::move(std::get<0>(denial)), std::move(std::get<1>(denial)),
                                    std::move(std::get<2>(denial))});
        }
        levels.push_back(std::move(level));
    }
    return levels;
}

std::optional<CountsPerHook> Client::decisions_of(const ContainerSummary &container) {
    const CallContext context{"read the decisions of container " + container.id, container.id};
    auto proxy = sdbus::createProxy(*connection_, kBusName, container.object_path);
    auto message = proxy->createMethodCall(kPropertiesInterface, "Get");
    message << std::string(kContainerInterface) << std::string("Decisions");
    try {
        auto reply = invoke(*proxy, message, context);
        sdbus::Variant value;
        read_reply(reply, context, value);
        if (!value.containsValueOfType<CountsPerHook>()) {
            throw_unexpected_reply(context, "Decisions with an unexpected type");
        }
        return value.get<CountsPerHook>();
    } catch (const Failure &e) {
        if (e.code() == ExitCode::NotFound) {
            return std::nullopt; // unregistered since the list was read
        }
        throw;
    }
}

ContainerDetails Client::container(const std::string &id) {
    const CallContext context{"read container " + id, id};
    auto message = manager_->createMethodCall(kManagerInterface, "GetContainer");
    message << id;
    auto reply = invoke(*manager_, message, context);
    sdbus::ObjectPath path;
    read_reply(reply, context, path);
    auto proxy = sdbus::createProxy(*connection_, kBusName, path);
    const auto p = all_properties(*proxy, kContainerInterface, context);
    ContainerDetails c;
    c.id = property<std::string>(p, "Id", context);
    c.level = property<std::string>(p, "Level", context);
    c.mode = property<std::string>(p, "Mode", context);
    c.runtime = property<std::string>(p, "Runtime", context);
    c.state = property<std::string>(p, "State", context);
    c.cgroup_path = property<std::string>(p, "CgroupPath", context);
    c.cgroup_id = property<std::uint64_t>(p, "CgroupId", context);
    c.pending_name = property<std::string>(p, "PendingName", context);
    c.registered_at_usec = property<std::uint64_t>(p, "RegisteredAt", context);
    c.decisions = property<CountsPerHook>(p, "Decisions", context);
    return c;
}

std::string Client::register_container(const Registration &registration,
                                       const Authorization &authorization) {
    const CallContext context{"register container " + registration.id, "", &authorization};
    auto options = options_for(authorization);
    if (const auto *cgroup = std::get_if<CgroupLocation>(&registration.location)) {
        options["cgroup"] = sdbus::Variant(cgroup->path);
    } else if (const auto *scope = std::get_if<ScopeLocation>(&registration.location)) {
        options["scope"] = sdbus::Variant(scope->name);
    } else {
        options["pid"] = sdbus::Variant(std::get<PidLocation>(registration.location).pid);
    }
    if (!registration.runtime.empty()) {
        options["runtime"] = sdbus::Variant(registration.runtime);
    }
    auto message = manager_->createMethodCall(kManagerInterface, "RegisterContainer");
    message << registration.id << registration.level << registration.mode << options;
    auto reply = invoke(*manager_, message, context);
    sdbus::ObjectPath path;
    read_reply(reply, context, path);
    return path;
}

void Client::unregister_container(const std::string &id, const Authorization &authorization) {
    const CallContext context{"unregister container " + id, id, &authorization};
    auto message = manager_->createMethodCall(kManagerInterface, "UnregisterContainer");
    message << id << options_for(authorization);
    (void)invoke(*manager_, message, context);
}

void Client::set_level(const std::string &id, const std::string &level,
                       const Authorization &authorization) {
    const CallContext context{"change the level of container " + id, id, &authorization};
    auto message = manager_->createMethodCall(kManagerInterface, "SetLevel");
    message << id << level << options_for(authorization);
    (void)invoke(*manager_, message, context);
}

void Client::set_mode(const std::string &id, const std::string &mode,
                      const Authorization &authorization) {
    const CallContext context{"change the mode of container " + id, id, &authorization};
    auto message = manager_->createMethodCall(kManagerInterface, "SetMode");
    message << id << mode << options_for(authorization);
    (void)invoke(*manager_, message, context);
}

void Client::set_default_level(const std::string &level, const Authorization &authorization) {
    const CallContext context{"change the default level", "", &authorization};
    auto message = manager_->createMethodCall(kManagerInterface, "SetDefaultLevel");
    message << level << options_for(authorization);
    (void)invoke(*manager_, message, context);
}

void Client::set_default_mode(const std::string &mode, const Authorization &authorization) {
    const CallContext context{"change the default mode", "", &authorization};
    auto message = manager_->createMethodCall(kManagerInterface, "SetDefaultMode");
    message << mode << options_for(authorization);
    (void)invoke(*manager_, message, context);
}

void Client::reload(const Authorization &authorization) {
    const CallContext context{"reload lockcd's configuration", "", &authorization};
    auto message = manager_->createMethodCall(kManagerInterface, "Reload");
    message << options_for(authorization);
    (void)invoke(*manager_, message, context);
}

RunConfinedResult Client::run_confined(const std::string &level, const std::string &mode,
                                       const std::string &unit, const std::string &description,
                                       const Authorization &authorization) {
    const CallContext context{"run a command confined by lockc", "", &authorization};
    auto options = options_for(authorization);
    if (!unit.empty()) {
        options["unit"] = sdbus::Variant(unit);
    }
    if (!description.empty()) {
        options["description"] = sdbus::Variant(description);
    }
    auto message = manager_->createMethodCall(kManagerInterface, "RunConfined");
    message << level << mode << options;
    sdbus::MethodReply reply;
    try {
        reply = call(*manager_, message, context);
    } catch (const sdbus::Error &e) {
        throw_run_failure(e, context);
    }
    sdbus::ObjectPath container;
    std::string scope;
    read_reply(reply, context, container, scope);
    if (!scope.ends_with(".scope") || scope.find('/') != std::string::npos) {
        throw_unexpected_reply(context, "the unit name " + scope);
    }
    return {container, scope};
}

std::string Client::container_state(const std::string &object_path, const std::string &id) {
    const CallContext context{"read the state of container " + id, id};
    auto proxy = sdbus::createProxy(*connection_, kBusName, object_path);
    auto message = proxy->createMethodCall(kPropertiesInterface, "Get");
    message << std::string(kContainerInterface) << std::string("State");
    auto reply = invoke(*proxy, message, context);
    sdbus::Variant value;
    read_reply(reply, context, value);
    if (!value.containsValueOfType<std::string>()) {
        throw_unexpected_reply(context, "State with an unexpected type");
    }
    return value.get<std::string>();
}

std::string Client::subscribe_denials(const Authorization &authorization) {
    const CallContext context{"receive denials", "", &authorization};
    auto message = manager_->createMethodCall(kManagerInterface, "SubscribeDenials");
    auto options = options_for(authorization);
    // DeniedBatch: one signal per pass of lockcd's loop, not one per denial,
    // so that a flood of denials reaches the monitor instead of being
    // suppressed at lockcd's queue to the bus (docs/benchmarks.md).
    options[bus::kBatchedOption] = sdbus::Variant(true);
    message << options;
    (void)invoke(*manager_, message, context);
    return owner_of_manager_name();
}

void Client::unsubscribe_denials(const std::string &daemon) {
    const CallContext context{"stop receiving denials", ""};
    auto proxy = sdbus::createProxy(*connection_, daemon, kManagerPath);
    auto message = proxy->createMethodCall(kManagerInterface, "UnsubscribeDenials");
    (void)invoke(*proxy, message, context);
}

std::string Client::owner_of_manager_name() {
    const CallContext context{"find lockcd on the bus", ""};
    auto bus = sdbus::createProxy(*connection_, kBusDriverName, kBusDriverPath);
    auto message = bus->createMethodCall(kBusDriverName, "GetNameOwner");
    message << std::string(kBusName);
    auto reply = invoke(*bus, message, context);
    std::string owner;
    read_reply(reply, context, owner);
    return owner;
}

// ---- DenialSubscription ----

DenialSubscription::DenialSubscription(Client &client, const Authorization &authorization,
                                       std::function<bool(const Denial &)> on_denial,
                                       std::function<void(const std::string &)> on_notice)
    : client_(client), on_denial_(std::move(on_denial)), on_notice_(std::move(on_notice)) {
    // The matches first: nothing lockcd sends after SubscribeDenials, and
    // no restart, can be missed.
    try {
        owner_match_ = client_.connection().addMatch(
            std::string("type='signal',sender='") + kBusDriverName + "',path='" + kBusDriverPath +
                "',interface='" + kBusDriverName + "',member='NameOwnerChanged',arg0='" + kBusName +
                "'",
            [this](sdbus::Message &message) {
                try {
                    // Only the bus itself speaks as org.freedesktop.DBus.
                    if (message.getSender() != kBusDriverName) {
                        return;
                    }
                    std::string name;
                    std::string old_owner;
                    std::string new_owner;
                    message >> name >> old_owner >> new_owner;
                    if (name == kBusName) {
                        on_owner_changed(old_owner, new_owner);
                    }
                } catch (...) {
                    callback_error_ = std::current_exception();
                }
            });
        denied_match_ = client_.connection().addMatch(
            std::string("type='signal',sender='") + kBusName + "',path='" + kManagerPath +
                "',interface='" + kManagerInterface + "',member='DeniedBatch'",
            [this](sdbus::Message &message) { on_signal(message); });
    } catch (const sdbus::Error &e) {
        throw Failure(ExitCode::Failure, "cannot watch the bus for denials: " + e.getMessage());
    }
    daemon_ = client_.subscribe_denials(authorization);
}

DenialSubscription::~DenialSubscription() {
    if (daemon_.empty()) {
        return;
    }
    try {
        client_.unsubscribe_denials(daemon_);
    } catch (const std::exception &) {
        // lockcd drops the subscription anyway when this connection closes.
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
        on_notice_("lockcd stopped; waiting for it to start again (Ctrl+C ends lockcctl)");
    }
}

void DenialSubscription::on_signal(sdbus::Message &message) {
    try {
        if (daemon_.empty() || message.getSender() != daemon_) {
            return;
        }
        std::vector<bus::DenialEntry> batch;
        try {
            message >> batch;
        } catch (const sdbus::Error &) {
            return; // not the documented signature: nothing to show
        }
        for (const auto &entry : batch) {
            Denial d;
            std::tie(d.container, d.level, d.mode, d.hook, d.target, d.pid, d.uid, d.comm, d.errnum,
                     d.time_usec) = entry;
            if (!on_denial_(d)) {
                stop_ = true;
                return; // the rest of the batch comes after what was asked for
            }
        }
    } catch (...) {
        callback_error_ = std::current_exception();
    }
}

void DenialSubscription::process_pending() {
    try {
        while (!stop_ && client_.connection().processPendingRequest()) {
            if (callback_error_) {
                std::rethrow_exception(std::exchange(callback_error_, nullptr));
            }
        }
    } catch (const sdbus::Error &e) {
        daemon_.clear();
        throw Failure(ExitCode::Unreachable, "lost the connection to the system bus" +
                                                 in_parentheses(e.getMessage()) +
                                                 "; see 'systemctl status dbus'");
    }
    if (callback_error_) {
        std::rethrow_exception(std::exchange(callback_error_, nullptr));
    }
}

void DenialSubscription::run_until_readable(int stop_fd) {
    while (true) {
        process_pending();
        if (stop_) {
            return;
        }
        if (resubscribe_) {
            resubscribe_ = false;
            // No agent runs any more: a restarted lockcd must let this
            // caller subscribe without asking.
            daemon_ = client_.subscribe_denials(Authorization{});
            on_notice_("lockcd started again; receiving its denials");
            continue;
        }
        const auto data = client_.connection().getEventLoopPollData();
        std::array<pollfd, 2> fds{{{data.fd, data.events, 0}, {stop_fd, POLLIN, 0}}};
        if (::poll(fds.data(), fds.size(), data.getPollTimeout()) < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw Failure(ExitCode::Failure,
                          std::string("cannot wait for denials: ") + std::strerror(errno));
        }
        if (fds[1].revents != 0) {
            return;
        }
    }
}

} // namespace lockc::cli
