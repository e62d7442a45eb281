// The D-Bus face of the Service: /org/lockc/Manager (org.lockc.Manager,
// ObjectManager, Properties), the containers' objects (container_objects.hpp),
// polkit checks on every change, and Denied signals sent to subscribers only.
#pragma once

#include "authorizer.hpp"
#include "container_announcements.hpp"
#include "container_objects.hpp"
#include "denial_coalescer.hpp"
#include "bus_names.hpp"
#include "service.hpp"
#include "systemd_units.hpp"
#include "validation.hpp"

#include "org_lockc_manager_adaptor.h"

#include <sdbus-c++/sdbus-c++.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

namespace lockc {

class FrontEnd;

using bus::kBusName;
using bus::kContainerPathPrefix;
using bus::kManagerPath;
inline constexpr std::size_t kMaxSubscribers = 64;

// How a subscriber gets denials (SubscribeDenials' options).
enum class Delivery {
    Single,    // a Denied signal each
    Batched,   // DeniedBatch: every pass of the main loop
    Coalesced, // DeniedCoalesced: repeats counted, every kCoalesceWindow
};
inline constexpr auto kCoalesceWindow = std::chrono::milliseconds(100);

class ManagerObject final
    : public sdbus::AdaptorInterfaces<org::lockc::Manager_adaptor, sdbus::ObjectManager_adaptor,
                                      sdbus::Properties_adaptor> {
  public:
    ManagerObject(sdbus::IConnection &connection, FrontEnd &front_end, Service &service);
    ManagerObject(const ManagerObject &) = delete;
    ManagerObject &operator=(const ManagerObject &) = delete;
    ManagerObject(ManagerObject &&) = delete;
    ManagerObject &operator=(ManagerObject &&) = delete;
    ~ManagerObject();

    // One Denied signal to each of `subscribers`.
    void emit_denied(const Denial &denial, const std::vector<std::string> &subscribers);
    // One DeniedBatch signal with `denials` to each of `subscribers`.
    void emit_denied_batch(std::span<const Denial> denials,
                           const std::vector<std::string> &subscribers);
    // One DeniedCoalesced signal with `denials` to each of `subscribers`.
    void emit_denied_coalesced(std::span<const RepeatedDenial> denials,
                               const std::vector<std::string> &subscribers);
    void emit_changed(const std::vector<std::string> &properties);

  private:
    // org.lockc.Manager
    void RegisterContainer(sdbus::Result<sdbus::ObjectPath> &&result, std::string id,
                           std::string level, std::string mode, Options options) override;
    void UnregisterContainer(sdbus::Result<> &&result, std::string id, Options options) override;
    sdbus::ObjectPath GetContainer(const std::string &id) override;
    std::vector<bus::ContainerEntry> ListContainers() override;
    std::vector<bus::LevelEntry> DescribeLevels() override;
    std::string GetLevel(const std::string &id) override;
    std::string GetMode(const std::string &id) override;
    void SetLevel(sdbus::Result<> &&result, std::string id, std::string level,
                  Options options) override;
    void SetMode(sdbus::Result<> &&result, std::string id, std::string mode,
                 Options options) override;
    void SetDefaultLevel(sdbus::Result<> &&result, std::string level, Options options) override;
    void SetDefaultMode(sdbus::Result<> &&result, std::string mode, Options options) override;
    void Reload(sdbus::Result<> &&result, Options options) override;
    void RunConfined(sdbus::Result<sdbus::ObjectPath, std::string> &&result, std::string level,
                     std::string mode, Options options) override;
    void SubscribeDenials(sdbus::Result<> &&result, Options options) override;
    void UnsubscribeDenials() override;
    std::string Version() override;
    bool Enforcing() override;
    std::string EnforcementProblem() override;
    std::vector<std::string> KernelLsms() override;
    std::string DefaultLevel() override;
    std::string DefaultMode() override;
    std::vector<std::string> Levels() override;
    std::vector<std::string> Modes() override;
    uint32_t ContainerCount() override;
    std::map<std::string, uint64_t> Denials() override;
    std::map<std::string, uint64_t> Audits() override;
    uint64_t KernelDrops() override;
    uint64_t EventsReceived() override;
    uint64_t MalformedEvents() override;
    uint64_t JournalSuppressed() override;
    uint64_t SignalsSuppressed() override;

    // One `member` signal to each of `subscribers`; `write(signal)` fills in
    // its arguments.
    template <typename Write>
    void send_to_each(const char *member, const std::vector<std::string> &subscribers, Write write);

    // The caller of the method being processed.
    [[nodiscard]] Caller caller() const;
    // Checks polkit for `action`, then runs `apply` (which replies), or
    // replies AccessDenied. Errors thrown by `apply` become error replies.
    template <typename... Results, typename Apply>
    void authorized(sdbus::Result<Results...> &&result, std::string_view action, bool interactive,
                    Apply apply);

    // A change whose only option is "interactive": `validate` checks the
    // arguments now (an error is the reply at once), `apply` gets what it
    // returned once polkit has said yes; then the empty reply.
    template <typename Validate, typename Apply>
    void change(sdbus::Result<> &&result, const Options &options, std::string_view action,
                Validate validate, Apply apply);

    FrontEnd &front_end_;
    Service &service_;
};

class FrontEnd {
  public:
    FrontEnd(sdbus::IConnection &connection, Service &service);
    FrontEnd(const FrontEnd &) = delete;
    FrontEnd &operator=(const FrontEnd &) = delete;
    FrontEnd(FrontEnd &&) = delete;
    FrontEnd &operator=(FrontEnd &&) = delete;
    ~FrontEnd();

    [[nodiscard]] Authorizer &authorizer() { return *authorizer_; }
    // systemd, for RunConfined; nullptr when it is not on the bus.
    void set_systemd(SystemdUnits *systemd) noexcept { systemd_ = systemd; }
    [[nodiscard]] SystemdUnits *systemd() const noexcept { return systemd_; }
    // Adds a subscriber (or changes how it gets denials); throws
    // ApiError(LimitsExceeded).
    void subscribe(const std::string &bus_name, Delivery delivery);
    void unsubscribe(const std::string &bus_name);
    // Who sent a call: its uid and pid as the bus daemon reports them, asked
    // once per connection (a unique name is never reused, and what the bus
    // reports is fixed when the connection is made). Unknown fields when
    // the bus cannot say (the caller has left): callers then count as
    // confined.
    [[nodiscard]] Caller caller(const std::string &bus_name);
    // Someone depends on lockcd staying up: a subscriber, or a caller
    // waiting for polkit's answer.
    [[nodiscard]] bool busy() const noexcept {
        return !subscribers_.empty() || authorizer_->pending() > 0;
    }

    // Sends what was left for the end of the main loop's pass: the
    // container objects' announcements, after the replies; one
    // ContainerCount change however many registrations the pass handled,
    // the pass's DeniedBatch, and DeniedCoalesced once its window is over.
    void flush_signals();
    // flush_signals(), and the coalesced denials of a window not yet over:
    // lockcd is stopping.
    void flush_before_exit();
    // When flush_signals() has coalesced denials to send; nullopt if none.
    [[nodiscard]] std::optional<std::chrono::steady_clock::time_point> signals_due() const {
        return coalescer_.due();
    }

    // Denials not signalled because the queue to the bus was full.
    [[nodiscard]] std::uint64_t signals_suppressed() const noexcept { return signals_suppressed_; }

  private:
    void signal_denial(const Denial &denial);
    // Whether `bytes` more may join lockcd's queue to the bus; resets the
    // count once sd-bus says the queue is empty.
    [[nodiscard]] bool may_queue(std::size_t bytes);
    void count_suppressed(std::uint64_t denials);
    // Sends `entries` in signals of at most kMaxBatch made by `emit`, each
    // while lockcd's queue to the bus has room for it to `subscribers`
    // subscribers; counts the denials of those it leaves out.
    template <typename Entry, typename Emit>
    void send_in_chunks(std::span<const Entry> entries, std::size_t subscribers, Emit emit);
    void flush_batch();
    // Sends the coalesced denials once their window is over, or now when
    // `whole_window` (lockcd stops).
    void flush_coalesced(bool whole_window);
    void rebuild_subscriber_lists();

    sdbus::IConnection &connection_;
    Service &service_;
    std::unique_ptr<ManagerObject> manager_;
    ContainerObjects containers_;
    // Subscribers by unique name.
    std::map<std::string, Delivery> subscribers_;
    std::vector<std::string> single_subscribers_;    // from subscribers_
    std::vector<std::string> batched_subscribers_;   // from subscribers_
    std::vector<std::string> coalesced_subscribers_; // from subscribers_
    std::vector<Denial> pending_batch_;              // for flush_signals()
    DenialCoalescer coalescer_;                      // for flush_signals()
    bool count_changed_ = false;                     // ContainerCount to signal (flush_signals)
    ContainerAnnouncements announcements_;           // for flush_signals()
    // Bytes of denial signals sent since lockcd's bus queue was last seen
    // empty (estimated): an upper bound on that queue, kept under
    // kMaxDeniedBacklogBytes so that a subscriber slower than the kernel
    // costs dropped signals, counted, not unbounded memory.
    static constexpr std::size_t kMaxDeniedBacklogBytes = std::size_t{2} << 20U;
    std::size_t denied_backlog_ = 0;
    std::uint64_t signals_suppressed_ = 0;
    bool suppressing_ = false;
    std::chrono::steady_clock::time_point last_suppression_warning_{};
    // Callers seen, by unique name, until their connection closes.
    std::unordered_map<std::string, Caller> callers_;
    SystemdUnits *systemd_ = nullptr;
    // Subscribers whose connection closed are dropped (NameOwnerChanged).
    std::unique_ptr<sdbus::IProxy> bus_driver_;
    // Last: destroyed first, so no polkit reply arrives for a dead object.
    std::unique_ptr<Authorizer> authorizer_;
};

} // namespace lockc
