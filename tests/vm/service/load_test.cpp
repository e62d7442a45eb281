// lockcd under load (issue 8): 1,000 registered containers with a task each,
// 100 D-Bus clients querying and changing levels at once, and 10 of the
// containers flooding denials, all for the same stretch of time. lockcd
// answers every call, its memory stays bounded, the denial accounting is
// exact (decisions = kernel drops + signals suppressed + denials signalled
// to a subscriber present throughout, a coalesced entry counting for its
// repeats) and afterwards the registry and the
// kernel agree on every container's level. The latency of a level query
// during the storm is printed (and recorded in docs/benchmarks.md); under
// TCG emulation it is not asserted.
//
// The "containers" are cgroups with a sleeping task, registered as a runtime
// would register them: 1,000 Docker containers do not fit the test VM. The
// flooding ones are scopes in system.slice, where Docker (systemd cgroup
// driver) puts its containers: there they compete for CPU with
// dbus.service and lockcd.service as siblings, each with its own weight.
#include "bus_support.hpp"
#include "vm_support.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace lockc::vmtest {
namespace {

constexpr int kContainers = 1000;
constexpr int kClients = 100;
constexpr int kFlooders = 10;
constexpr auto kQuiet = std::chrono::seconds(10);
constexpr auto kStorm = std::chrono::seconds(20);
constexpr std::size_t kRssLimitKib = std::size_t{50} * 1024;
// Where systemd puts services, and Docker (systemd cgroup driver) containers.
const std::filesystem::path kSystemSlice = "/sys/fs/cgroup/system.slice";

std::string id_of(int i) {
    return "load-" + std::to_string(i);
}

std::uint64_t counter(sdbus::IProxy &manager, const std::string &name) {
    return manager_property(manager, name).get<std::uint64_t>();
}

std::uint64_t denials(sdbus::IProxy &manager) {
    const auto per_hook =
        manager_property(manager, "Denials").get<std::map<std::string, std::uint64_t>>();
    std::uint64_t sum = 0;
    for (const auto &[hook, n] : per_hook) {
        sum += n;
    }
    return sum;
}

std::size_t rss_kib(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string key;
    while (status >> key) {
        if (key == "VmRSS:") {
            std::size_t kib = 0;
            status >> kib;
            return kib;
        }
    }
    return 0;
}

// The CPU time of everything in a cgroup so far: cpu.stat's usage_usec,
// which cgroup v2 keeps with or without the cpu controller.
std::uint64_t cpu_usec(const std::filesystem::path &cgroup) {
    std::ifstream stat(cgroup / "cpu.stat");
    std::string key;
    std::uint64_t value = 0;
    while (stat >> key >> value) {
        if (key == "usage_usec") {
            return value;
        }
    }
    return 0;
}

// The cgroup of the unit that serves as dbus.service: dbus-broker's unit
// is dbus-broker.service, with dbus.service an alias.
std::filesystem::path bus_daemon_cgroup() {
    auto group = sh("systemctl show -P ControlGroup dbus.service").output;
    while (!group.empty() && std::isspace(static_cast<unsigned char>(group.back())) != 0) {
        group.pop_back();
    }
    return group.starts_with("/") ? std::filesystem::path("/sys/fs/cgroup" + group)
                                  : kSystemSlice / "dbus.service";
}

// Where the CPU went during one phase: lockcd, the bus daemon and the
// flooders' cgroups, read before and after.
class CpuUse {
  public:
    explicit CpuUse(std::vector<std::filesystem::path> flooders)
        : flooders_(std::move(flooders)), bus_(bus_daemon_cgroup()) {
        start();
    }
    void start() {
        at_ = std::chrono::steady_clock::now();
        before_ = now();
    }
    // "lockcd N us of CPU per call (P% of one CPU), the bus daemon ...,
    // flooders P%".
    [[nodiscard]] std::string said(std::size_t calls) const {
        const auto after = now();
        const double wall_us =
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - at_)
                .count();
        const auto part = [&](std::size_t i, const char *who) {
            const auto used = static_cast<double>(after[i] - before_[i]);
            return std::string(who) + " " +
                   std::to_string(static_cast<long>(used / static_cast<double>(calls))) +
                   " us of CPU per call (" +
                   std::to_string(static_cast<long>(100 * used / wall_us)) + "% of one CPU)";
        };
        const auto flooders = static_cast<double>(after[2] - before_[2]);
        return part(0, "lockcd") + ", " + part(1, "the bus daemon") + ", flooders " +
               std::to_string(static_cast<long>(100 * flooders / wall_us)) + "% of one CPU";
    }

  private:
    [[nodiscard]] std::array<std::uint64_t, 3> now() const {
        std::uint64_t flooding = 0;
        for (const auto &cg : flooders_) {
            flooding += cpu_usec(cg);
        }
        return {cpu_usec(kSystemSlice / "lockcd.service"), cpu_usec(bus_), flooding};
    }
    std::vector<std::filesystem::path> flooders_;
    std::filesystem::path bus_;
    std::chrono::steady_clock::time_point at_;
    std::array<std::uint64_t, 3> before_{};
};

// A task that stays in `cg` until killed.
pid_t park_in(const TestCgroup &cg) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::ofstream(cg.path() / "cgroup.procs") << ::getpid() << std::flush;
        while (true) {
            ::pause();
        }
    }
    return pid;
}

// A task in `cg` that tries a denied open until `stop` exists.
pid_t flood_in(const TestCgroup &cg, const std::string &stop) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::ofstream(cg.path() / "cgroup.procs") << ::getpid() << std::flush;
        while (::access(stop.c_str(), F_OK) != 0) {
            (void)open_sysrq();
        }
        ::_exit(0);
    }
    return pid;
}

// How the subscriber asks for denials: "coalesced" (what lockc's own front
// ends use), or LOCKC_LOAD_DELIVERY=batched to measure the bus carrying
// every denial (docs/benchmarks.md).
std::string delivery() {
    const char *given = std::getenv("LOCKC_LOAD_DELIVERY");
    return given != nullptr && *given != '\0' ? given : bus::kCoalescedOption;
}

// Counts the denials that Denied, DeniedBatch and DeniedCoalesced signals
// stand for, on a connection of its own, pumping it until stopped.
class DenialCounter {
  public:
    explicit DenialCounter(const std::string &delivery) {
        proxy_->uponSignal("Denied")
            .onInterface(kManagerInterface)
            .call([this](const std::string &, const std::string &, const std::string &,
                         const std::string &, const std::string &, std::uint32_t, std::uint32_t,
                         const std::string &, std::int32_t, std::uint64_t) { ++count_; });
        proxy_->uponSignal("DeniedBatch")
            .onInterface(kManagerInterface)
            .call([this](const std::vector<bus::DenialEntry> &batch) { count_ += batch.size(); });
        proxy_->uponSignal("DeniedCoalesced")
            .onInterface(kManagerInterface)
            .call([this](const std::vector<bus::CoalescedDenialEntry> &entries) {
                for (const auto &e : entries) {
                    count_ += std::get<11>(e);
                }
            });
        proxy_->finishRegistration();
        proxy_->callMethod("SubscribeDenials")
            .onInterface(kManagerInterface)
            .withArguments(Options{{delivery, sdbus::Variant(true)}});
        pumping_ = std::thread([this] {
            pump(
                *bus_, [this] { return stop_.load(); }, kForever);
        });
    }
    DenialCounter(const DenialCounter &) = delete;
    DenialCounter &operator=(const DenialCounter &) = delete;
    ~DenialCounter() { stop(); }

    void stop() {
        stop_ = true;
        if (pumping_.joinable()) {
            pumping_.join();
        }
    }
    [[nodiscard]] std::uint64_t count() const { return count_.load(); }

  private:
    static constexpr std::chrono::hours kForever{1};
    std::unique_ptr<sdbus::IConnection> bus_ = sdbus::createSystemBusConnection();
    std::unique_ptr<sdbus::IProxy> proxy_ = sdbus::createProxy(*bus_, kBusName, kManagerPath);
    std::atomic<std::uint64_t> count_{0};
    std::atomic<bool> stop_{false};
    std::thread pumping_;
};

struct ClientTally {
    std::vector<std::chrono::microseconds> query_latencies;
    std::size_t changes = 0; // SetLevel calls
    int errors = 0;
    std::string first_error;
    std::map<int, std::string> last_level; // container -> what this client set last
};

// One client: queries random containers' levels and, every tenth call,
// flips the level of one of its own ten containers.
ClientTally run_client(int client, std::chrono::steady_clock::time_point until) {
    ClientTally tally;
    auto bus = sdbus::createSystemBusConnection();
    auto manager = sdbus::createProxy(*bus, kBusName, kManagerPath);
    unsigned seed = static_cast<unsigned>(client) * 7919U + 1U;
    for (int n = 0; std::chrono::steady_clock::now() < until; ++n) {
        seed = seed * 1103515245U + 12345U;
        try {
            if (n % 10 == 9) {
                const int own =
                    client * (kContainers / kClients) + (n / 10) % (kContainers / kClients);
                const std::string level = (n / 10) % 2 == 0 ? "restricted" : "baseline";
                manager->callMethod("SetLevel")
                    .onInterface(kManagerInterface)
                    .withArguments(id_of(own), level, Options{});
                tally.last_level[own] = level;
                ++tally.changes;
                continue;
            }
            const int target = static_cast<int>((seed >> 8) % kContainers);
            std::string level;
            const auto start = std::chrono::steady_clock::now();
            manager->callMethod("GetLevel")
                .onInterface(kManagerInterface)
                .withArguments(id_of(target))
                .storeResultsTo(level);
            tally.query_latencies.push_back(std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - start));
        } catch (const sdbus::Error &e) {
            if (tally.errors++ == 0) {
                tally.first_error = e.getName() + ": " + e.getMessage();
            }
        }
    }
    return tally;
}

// kClients clients at once for `how_long`.
std::vector<ClientTally> run_clients(std::chrono::seconds how_long) {
    const auto until = std::chrono::steady_clock::now() + how_long;
    std::vector<ClientTally> tallies(kClients);
    std::vector<std::thread> clients;
    clients.reserve(kClients);
    for (int c = 0; c < kClients; ++c) {
        clients.emplace_back(
            [&tallies, c, until] { tallies[static_cast<std::size_t>(c)] = run_client(c, until); });
    }
    for (auto &t : clients) {
        t.join();
    }
    return tallies;
}

std::size_t calls_of(const std::vector<ClientTally> &tallies) {
    std::size_t calls = 0;
    for (const auto &t : tallies) {
        calls += t.query_latencies.size() + t.changes;
    }
    return std::max<std::size_t>(calls, 1);
}

// "N GetLevel calls, p50 .. us, p99 .. us, max .. us", and every error.
std::string summary(const std::vector<ClientTally> &tallies, int &errors) {
    std::vector<std::chrono::microseconds> latencies;
    for (const auto &t : tallies) {
        latencies.insert(latencies.end(), t.query_latencies.begin(), t.query_latencies.end());
        errors += t.errors;
        EXPECT_EQ(t.errors, 0) << t.first_error;
    }
    if (latencies.empty()) {
        ADD_FAILURE() << "no query answered";
        return "no GetLevel calls";
    }
    std::sort(latencies.begin(), latencies.end());
    const auto at = [&](double q) {
        return latencies[static_cast<std::size_t>(q * static_cast<double>(latencies.size() - 1))]
            .count();
    };
    return std::to_string(latencies.size()) + " GetLevel calls, p50 " + std::to_string(at(0.5)) +
           " us, p99 " + std::to_string(at(0.99)) + " us, max " +
           std::to_string(latencies.back().count()) + " us";
}

TEST(Load, AThousandContainersAHundredClientsAndTenFloodersAtOnce) {
    ASSERT_EQ(sh("systemctl start lockcd").status, 0);
    auto bus = sdbus::createSystemBusConnection();
    auto manager = sdbus::createProxy(*bus, kBusName, kManagerPath);
    const pid_t lockcd = main_pid();
    const std::size_t rss_idle = rss_kib(lockcd);

    TestCgroup parent("load");
    std::vector<std::unique_ptr<TestCgroup>> cgroups;
    std::vector<pid_t> tasks;
    cgroups.reserve(kContainers);
    tasks.reserve(kContainers);
    for (int i = 0; i < kContainers; ++i) {
        const auto name = "c" + std::to_string(i);
        cgroups.push_back(i < kFlooders ? std::make_unique<TestCgroup>(
                                              kSystemSlice, "lockc-load-" + name + ".scope")
                                        : std::make_unique<TestCgroup>(parent, name));
        tasks.push_back(park_in(*cgroups.back()));
        sdbus::ObjectPath path;
        manager->callMethod("RegisterContainer")
            .onInterface(kManagerInterface)
            .withArguments(id_of(i), std::string("baseline"), std::string("enforce"),
                           Options{{"cgroup", sdbus::Variant(cgroups.back()->path().string())},
                                   {"runtime", sdbus::Variant(std::string("vm-load"))}})
            .storeResultsTo(path);
    }
    const std::size_t rss_loaded = rss_kib(lockcd);

    DenialCounter subscriber(delivery());
    const std::uint64_t denials_before = denials(*manager);
    const std::uint64_t drops_before = counter(*manager, "KernelDrops");
    const std::uint64_t suppressed_before = counter(*manager, "SignalsSuppressed");

    std::vector<std::filesystem::path> flooding;
    flooding.reserve(kFlooders);
    for (int i = 0; i < kFlooders; ++i) {
        flooding.push_back(cgroups[static_cast<std::size_t>(i)]->path());
    }
    CpuUse cpu(flooding);
    // The same clients without the flood first: the baseline of the ratio.
    const auto quiet = run_clients(kQuiet);
    const auto quiet_cpu = cpu.said(calls_of(quiet));

    const std::string stop = "/run/lockc-load.stop";
    (void)sh("rm -f " + stop);
    std::vector<pid_t> flooders;
    flooders.reserve(kFlooders);
    for (int i = 0; i < kFlooders; ++i) {
        flooders.push_back(flood_in(*cgroups[static_cast<std::size_t>(i)], stop));
    }
    cpu.start();
    const auto storm = run_clients(kStorm);
    const auto storm_cpu = cpu.said(calls_of(storm));
    (void)sh("touch " + stop);
    for (const pid_t pid : flooders) {
        ::waitpid(pid, nullptr, 0);
    }
    const std::size_t rss_storm = rss_kib(lockcd);

    // Exact accounting, once every queued event has been read and sent.
    std::uint64_t decided = 0;
    std::uint64_t dropped = 0;
    std::uint64_t suppressed = 0;
    const bool settled = wait_until(
        [&] {
            decided = denials(*manager) - denials_before;
            dropped = counter(*manager, "KernelDrops") - drops_before;
            suppressed = counter(*manager, "SignalsSuppressed") - suppressed_before;
            return decided > 0 && dropped + suppressed + subscriber.count() == decided;
        },
        std::chrono::seconds(60));
    subscriber.stop();
    EXPECT_TRUE(settled) << decided << " decided != " << dropped << " dropped + " << suppressed
                         << " suppressed + " << subscriber.count() << " signalled";

    std::map<int, std::string> expected; // the last level set, quiet then storm
    for (const auto *phase : {&quiet, &storm}) {
        for (const auto &t : *phase) {
            for (const auto &[container, level] : t.last_level) {
                expected[container] = level;
            }
        }
    }
    int errors = 0;
    const auto quiet_summary = summary(quiet, errors);
    const auto storm_summary = summary(storm, errors);
    std::cout << "load: " << kContainers << " containers, " << kClients << " clients; "
              << kQuiet.count() << " s without flooders: " << quiet_summary << "; "
              << kStorm.count() << " s with " << kFlooders << " flooders: " << storm_summary << "; "
              << expected.size() << " containers re-levelled; " << errors << " errors; " << decided
              << " denials decided, " << dropped << " dropped in the kernel, " << suppressed
              << " signals suppressed, " << subscriber.count() << " signalled (" << delivery()
              << "); lockcd RSS " << rss_idle << " KiB idle, " << rss_loaded << " KiB with "
              << kContainers << " containers, " << rss_storm << " KiB after the storm\n"
              << "load: CPU without flooders: " << quiet_cpu
              << "\nload: CPU with flooders: " << storm_cpu << "\n";
    EXPECT_LE(rss_storm, kRssLimitKib);
    EXPECT_GT(expected.size(), 0U);

    // The registry and the kernel agree on every level, and the last
    // change each client made is the one that holds.
    EnforcerOptions look;
    look.load_if_missing = false;
    std::map<std::uint64_t, PolicyEntry> kernel;
    for (auto &[cgroup, entry] : Enforcer::open(look).policies()) {
        kernel.emplace(cgroup, entry);
    }
    int disagree = 0;
    for (int i = 0; i < kContainers; ++i) {
        std::string level;
        manager->callMethod("GetLevel")
            .onInterface(kManagerInterface)
            .withArguments(id_of(i))
            .storeResultsTo(level);
        const auto want = expected.contains(i) ? expected[i] : std::string("baseline");
        const auto it = kernel.find(cgroups[static_cast<std::size_t>(i)]->id());
        const bool kernel_ok =
            it != kernel.end() &&
            it->second.level == (want == "restricted" ? Level::Restricted : Level::Baseline);
        if (level != want || !kernel_ok) {
            if (disagree++ < 5) {
                ADD_FAILURE() << id_of(i) << ": registry " << level << ", expected " << want
                              << ", kernel " << (kernel_ok ? "agrees" : "differs");
            }
        }
    }
    EXPECT_EQ(disagree, 0);

    for (int i = 0; i < kContainers; ++i) {
        manager->callMethod("UnregisterContainer")
            .onInterface(kManagerInterface)
            .withArguments(id_of(i), Options{});
    }
    for (const pid_t pid : tasks) {
        ::kill(pid, SIGKILL);
    }
    for (const pid_t pid : tasks) {
        ::waitpid(pid, nullptr, 0);
    }
    (void)sh("rm -f " + stop);
}

} // namespace
} // namespace lockc::vmtest
