// Test helpers for code that holds execs (exec_gate.hpp): a temporary
// directory, a private copy of /bin/true to gate, children that exec it,
// and bounded waits for the held execs.
#pragma once

#include "exec_gate.hpp"
#include "temp_dir.hpp"

#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

namespace lockc::test {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

inline constexpr auto kTimeout = 5s;

// A copy of /bin/true: its own inode, so only the test's execs reach it.
inline fs::path copy_true(const fs::path &to) {
    fs::copy_file(fs::canonical("/bin/true"), to, fs::copy_options::overwrite_existing);
    fs::permissions(to, fs::perms::owner_all);
    return to;
}

// A forked child, killed and reaped if the test ends before it did.
class Child {
  public:
    explicit Child(const std::function<int()> &body) {
        pid_ = ::fork();
        if (pid_ < 0) {
            throw std::system_error(errno, std::system_category(), "fork");
        }
        if (pid_ == 0) {
            int code = 125;
            try {
                code = body();
            } catch (...) {
                code = 124;
            }
            ::_exit(code);
        }
    }
    Child(const Child &) = delete;
    Child &operator=(const Child &) = delete;
    ~Child() {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }
    [[nodiscard]] pid_t pid() const { return pid_; }

    // The exit code; nullopt while it still runs after `timeout`.
    std::optional<int> wait(std::chrono::milliseconds timeout = kTimeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            int status = 0;
            const pid_t r = ::waitpid(pid_, &status, WNOHANG);
            if (r == pid_) {
                pid_ = -1;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            if (r < 0 || std::chrono::steady_clock::now() >= deadline) {
                return std::nullopt;
            }
            std::this_thread::sleep_for(5ms);
        }
    }

  private:
    pid_t pid_ = -1;
};

// argv as execve wants it; the strings stay owned by `args`.
inline std::vector<char *> c_argv(std::vector<std::string> &args) {
    std::vector<char *> out;
    out.reserve(args.size() + 1);
    for (auto &a : args) {
        out.push_back(a.data());
    }
    out.push_back(nullptr);
    return out;
}

// The execs held at `gate` within `timeout`; empty if none came.
inline std::vector<GatedExec> wait_execs(ExecGate &gate,
                                         std::chrono::milliseconds timeout = kTimeout) {
    pollfd p{gate.fd(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) {
        return {};
    }
    return gate.read();
}

// A child that chdirs to `cwd` and execs `binary` with `args`.
inline std::unique_ptr<Child> exec_child(const fs::path &binary, std::vector<std::string> &args,
                                         const fs::path &cwd = "/") {
    auto argv = c_argv(args);
    return std::make_unique<Child>([&binary, &cwd, argv]() {
        if (::chdir(cwd.c_str()) != 0) {
            return 120;
        }
        ::execv(binary.c_str(), argv.data());
        return 127;
    });
}

} // namespace lockc::test
