// lockc-notify: lockcd's denials as desktop notifications, for a user
// polkit lets see them (docs/desktop.md, lockc-notify(1)).
#include "denial_digest.hpp"
#include "denial_subscription.hpp"
#include "notifications.hpp"
#include "unique_fd.hpp"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace {

using lockc::notify::Clock;

// One instance per session: the systemd user unit and the XDG autostart
// entry may both start it on desktops that honour neither's skip key.
constexpr const char *kSessionName = "org.lockc.Notify";
// A notification that no server took is tried again this much later.
constexpr auto kNotifyRetryDelay = std::chrono::seconds(10);
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

struct Options {
    std::chrono::seconds coalesce{5};
    bool verbose = false;
    bool help = false;
    bool version = false;
};

constexpr std::string_view kUsage =
    R"(Usage: lockc-notify [--coalesce-seconds N] [--verbose]
       lockc-notify --help | --version

Shows lockc's denials as desktop notifications (org.freedesktop.Notifications
on the session bus), when polkit lets this user receive them (action
org.lockc.manager.subscribe-denials: members of group lockc).

  --coalesce-seconds N  denials of one container less than N seconds apart
                        update one notification with their count
                        (1 to 3600, default 5)
  --verbose             log each notification shown to stderr
  -h, --help            show this help
  --version             show the version
)";

Options parse(std::span<char *const> args) {
    Options options;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        if (arg == "-h" || arg == "--help") {
            options.help = true;
        } else if (arg == "--version") {
            options.version = true;
        } else if (arg == "--verbose") {
            options.verbose = true;
        } else if (arg == "--coalesce-seconds" || arg.starts_with("--coalesce-seconds=")) {
            std::string_view value;
            if (arg.starts_with("--coalesce-seconds=")) {
                value = arg.substr(arg.find('=') + 1);
            } else if (i + 1 < args.size()) {
                value = args[++i];
            } else {
                throw UsageError("--coalesce-seconds needs a number of seconds");
            }
            unsigned seconds = 0;
            const auto [end, error] =
                std::from_chars(value.data(), value.data() + value.size(), seconds);
            if (error != std::errc{} || end != value.data() + value.size() || seconds < 1 ||
                seconds > 3600) {
                throw UsageError("--coalesce-seconds takes a whole number from 1 to 3600, not '" +
                                 std::string(value) + "'");
            }
            options.coalesce = std::chrono::seconds(seconds);
        } else {
            throw UsageError("unknown argument '" + std::string(arg) + "' (see --help)");
        }
    }
    return options;
}

void log(const std::string &text) {
    std::cerr << "lockc-notify: " << text << '\n' << std::flush;
}

// SIGTERM (systemd stopping the unit, the session ending) and SIGINT as a
// readable signalfd, so that the loop ends cleanly; restored on destruction.
class StopSignals {
  public:
    StopSignals() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, SIGINT);
        if (::sigprocmask(SIG_BLOCK, &set_, &saved_) != 0) {
            throw std::system_error(errno, std::generic_category(), "cannot block signals");
        }
        fd_ = lockc::UniqueFd(::signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!fd_.valid()) {
            const int error = errno;
            ::sigprocmask(SIG_SETMASK, &saved_, nullptr);
            throw std::system_error(error, std::generic_category(), "cannot create a signalfd");
        }
    }
    StopSignals(const StopSignals &) = delete;
    StopSignals &operator=(const StopSignals &) = delete;
    StopSignals(StopSignals &&) = delete;
    StopSignals &operator=(StopSignals &&) = delete;
    ~StopSignals() {
        // Read what came, or it would act (and kill) once unblocked.
        signalfd_siginfo info{};
        while (::read(fd_.get(), &info, sizeof(info)) == sizeof(info)) {
        }
        fd_.reset();
        ::sigprocmask(SIG_SETMASK, &saved_, nullptr);
    }

    [[nodiscard]] int fd() const { return fd_.get(); }

  private:
    sigset_t set_{};
    sigset_t saved_{};
    lockc::UniqueFd fd_;
};

// Milliseconds from now to `deadline` for poll(), rounded up; -1 for none.
int poll_timeout(std::optional<Clock::time_point> deadline, Clock::time_point now) {
    if (!deadline) {
        return -1;
    }
    if (*deadline <= now) {
        return 0;
    }
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(*deadline - now).count();
    return static_cast<int>(std::min<std::int64_t>(ms, 60'000));
}

int combined_timeout(std::initializer_list<int> timeouts) {
    int result = -1;
    for (const int t : timeouts) {
        if (t >= 0 && (result < 0 || t < result)) {
            result = t;
        }
    }
    return result;
}

int run(const Options &options) {
    const StopSignals signals;
    auto session = sdbus::createSessionBusConnection();
    try {
        session->requestName(kSessionName);
    } catch (const sdbus::Error &e) {
        log(std::string("already running in this session (") + kSessionName +
            " is taken); exiting");
        return 0;
    }
    auto system = sdbus::createSystemBusConnection();

    lockc::notify::DigestSettings settings;
    settings.window = options.coalesce;
    settings.update_interval =
        std::min<std::chrono::milliseconds>(std::chrono::seconds(1), options.coalesce);
    lockc::notify::DenialDigest digest(settings);
    lockc::notify::Notifications notifications(*session, log);
    std::vector<lockc::cli::Denial> incoming;
    lockc::notify::DenialSubscription subscription(
        *system, [&incoming](const lockc::cli::Denial &d) { incoming.push_back(d); }, log);

    const auto show = [&](const lockc::notify::NotificationText &text) {
        if (const auto id = notifications.notify(text)) {
            digest.shown(text.container, *id);
            if (options.verbose) {
                log("notification " + std::to_string(*id) + " (" + std::to_string(text.denials) +
                    (text.denials == 1 ? " denial): " : " denials): ") + text.summary);
            }
        } else {
            digest.not_shown(text.container, Clock::now() + kNotifyRetryDelay);
        }
    };

    while (true) {
        subscription.process(Clock::now());
        for (const auto &denial : incoming) {
            if (const auto text = digest.add(denial, Clock::now())) {
                show(*text);
            }
        }
        incoming.clear();
        for (const auto &text : digest.due(Clock::now())) {
            show(text);
        }
        while (session->processPendingRequest()) {
        }

        const auto system_poll = system->getEventLoopPollData();
        const auto session_poll = session->getEventLoopPollData();
        const auto now = Clock::now();
        const int timeout =
            combined_timeout({system_poll.getPollTimeout(), session_poll.getPollTimeout(),
                              poll_timeout(digest.next_deadline(), now),
                              poll_timeout(subscription.next_deadline(), now)});
        std::array<pollfd, 3> fds{{{system_poll.fd, system_poll.events, 0},
                                   {session_poll.fd, session_poll.events, 0},
                                   {signals.fd(), POLLIN, 0}}};
        if (::poll(fds.data(), fds.size(), timeout) < 0 && errno != EINTR) {
            throw std::system_error(errno, std::generic_category(), "poll");
        }
        if (fds[2].revents != 0) {
            return 0;
        }
    }
}

} // namespace

int main(int argc, char **argv) {
    try {
        const auto options = parse(std::span<char *const>(argv, static_cast<std::size_t>(argc)));
        if (options.help) {
            std::cout << kUsage;
            return 0;
        }
        if (options.version) {
            std::cout << "lockc-notify " << PROJECT_VERSION << '\n';
            return 0;
        }
        return run(options);
    } catch (const UsageError &e) {
        std::cerr << "lockc-notify: " << e.what() << '\n';
        return kExitUsage;
    } catch (const sdbus::Error &e) {
        log("D-Bus: " + e.getName() + ": " + e.getMessage());
        return kExitFailure;
    } catch (const std::exception &e) {
        log(e.what());
        return kExitFailure;
    }
}
