// What lockc's D-Bus benchmarks share: signals, statistics and the report,
// a tree of scratch cgroups, lockcd on the bus, and /proc/<pid>/status.
#pragma once

#include "bus_names.hpp"
#include "bus_types.hpp"
#include "cgroup.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <csignal>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace lockc::bench {

using Clock = std::chrono::steady_clock;
using bus::kBusName;
using bus::kManagerInterface;
using bus::kManagerPath;
using bus::Options;

inline constexpr const char *kBusDriverName = "org.freedesktop.DBus";
inline constexpr const char *kBusDriverPath = "/org/freedesktop/DBus";
inline constexpr const char *kBusDriverInterface = "org.freedesktop.DBus";
inline constexpr double kKiB = 1024.0;

// ---- errors and signals ----

struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};

// SIGINT, SIGTERM and SIGHUP are blocked for the benchmark's lifetime and
// polled between calls, so an interrupted run still removes its cgroups
// and registrations (the destructors run).
class SignalGuard {
  public:
    SignalGuard() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, SIGHUP);
        if (::sigprocmask(SIG_BLOCK, &set_, &old_) != 0) {
            throw std::system_error(errno, std::generic_category(), "sigprocmask");
        }
    }
    SignalGuard(const SignalGuard &) = delete;
    SignalGuard &operator=(const SignalGuard &) = delete;
    SignalGuard(SignalGuard &&) = delete;
    SignalGuard &operator=(SignalGuard &&) = delete;
    ~SignalGuard() { ::sigprocmask(SIG_SETMASK, &old_, nullptr); }

    // Whether one of them came (taking it).
    [[nodiscard]] bool pending() const {
        const timespec zero{};
        return ::sigtimedwait(&set_, nullptr, &zero) > 0;
    }
    void check() const {
        if (pending()) {
            throw Interrupted();
        }
    }
    // The mask to give child processes: what it was before.
    [[nodiscard]] const sigset_t &original_mask() const { return old_; }

  private:
    sigset_t set_{};
    sigset_t old_{};
};

// ---- statistics and the report ----

struct Summary {
    double median = 0;
    double min = 0;
    double max = 0;
};

inline Summary summarize(std::vector<double> values) {
    if (values.empty()) {
        return {};
    }
    std::sort(values.begin(), values.end());
    const auto n = values.size();
    const double median = n % 2 == 1 ? values[n / 2] : (values[(n / 2) - 1] + values[n / 2]) / 2.0;
    return {median, values.front(), values.back()};
}

// Nearest rank: the smallest value with at least q of all at or below it.
inline double percentile(const std::vector<double> &sorted, double q) {
    if (sorted.empty()) {
        return 0;
    }
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
    return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

inline std::string fixed(double value, int digits) {
    std::ostringstream out;
    out << std::fixed << std::setprecision(digits) << value;
    return out.str();
}

struct Target {
    double value = 0;
    bool at_least = true; // else: at most
    std::string text;     // ">= 2000 pairs/s"
};

class Report {
  public:
    // One figure over the rounds: printed now, its `result` line at the end.
    void figure(const std::string &name, const std::string &what, const std::string &unit,
                const std::vector<double> &per_round, int digits,
                const std::optional<Target> &target = std::nullopt) {
        const auto s = summarize(per_round);
        std::cout << "  " << std::left << std::setw(44) << what << std::right << std::setw(12)
                  << fixed(s.median, digits) << ' ' << unit << "  (min " << fixed(s.min, digits)
                  << ", max " << fixed(s.max, digits) << ", " << per_round.size() << " rounds)\n";
        std::string line = "result name=" + name + " median=" + fixed(s.median, digits) +
                           " min=" + fixed(s.min, digits) + " max=" + fixed(s.max, digits) +
                           " unit=" + unit + " rounds=" + std::to_string(per_round.size());
        if (target) {
            const bool met =
                target->at_least ? s.median >= target->value : s.median <= target->value;
            const double off = target->at_least ? (target->value - s.median) / target->value
                                                : (s.median - target->value) / target->value;
            std::cout << "  " << std::setw(44) << ""
                      << "target " << target->text << ": "
                      << (met ? "met" : "missed by " + fixed(off * 100.0, 1) + "%") << '\n';
            line += " target=" + fixed(target->value, digits) +
                    (target->at_least ? " target_is=min" : " target_is=max") +
                    (met ? " met=yes" : " met=no");
        }
        lines_.push_back(std::move(line));
    }
    void info(const std::string &key, const std::string &value) {
        lines_.push_back("info " + key + "=" + value);
    }
    void print_results() const {
        std::cout << "\n# machine-readable\n";
        for (const auto &line : lines_) {
            std::cout << line << '\n';
        }
    }

  private:
    std::vector<std::string> lines_;
};

// ---- cgroups ----

// A directory of empty cgroups for the benchmark, under the cgroup v2 root;
// removed with all its children when destroyed.
class CgroupTree {
  public:
    CgroupTree() : mount_(lockc::cgroup2_mount()) {
        relative_ = "/lockc-bench-" + std::to_string(::getpid());
        absolute_ = mount_ / relative_.substr(1);
        std::filesystem::create_directory(absolute_);
    }
    CgroupTree(const CgroupTree &) = delete;
    CgroupTree &operator=(const CgroupTree &) = delete;
    CgroupTree(CgroupTree &&) = delete;
    CgroupTree &operator=(CgroupTree &&) = delete;
    ~CgroupTree() {
        std::size_t left = 0;
        for (const auto &name : children_) {
            std::error_code ec;
            if (!std::filesystem::remove(absolute_ / name, ec)) {
                ++left;
            }
        }
        std::error_code ec;
        if (!std::filesystem::remove(absolute_, ec) || left != 0) {
            std::cerr << "lockc-dbus-bench: could not remove all of " << absolute_.string() << '\n';
        }
    }

    // The cgroup `name` (created if needed), relative to the cgroup root.
    std::string child(const std::string &name) {
        if (std::filesystem::create_directory(absolute_ / name)) {
            children_.push_back(name);
        }
        return relative_ + "/" + name;
    }
    [[nodiscard]] const std::filesystem::path &absolute() const { return absolute_; }

  private:
    std::filesystem::path mount_;
    std::string relative_;
    std::filesystem::path absolute_;
    std::vector<std::string> children_;
};

// ---- lockcd on the bus ----

class Lockcd {
  public:
    Lockcd()
        : connection_(sdbus::createSystemBusConnection()),
          manager_(sdbus::createProxy(*connection_, kBusName, kManagerPath)),
          driver_(sdbus::createProxy(*connection_, kBusDriverName, kBusDriverPath)) {}

    [[nodiscard]] bool running() {
        bool has = false;
        driver_->callMethod("NameHasOwner")
            .onInterface(kBusDriverInterface)
            .withArguments(std::string(kBusName))
            .storeResultsTo(has);
        return has;
    }

    // Waits until lockcd owns its name; a call by name first, so that D-Bus
    // activation starts it where it is installed.
    void wait_until_running(const SignalGuard &signals) {
        const auto deadline = Clock::now() + std::chrono::seconds(30);
        while (!running()) {
            signals.check();
            if (Clock::now() > deadline) {
                throw std::runtime_error(std::string(kBusName) + " has no owner on this bus");
            }
            try {
                manager_->callMethod("Ping").onInterface("org.freedesktop.DBus.Peer");
            } catch (const sdbus::Error &) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
    }

    [[nodiscard]] pid_t pid() { return pid_of(kBusName); }
    // The bus daemon's own pid (dbus-daemon answers for its driver's name).
    [[nodiscard]] pid_t bus_pid() { return pid_of(kBusDriverName); }

    template <typename T> [[nodiscard]] T property(const std::string &name) {
        return manager_->getProperty(name).onInterface(kManagerInterface).get<T>();
    }

    void register_cgroup(const std::string &id, const std::string &cgroup) {
        sdbus::ObjectPath path;
        const Options options{{"cgroup", sdbus::Variant(cgroup)}};
        manager_->callMethod("RegisterContainer")
            .onInterface(kManagerInterface)
            .withArguments(id, std::string("baseline"), std::string(), options)
            .storeResultsTo(path);
    }

    void unregister(const std::string &id) {
        manager_->callMethod("UnregisterContainer")
            .onInterface(kManagerInterface)
            .withArguments(id, no_options_);
    }

    // A round trip to the bus itself.
    void bus_id() {
        std::string id;
        driver_->callMethod("GetId").onInterface(kBusDriverInterface).storeResultsTo(id);
    }

    // A round trip to lockcd that sd-bus answers without lockcd's code.
    void ping() { manager_->callMethod("Ping").onInterface("org.freedesktop.DBus.Peer"); }

    // A privileged method refused before the caller is looked up (NotFound).
    void unregister_unknown(const std::string &id) {
        try {
            unregister(id);
        } catch (const sdbus::Error &e) {
            if (e.getName() != "org.lockc.Error.NotFound") {
                throw;
            }
            return;
        }
        throw std::runtime_error("UnregisterContainer of an unknown id succeeded");
    }

    // SetLevel to the level the container has: the caller's credentials and
    // confinement are checked, then nothing is written.
    void set_level(const std::string &id, const std::string &level) {
        manager_->callMethod("SetLevel")
            .onInterface(kManagerInterface)
            .withArguments(id, level, no_options_);
    }

    [[nodiscard]] std::string level(const std::string &id) {
        std::string level;
        manager_->callMethod("GetLevel")
            .onInterface(kManagerInterface)
            .withArguments(id)
            .storeResultsTo(level);
        return level;
    }

  private:
    [[nodiscard]] pid_t pid_of(const std::string &name) {
        std::uint32_t pid = 0;
        driver_->callMethod("GetConnectionUnixProcessID")
            .onInterface(kBusDriverInterface)
            .withArguments(name)
            .storeResultsTo(pid);
        return static_cast<pid_t>(pid);
    }

    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> manager_;
    std::unique_ptr<sdbus::IProxy> driver_;
    const Options no_options_;
};

// ---- /proc/<pid>/status ----

struct MemoryStatus {
    std::uint64_t rss_kib = 0;
    std::uint64_t anon_kib = 0;
    std::uint64_t file_kib = 0;
    std::uint64_t hwm_kib = 0;
};

// The CPU time (user + system) a process has used so far, in seconds.
inline double cpu_seconds_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // The fields after the command name, which may hold spaces and ')'.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) {
        throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/stat");
    }
    std::istringstream fields(stat.substr(close + 2));
    std::string field;
    // state is field 3; utime and stime are fields 14 and 15.
    constexpr int kBeforeUtime = 11;
    for (int i = 0; i < kBeforeUtime && fields >> field; ++i) {
    }
    unsigned long long utime = 0;
    unsigned long long stime = 0;
    if (!(fields >> utime >> stime)) {
        throw std::runtime_error("no CPU times in /proc/" + std::to_string(pid) + "/stat");
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

inline MemoryStatus memory_of(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    if (!in) {
        throw std::runtime_error("cannot read /proc/" + std::to_string(pid) + "/status");
    }
    MemoryStatus m;
    const std::map<std::string_view, std::uint64_t *> fields{{"VmRSS:", &m.rss_kib},
                                                             {"RssAnon:", &m.anon_kib},
                                                             {"RssFile:", &m.file_kib},
                                                             {"VmHWM:", &m.hwm_kib}};
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        std::string key;
        std::uint64_t kib = 0;
        if (words >> key >> kib) {
            if (const auto it = fields.find(key); it != fields.end()) {
                *it->second = kib;
            }
        }
    }
    if (m.rss_kib == 0) {
        throw std::runtime_error("no VmRSS in /proc/" + std::to_string(pid) + "/status");
    }
    return m;
}

// The 1, 5 and 15 minute load averages: other work on the machine slows
// every figure here.
inline std::string load_average(const std::string &separator = " ") {
    std::ifstream in("/proc/loadavg");
    std::string one;
    std::string five;
    std::string fifteen;
    in >> one >> five >> fifteen;
    return one + separator + five + separator + fifteen;
}

inline double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// A benchmark's main(): arguments parsed by `parse` (nullopt: --help, the
// usage is printed), then `run`; errors become exit statuses (2: bad
// arguments, 130: interrupted, 1: any other), with `name` before the
// message. Output is written line by line: a full run takes long, and its
// output is often a pipe or a file.
template <typename Settings>
int bench_main(std::string_view name, std::string_view usage, std::string_view interrupted,
               std::span<char *const> args,
               std::optional<Settings> (*parse)(std::span<char *const>),
               int (*run)(const Settings &)) {
    std::cout << std::unitbuf;
    try {
        const auto settings = parse(args);
        if (!settings) {
            std::cout << usage;
            return 0;
        }
        return run(*settings);
    } catch (const std::invalid_argument &e) {
        std::cerr << name << ": " << e.what() << '\n' << usage;
        return 2;
    } catch (const Interrupted &) {
        std::cerr << name << ": " << interrupted << '\n';
        return 130;
    } catch (const sdbus::Error &e) {
        std::cerr << name << ": " << e.getName() << ": " << e.getMessage() << '\n';
        return 1;
    } catch (const std::exception &e) {
        std::cerr << name << ": " << e.what() << '\n';
        return 1;
    }
}

} // namespace lockc::bench
