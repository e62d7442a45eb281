#include "dbus_front_end.hpp"

#include "api_error.hpp"
#include "cgroup.hpp"
#include "level_description.hpp"
#include "log.hpp"
#include "text.hpp"
#include "validation.hpp"

#include <poll.h>
#include <sys/random.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <memory>

namespace lockc {

namespace {

using bus::kManagerInterface;

sdbus::Error to_dbus_error(const std::exception &e) {
    auto reply = api::to_error_reply(e);
    if (reply.name.empty()) {
        reply.name = api::kFailed;
    }
    return {reply.name, reply.message};
}

// Runs a synchronous method or property getter: every exception becomes a
// D-Bus error (sdbus-c++ passes only sdbus::Error through to the caller;
// anything else would end the daemon).
template <typename F> auto guarded(F &&f) -> decltype(f()) {
    try {
        return f();
    } catch (const sdbus::Error &) {
        throw;
    } catch (const std::exception &e) {
        throw to_dbus_error(e);
    }
}

template <typename... Results>
void reply_error(const sdbus::Result<Results...> &result, const std::exception &e) {
    try {
        result.returnError(to_dbus_error(e));
    } catch (const std::exception &send_error) {
        log::warning(std::string("cannot send an error reply: ") + send_error.what());
    }
}

std::map<std::string, std::uint64_t>
per_hook(const std::array<std::uint64_t, LOCKC_HOOK_COUNT> &counts) {
    std::map<std::string, std::uint64_t> out;
    for (unsigned hook = 0; hook < LOCKC_HOOK_COUNT; ++hook) {
        out[std::string(hook_name(hook))] = counts.at(hook);
    }
    return out;
}

bool interactive_option(OptionReader &reader) {
    return reader.boolean("interactive").value_or(false);
}

// About what a denial adds to a signal on the wire: its strings and fixed
// fields (for a coalesced one also its last time and count), plus a
// message header for a Denied signal of its own.
std::size_t wire_size(const Denial &d) {
    constexpr std::size_t kFixed = 64;
    return kFixed + d.container.size() + d.hook.size() + d.target.size() + d.comm.size();
}
std::size_t wire_size(const RepeatedDenial &r) {
    constexpr std::size_t kRepeatFields = 20;
    return wire_size(r.denial) + kRepeatFields;
}
constexpr std::size_t kHeaderSize = 160;
// How many of the kernel's decisions an entry stands for.
std::uint64_t denials_in(const Denial & /*denial*/) {
    return 1;
}
std::uint64_t denials_in(const RepeatedDenial &r) {
    return r.count;
}
// Denials per DeniedBatch signal at most: a pass that read more sends more.
// Also the distinct denials a DeniedCoalesced signal holds at most: more
// send it before its window is over.
constexpr std::size_t kMaxBatch = 1024;

} // namespace

// ---- ManagerObject ----

ManagerObject::ManagerObject(sdbus::IConnection &connection, FrontEnd &front_end, Service &service)
    : AdaptorInterfaces(connection, kManagerPath), front_end_(front_end), service_(service) {
    registerAdaptor();
}

ManagerObject::~ManagerObject() {
    unregisterAdaptor();
}

Caller ManagerObject::caller() const {
    return front_end_.caller(getObject().getCurrentlyProcessedMessage()->getSender());
}

template <typename... Results, typename Apply>
void ManagerObject::authorized(sdbus::Result<Results...> &&result, std::string_view action,
                               bool interactive, Apply apply) {
    auto shared = std::make_shared<sdbus::Result<Results...>>(std::move(result));
    const Caller who = caller();
    // A process lockc confines never changes lockc's policy, whatever its
    // uid: root in a container that reaches the system bus must not be
    // able to lift its own confinement.
    if (const auto confined = service_.confinement_of(who.pid)) {
        reply_error(*shared, api::ApiError(api::kAccessDenied,
                                           "the caller runs confined (" + *confined +
                                               "); lockc's policy cannot be changed from there"));
        return;
    }
    front_end_.authorizer().check(
        who, action, interactive,
        [shared, apply = std::move(apply)](const Authorizer::Verdict &denied) {
            try {
                if (denied) {
                    throw api::ApiError(api::kAccessDenied, *denied);
                }
                apply(*shared);
            } catch (const std::exception &e) {
                reply_error(*shared, e);
            }
        });
}

void ManagerObject::RegisterContainer(sdbus::Result<sdbus::ObjectPath> &&result, std::string id,
                                      std::string level, std::string mode, Options options) {
    try {
        check_container_id(id);
        RegisterRequest request;
        request.id = id;
        if (!level.empty()) {
            request.level = level_argument(level, service_.default_level());
        }
        if (!mode.empty()) {
            request.mode = mode_argument(mode, service_.default_mode());
        }
        OptionReader reader(options);
        const auto cgroup = reader.string("cgroup");
        const auto scope = reader.string("scope");
        const auto pid = reader.uint32("pid");
        request.runtime = reader.string("runtime").value_or("");
        const bool interactive = interactive_option(reader);
        reader.finish();
        const int given = (cgroup ? 1 : 0) + (scope ? 1 : 0) + (pid ? 1 : 0);
        if (given != 1) {
            throw api::ApiError(api::kInvalidArgument,
                                "give exactly one of the options 'cgroup' (s), 'scope' (s) or "
                                "'pid' (u) to say where the container lives");
        }
        if (cgroup) {
            request.location = CgroupPathLocation{*cgroup};
        } else if (scope) {
            request.location = ScopeNameLocation{*scope};
        } else {
            request.location = PidLocation{*pid};
        }
        if (request.runtime.size() > kMaxContainerIdLength) {
            throw api::ApiError(api::kInvalidArgument, "the runtime name is too long");
        }
        authorized(std::move(result), action::kRegisterContainer, interactive,
                   [this, request](const sdbus::Result<sdbus::ObjectPath> &r) {
                       const auto record = service_.register_container(request);
                       r.returnResults(sdbus::ObjectPath(container_path(record.id)));
                   });
    } catch (const std::exception &e) {
        reply_error(result, e);
    }
}

void ManagerObject::UnregisterContainer(sdbus::Result<> &&result, std::string id, Options options) {
    try {
        check_container_id(id);
        OptionReader reader(options);
        const bool interactive = interactive_option(reader);
        reader.finish();
        (void)service_.container(id); // NotFound before asking polkit
        authorized(std::move(result), action::kRegisterContainer, interactive,
                   [this, id](const sdbus::Result<> &r) {
                       service_.unregister_container(id);
                       r.returnResults();
                   });
    } catch (const std::exception &e) {
        reply_error(result, e);
    }
}

sdbus::ObjectPath ManagerObject::GetContainer(const std::string &id) {
    return guarded([&] {
        check_container_id(id);
        return sdbus::ObjectPath(container_path(service_.container(id).id));
    });
}

std::vector<bus::ContainerEntry> ManagerObject::ListContainers() {
    return guarded([&] {
        service_.refresh_pending();
        std::vector<bus::ContainerEntry> out;
        for (const auto *c : service_.containers()) {
            out.emplace_back(c->id, std::string(to_string(c->level)),
                             std::string(to_string(c->mode)), c->runtime,
                             std::string(to_string(service_.state_of(*c))),
                             sdbus::ObjectPath(container_path(c->id)));
        }
        return out;
    });
}

std::vector<bus::LevelEntry> ManagerObject::DescribeLevels() {
    return guarded([&] {
        std::vector<bus::LevelEntry> out;
        for (const auto &description : describe_levels(service_.config())) {
            std::vector<bus::LevelDenialEntry> denies;
            denies.reserve(description.denies.size());
            for (const auto &entry : description.denies) {
                denies.emplace_back(entry.kind, entry.target, entry.what);
            }
            out.emplace_back(std::string(to_string(description.level)), std::move(denies));
        }
        return out;
    });
}

std::string ManagerObject::GetLevel(const std::string &id) {
    return guarded([&] {
        check_container_id(id);
        return std::string(to_string(service_.container(id).level));
    });
}

std::string ManagerObject::GetMode(const std::string &id) {
    return guarded([&] {
        check_container_id(id);
        return std::string(to_string(service_.container(id).mode));
    });
}

namespace {

// A unit name systemd accepts for a scope, short enough to be a pending
// cgroup name.
void check_scope_unit(const std::string &unit) {
    constexpr std::string_view kSuffix = ".scope";
    const bool chars_ok = std::all_of(unit.begin(), unit.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '_' ||
               c == '.' || c == '-';
    });
    if (!chars_ok || unit.size() <= kSuffix.size() || !unit.ends_with(kSuffix) ||
        unit.size() > LOCKC_CGROUP_NAME_LEN - 1) {
        throw api::ApiError(api::kInvalidArgument,
                            "unit " + escape_untrusted(unit) +
                                " is not a scope name: letters, digits, ':', '_', '.', '-', "
                                "ending in \".scope\", at most 127 bytes");
    }
}

std::string random_scope_name() {
    std::array<unsigned char, 6> bytes{};
    if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
        throw api::ApiError(api::kFailed, "cannot make a unit name: no random bytes");
    }
    std::string name = "lockc-run-";
    for (const auto b : bytes) {
        constexpr std::string_view kHex = "0123456789abcdef";
        name += kHex[b >> 4U];
        name += kHex[b & 0xfU];
    }
    return name + ".scope";
}

} // namespace

void ManagerObject::RunConfined(sdbus::Result<sdbus::ObjectPath, std::string> &&result,
                                std::string level, std::string mode, Options options) {
    try {
        RegisterRequest request;
        if (!level.empty()) {
            request.level = level_argument(level, service_.default_level());
        }
        if (!mode.empty()) {
            request.mode = mode_argument(mode, service_.default_mode());
        }
        OptionReader reader(options);
        auto unit = reader.string("unit").value_or("");
        auto description = reader.string("description").value_or("");
        const bool interactive = interactive_option(reader);
        reader.finish();
        unit = unit.empty() ? random_scope_name() : unit;
        check_scope_unit(unit);
        if (description.empty()) {
            description = "Confined by lockc (lockcctl run)";
        }
        description = escape_untrusted(description);
        request.id = unit.substr(0, unit.size() - std::string_view(".scope").size());
        request.location = ScopeNameLocation{unit};
        request.runtime = "lockcctl";
        const auto pid = caller().pid;
        if (!pid) {
            throw api::ApiError(api::kFailed, "the caller's process id is unknown");
        }
        authorized(std::move(result), action::kRunConfined, interactive,
                   [this, request, unit, description,
                    pid](const sdbus::Result<sdbus::ObjectPath, std::string> &r) {
                       auto *systemd = front_end_.systemd();
                       if (systemd == nullptr) {
                           throw api::ApiError(api::kFailed,
                                               "systemd is not on this bus; RunConfined needs "
                                               "systemd as the service manager");
                       }
                       std::string slice = "system.slice";
                       try {
                           slice = slice_for_cgroup(cgroup_of_pid(*pid).string());
                       } catch (const std::exception &) {
                           throw api::ApiError(api::kFailed, "the caller has exited");
                       }
                       // Registered first: the scope's cgroup is confined
                       // from the moment systemd makes it.
                       const auto record = service_.register_container(request);
                       try {
                           (void)systemd->start_scope(unit, *pid, slice, description);
                       } catch (const sdbus::Error &e) {
                           service_.unregister_container(record.id);
                           throw api::ApiError(api::kFailed, "systemd did not start " + unit +
                                                                 ": " + e.getMessage());
                       }
                       r.returnResults(sdbus::ObjectPath(container_path(record.id)), unit);
                   });
    } catch (const std::exception &e) {
        reply_error(result, e);
    }
}

template <typename Validate, typename Apply>
void ManagerObject::change(sdbus::Result<> &&result, const Options &options,
                           std::string_view action, Validate validate, Apply apply) {
    try {
        auto checked = validate();
        OptionReader reader(options);
        const bool interactive = interactive_option(reader);
        reader.finish();
        authorized(
            std::move(result), action, interactive,
            [checked = std::move(checked), apply = std::move(apply)](const sdbus::Result<> &r) {
                apply(checked);
                r.returnResults();
            });
    } catch (const std::exception &e) {
        reply_error(result, e);
    }
}

void ManagerObject::SetLevel(sdbus::Result<> &&result, std::string id, std::string level,
                             Options options) {
    change(
        std::move(result), options, action::kSetContainerPolicy,
        [&] {
            check_container_id(id);
            const auto parsed = required_level(level);
            (void)service_.container(id); // NotFound before asking polkit
            return parsed;
        },
        [this, id](Level parsed) { service_.set_level(id, parsed); });
}

void ManagerObject::SetMode(sdbus::Result<> &&result, std::string id, std::string mode,
                            Options options) {
    change(
        std::move(result), options, action::kSetContainerPolicy,
        [&] {
            check_container_id(id);
            const auto parsed = required_mode(mode);
            (void)service_.container(id);
            return parsed;
        },
        [this, id](Mode parsed) { service_.set_mode(id, parsed); });
}

void ManagerObject::SetDefaultLevel(sdbus::Result<> &&result, std::string level, Options options) {
    change(
        std::move(result), options, action::kSetDefaults, [&] { return required_level(level); },
        [this](Level parsed) { service_.set_default_level(parsed); });
}

void ManagerObject::SetDefaultMode(sdbus::Result<> &&result, std::string mode, Options options) {
    change(
        std::move(result), options, action::kSetDefaults, [&] { return required_mode(mode); },
        [this](Mode parsed) { service_.set_default_mode(parsed); });
}

void ManagerObject::Reload(sdbus::Result<> &&result, Options options) {
    change(
        std::move(result), options, action::kReload, [] { return true; },
        [this](bool /*unused*/) { service_.reload(); });
}

void ManagerObject::SubscribeDenials(sdbus::Result<> &&result, Options options) {
    try {
        OptionReader reader(options);
        const bool interactive = interactive_option(reader);
        const bool batched = reader.boolean(bus::kBatchedOption).value_or(false);
        const bool coalesced = reader.boolean(bus::kCoalescedOption).value_or(false);
        reader.finish();
        if (batched && coalesced) {
            throw api::ApiError(api::kInvalidArgument,
                                "the options 'batched' and 'coalesced' exclude each other");
        }
        const auto delivery = coalesced ? Delivery::Coalesced
                              : batched ? Delivery::Batched
                                        : Delivery::Single;
        const auto who = caller().bus_name;
        authorized(std::move(result), action::kSubscribeDenials, interactive,
                   [this, who, delivery](const sdbus::Result<> &r) {
                       front_end_.subscribe(who, delivery);
                       r.returnResults();
                   });
    } catch (const std::exception &e) {
        reply_error(result, e);
    }
}

void ManagerObject::UnsubscribeDenials() {
    guarded([&] { front_end_.unsubscribe(caller().bus_name); });
}

std::string ManagerObject::Version() {
    return PROJECT_VERSION;
}
bool ManagerObject::Enforcing() {
    return service_.enforcing();
}
std::string ManagerObject::EnforcementProblem() {
    return service_.enforcement_problem();
}
std::vector<std::string> ManagerObject::KernelLsms() {
    return service_.kernel().lsm_list;
}

std::string ManagerObject::DefaultLevel() {
    return std::string(to_string(service_.default_level()));
}

std::string ManagerObject::DefaultMode() {
    return std::string(to_string(service_.default_mode()));
}

std::vector<std::string> ManagerObject::Levels() {
    return {"privileged", "baseline", "restricted"};
}

std::vector<std::string> ManagerObject::Modes() {
    return {"enforce", "audit"};
}

uint32_t ManagerObject::ContainerCount() {
    return static_cast<uint32_t>(service_.container_count());
}

std::map<std::string, uint64_t> ManagerObject::Denials() {
    return guarded([&] { return per_hook(service_.counters().denied); });
}

std::map<std::string, uint64_t> ManagerObject::Audits() {
    return guarded([&] { return per_hook(service_.counters().audited); });
}

uint64_t ManagerObject::KernelDrops() {
    return guarded([&] { return service_.counters().ringbuf_drops; });
}

uint64_t ManagerObject::EventsReceived() {
    return service_.events_received();
}
uint64_t ManagerObject::MalformedEvents() {
    return service_.malformed_events();
}
uint64_t ManagerObject::JournalSuppressed() {
    return service_.journal_suppressed();
}
uint64_t ManagerObject::SignalsSuppressed() {
    return front_end_.signals_suppressed();
}

template <typename Write>
void ManagerObject::send_to_each(const char *member, const std::vector<std::string> &subscribers,
                                 Write write) {
    // Unicast: a denial names a container, and only subscribers (who passed
    // polkit) may learn of it.
    for (const auto &subscriber : subscribers) {
        auto signal = getObject().createSignal(kManagerInterface, member);
        write(signal);
        signal.setDestination(subscriber);
        getObject().emitSignal(signal);
    }
}

void ManagerObject::emit_denied(const Denial &denial, const std::vector<std::string> &subscribers) {
    send_to_each("Denied", subscribers, [&](sdbus::Signal &signal) {
        signal << denial.container << std::string(to_string(denial.level))
               << std::string(to_string(denial.mode)) << denial.hook << denial.target << denial.pid
               << denial.uid << denial.comm << denial.error << denial.time_usec;
    });
}

void ManagerObject::emit_denied_batch(std::span<const Denial> denials,
                                      const std::vector<std::string> &subscribers) {
    std::vector<bus::DenialEntry> entries;
    entries.reserve(denials.size());
    for (const auto &d : denials) {
        entries.emplace_back(d.container, std::string(to_string(d.level)),
                             std::string(to_string(d.mode)), d.hook, d.target, d.pid, d.uid, d.comm,
                             d.error, d.time_usec);
    }
    send_to_each("DeniedBatch", subscribers, [&](sdbus::Signal &signal) { signal << entries; });
}

void ManagerObject::emit_denied_coalesced(std::span<const RepeatedDenial> denials,
                                          const std::vector<std::string> &subscribers) {
    std::vector<bus::CoalescedDenialEntry> entries;
    entries.reserve(denials.size());
    for (const auto &r : denials) {
        const auto &d = r.denial;
        entries.emplace_back(d.container, std::string(to_string(d.level)),
                             std::string(to_string(d.mode)), d.hook, d.target, d.pid, d.uid, d.comm,
                             d.error, d.time_usec, r.last_usec, r.count);
    }
    send_to_each("DeniedCoalesced", subscribers, [&](sdbus::Signal &signal) { signal << entries; });
}

void ManagerObject::emit_changed(const std::vector<std::string> &properties) {
    emitPropertiesChangedSignal(kManagerInterface, properties);
}

// ---- FrontEnd ----

FrontEnd::FrontEnd(sdbus::IConnection &connection, Service &service)
    : connection_(connection), service_(service),
      manager_(std::make_unique<ManagerObject>(connection, *this, service)),
      containers_(connection, service), coalescer_(kCoalesceWindow, kMaxBatch),
      bus_driver_(sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus")),
      authorizer_(std::make_unique<Authorizer>(connection)) {
    bus_driver_->uponSignal("NameOwnerChanged")
        .onInterface("org.freedesktop.DBus")
        .call([this](const std::string &name, const std::string & /*old_owner*/,
                     const std::string &new_owner) {
            if (new_owner.empty()) {
                if (subscribers_.erase(name) > 0) {
                    rebuild_subscriber_lists();
                }
                callers_.erase(name);
            }
        });
    bus_driver_->finishRegistration();

    ServiceListener listener;
    listener.container_added = [this](const ContainerRecord &r) {
        announcements_.added(r.id);
        count_changed_ = true;
    };
    listener.container_removed = [this](const std::string &id) {
        announcements_.removed(id);
        count_changed_ = true;
    };
    listener.container_changed = [this](const ContainerRecord &r,
                                        const std::vector<std::string> &properties) {
        announcements_.changed(r.id, properties);
    };
    listener.defaults_changed = [this] { manager_->emit_changed({"DefaultLevel", "DefaultMode"}); };
    listener.denial = [this](const Denial &d) { signal_denial(d); };
    service_.set_listener(std::move(listener));
}

FrontEnd::~FrontEnd() {
    service_.set_listener({});
}

bool FrontEnd::may_queue(std::size_t bytes) {
    // sd-bus queues what the socket does not take at once and asks for
    // POLLOUT until its queue is empty again: what was sent since then
    // bounds what the queue holds.
    if ((connection_.getEventLoopPollData().events & POLLOUT) == 0) {
        denied_backlog_ = 0;
        suppressing_ = false;
    }
    if (denied_backlog_ + bytes > kMaxDeniedBacklogBytes) {
        return false;
    }
    denied_backlog_ += bytes;
    return true;
}

void FrontEnd::count_suppressed(std::uint64_t denials) {
    signals_suppressed_ += denials;
    const auto now = std::chrono::steady_clock::now();
    if (!suppressing_ && now - last_suppression_warning_ >= std::chrono::minutes(1)) {
        log::warning("denials come faster than subscribers read them; their signals are "
                     "dropped until they catch up (counted in SignalsSuppressed)");
        last_suppression_warning_ = now;
    }
    suppressing_ = true;
}

void FrontEnd::flush_signals() {
    for (const auto &a : announcements_.take()) {
        switch (a.kind) {
        case ContainerAnnouncement::Kind::Added:
            containers_.announce_added(a.id);
            break;
        case ContainerAnnouncement::Kind::Removed:
            containers_.announce_removed(a.id);
            break;
        case ContainerAnnouncement::Kind::Changed:
            containers_.announce_changed(a.id, a.properties);
            break;
        }
    }
    if (count_changed_) {
        count_changed_ = false;
        try {
            manager_->emit_changed({"ContainerCount"});
        } catch (const std::exception &e) {
            log::warning(std::string("cannot announce the container count: ") + e.what());
        }
    }
    flush_batch();
    flush_coalesced(false);
}

template <typename Entry, typename Emit>
void FrontEnd::send_in_chunks(std::span<const Entry> entries, std::size_t subscribers, Emit emit) {
    for (std::size_t at = 0; at < entries.size(); at += kMaxBatch) {
        const auto chunk = entries.subspan(at, std::min(kMaxBatch, entries.size() - at));
        std::size_t bytes = kHeaderSize;
        std::uint64_t denials = 0;
        for (const auto &entry : chunk) {
            bytes += wire_size(entry);
            denials += denials_in(entry);
        }
        if (!may_queue(bytes * subscribers)) {
            count_suppressed(denials);
            continue;
        }
        try {
            emit(chunk);
        } catch (const std::exception &e) {
            // Not the connection's end (that shows in the main loop):
            // these denials go unsignalled, counted.
            log::warning(std::string("cannot send denials: ") + e.what());
            count_suppressed(denials);
        }
    }
}

void FrontEnd::flush_batch() {
    if (!batched_subscribers_.empty()) {
        send_in_chunks(std::span<const Denial>(pending_batch_), batched_subscribers_.size(),
                       [this](std::span<const Denial> chunk) {
                           manager_->emit_denied_batch(chunk, batched_subscribers_);
                       });
    }
    pending_batch_.clear();
}

void FrontEnd::flush_coalesced(bool whole_window) {
    const auto due = coalescer_.due();
    if (!due || (!whole_window && std::chrono::steady_clock::now() < *due)) {
        return;
    }
    // One pass of the main loop may have added more than kMaxBatch.
    const auto entries = coalescer_.take();
    send_in_chunks(std::span<const RepeatedDenial>(entries), coalesced_subscribers_.size(),
                   [this](std::span<const RepeatedDenial> chunk) {
                       manager_->emit_denied_coalesced(chunk, coalesced_subscribers_);
                   });
}

void FrontEnd::flush_before_exit() {
    flush_signals();
    flush_coalesced(true);
}

void FrontEnd::signal_denial(const Denial &denial) {
    if (!batched_subscribers_.empty()) {
        pending_batch_.push_back(denial);
    }
    if (!coalesced_subscribers_.empty()) {
        coalescer_.add(denial, std::chrono::steady_clock::now());
    }
    if (!single_subscribers_.empty()) {
        if (may_queue((kHeaderSize + wire_size(denial)) * single_subscribers_.size())) {
            manager_->emit_denied(denial, single_subscribers_);
        } else {
            count_suppressed(1);
        }
    }
}

void FrontEnd::rebuild_subscriber_lists() {
    single_subscribers_.clear();
    batched_subscribers_.clear();
    coalesced_subscribers_.clear();
    for (const auto &[name, delivery] : subscribers_) {
        switch (delivery) {
        case Delivery::Single:
            single_subscribers_.push_back(name);
            break;
        case Delivery::Batched:
            batched_subscribers_.push_back(name);
            break;
        case Delivery::Coalesced:
            coalesced_subscribers_.push_back(name);
            break;
        }
    }
    if (coalesced_subscribers_.empty()) {
        coalescer_.clear(); // nobody left to send them to
    }
}

void FrontEnd::subscribe(const std::string &bus_name, Delivery delivery) {
    if (!subscribers_.contains(bus_name) && subscribers_.size() >= kMaxSubscribers) {
        throw api::ApiError(api::kLimitsExceeded, "lockcd already sends denials to " +
                                                      std::to_string(kMaxSubscribers) +
                                                      " subscribers, its limit");
    }
    // A caller that left while polkit was deciding would otherwise hold a
    // subscriber slot forever: its NameOwnerChanged has already passed.
    bool alive = false;
    bus_driver_->callMethod("NameHasOwner")
        .onInterface("org.freedesktop.DBus")
        .withArguments(bus_name)
        .storeResultsTo(alive);
    if (alive) {
        subscribers_[bus_name] = delivery;
        rebuild_subscriber_lists();
    }
}

Caller FrontEnd::caller(const std::string &bus_name) {
    if (const auto it = callers_.find(bus_name); it != callers_.end()) {
        return it->second;
    }
    Caller c;
    c.bus_name = bus_name;
    try {
        std::map<std::string, sdbus::Variant> credentials;
        bus_driver_->callMethod("GetConnectionCredentials")
            .onInterface("org.freedesktop.DBus")
            .withArguments(bus_name)
            .storeResultsTo(credentials);
        if (const auto it = credentials.find("UnixUserID"); it != credentials.end()) {
            c.uid = static_cast<uid_t>(it->second.get<std::uint32_t>());
        }
        if (const auto it = credentials.find("ProcessID"); it != credentials.end()) {
            c.pid = static_cast<pid_t>(it->second.get<std::uint32_t>());
        }
    } catch (const sdbus::Error &e) {
        // Not kept: a caller that has left is never asked about again.
        log::warning("cannot get the credentials of " + bus_name + ": " + e.getMessage());
        return c;
    }
    // NameOwnerChanged removes each entry; this bounds what a lost signal
    // could leave behind.
    constexpr std::size_t kMaxCallers = 4096;
    if (callers_.size() >= kMaxCallers) {
        callers_.clear();
    }
    callers_.emplace(bus_name, c);
    return c;
}

void FrontEnd::unsubscribe(const std::string &bus_name) {
    if (subscribers_.erase(bus_name) > 0) {
        rebuild_subscriber_lists();
    }
}

} // namespace lockc
