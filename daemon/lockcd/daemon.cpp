#include "daemon.hpp"

#include "api_error.hpp"
#include "container_discovery.hpp"
#include "dbus_front_end.hpp"
#include "exec_gate.hpp"
#include "systemd_units.hpp"
#include "error.hpp"
#include "log.hpp"
#include "unique_fd.hpp"

#include <malloc.h>
#include <poll.h>
#include <sys/signalfd.h>
#include <systemd/sd-daemon.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>

namespace lockc {

namespace {

using Clock = std::chrono::steady_clock;

UniqueFd make_signal_fd() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    // Blocked, so they are only read from the fd, between loop iterations.
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) {
        throw_system("cannot block signals", errno);
    }
    UniqueFd fd(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd.valid()) {
        throw_system("cannot create a signalfd", errno);
    }
    return fd;
}

void notify(const std::string &state) {
    // Not under systemd (no NOTIFY_SOCKET) this does nothing.
    (void)sd_notify(0, state.c_str());
}

std::string status_line(const Service &service) {
    std::string s = "STATUS=";
    s +=
        service.enforcing() ? "Enforcing" : "Not enforcing (" + service.enforcement_problem() + ")";
    s += "; " + std::to_string(service.container_count()) + " containers registered";
    return s;
}

// Reads the signalfd: SIGHUP reloads, SIGTERM and SIGINT stop. Returns
// whether to stop.
bool handle_signals(int fd, Service &service) {
    bool stop = false;
    signalfd_siginfo info{};
    while (::read(fd, &info, sizeof(info)) == sizeof(info)) {
        if (info.ssi_signo != SIGHUP) {
            stop = true;
            continue;
        }
        notify("RELOADING=1");
        try {
            service.reload();
        } catch (const std::exception &) {
            // reload() has logged why; the running policy stays.
        }
        notify("READY=1\n" + status_line(service));
    }
    return stop;
}

// The gate on runtime execs, or nullptr (logged) when fanotify cannot be
// used: containers then get their level when lockcd finds them running.
std::unique_ptr<ExecGate> open_gate(const std::vector<std::filesystem::path> &binaries) {
    try {
        auto gate = std::make_unique<ExecGate>(binaries);
        std::string names;
        for (const auto &path : gate->marked()) {
            names += (names.empty() ? "" : ", ") + path.string();
        }
        log::info("holding execs of " +
                  (names.empty() ? std::string("no runtime (none found)") : names));
        return gate;
    } catch (const std::exception &e) {
        log::warning(std::string("cannot hold container runtimes' execs: ") + e.what() +
                     "; containers get the default level until lockcd finds them running");
        return nullptr;
    }
}

// systemd's news of units, or nullptr when systemd is not on the bus.
std::unique_ptr<SystemdUnits>
open_systemd(sdbus::IConnection &connection,
             const std::function<void(const std::string &)> &on_unit) {
    try {
        return std::make_unique<SystemdUnits>(connection, on_unit);
    } catch (const sdbus::Error &e) {
        log::info("systemd is not on this bus (" + e.getMessage() +
                  "); scope units are not watched and RunConfined is unavailable");
        return nullptr;
    }
}

// The glob form of the container name patterns, for systemd. Patterns with
// a parent directory are the cgroupfs driver's, which makes no units.
std::vector<std::string> unit_globs(const Config &config) {
    std::vector<std::string> out;
    for (const auto &p : config.container_patterns) {
        if (p.parent.empty()) {
            out.push_back(p.prefix + "*" + p.suffix);
        }
    }
    return out;
}

} // namespace

int run_daemon(const DaemonOptions &options) {
    const UniqueFd signals = make_signal_fd();

    std::unique_ptr<Service> service;
    try {
        service = std::make_unique<Service>(options.service);
    } catch (const api::ApiError &e) {
        log::error(e.what());
        notify("STATUS=" + std::string(e.what()));
        return e.name() == api::kKernelUnsupported ? kExitKernelUnsupported : 1;
    }

    auto connection = sdbus::createSystemBusConnection();
    FrontEnd front_end(*connection, *service);
    ContainerDiscovery discovery(*service);
    // Units come and go in bursts; one reconciliation shortly after is enough.
    constexpr auto kReconcileDelay = std::chrono::milliseconds(100);
    constexpr auto kReconcileEvery = std::chrono::seconds(10);
    constexpr auto kRemarkEvery = std::chrono::seconds(30);
    auto next_reconcile = Clock::now();
    auto next_remark = Clock::now() + kRemarkEvery;
    auto systemd = open_systemd(*connection, [&](const std::string &unit) {
        // A `lockcctl run` scope or another unit registered by its name
        // ends too: its registration goes at once, not at the next sweep.
        if (container_of_cgroup_path(unit) || service->names_cgroup(unit)) {
            next_reconcile = std::min(next_reconcile, Clock::now() + kReconcileDelay);
        }
    });
    front_end.set_systemd(systemd.get());
    auto gate_binaries = service->config().runtime_binaries;
    auto gate = open_gate(gate_binaries);
    if (systemd) {
        // Containers that ran before lockc was loaded have no kernel entry:
        // systemd still knows their scopes.
        try {
            for (const auto &cgroup : systemd->cgroups_of(unit_globs(service->config()))) {
                discovery.adopt_running(cgroup);
            }
        } catch (const sdbus::Error &e) {
            log::warning("cannot list systemd's container scopes: " + e.getMessage());
        }
    }
    discovery.adopt_cgroupfs_containers();
    connection->requestName(kBusName);

    std::uint64_t watchdog_usec = 0;
    if (sd_watchdog_enabled(0, &watchdog_usec) <= 0) {
        watchdog_usec = 0;
    }
    const auto watchdog_period = std::chrono::microseconds(watchdog_usec / 2);
    auto next_watchdog = Clock::now() + watchdog_period;

    notify("READY=1\n" + status_line(*service));
    log::notice(std::string("lockcd ") + PROJECT_VERSION + " ready on " + kBusName +
                (service->enforcing() ? "" : " (not enforcing)"));

    // Milliseconds until `when` (at least 1), or the earlier of that and
    // `timeout_ms` when there is one.
    const auto wake_by = [](int timeout_ms, Clock::time_point when) {
        const auto until =
            std::chrono::duration_cast<std::chrono::milliseconds>(when - Clock::now()).count();
        const int w = static_cast<int>(std::max<std::int64_t>(until, 0) + 1);
        return timeout_ms < 0 ? w : std::min(timeout_ms, w);
    };
    const bool idle_exit = options.exit_when_idle.count() > 0;
    auto last_activity = Clock::now();
    // Memory freed after a burst (the start-up's registry replay, many
    // containers unregistered) goes back to the system once things calm
    // down: glibc keeps it otherwise (docs/benchmarks.md, "lockcd's memory").
    constexpr auto kTrimAfter = std::chrono::seconds(1);
    auto trimmed_at = Clock::time_point{};
    bool stop = false;
    while (!stop) {
        const auto poll_data = connection->getEventLoopPollData();
        int timeout_ms = -1;
        if (const auto relative = poll_data.getRelativeTimeout()) {
            // Round up: waking early would spin until the deadline.
            timeout_ms = static_cast<int>((relative->count() + 999) / 1000);
        }
        if (watchdog_usec != 0) {
            timeout_ms = wake_by(timeout_ms, next_watchdog);
        }
        if (idle_exit) {
            timeout_ms = wake_by(timeout_ms, last_activity + options.exit_when_idle);
        }
        timeout_ms = wake_by(timeout_ms, next_reconcile);
        if (gate) {
            timeout_ms = wake_by(timeout_ms, next_remark);
        }
        if (const auto due = service->registry_sync_due()) {
            timeout_ms = wake_by(timeout_ms, *due);
        }
        const auto events_due = service->events_due();
        if (events_due) {
            timeout_ms = wake_by(timeout_ms, *events_due);
        }
        if (trimmed_at < last_activity) {
            timeout_ms = wake_by(timeout_ms, last_activity + kTrimAfter);
        }
        if (const auto due = front_end.signals_due()) {
            timeout_ms = wake_by(timeout_ms, *due);
        }
        std::array<pollfd, 4> fds{};
        fds[0] = {poll_data.fd, poll_data.events, 0};
        fds[1] = {signals.get(), POLLIN, 0};
        fds[2] = {service->event_fd(), POLLIN, 0}; // -1: poll ignores it
        fds[3] = {gate ? gate->fd() : -1, POLLIN, 0};
        if (::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
            log::error(std::string("poll: ") + std::strerror(errno));
            return 1;
        }
        if ((fds[1].revents & POLLIN) != 0) {
            stop = handle_signals(signals.get(), *service);
        }
        if ((fds[3].revents & POLLIN) != 0) {
            // First: a runtime is waiting for the answer.
            for (auto &exec : gate->read()) {
                discovery.handle(exec);
            }
            last_activity = Clock::now();
        }
        if ((fds[2].revents & POLLIN) != 0 || (events_due && Clock::now() >= *events_due)) {
            if (service->process_events() > 0) {
                last_activity = Clock::now();
            }
        }
        if (Clock::now() >= next_reconcile) {
            discovery.reconcile();
            next_reconcile = Clock::now() + kReconcileEvery;
        }
        if (service->config().runtime_binaries != gate_binaries) {
            // Reload changed [runtimes]: hold the new set from now on.
            gate_binaries = service->config().runtime_binaries;
            auto next_gate = open_gate(gate_binaries);
            // Execs already queued on the old group are handled, not
            // waved through when it closes.
            if (gate) {
                for (auto &exec : gate->read()) {
                    discovery.handle(exec);
                }
            }
            gate = std::move(next_gate);
        } else if (gate && Clock::now() >= next_remark) {
            // A package upgrade puts a new runc behind the same path.
            if (gate->refresh_marks()) {
                log::info("container runtime binaries changed; holding the new ones");
            }
            next_remark = Clock::now() + kRemarkEvery;
        }
        try {
            while (connection->processPendingRequest()) {
                last_activity = Clock::now();
            }
            front_end.flush_signals();
            if (idle_exit && !front_end.busy() &&
                Clock::now() - last_activity >= options.exit_when_idle) {
                // Give the name back first: calls from now on queue at the
                // bus, which starts a new lockcd for them; calls that came
                // before are still ours and are answered here.
                log::info("idle for " + std::to_string(options.exit_when_idle.count()) +
                          " s; exiting until the next call");
                notify("STOPPING=1");
                connection->releaseName(kBusName);
                while (connection->processPendingRequest()) {
                }
                front_end.flush_signals();
                return 0;
            }
        } catch (const sdbus::Error &e) {
            // A broken bus connection cannot be repaired from here; systemd
            // restarts lockcd and enforcement goes on from the pins meanwhile.
            log::error("the bus connection failed: " + e.getMessage());
            return 1;
        }
        if (const auto due = service->registry_sync_due(); due && Clock::now() >= *due) {
            service->sync_registry();
        }
        if (trimmed_at < last_activity && Clock::now() >= last_activity + kTrimAfter) {
            ::malloc_trim(0);
            trimmed_at = Clock::now();
        }
        if (watchdog_usec != 0 && Clock::now() >= next_watchdog) {
            notify("WATCHDOG=1\n" + status_line(*service));
            next_watchdog = Clock::now() + watchdog_period;
        }
    }
    notify("STOPPING=1");
    try {
        front_end.flush_before_exit();
    } catch (const sdbus::Error &e) {
        log::warning("cannot send the last denials: " + e.getMessage());
    }
    log::notice("stopping; the kernel keeps enforcing from the pinned programs");
    return 0;
}

} // namespace lockc
