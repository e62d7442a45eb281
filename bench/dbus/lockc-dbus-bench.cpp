// lockc-dbus-bench: what org.lockc.Manager costs its callers, and what
// lockcd's memory costs the host.
//
//   pairs    RegisterContainer + UnregisterContainer of one cgroup, one after
//            the other on one connection: pairs per second
//   queries  GetLevel of a registered container: p50 and p99 latency
//   memory   lockcd's VmRSS idle, with N registered containers and after
//            unregistering them again: bytes per container
//   concurrent  GetLevel from many clients at once, each on its own
//            connection: latencies, calls per second, and the CPU time
//            lockcd and the bus daemon spend per call
//   breakdown  the p50 latency of calls that do more and more of what a
//            registration does (bus round trip, read, refused and
//            authorized privileged calls): where a registration's time goes
//
// Every figure is measured in several rounds and reported as the median
// with the minimum and maximum, as text and as `result ...` lines. Timings
// are never checked: this is a benchmark, not a test. It talks to the
// system bus (DBUS_SYSTEM_BUS_ADDRESS when set), as root, and creates the
// cgroups it registers under the cgroup v2 mount, removing them afterwards.
#include "bench_support.hpp"

#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <iostream>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

using lockc::bench::CgroupTree;
using lockc::bench::Clock;
using lockc::bench::cpu_seconds_of;
using lockc::bench::fixed;
using lockc::bench::kKiB;
using lockc::bench::load_average;
using lockc::bench::Lockcd;
using lockc::bench::memory_of;
using lockc::bench::percentile;
using lockc::bench::Report;
using lockc::bench::seconds_since;
using lockc::bench::SignalGuard;
using lockc::bench::Target;

constexpr const char *kUsage =
    "usage: lockc-dbus-bench [options]\n"
    "Benchmarks org.lockc.Manager on the system bus (DBUS_SYSTEM_BUS_ADDRESS when set).\n"
    "Run as root. With none of --pairs, --queries, --memory, --breakdown, --concurrent: all\n"
    "five.\n"
    "\n"
    "  --pairs N            RegisterContainer+UnregisterContainer pairs per round (2000)\n"
    "  --queries N          GetLevel calls per round (10000)\n"
    "  --memory             lockcd's VmRSS: idle, with --containers registered, and after\n"
    "                       unregistering them\n"
    "  --breakdown N        N calls per round of each step from a bare round trip to a\n"
    "                       privileged call, to see where a registration's time goes (2000)\n"
    "  --concurrent N       N clients at once, each on its own connection, calling GetLevel\n"
    "                       for 3 s per round (100)\n"
    "  --containers N       containers registered in each memory round (10000)\n"
    "  --rounds R           rounds of each measurement (5)\n"
    "  --warmup N           calls before the first round of pairs and queries (200)\n"
    "  --background N       containers registered before pairs and queries (0)\n"
    "  --restart-command C  run `sh -c C` before each memory round; it must restart\n"
    "                       lockcd (the round then starts from a fresh lockcd)\n"
    "  --smoke              tiny counts, 2 rounds: checks that every part runs\n"
    "  --help\n";

// ---- arguments ----

struct Settings {
    bool pairs = false;
    bool queries = false;
    bool memory = false;
    bool breakdown = false;
    bool concurrent = false;
    bool smoke = false;
    std::size_t pair_count = 2000;
    std::size_t query_count = 10000;
    std::size_t container_count = 10000;
    std::size_t breakdown_count = 2000;
    std::size_t clients = 100;
    std::chrono::milliseconds concurrent_time{3000};
    std::size_t rounds = 5;
    std::size_t warmup = 200;
    std::size_t background = 0;
    std::string restart_command;
};

std::size_t parse_count(std::string_view option, const char *text, std::size_t min) {
    std::size_t value = 0;
    const std::string_view s = text == nullptr ? std::string_view() : text;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || value < min) {
        throw std::invalid_argument(std::string(option) + " needs a number of at least " +
                                    std::to_string(min));
    }
    return value;
}

// nullopt: --help was asked for.
std::optional<Settings> parse_arguments(std::span<char *const> args) {
    Settings s;
    bool counts_given = false;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        const auto value = [&]() -> const char * {
            return i + 1 < args.size() ? args[++i] : nullptr;
        };
        if (arg == "--help") {
            return std::nullopt;
        }
        if (arg == "--pairs") {
            s.pairs = true;
            s.pair_count = parse_count(arg, value(), 1);
            counts_given = true;
        } else if (arg == "--queries") {
            s.queries = true;
            s.query_count = parse_count(arg, value(), 1);
            counts_given = true;
        } else if (arg == "--memory") {
            s.memory = true;
        } else if (arg == "--breakdown") {
            s.breakdown = true;
            s.breakdown_count = parse_count(arg, value(), 1);
            counts_given = true;
        } else if (arg == "--concurrent") {
            s.concurrent = true;
            s.clients = parse_count(arg, value(), 1);
            counts_given = true;
        } else if (arg == "--containers") {
            s.container_count = parse_count(arg, value(), 1);
            counts_given = true;
        } else if (arg == "--rounds") {
            s.rounds = parse_count(arg, value(), 1);
            counts_given = true;
        } else if (arg == "--warmup") {
            s.warmup = parse_count(arg, value(), 0);
        } else if (arg == "--background") {
            s.background = parse_count(arg, value(), 0);
        } else if (arg == "--restart-command") {
            const char *v = value();
            if (v == nullptr || *v == '\0') {
                throw std::invalid_argument("--restart-command needs a command");
            }
            s.restart_command = v;
        } else if (arg == "--smoke") {
            s.smoke = true;
        } else {
            throw std::invalid_argument("unknown argument '" + std::string(arg) + "'");
        }
    }
    if (!s.pairs && !s.queries && !s.memory && !s.breakdown && !s.concurrent) {
        s.pairs = s.queries = s.memory = s.breakdown = s.concurrent = true;
    }
    if (s.smoke) {
        if (counts_given) {
            throw std::invalid_argument("--smoke sets the counts itself");
        }
        s.pair_count = 20;
        s.query_count = 200;
        s.container_count = 50;
        s.breakdown_count = 50;
        s.clients = 4;
        s.concurrent_time = std::chrono::milliseconds(200);
        s.rounds = 2;
        s.warmup = 10;
    }
    return s;
}

// Containers the benchmark registered, unregistered when destroyed (an
// error or Ctrl-C leaves none behind; a second Ctrl-C stops the cleanup).
class Registrations {
  public:
    Registrations(Lockcd &lockcd, const SignalGuard &signals)
        : lockcd_(lockcd), signals_(signals) {}
    Registrations(const Registrations &) = delete;
    Registrations &operator=(const Registrations &) = delete;
    Registrations(Registrations &&) = delete;
    Registrations &operator=(Registrations &&) = delete;
    ~Registrations() {
        constexpr std::size_t kMany = 100;
        if (ids_.size() >= kMany) {
            std::cerr << "lockc-dbus-bench: unregistering " << ids_.size()
                      << " containers (interrupt again to leave them)\n";
        }
        try {
            while (!ids_.empty() && !signals_.pending()) {
                lockcd_.unregister(ids_.back());
                ids_.pop_back();
            }
        } catch (const std::exception &e) {
            std::cerr << "lockc-dbus-bench: " << e.what() << '\n';
        }
        if (!ids_.empty()) {
            std::cerr << "lockc-dbus-bench: left " << ids_.size() << " containers registered ("
                      << ids_.front()
                      << " ...); unregister them with lockcctl (an enforcing lockcd "
                      << "also forgets them once it sees their cgroups removed)\n";
        }
    }

    void add(const std::string &id, const std::string &cgroup) {
        lockcd_.register_cgroup(id, cgroup);
        ids_.push_back(id);
    }
    void clear() {
        while (!ids_.empty()) {
            lockcd_.unregister(ids_.back());
            ids_.pop_back();
        }
    }
    [[nodiscard]] std::size_t size() const { return ids_.size(); }

  private:
    Lockcd &lockcd_;
    const SignalGuard &signals_;
    std::vector<std::string> ids_;
};

// ---- the measurements ----
std::string id_prefix() {
    return "lockc-bench-" + std::to_string(::getpid()) + "-";
}

void fill_background(const Settings &s, CgroupTree &cgroups, Registrations &background,
                     const SignalGuard &signals) {
    for (std::size_t i = 0; i < s.background; ++i) {
        const auto name = "bg" + std::to_string(i);
        background.add(id_prefix() + name, cgroups.child(name));
        signals.check();
    }
}

void bench_pairs(const Settings &s, Lockcd &lockcd, CgroupTree &cgroups, Report &report,
                 const SignalGuard &signals) {
    std::cout << "\nRegister+unregister pairs, one connection, one after the other\n"
              << "  " << s.pair_count << " pairs per round, " << s.warmup << " warm-up pairs, "
              << s.background << " other containers registered\n";
    const auto id = id_prefix() + "pair";
    const auto cgroup = cgroups.child("pair");
    Registrations guard(lockcd, signals);
    for (std::size_t i = 0; i < s.warmup; ++i) {
        guard.add(id, cgroup);
        guard.clear();
    }
    std::vector<double> rates;
    std::vector<double> register_p50;
    std::vector<double> register_p99;
    std::vector<double> unregister_p50;
    std::vector<double> unregister_p99;
    std::vector<double> reg_us;
    std::vector<double> unreg_us;
    reg_us.reserve(s.pair_count);
    unreg_us.reserve(s.pair_count);
    for (std::size_t round = 0; round < s.rounds; ++round) {
        reg_us.clear();
        unreg_us.clear();
        const auto start = Clock::now();
        for (std::size_t i = 0; i < s.pair_count; ++i) {
            const auto t0 = Clock::now();
            guard.add(id, cgroup);
            const auto t1 = Clock::now();
            guard.clear();
            const auto t2 = Clock::now();
            reg_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
            unreg_us.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
            constexpr std::size_t kCheckEvery = 256;
            if (i % kCheckEvery == 0) {
                signals.check();
            }
        }
        const double rate = static_cast<double>(s.pair_count) / seconds_since(start);
        rates.push_back(rate);
        std::sort(reg_us.begin(), reg_us.end());
        std::sort(unreg_us.begin(), unreg_us.end());
        register_p50.push_back(percentile(reg_us, 0.50));
        register_p99.push_back(percentile(reg_us, 0.99));
        unregister_p50.push_back(percentile(unreg_us, 0.50));
        unregister_p99.push_back(percentile(unreg_us, 0.99));
        std::cout << "    round " << round + 1 << ": " << fixed(rate, 1) << " pairs/s"
                  << " (register p50 " << fixed(register_p50.back(), 1) << " us, unregister p50 "
                  << fixed(unregister_p50.back(), 1) << " us)\n";
    }
    report.figure("dbus.pairs_per_second", "register+unregister pairs per second", "pairs/s", rates,
                  1, Target{2000, true, ">= 2000 pairs/s"});
    report.figure("dbus.register_p50", "RegisterContainer latency p50", "us", register_p50, 1);
    report.figure("dbus.register_p99", "RegisterContainer latency p99", "us", register_p99, 1);
    report.figure("dbus.unregister_p50", "UnregisterContainer latency p50", "us", unregister_p50,
                  1);
    report.figure("dbus.unregister_p99", "UnregisterContainer latency p99", "us", unregister_p99,
                  1);
}

void bench_queries(const Settings &s, Lockcd &lockcd, CgroupTree &cgroups, Report &report,
                   const SignalGuard &signals) {
    std::cout << "\nGetLevel latency, one connection, one call after the other\n"
              << "  " << s.query_count << " calls per round, " << s.warmup << " warm-up calls, "
              << s.background << " other containers registered\n";
    const auto id = id_prefix() + "query";
    Registrations guard(lockcd, signals);
    guard.add(id, cgroups.child("query"));
    for (std::size_t i = 0; i < s.warmup; ++i) {
        (void)lockcd.level(id);
    }
    std::vector<double> p50;
    std::vector<double> p99;
    std::vector<double> worst;
    std::vector<double> rates;
    std::vector<double> us;
    us.reserve(s.query_count);
    for (std::size_t round = 0; round < s.rounds; ++round) {
        us.clear();
        const auto start = Clock::now();
        for (std::size_t i = 0; i < s.query_count; ++i) {
            const auto t0 = Clock::now();
            const auto level = lockcd.level(id);
            us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
            if (level != "baseline") {
                throw std::runtime_error("GetLevel answered '" + level + "', not baseline");
            }
            constexpr std::size_t kCheckEvery = 1024;
            if (i % kCheckEvery == 0) {
                signals.check();
            }
        }
        rates.push_back(static_cast<double>(s.query_count) / seconds_since(start));
        std::sort(us.begin(), us.end());
        p50.push_back(percentile(us, 0.50));
        p99.push_back(percentile(us, 0.99));
        worst.push_back(us.back());
        std::cout << "    round " << round + 1 << ": p50 " << fixed(p50.back(), 1) << " us, p99 "
                  << fixed(p99.back(), 1) << " us, max " << fixed(worst.back(), 1) << " us\n";
    }
    report.figure("dbus.getlevel_p50", "GetLevel latency p50", "us", p50, 1);
    report.figure("dbus.getlevel_p99", "GetLevel latency p99", "us", p99, 1,
                  Target{1000, false, "<= 1 ms"});
    report.figure("dbus.getlevel_max", "GetLevel latency max", "us", worst, 1);
    report.figure("dbus.getlevel_per_second", "GetLevel calls per second", "calls/s", rates, 0);
}

// GetLevel from many clients at once: what one lockcd behind one bus daemon
// answers, how long a caller waits, and which of the two spends the CPU.
void bench_concurrent(const Settings &s, Lockcd &lockcd, CgroupTree &cgroups, Report &report,
                      const SignalGuard &signals) {
    std::cout << "\nGetLevel from " << s.clients
              << " clients at once, each on its own connection and thread, each calling as "
                 "soon as it has its answer\n  "
              << fixed(static_cast<double>(s.concurrent_time.count()) / 1000, 1) << " s per round, "
              << s.background << " other containers registered\n";
    constexpr std::size_t kTargets = 10;
    Registrations guard(lockcd, signals);
    std::vector<std::string> ids;
    for (std::size_t i = 0; i < kTargets; ++i) {
        ids.push_back(id_prefix() + "concurrent" + std::to_string(i));
        guard.add(ids.back(), cgroups.child("concurrent" + std::to_string(i)));
    }
    struct Client {
        std::unique_ptr<sdbus::IConnection> connection = sdbus::createSystemBusConnection();
        std::unique_ptr<sdbus::IProxy> manager =
            sdbus::createProxy(*connection, lockc::bus::kBusName, lockc::bus::kManagerPath);
        std::vector<double> us;
        std::string error;
    };
    std::vector<Client> clients(s.clients);
    const pid_t daemon = lockcd.pid();
    const pid_t bus = lockcd.bus_pid();
    std::vector<double> p50;
    std::vector<double> p99;
    std::vector<double> rates;
    std::vector<double> daemon_cpu;
    std::vector<double> bus_cpu;
    for (std::size_t round = 0; round < s.rounds; ++round) {
        std::atomic<bool> stop{false};
        const double daemon_before = cpu_seconds_of(daemon);
        const double bus_before = cpu_seconds_of(bus);
        const auto start = Clock::now();
        {
            std::vector<std::jthread> threads;
            threads.reserve(clients.size());
            for (std::size_t c = 0; c < clients.size(); ++c) {
                threads.emplace_back([&, c] {
                    auto &client = clients[c];
                    client.us.clear();
                    try {
                        for (std::size_t k = c; !stop; ++k) {
                            const auto t0 = Clock::now();
                            std::string level;
                            client.manager->callMethod("GetLevel")
                                .onInterface(lockc::bus::kManagerInterface)
                                .withArguments(ids[k % kTargets])
                                .storeResultsTo(level);
                            client.us.push_back(
                                std::chrono::duration<double, std::micro>(Clock::now() - t0)
                                    .count());
                        }
                    } catch (const std::exception &e) {
                        client.error = e.what();
                    }
                });
            }
            while (Clock::now() - start < s.concurrent_time && !signals.pending()) {
                std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
            stop = true;
        }
        signals.check();
        const double elapsed = seconds_since(start);
        std::vector<double> us;
        for (const auto &client : clients) {
            if (!client.error.empty()) {
                throw std::runtime_error("a client's GetLevel failed: " + client.error);
            }
            us.insert(us.end(), client.us.begin(), client.us.end());
        }
        if (us.empty()) {
            throw std::runtime_error("no GetLevel was answered in a round");
        }
        std::sort(us.begin(), us.end());
        const auto calls = static_cast<double>(us.size());
        p50.push_back(percentile(us, 0.50));
        p99.push_back(percentile(us, 0.99));
        rates.push_back(calls / elapsed);
        daemon_cpu.push_back((cpu_seconds_of(daemon) - daemon_before) * 1e6 / calls);
        bus_cpu.push_back((cpu_seconds_of(bus) - bus_before) * 1e6 / calls);
        std::cout << "    round " << round + 1 << ": " << us.size() << " calls, "
                  << fixed(rates.back(), 0) << "/s, p50 " << fixed(p50.back(), 1) << " us, p99 "
                  << fixed(p99.back(), 1) << " us; CPU per call: lockcd "
                  << fixed(daemon_cpu.back(), 1) << " us, bus " << fixed(bus_cpu.back(), 1)
                  << " us\n";
    }
    report.figure("dbus.concurrent_getlevel_p50", "GetLevel p50, clients at once", "us", p50, 1);
    report.figure("dbus.concurrent_getlevel_p99", "GetLevel p99, clients at once", "us", p99, 1);
    report.figure("dbus.concurrent_getlevel_per_second",
                  "GetLevel calls per second, clients at once", "calls/s", rates, 0);
    report.figure("dbus.concurrent_lockcd_cpu_per_call", "lockcd CPU time per GetLevel", "us",
                  daemon_cpu, 1);
    report.figure("dbus.concurrent_bus_cpu_per_call", "bus daemon CPU time per GetLevel", "us",
                  bus_cpu, 1);
    report.info("concurrent_clients", std::to_string(s.clients));
}

// p50 latencies of calls that do more and more of what a registration does.
void bench_breakdown(const Settings &s, Lockcd &lockcd, CgroupTree &cgroups, Report &report,
                     const SignalGuard &signals) {
    std::cout << "\nWhere a call's time goes: p50 latency of each step, " << s.breakdown_count
              << " calls per round\n";
    const auto id = id_prefix() + "breakdown";
    const auto unknown = id_prefix() + "unknown";
    Registrations guard(lockcd, signals);
    guard.add(id, cgroups.child("breakdown"));
    struct Step {
        std::string name;
        std::string what;
        std::function<void()> call;
        std::vector<double> p50;
    };
    std::vector<Step> steps;
    steps.push_back(
        {"dbus.bus_roundtrip_p50", "bus driver GetId (no lockcd)", [&] { lockcd.bus_id(); }, {}});
    steps.push_back(
        {"dbus.ping_p50", "lockcd Peer.Ping (sd-bus only)", [&] { lockcd.ping(); }, {}});
    steps.push_back({"dbus.getlevel_step_p50",
                     "lockcd GetLevel (a read)",
                     [&] { (void)lockcd.level(id); },
                     {}});
    steps.push_back({"dbus.refused_p50",
                     "UnregisterContainer, unknown id (refused)",
                     [&] { lockcd.unregister_unknown(unknown); },
                     {}});
    steps.push_back({"dbus.setlevel_same_p50",
                     "SetLevel, same level (authorized, no write)",
                     [&] { lockcd.set_level(id, "baseline"); },
                     {}});
    std::vector<double> us;
    us.reserve(s.breakdown_count);
    for (auto &step : steps) {
        for (std::size_t i = 0; i < s.warmup; ++i) {
            step.call();
        }
    }
    for (std::size_t round = 0; round < s.rounds; ++round) {
        for (auto &step : steps) {
            us.clear();
            for (std::size_t i = 0; i < s.breakdown_count; ++i) {
                const auto t0 = Clock::now();
                step.call();
                us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
            }
            signals.check();
            std::sort(us.begin(), us.end());
            step.p50.push_back(percentile(us, 0.50));
        }
    }
    for (const auto &step : steps) {
        report.figure(step.name, step.what, "us", step.p50, 1);
    }
}

// Runs `sh -c command` with the signals unblocked; throws if it fails.
void run_restart_command(const std::string &command, const SignalGuard &signals) {
    posix_spawnattr_t attr{};
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &signals.original_mask());
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    std::string sh = "/bin/sh";
    std::string dash_c = "-c";
    std::string cmd = command;
    const std::vector<char *> argv{sh.data(), dash_c.data(), cmd.data(), nullptr};
    pid_t pid = 0;
    const int rc = ::posix_spawn(&pid, sh.c_str(), nullptr, &attr, argv.data(), environ);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) {
        throw std::system_error(rc, std::generic_category(), "cannot run " + command);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            throw std::system_error(errno, std::generic_category(), "waitpid");
        }
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("the restart command failed (status " + std::to_string(status) +
                                 "): " + command);
    }
}

void bench_memory(const Settings &s, Lockcd &lockcd, CgroupTree &cgroups, Report &report,
                  const SignalGuard &signals) {
    std::cout << "\nlockcd memory (VmRSS from /proc/<pid>/status)\n"
              << "  " << s.container_count << " containers registered and unregistered per round"
              << (s.restart_command.empty()
                      ? "; all rounds on the same lockcd (idle of round 2 on is after the "
                        "previous round)\n"
                      : "; lockcd restarted before each round\n");
    std::vector<std::string> paths;
    paths.reserve(s.container_count);
    for (std::size_t i = 0; i < s.container_count; ++i) {
        paths.push_back(cgroups.child("m" + std::to_string(i)));
        signals.check();
    }
    // Each figure is read once lockcd has been idle this long: it hands
    // memory freed by a burst back after a second of quiet (malloc_trim).
    const auto settle = s.smoke ? std::chrono::milliseconds(200) : std::chrono::milliseconds(2000);
    std::vector<double> idle;
    std::vector<double> idle_anon;
    std::vector<double> idle_file;
    std::vector<double> loaded;
    std::vector<double> after;
    std::vector<double> per_container;
    std::vector<double> retained;
    std::vector<double> hwm;
    std::vector<double> fill_rate;
    std::vector<double> drain_rate;
    for (std::size_t round = 0; round < s.rounds; ++round) {
        if (!s.restart_command.empty()) {
            run_restart_command(s.restart_command, signals);
        }
        lockcd.wait_until_running(signals);
        const auto count = lockcd.property<std::uint32_t>("ContainerCount");
        std::this_thread::sleep_for(settle);
        const pid_t pid = lockcd.pid();
        const auto before = memory_of(pid);

        Registrations containers(lockcd, signals);
        auto start = Clock::now();
        for (std::size_t i = 0; i < paths.size(); ++i) {
            containers.add(id_prefix() + "m" + std::to_string(i), paths[i]);
            constexpr std::size_t kCheckEvery = 256;
            if (i % kCheckEvery == 0) {
                signals.check();
            }
        }
        fill_rate.push_back(static_cast<double>(paths.size()) / seconds_since(start));
        std::this_thread::sleep_for(settle);
        const auto full = memory_of(pid);

        start = Clock::now();
        containers.clear();
        drain_rate.push_back(static_cast<double>(paths.size()) / seconds_since(start));
        std::this_thread::sleep_for(settle);
        const auto empty = memory_of(pid);
        if (lockcd.pid() != pid) {
            throw std::runtime_error("lockcd was restarted during a memory round");
        }

        const auto n = static_cast<double>(paths.size());
        idle.push_back(static_cast<double>(before.rss_kib) / kKiB);
        idle_anon.push_back(static_cast<double>(before.anon_kib) / kKiB);
        idle_file.push_back(static_cast<double>(before.file_kib) / kKiB);
        loaded.push_back(static_cast<double>(full.rss_kib) / kKiB);
        after.push_back(static_cast<double>(empty.rss_kib) / kKiB);
        hwm.push_back(static_cast<double>(empty.hwm_kib) / kKiB);
        per_container.push_back(
            (static_cast<double>(full.rss_kib) - static_cast<double>(before.rss_kib)) * kKiB / n);
        retained.push_back(
            (static_cast<double>(empty.rss_kib) - static_cast<double>(before.rss_kib)) / kKiB);
        std::cout << "    round " << round + 1 << " (pid " << pid << ", " << count
                  << " containers before): idle " << fixed(idle.back(), 2) << " MiB (anon "
                  << fixed(idle_anon.back(), 2) << ", file " << fixed(idle_file.back(), 2)
                  << "), with " << paths.size() << " " << fixed(loaded.back(), 2) << " MiB, after "
                  << fixed(after.back(), 2) << " MiB, peak " << fixed(hwm.back(), 2) << " MiB; "
                  << fixed(per_container.back(), 0) << " B/container; "
                  << fixed(fill_rate.back(), 0) << " reg/s, " << fixed(drain_rate.back(), 0)
                  << " unreg/s\n";
    }
    const auto n = std::to_string(s.container_count);
    report.figure("lockcd.rss_idle", "RSS idle", "MiB", idle, 2, Target{10, false, "<= 10 MiB"});
    report.figure("lockcd.rss_idle_anon", "  of which anonymous (RssAnon)", "MiB", idle_anon, 2);
    report.figure("lockcd.rss_idle_file", "  of which file-backed (RssFile)", "MiB", idle_file, 2);
    report.figure("lockcd.rss_loaded", "RSS with " + n + " containers", "MiB", loaded, 2);
    report.figure("lockcd.rss_per_container", "RSS per additional container", "B", per_container, 0,
                  Target{1024, false, "<= 1 KiB per container"});
    report.figure("lockcd.rss_after_unregister", "RSS after unregistering them", "MiB", after, 2);
    report.figure("lockcd.rss_retained", "RSS kept after unregistering (vs idle)", "MiB", retained,
                  2);
    report.figure("lockcd.rss_peak", "peak RSS (VmHWM) at round end", "MiB", hwm, 2);
    report.figure("lockcd.fill_per_second", "registrations/s filling to " + n, "reg/s", fill_rate,
                  0);
    report.figure("lockcd.drain_per_second", "unregistrations/s draining " + n, "unreg/s",
                  drain_rate, 0);
}

int run(const Settings &s) {
    const SignalGuard signals;
    Lockcd lockcd;
    lockcd.wait_until_running(signals);
    Report report;

    const auto version = lockcd.property<std::string>("Version");
    const bool enforcing = lockcd.property<bool>("Enforcing");
    const auto problem = lockcd.property<std::string>("EnforcementProblem");
    const auto existing = lockcd.property<std::uint32_t>("ContainerCount");
    const char *address = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
    std::cout << "lockc-dbus-bench"
              << (s.smoke ? " (smoke: tiny counts, figures mean nothing)" : "")
              << "\n  bus: " << (address != nullptr ? address : "the system bus (default address)")
              << "\n  lockcd " << version << ", pid " << lockcd.pid() << ", " << existing
              << " containers registered\n  Enforcing=" << (enforcing ? "true" : "false");
    if (!enforcing) {
        std::cout << " (" << problem
                  << ")\n  Not enforcing: lockcd writes no kernel map (no BPF programs are "
                     "loaded); the figures cover the bus, lockcd's checks, its D-Bus objects "
                     "and its registry file, not the map updates";
    }
    std::cout << "\n  rounds: " << s.rounds << "; callers are root (polkit is not asked)"
              << "\n  load average at start: " << load_average() << " ("
              << std::thread::hardware_concurrency() << " CPUs)\n";
    report.info("load_at_start", load_average(","));
    report.info("lockcd_version", version);
    report.info("enforcing", enforcing ? "true" : "false");
    report.info("rounds", std::to_string(s.rounds));
    report.info("smoke", s.smoke ? "true" : "false");

    CgroupTree cgroups;
    std::cout << "  cgroups: " << cgroups.absolute().string() << " (removed afterwards)\n";
    if (s.pairs || s.queries || s.breakdown || s.concurrent) {
        Registrations background(lockcd, signals);
        fill_background(s, cgroups, background, signals);
        if (s.pairs) {
            bench_pairs(s, lockcd, cgroups, report, signals);
        }
        if (s.queries) {
            bench_queries(s, lockcd, cgroups, report, signals);
        }
        if (s.breakdown) {
            bench_breakdown(s, lockcd, cgroups, report, signals);
        }
        if (s.concurrent) {
            bench_concurrent(s, lockcd, cgroups, report, signals);
        }
    }
    if (s.memory) {
        bench_memory(s, lockcd, cgroups, report, signals);
    }
    std::cout << "\n  load average at end: " << load_average() << '\n';
    report.info("load_at_end", load_average(","));
    report.print_results();
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    return lockc::bench::bench_main<Settings>(
        "lockc-dbus-bench", kUsage, "interrupted; registrations and cgroups removed",
        std::span<char *const>(argv, argc), &parse_arguments, &run);
}
