// lockc-hookbench: tight loops of the system calls that lockc's LSM hooks
// see, timed as nanoseconds per operation. bench/vm/hooks.sh runs it in the
// test VM in each configuration (lockc not loaded, AppArmor profile, host
// caller, baseline container, denied caller) and compares the medians.
//
// Every operation's outcome is checked against --expect: a loop that was
// meant to be denied but succeeded (or the reverse) measures the wrong
// thing, so the run fails instead of printing a figure.
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

extern char **environ; // NOLINT(readability-redundant-declaration): posix_spawn's envp

namespace {

constexpr std::string_view kUsage =
    "usage: lockc-hookbench --dir DIR --open-target FILE --connect-target SOCKET\n"
    "                       --exec-target BINARY [--cgroup DIR] [--apparmor PROFILE]\n"
    "                       [--expect allowed|denied] [--reader PID]\n"
    "                       [--seconds S]\n"
    "                       [--loops open,stat,exec,mount,connect,ioctl,fcntl]\n"
    "  Runs each loop and prints one line per loop:\n"
    "    loop=NAME ops=N ns_per_op=X outcome=allowed|denied [reader_ns_per_op=Y]\n"
    "  --dir      scratch directory (tmpfs) for the bind-mount source and target\n"
    "  --cgroup   cgroup v2 directory to join before measuring (the container)\n"
    "  --apparmor AppArmor profile (loaded) to change to before measuring\n"
    "  --expect   what open, mount and connect must return (denied: EPERM)\n"
    "  --reader   the event reader's process: also print the CPU time its\n"
    "             threads ran during the loop, per operation (on one CPU, a\n"
    "             share of ns_per_op that the caller did not spend itself)\n"
    "  --seconds  how long each loop runs (default 2; CI smoke: 0.05)\n";

struct Options {
    std::string dir;
    std::string open_target;
    std::string connect_target;
    std::string exec_target;
    std::string cgroup;
    std::string apparmor;
    bool expect_denied = false;
    pid_t reader = 0; // 0: none
    double seconds = 2.0;
    std::vector<std::string> loops = {"open", "stat", "exec", "mount", "connect", "ioctl", "fcntl"};
};

[[noreturn]] void fail(const std::string &what) {
    throw std::runtime_error(what + ": " + std::strerror(errno));
}

// A file descriptor closed on scope exit.
class Fd {
  public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    Fd(Fd &&) = delete;
    Fd &operator=(Fd &&) = delete;
    ~Fd() {
        if (fd_ >= 0) {
            ::close(fd_);
        }
    }
    [[nodiscard]] int get() const { return fd_; }

  private:
    int fd_;
};

// A child process that accepts and closes connections on a unix socket until
// the benchmark closes its end of a pipe (or exits). Started before the
// benchmark joins its cgroup, so the listener is a host process in every
// configuration; and stopped without a signal, which a confined benchmark
// may not send to a host process.
class Listener {
  public:
    explicit Listener(const std::string &path) {
        ::unlink(path.c_str());
        const Fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (sock.get() < 0) {
            fail("socket");
        }
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.size() >= sizeof(addr.sun_path)) {
            errno = ENAMETOOLONG;
            fail(path);
        }
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        if (::bind(sock.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) != 0 ||
            ::listen(sock.get(), 4096) != 0) {
            fail("listening on " + path);
        }
        std::array<int, 2> stop{};
        if (::pipe2(stop.data(), O_CLOEXEC) != 0) {
            fail("pipe");
        }
        pid_ = ::fork();
        if (pid_ < 0) {
            fail("fork");
        }
        if (pid_ == 0) {
            ::close(stop[1]);
            serve(sock.get(), stop[0]);
        }
        ::close(stop[0]);
        stop_ = stop[1];
    }
    Listener(const Listener &) = delete;
    Listener &operator=(const Listener &) = delete;
    Listener(Listener &&) = delete;
    Listener &operator=(Listener &&) = delete;
    ~Listener() {
        ::close(stop_); // the child sees end-of-file and exits
        ::waitpid(pid_, nullptr, 0);
    }

  private:
    [[noreturn]] static void serve(int sock, int stop) {
        std::array<pollfd, 2> fds = {pollfd{sock, POLLIN, 0}, pollfd{stop, POLLIN, 0}};
        for (;;) {
            if (::poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) {
                ::_exit(1);
            }
            if (fds[1].revents != 0) {
                ::_exit(0);
            }
            if ((fds[0].revents & POLLIN) != 0) {
                const int c = ::accept4(sock, nullptr, nullptr, SOCK_CLOEXEC);
                if (c >= 0) {
                    ::close(c);
                }
            }
        }
    }

    pid_t pid_ = -1;
    int stop_ = -1;
};

// What one operation did: 0 when it succeeded, else the errno.
using Operation = std::function<int()>;

struct Loop {
    std::string name;
    bool may_be_denied; // --expect applies to it
    Operation operation;
};

struct Timing {
    long ops = 0;
    double ns_per_op = 0;
    double reader_ns_per_op = 0;
};

// The CPU time all threads of `pid` have run, in ns: the first field of
// each thread's schedstat (the scheduler's exact sum, not tick samples).
// 0 when `pid` is 0.
std::uint64_t cpu_time_ns(pid_t pid) {
    if (pid == 0) {
        return 0;
    }
    std::uint64_t total = 0;
    const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
    for (const auto &task : std::filesystem::directory_iterator(tasks)) {
        std::ifstream in(task.path() / "schedstat");
        std::uint64_t ran = 0;
        if (in >> ran) {
            total += ran;
        }
    }
    return total;
}

int errno_of(int ret) {
    return ret == 0 ? 0 : errno;
}

Operation open_close(const std::string &path) {
    return [path] {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            return errno;
        }
        ::close(fd);
        return 0;
    };
}

Operation stat_of(const std::string &path) {
    return [path] {
        struct stat st {};
        return errno_of(::stat(path.c_str(), &st));
    };
}

Operation spawn_and_wait(const std::string &binary) {
    return [binary] {
        pid_t pid = 0;
        std::string arg0 = binary;
        std::array<char *, 2> argv = {arg0.data(), nullptr};
        const int r = ::posix_spawn(&pid, binary.c_str(), nullptr, nullptr, argv.data(), environ);
        if (r != 0) {
            return r;
        }
        int status = 0;
        if (::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            return ECHILD;
        }
        return 0;
    };
}

Operation bind_and_unmount(const std::string &source, const std::string &target) {
    return [source, target] {
        if (::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr) != 0) {
            return errno;
        }
        if (::umount2(target.c_str(), 0) != 0) {
            fail("umount " + target);
        }
        return 0;
    };
}

Operation connect_to(const std::string &path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), std::min(path.size() + 1, sizeof(addr.sun_path) - 1));
    return [addr] {
        const Fd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (sock.get() < 0) {
            fail("socket");
        }
        return errno_of(
            ::connect(sock.get(), reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)));
    };
}

// An ioctl (FIONREAD) and an fcntl (F_GETFL) on a pipe. lockc judges only
// a socket's ioctls and the fcntls that set a file's signal owner, but
// every ioctl and fcntl of every task passes its programs on the way: these
// are that common case, never denied.
Operation ioctl_on(int fd) {
    return [fd] {
        int queued = 0;
        return errno_of(::ioctl(fd, FIONREAD, &queued));
    };
}

Operation fcntl_on(int fd) {
    return [fd] { return ::fcntl(fd, F_GETFL) < 0 ? errno : 0; };
}

// Runs the loop's operation for about `seconds` (whole batches of 16),
// each ending as expected; returns the count and the mean time per
// operation. Time-based, so that one setting suits a 2 us stat and a 20 ms
// exec under software emulation alike.
Timing time_loop(const Loop &loop, double seconds, bool expect_denied, pid_t reader) {
    const bool want_denied = loop.may_be_denied && expect_denied;
    auto check = [&](int err) {
        if (want_denied ? err != EPERM : err != 0) {
            throw std::runtime_error("loop " + loop.name + ": expected " +
                                     (want_denied ? "EPERM" : "success") + ", got " +
                                     (err == 0 ? std::string("success") : std::strerror(err)));
        }
    };
    using Clock = std::chrono::steady_clock;
    constexpr int kBatch = 16;
    // Warm caches (dentries, the BPF programs' maps) before timing.
    for (int i = 0; i < kBatch; ++i) {
        check(loop.operation());
    }
    const auto budget = std::chrono::duration<double>(seconds);
    Timing t;
    const auto reader_before = cpu_time_ns(reader);
    const auto start = Clock::now();
    auto now = start;
    while (now - start < budget) {
        for (int i = 0; i < kBatch; ++i) {
            check(loop.operation());
        }
        t.ops += kBatch;
        now = Clock::now();
    }
    const std::chrono::duration<double, std::nano> took = now - start;
    const auto reader_ran = cpu_time_ns(reader) - reader_before;
    t.ns_per_op = took.count() / static_cast<double>(t.ops);
    t.reader_ns_per_op = static_cast<double>(reader_ran) / static_cast<double>(t.ops);
    return t;
}

std::vector<std::string> split(const std::string &text, char sep) {
    std::vector<std::string> parts;
    std::stringstream in(text);
    for (std::string part; std::getline(in, part, sep);) {
        parts.push_back(part);
    }
    return parts;
}

// The whole of text as a number, or nothing: a bad option value prints the
// usage rather than ending in an uncaught exception.
template <typename Number> std::optional<Number> number(const std::string &text) {
    Number n{};
    const auto *end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, n);
    if (ec != std::errc() || ptr != end || text.empty()) {
        return std::nullopt;
    }
    return n;
}

std::optional<Options> parse(int argc, char **argv) {
    Options o;
    const std::vector<std::string> args(argv + 1, argv + argc);
    const std::map<std::string, std::string *> strings = {
        {"--dir", &o.dir},
        {"--open-target", &o.open_target},
        {"--connect-target", &o.connect_target},
        {"--exec-target", &o.exec_target},
        {"--cgroup", &o.cgroup},
        {"--apparmor", &o.apparmor},
    };
    for (std::size_t i = 0; i < args.size(); ++i) {
        const auto &a = args[i];
        if (i + 1 >= args.size()) {
            return std::nullopt;
        }
        const auto &value = args[++i];
        if (const auto s = strings.find(a); s != strings.end()) {
            *s->second = value;
        } else if (a == "--expect" && (value == "allowed" || value == "denied")) {
            o.expect_denied = value == "denied";
        } else if (a == "--reader") {
            const auto pid = number<pid_t>(value);
            if (!pid || *pid <= 0 || ::kill(*pid, 0) != 0) {
                return std::nullopt;
            }
            o.reader = *pid;
        } else if (a == "--seconds") {
            const auto seconds = number<double>(value);
            if (!seconds) {
                return std::nullopt;
            }
            o.seconds = *seconds;
        } else if (a == "--loops") {
            o.loops = split(value, ',');
        } else {
            return std::nullopt;
        }
    }
    if (o.dir.empty() || o.open_target.empty() || o.connect_target.empty() ||
        o.exec_target.empty() || !(o.seconds > 0 && o.seconds <= 600)) {
        return std::nullopt;
    }
    return o;
}

void join_cgroup(const std::string &dir) {
    std::ofstream procs(dir + "/cgroup.procs");
    procs << "0\n";
    procs.flush();
    if (!procs) {
        fail("joining cgroup " + dir);
    }
}

// Confines this process with an AppArmor profile from now on, as
// libapparmor's aa_change_profile() does: "changeprofile NAME" to the
// AppArmor attribute (Linux 5.8 and later), else to the shared one. Then
// checks that the kernel says so: a benchmark that silently ran unconfined
// would time the wrong thing.
void change_apparmor_profile(const std::string &profile) {
    std::string attr = "/proc/thread-self/attr/apparmor/current";
    if (::access(attr.c_str(), F_OK) != 0) {
        attr = "/proc/thread-self/attr/current";
    }
    const std::string command = "changeprofile " + profile;
    {
        const Fd fd(::open(attr.c_str(), O_WRONLY | O_CLOEXEC));
        if (fd.get() < 0 || ::write(fd.get(), command.data(), command.size()) !=
                                static_cast<ssize_t>(command.size())) {
            fail("changing to AppArmor profile " + profile + " (" + attr + ")");
        }
    }
    std::ifstream in(attr);
    std::string now;
    std::getline(in, now);
    if (now != profile + " (enforce)") {
        errno = EPERM;
        fail("AppArmor says the profile is \"" + now + "\", not " + profile + " (enforce)");
    }
}

int run(const Options &o) {
    // Bind mounts happen in a mount namespace of our own, private, so that
    // nothing of the benchmark shows up elsewhere. Set up before joining the
    // cgroup: a restricted container may not change propagation.
    if (::unshare(CLONE_NEWNS) != 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
        fail("private mount namespace");
    }
    const std::string source = o.dir + "/bind-source";
    const std::string target = o.dir + "/bind-target";
    for (const auto &d : {source, target}) {
        if (::mkdir(d.c_str(), 0700) != 0 && errno != EEXIST) {
            fail("mkdir " + d);
        }
    }
    const Listener listener(o.connect_target);
    std::array<int, 2> pipe_ends{};
    if (::pipe2(pipe_ends.data(), O_CLOEXEC) != 0) {
        fail("pipe");
    }
    const Fd pipe_read(pipe_ends[0]);
    const Fd pipe_write(pipe_ends[1]);
    if (!o.cgroup.empty()) {
        join_cgroup(o.cgroup);
    }
    // Last: a profile modelled on Docker's refuses the private mount
    // namespace above, as a container gets its namespaces from its runtime.
    if (!o.apparmor.empty()) {
        change_apparmor_profile(o.apparmor);
    }
    const std::vector<Loop> all = {
        {"open", true, open_close(o.open_target)},
        {"stat", false, stat_of(o.open_target)},
        {"exec", false, spawn_and_wait(o.exec_target)},
        {"mount", true, bind_and_unmount(source, target)},
        {"connect", true, connect_to(o.connect_target)},
        {"ioctl", false, ioctl_on(pipe_read.get())},
        {"fcntl", false, fcntl_on(pipe_read.get())},
    };
    for (const auto &name : o.loops) {
        const Loop *loop = nullptr;
        for (const auto &l : all) {
            if (l.name == name) {
                loop = &l;
            }
        }
        if (loop == nullptr) {
            std::cerr << "lockc-hookbench: unknown loop " << name << "\n";
            return 2;
        }
        const auto t = time_loop(*loop, o.seconds, o.expect_denied, o.reader);
        const bool denied = loop->may_be_denied && o.expect_denied;
        std::printf("loop=%s ops=%ld ns_per_op=%.1f outcome=%s", name.c_str(), t.ops, t.ns_per_op,
                    denied ? "denied" : "allowed");
        if (o.reader != 0) {
            std::printf(" reader_ns_per_op=%.1f", t.reader_ns_per_op);
        }
        std::printf("\n");
        std::fflush(stdout);
    }
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    const auto options = parse(argc, argv);
    if (!options) {
        std::cerr << kUsage;
        return 2;
    }
    try {
        return run(*options);
    } catch (const std::exception &e) {
        std::cerr << "lockc-hookbench: " << e.what() << "\n";
        return 1;
    }
}
