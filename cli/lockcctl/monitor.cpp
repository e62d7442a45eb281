#include "monitor.hpp"

#include "json.hpp"
#include "polkit_agent.hpp"
#include "unique_fd.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <iostream>
#include <optional>
#include <set>

namespace lockc::cli {

namespace {

// SIGINT and SIGTERM become readable on a signalfd (so the loop can
// unsubscribe before exiting) and SIGPIPE is ignored (a closed stdout is
// seen as a failed write); all restored on destruction.
class MonitorSignals {
  public:
    MonitorSignals() {
        sigemptyset(&stopping_);
        sigaddset(&stopping_, SIGINT);
        sigaddset(&stopping_, SIGTERM);
        if (::sigprocmask(SIG_BLOCK, &stopping_, &saved_mask_) != 0) {
            throw Failure(ExitCode::Failure,
                          std::string("cannot block signals: ") + std::strerror(errno));
        }
        fd_ = UniqueFd(::signalfd(-1, &stopping_, SFD_CLOEXEC | SFD_NONBLOCK));
        if (!fd_.valid()) {
            const int error = errno;
            ::sigprocmask(SIG_SETMASK, &saved_mask_, nullptr);
            throw Failure(ExitCode::Failure,
                          std::string("cannot create a signalfd: ") + std::strerror(error));
        }
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ignore, &saved_sigpipe_);
    }
    MonitorSignals(const MonitorSignals &) = delete;
    MonitorSignals &operator=(const MonitorSignals &) = delete;
    MonitorSignals(MonitorSignals &&) = delete;
    MonitorSignals &operator=(MonitorSignals &&) = delete;
    ~MonitorSignals() {
        ::sigaction(SIGPIPE, &saved_sigpipe_, nullptr);
        // Read what was received, or it would act (and kill lockcctl)
        // once unblocked.
        signalfd_siginfo info{};
        while (::read(fd_.get(), &info, sizeof(info)) == sizeof(info)) {
        }
        fd_.reset();
        ::sigprocmask(SIG_SETMASK, &saved_mask_, nullptr);
    }

    [[nodiscard]] int fd() const { return fd_.get(); }

  private:
    sigset_t stopping_{};
    sigset_t saved_mask_{};
    struct sigaction saved_sigpipe_ {};
    UniqueFd fd_;
};

} // namespace

std::string denial_line(const Denial &denial, const Terminal &terminal) {
    const std::string line = local_time(denial.time_usec, true) + " " + shown(denial.container) +
                             " " + shown(denial.hook) + " " + shown(denial.mode) + " " +
                             shown(denial.target) + " pid " + std::to_string(denial.pid) + " (" +
                             sanitised(denial.comm) + ") uid " + std::to_string(denial.uid);
    return denial.mode == "enforce" ? red(line, terminal) : line;
}

std::string denial_json(const Denial &denial) {
    JsonWriter json;
    json.begin_object()
        .key("container")
        .string(denial.container)
        .key("level")
        .string(denial.level)
        .key("mode")
        .string(denial.mode)
        .key("hook")
        .string(denial.hook)
        .key("target")
        .string(denial.target)
        .key("pid")
        .unsigned_number(denial.pid)
        .key("uid")
        .unsigned_number(denial.uid)
        .key("comm")
        .string(denial.comm)
        .key("errno")
        .signed_number(denial.errnum)
        .key("time_usec")
        .unsigned_number(denial.time_usec)
        .end_object();
    return json.text();
}

ExitCode run_monitor(Client &client, const Invocation &invocation, const Terminal &terminal) {
    const MonitorSignals signals;
    const std::set<std::string> wanted(invocation.arguments.begin(), invocation.arguments.end());
    const bool as_json = invocation.global.json;
    auto print = [&](const Denial &denial) {
        if (!wanted.empty() && !wanted.contains(denial.container)) {
            return true;
        }
        // One line at a time, at once: monitor is read live, often
        // through a pipe.
        std::cout << (as_json ? denial_json(denial) : denial_line(denial, terminal)) << '\n'
                  << std::flush;
        return static_cast<bool>(std::cout);
    };
    auto notice = [](const std::string &text) {
        std::cerr << "lockcctl: " << sanitised(text) << '\n' << std::flush;
    };
    std::optional<DenialSubscription> subscription;
    {
        // The agent is needed for subscribing only.
        const AuthorizationScope authorization(invocation.global);
        subscription.emplace(client, authorization.authorization(), print, notice);
    }
    subscription->run_until_readable(signals.fd());
    // Also when stdout was closed (a reader such as `head` has had
    // enough): that ends monitor as Ctrl+C does.
    std::cout.clear();
    return ExitCode::Success;
}

} // namespace lockc::cli
