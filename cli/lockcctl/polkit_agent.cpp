#include "polkit_agent.hpp"

#include "child_process.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <string>
#include <thread>

#ifndef LOCKCCTL_PKTTYAGENT
#define LOCKCCTL_PKTTYAGENT "/usr/bin/pkttyagent"
#endif

namespace lockc::cli {

namespace {

// pkttyagent closes the notify fd once registered; it does not take long
// unless polkit hangs, and then lockcctl goes on without it.
constexpr int kRegistrationTimeoutMs = 25000;
constexpr int kTerminationTimeoutMs = 3000;
constexpr int kPollIntervalMs = 10;

// In the child: the agent reads the password from the terminal on stdin
// and must write its prompts to a terminal even when stdout is a pipe.
void connect_output_to_terminal() {
    if (::isatty(STDOUT_FILENO) == 1) {
        return;
    }
    const int tty = ::open("/dev/tty", O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (tty >= 0) {
        (void)::dup2(tty, STDOUT_FILENO);
        (void)::dup2(tty, STDERR_FILENO);
    }
}

} // namespace

PolkitAgent::PolkitAgent(const char *program) {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        return;
    }
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    // Everything the child needs is prepared before fork.
    const std::string notify_fd = std::to_string(write_end.get());
    const std::string own_pid = std::to_string(::getpid());
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        return;
    }
    if (pid == 0) {
        // The agent must not outlive lockcctl, even if lockcctl is killed.
        (void)::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) {
            ::_exit(EXIT_FAILURE);
        }
        reset_signals_for_exec();
        // The notify fd is the one descriptor the agent inherits on purpose.
        (void)::fcntl(write_end.get(), F_SETFD, 0);
        connect_output_to_terminal();
        ::execl(program, "pkttyagent", "--notify-fd", notify_fd.c_str(), "--fallback", "--process",
                own_pid.c_str(), nullptr);
        ::_exit(EXIT_FAILURE);
    }
    pid_ = pid;
    write_end.reset();
    // Registered (or failed) when the agent closes its end.
    pollfd wait_for_close{read_end.get(), POLLIN, 0};
    while (::poll(&wait_for_close, 1, kRegistrationTimeoutMs) < 0 && errno == EINTR) {
    }
}

PolkitAgent::~PolkitAgent() {
    if (pid_ <= 0) {
        return;
    }
    (void)::kill(pid_, SIGTERM);
    (void)::kill(pid_, SIGCONT);
    // An agent that does not end on SIGTERM must not keep lockcctl waiting.
    for (int waited_ms = 0; waited_ms < kTerminationTimeoutMs; waited_ms += kPollIntervalMs) {
        const pid_t done = ::waitpid(pid_, nullptr, WNOHANG);
        if (done == pid_ || (done < 0 && errno != EINTR)) {
            return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(kPollIntervalMs));
    }
    (void)::kill(pid_, SIGKILL);
    while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
}

AuthorizationScope::AuthorizationScope(const GlobalOptions &options) {
    if (options.no_ask_password) {
        authorization_.hint_when_denied =
            "run as root, join group lockc, or drop --no-ask-password";
        return;
    }
    if (::isatty(STDIN_FILENO) != 1) {
        authorization_.hint_when_denied =
            "run as root, join group lockc, or run lockcctl on a terminal to authenticate";
        return;
    }
    authorization_.interactive = true;
    if (::geteuid() != 0) {
        agent_.emplace(LOCKCCTL_PKTTYAGENT);
    }
}

} // namespace lockc::cli
