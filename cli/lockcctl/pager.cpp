#include "pager.hpp"

#include "child_process.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>

namespace lockc::cli {

namespace {

// The pager the environment asks for; nullopt for the default (less, or
// more); "" for none.
std::optional<std::string> configured_pager() {
    for (const char *variable : {"SYSTEMD_PAGER", "PAGER"}) {
        if (const char *value = std::getenv(variable); value != nullptr) {
            const std::string pager = value;
            return pager == "cat" ? std::string() : pager;
        }
    }
    return std::nullopt;
}

// In the child: copies stdin to stdout, when no pager could be started,
// so that the output is not lost.
[[noreturn]] void copy_through() {
    std::array<char, 4096> buffer{};
    ssize_t n = 0;
    while ((n = ::read(STDIN_FILENO, buffer.data(), buffer.size())) > 0) {
        ssize_t done = 0;
        while (done < n) {
            const auto w =
                ::write(STDOUT_FILENO, buffer.data() + done, static_cast<std::size_t>(n - done));
            if (w <= 0) {
                ::_exit(EXIT_FAILURE);
            }
            done += w;
        }
    }
    ::_exit(EXIT_SUCCESS);
}

// Secure mode, as systemctl's: run with privileges someone else granted
// (root, or through sudo or pkexec), a pager's shell escape ("!sh" in less)
// would hand out a root shell to whoever may run "lockcctl status" there.
// Then only less runs, with LESSSECURE=1; SYSTEMD_PAGERSECURE=0 opts out.
bool secure_mode() {
    if (const char *value = std::getenv("SYSTEMD_PAGERSECURE"); value != nullptr) {
        return std::string(value) != "0" && std::string(value) != "false";
    }
    return ::geteuid() == 0 || ::geteuid() != ::getuid() || std::getenv("SUDO_UID") != nullptr ||
           std::getenv("PKEXEC_UID") != nullptr;
}

[[noreturn]] void exec_pager(const std::optional<std::string> &pager) {
    // The pager must not outlive lockcctl if lockcctl is killed.
    (void)::prctl(PR_SET_PDEATHSIG, SIGTERM);
    reset_signals_for_exec();
    (void)::setenv("LESS", "FRSXMK", 0);
    if (secure_mode()) {
        (void)::setenv("LESSSECURE", "1", 1);
        ::execlp("less", "less", nullptr);
        copy_through();
    }
    if (pager) {
        ::execl("/bin/sh", "sh", "-c", pager->c_str(), nullptr);
    } else {
        ::execlp("less", "less", nullptr);
        ::execlp("more", "more", nullptr);
    }
    copy_through();
}

} // namespace

Pager::Pager(bool wanted) {
    const auto pager = configured_pager();
    if (!wanted || (pager && pager->empty())) {
        return;
    }
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        return; // no pager: the output goes to the terminal directly
    }
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    std::cout.flush();
    const pid_t pid = ::fork();
    if (pid < 0) {
        return;
    }
    if (pid == 0) {
        // Without the write end here, the pager (or copy_through) sees the
        // end of the output when lockcctl closes its end.
        write_end.reset();
        if (::dup2(read_end.get(), STDIN_FILENO) < 0) {
            ::_exit(EXIT_FAILURE);
        }
        read_end.reset();
        exec_pager(pager);
    }
    pid_ = pid;
    saved_stdout_ = UniqueFd(::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3));
    (void)::dup2(write_end.get(), STDOUT_FILENO);
    // A person who quits the pager early closes the pipe: lockcctl's next
    // write fails (and is dropped) instead of killing it.
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ignore, &saved_sigpipe_);
}

Pager::~Pager() {
    if (pid_ < 0) {
        return;
    }
    std::cout.flush();
    std::cout.clear(); // a pager quit early leaves the stream failed
    // Closing our end of the pipe tells the pager the output is complete.
    if (saved_stdout_.valid()) {
        (void)::dup2(saved_stdout_.get(), STDOUT_FILENO);
    } else {
        ::close(STDOUT_FILENO);
    }
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    ::sigaction(SIGPIPE, &saved_sigpipe_, nullptr);
}

} // namespace lockc::cli
