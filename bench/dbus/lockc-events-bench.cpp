// lockc-events-bench: decision events from the kernel to a D-Bus subscriber,
// at rising rates (docs/benchmarks.md, "Decision events to D-Bus").
//
// For each rate, delivery mode and round, a generator process in a
// registered baseline cgroup makes denied calls
// (klogctl(SYSLOG_ACTION_SIZE_BUFFER), baseline denies reading the kernel
// log) at that rate for a few seconds, while one subscriber counts the
// denials it receives and how old each is (its kernel timestamp against the
// clock at receipt). The subscriber takes a Denied signal per denial
// ("single"), DeniedBatch signals ("batched") or DeniedCoalesced signals
// ("coalesced": repeats counted, every 100 ms; an entry's age is that of
// its first denial, and it counts for its repeats). Then, from lockcd's
// counters: the kernel's decisions, the events the ring buffer dropped,
// the events lockcd read and the signals it left out (SignalsSuppressed).
// Nothing is lost unaccounted when
//
//     kernel drops + signals suppressed + signals received = decisions
//
// lockcd's VmRSS is sampled every 20 ms meanwhile. It needs an enforcing
// lockcd on the system bus (the test VM) and root. Rows go to --tsv:
//
//   rate mode round decisions drops read suppressed received achieved_per_s
//   latency_p50_us latency_p99_us latency_max_us rss_max_kib
//
// Rate 0 means as fast as the generator can. This is a benchmark: it checks
// only that the generator's calls were denied, never a timing.
#include "bench_support.hpp"

#include <fcntl.h>
#include <sys/klog.h>
#include <sys/wait.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <mutex>
#include <optional>
#include <span>
#include <string_view>

namespace {

using lockc::bench::CgroupTree;
using lockc::bench::Clock;
using lockc::bench::fixed;
using lockc::bench::kManagerInterface;
using lockc::bench::Lockcd;
using lockc::bench::memory_of;
using lockc::bench::Options;
using lockc::bench::percentile;
using lockc::bench::Report;
using lockc::bench::SignalGuard;

constexpr const char *kUsage =
    "usage: lockc-events-bench [--rates R,R,...] [--modes single,batched,coalesced] "
    "[--seconds S]\n"
    "                          [--rounds N] [--tsv FILE] [--smoke]\n"
    "Denials at each rate (per second; 0: as fast as possible) for S seconds, N rounds,\n"
    "rates interleaved; counts and latency of the denial signals one subscriber gets.\n"
    "Needs an enforcing lockcd on the system bus, and root.\n";

constexpr int kSyslogActionSizeBuffer = 10;
constexpr const char *kHook = "syslog"; // what the generator's calls hit

// How the subscriber asks for denials: SubscribeDenials' option.
enum class Delivery { Single, Batched, Coalesced };

std::string_view mode_name(Delivery delivery) {
    switch (delivery) {
    case Delivery::Batched:
        return lockc::bus::kBatchedOption;
    case Delivery::Coalesced:
        return lockc::bus::kCoalescedOption;
    case Delivery::Single:
        break;
    }
    return "single";
}

std::optional<Delivery> mode_named(std::string_view name) {
    for (const auto d : {Delivery::Single, Delivery::Batched, Delivery::Coalesced}) {
        if (mode_name(d) == name) {
            return d;
        }
    }
    return std::nullopt;
}

struct Settings {
    std::vector<std::uint64_t> rates{1000, 5000, 20000, 50000, 200000, 0};
    std::vector<Delivery> modes{Delivery::Single, Delivery::Batched, Delivery::Coalesced};
    double seconds = 2.0;
    std::size_t rounds = 5;
    std::string tsv;
    bool smoke = false;
};

std::uint64_t parse_number(std::string_view option, std::string_view s) {
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
        throw std::invalid_argument(std::string(option) + " needs whole numbers");
    }
    return value;
}

// "a,b,c" -> {a, b, c}; views into `list`. An empty list gives none.
std::vector<std::string_view> split_commas(std::string_view list) {
    std::vector<std::string_view> out;
    while (!list.empty()) {
        const auto comma = list.find(',');
        out.push_back(list.substr(0, comma));
        list = comma == std::string_view::npos ? "" : list.substr(comma + 1);
    }
    return out;
}

std::optional<Settings> parse_arguments(std::span<char *const> args) {
    Settings s;
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        const auto value = [&]() -> std::string_view {
            if (i + 1 >= args.size()) {
                throw std::invalid_argument(std::string(arg) + " needs a value");
            }
            return args[++i];
        };
        if (arg == "--help") {
            return std::nullopt;
        }
        if (arg == "--rates") {
            s.rates.clear();
            for (const auto rate : split_commas(value())) {
                s.rates.push_back(parse_number(arg, rate));
            }
            if (s.rates.empty()) {
                throw std::invalid_argument("--rates needs at least one rate");
            }
        } else if (arg == "--modes") {
            s.modes.clear();
            for (const auto mode : split_commas(value())) {
                const auto known = mode_named(mode);
                if (!known) {
                    throw std::invalid_argument("--modes takes single, batched and coalesced");
                }
                s.modes.push_back(*known);
            }
            if (s.modes.empty()) {
                throw std::invalid_argument("--modes needs at least one mode");
            }
        } else if (arg == "--seconds") {
            s.seconds = std::stod(std::string(value()));
            if (!(s.seconds > 0 && s.seconds <= 600)) {
                throw std::invalid_argument("--seconds needs a number in (0, 600]");
            }
        } else if (arg == "--rounds") {
            s.rounds = parse_number(arg, value());
            if (s.rounds == 0) {
                throw std::invalid_argument("--rounds needs at least 1");
            }
        } else if (arg == "--tsv") {
            s.tsv = value();
        } else if (arg == "--smoke") {
            s.smoke = true;
        } else {
            throw std::invalid_argument("unknown argument '" + std::string(arg) + "'");
        }
    }
    if (s.smoke) {
        s.rates = {1000, 0};
        s.seconds = 0.2;
        s.rounds = 1;
    }
    return s;
}

std::uint64_t realtime_usec() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000U +
           static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
}

// One subscriber on its own connection, its signals handled on sdbus-c++'s
// event loop thread: counts the denials of one container that it receives,
// a Denied signal each or in DeniedBatch or DeniedCoalesced signals, and how
// old each was on arrival.
class Subscriber {
  public:
    Subscriber(std::string container, Delivery delivery)
        : container_(std::move(container)), connection_(sdbus::createSystemBusConnection()),
          manager_(sdbus::createProxy(*connection_, lockc::bench::kBusName,
                                      lockc::bench::kManagerPath)) {
        manager_->uponSignal("Denied")
            .onInterface(kManagerInterface)
            .call([this](const std::string &container, const std::string & /*level*/,
                         const std::string & /*mode*/, const std::string & /*hook*/,
                         const std::string & /*target*/, std::uint32_t /*pid*/,
                         std::uint32_t /*uid*/, const std::string & /*comm*/,
                         std::int32_t /*errnum*/, std::uint64_t time_usec) {
                const auto now = realtime_usec();
                const std::lock_guard lock(mutex_);
                take(container, time_usec, now);
            });
        manager_->uponSignal("DeniedBatch")
            .onInterface(kManagerInterface)
            .call([this](const std::vector<lockc::bus::DenialEntry> &denials) {
                const auto now = realtime_usec();
                const std::lock_guard lock(mutex_);
                for (const auto &d : denials) {
                    take(std::get<0>(d), std::get<9>(d), now);
                }
            });
        manager_->uponSignal("DeniedCoalesced")
            .onInterface(kManagerInterface)
            .call([this](const std::vector<lockc::bus::CoalescedDenialEntry> &denials) {
                const auto now = realtime_usec();
                const std::lock_guard lock(mutex_);
                for (const auto &d : denials) {
                    take(std::get<0>(d), std::get<9>(d), now, std::get<11>(d));
                }
            });
        manager_->finishRegistration();
        Options options;
        if (delivery != Delivery::Single) {
            options.emplace(std::string(mode_name(delivery)), sdbus::Variant(true));
        }
        manager_->callMethod("SubscribeDenials")
            .onInterface(kManagerInterface)
            .withArguments(options);
        connection_->enterEventLoopAsync();
    }
    Subscriber(const Subscriber &) = delete;
    Subscriber &operator=(const Subscriber &) = delete;
    Subscriber(Subscriber &&) = delete;
    Subscriber &operator=(Subscriber &&) = delete;
    ~Subscriber() { connection_->leaveEventLoop(); }

    [[nodiscard]] std::uint64_t received() const { return received_.load(); }
    // The ages (us) since the last take, sorted.
    std::vector<double> take_ages() {
        std::vector<double> out;
        {
            const std::lock_guard lock(mutex_);
            out.swap(ages_us_);
        }
        std::sort(out.begin(), out.end());
        return out;
    }

  private:
    void take(const std::string &container, std::uint64_t time_usec, std::uint64_t now,
              std::uint32_t denials = 1) {
        if (container != container_) {
            return;
        }
        ages_us_.push_back(now > time_usec ? static_cast<double>(now - time_usec) : 0.0);
        received_.fetch_add(denials);
    }

    std::string container_;
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<sdbus::IProxy> manager_;
    std::mutex mutex_;
    std::vector<double> ages_us_;
    std::atomic<std::uint64_t> received_{0};
};

// lockcd's event counters, as its properties give them.
struct Counters {
    std::uint64_t decisions = 0; // Denials[syslog]
    std::uint64_t drops = 0;     // KernelDrops
    std::uint64_t read = 0;      // EventsReceived
    std::uint64_t suppressed = 0;

    static Counters of(Lockcd &lockcd) {
        Counters c;
        const auto denials = lockcd.property<std::map<std::string, std::uint64_t>>("Denials");
        if (const auto it = denials.find(kHook); it != denials.end()) {
            c.decisions = it->second;
        }
        c.drops = lockcd.property<std::uint64_t>("KernelDrops");
        c.read = lockcd.property<std::uint64_t>("EventsReceived");
        c.suppressed = lockcd.property<std::uint64_t>("SignalsSuppressed");
        return c;
    }
    Counters operator-(const Counters &o) const {
        return {decisions - o.decisions, drops - o.drops, read - o.read, suppressed - o.suppressed};
    }
};

struct Generated {
    std::uint64_t calls = 0;
    std::uint64_t denied = 0;
    double seconds = 0;
};

// The generator: a child in `cgroup` making denied calls at `rate` per
// second (0: back to back) for `seconds`. lockcd's RSS is sampled while it
// runs; the largest sample goes to `rss_max_kib`.
Generated generate(const std::filesystem::path &cgroup, std::uint64_t rate, double seconds,
                   pid_t lockcd_pid, std::uint64_t &rss_max_kib, const SignalGuard &signals) {
    std::array<int, 2> pipe_fds{};
    if (::pipe2(pipe_fds.data(), O_CLOEXEC) != 0) {
        throw std::system_error(errno, std::generic_category(), "pipe2");
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        throw std::system_error(errno, std::generic_category(), "fork");
    }
    if (pid == 0) {
        ::close(pipe_fds[0]);
        Generated g;
        {
            std::ofstream procs(cgroup / "cgroup.procs");
            procs << ::getpid() << std::flush;
            if (!procs) {
                ::_exit(3);
            }
        }
        const auto start = Clock::now();
        const auto length = std::chrono::duration<double>(seconds);
        for (;;) {
            const std::chrono::duration<double> elapsed = Clock::now() - start;
            if (elapsed >= length) {
                g.seconds = elapsed.count();
                break;
            }
            // Calls due by now; a sleep of 100 us when ahead of them.
            const auto due =
                rate == 0 ? g.calls + 64
                          : static_cast<std::uint64_t>(elapsed.count() * static_cast<double>(rate));
            if (g.calls >= due) {
                std::this_thread::sleep_for(std::chrono::microseconds(100));
                continue;
            }
            for (; g.calls < due; ++g.calls) {
                g.denied += ::klogctl(kSyslogActionSizeBuffer, nullptr, 0) < 0 && errno == EPERM;
            }
        }
        (void)!::write(pipe_fds[1], &g, sizeof(g));
        ::_exit(0);
    }
    ::close(pipe_fds[1]);
    int status = 0;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        try {
            rss_max_kib = std::max(rss_max_kib, memory_of(lockcd_pid).rss_kib);
        } catch (const std::exception &) {
            // lockcd gone: the counters will show it
        }
        if (signals.pending()) {
            ::kill(pid, SIGKILL);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Generated g;
    const bool reported = ::read(pipe_fds[0], &g, sizeof(g)) == sizeof(g);
    ::close(pipe_fds[0]);
    if (!reported || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        throw std::runtime_error("the generator failed (could it join " + cgroup.string() + "?)");
    }
    return g;
}

struct Row {
    std::uint64_t rate = 0;
    Delivery delivery = Delivery::Single;
    std::size_t round = 0;
    Counters delta;
    std::uint64_t received = 0;
    double achieved = 0;
    std::vector<double> ages;
    std::uint64_t rss_max_kib = 0;

    [[nodiscard]] bool exact() const {
        return delta.drops + delta.suppressed + received == delta.decisions;
    }
};

std::string rate_name(std::uint64_t rate) {
    return rate == 0 ? std::string("max") : std::to_string(rate);
}

int run(const Settings &s) {
    const SignalGuard signals;
    Lockcd lockcd;
    lockcd.wait_until_running(signals);
    if (!lockcd.property<bool>("Enforcing")) {
        throw std::runtime_error("lockcd is not enforcing (" +
                                 lockcd.property<std::string>("EnforcementProblem") +
                                 "): no decisions to count");
    }
    const pid_t lockcd_pid = lockcd.pid();
    CgroupTree cgroups;
    const std::string id = "lockc-events-bench-" + std::to_string(::getpid());
    const auto cgroup = cgroups.child("generator");
    lockcd.register_cgroup(id, cgroup);

    std::cout << "lockc-events-bench"
              << (s.smoke ? " (smoke: tiny counts, figures mean nothing)" : "") << "\n  lockcd pid "
              << lockcd_pid << ", VmRSS at start " << memory_of(lockcd_pid).rss_kib << " KiB; "
              << s.rounds << " rounds of " << fixed(s.seconds, 2) << " s per rate; container " << id
              << '\n';
    std::ofstream tsv;
    if (!s.tsv.empty()) {
        tsv.open(s.tsv, std::ios::trunc);
        if (!tsv) {
            throw std::runtime_error("cannot write " + s.tsv);
        }
    }
    std::vector<Row> rows;
    bool all_exact = true;
    for (std::size_t round = 1; round <= s.rounds; ++round) {
        for (const auto rate : s.rates) {
            for (const auto delivery : s.modes) {
                signals.check();
                Subscriber subscriber(id, delivery);
                const auto before = Counters::of(lockcd);
                const auto received_before = subscriber.received();
                Row row;
                row.rate = rate;
                row.delivery = delivery;
                row.round = round;
                const auto g = generate(cgroups.absolute() / "generator", rate, s.seconds,
                                        lockcd_pid, row.rss_max_kib, signals);
                if (g.denied != g.calls) {
                    throw std::runtime_error(std::to_string(g.calls - g.denied) + " of " +
                                             std::to_string(g.calls) + " calls were not denied");
                }
                // Until every decision is accounted for, or nothing has moved
                // for two seconds (then the row says what is missing).
                auto last_change = Clock::now();
                std::uint64_t last_seen = 0;
                for (;;) {
                    row.delta = Counters::of(lockcd) - before;
                    row.received = subscriber.received() - received_before;
                    row.rss_max_kib = std::max(row.rss_max_kib, memory_of(lockcd_pid).rss_kib);
                    if (row.exact() || Clock::now() - last_change > std::chrono::seconds(2)) {
                        break;
                    }
                    const auto seen = row.delta.drops + row.delta.suppressed + row.received;
                    if (seen != last_seen) {
                        last_seen = seen;
                        last_change = Clock::now();
                    }
                    signals.check();
                    std::this_thread::sleep_for(std::chrono::milliseconds(20));
                }
                row.ages = subscriber.take_ages();
                row.achieved = static_cast<double>(g.calls) / g.seconds;
                all_exact = all_exact && row.exact();
                std::cout << "    round " << round << " rate " << std::setw(6) << rate_name(rate)
                          << ' ' << std::setw(7) << mode_name(delivery) << ": "
                          << row.delta.decisions << " decisions (" << fixed(row.achieved, 0)
                          << "/s), " << row.delta.drops << " dropped, " << row.delta.read
                          << " read, " << row.delta.suppressed << " suppressed, " << row.received
                          << " received" << (row.exact() ? "" : " (NOT EXACT)") << "; age p50 "
                          << fixed(percentile(row.ages, 0.5), 0) << " us, p99 "
                          << fixed(percentile(row.ages, 0.99), 0) << " us; VmRSS max "
                          << row.rss_max_kib << " KiB\n";
                if (tsv) {
                    tsv << rate_name(rate) << '\t' << mode_name(delivery) << '\t' << round << '\t'
                        << row.delta.decisions << '\t' << row.delta.drops << '\t' << row.delta.read
                        << '\t' << row.delta.suppressed << '\t' << row.received << '\t'
                        << fixed(row.achieved, 0) << '\t' << fixed(percentile(row.ages, 0.5), 0)
                        << '\t' << fixed(percentile(row.ages, 0.99), 0) << '\t'
                        << fixed(row.ages.empty() ? 0 : row.ages.back(), 0) << '\t'
                        << row.rss_max_kib << '\n'
                        << std::flush;
                }
                rows.push_back(std::move(row));
            }
        }
    }
    lockcd.unregister(id);

    Report report;
    std::cout << "\nPer rate, over the rounds:\n";
    for (const auto rate : s.rates) {
        for (const auto delivery : s.modes) {
            std::vector<double> achieved;
            std::vector<double> delivered;
            std::vector<double> p50;
            std::vector<double> p99;
            std::vector<double> rss;
            for (const auto &r : rows) {
                if (r.rate != rate || r.delivery != delivery) {
                    continue;
                }
                achieved.push_back(r.achieved);
                delivered.push_back(r.delta.decisions == 0
                                        ? 0.0
                                        : 100.0 * static_cast<double>(r.received) /
                                              static_cast<double>(r.delta.decisions));
                p50.push_back(percentile(r.ages, 0.5));
                p99.push_back(percentile(r.ages, 0.99));
                rss.push_back(static_cast<double>(r.rss_max_kib) / lockc::bench::kKiB);
            }
            const auto name = rate_name(rate) + "." + std::string(mode_name(delivery));
            std::cout << " rate " << rate_name(rate) << "/s, " << mode_name(delivery) << '\n';
            report.figure("events." + name + ".achieved", "denials made", "/s", achieved, 0);
            report.figure("events." + name + ".delivered", "delivered as signals", "%", delivered,
                          2);
            report.figure("events." + name + ".age_p50", "signal age at receipt, p50", "us", p50,
                          0);
            report.figure("events." + name + ".age_p99", "signal age at receipt, p99", "us", p99,
                          0);
            report.figure("events." + name + ".rss_max", "lockcd VmRSS, largest sample", "MiB", rss,
                          2, lockc::bench::Target{50, false, "< 50 MiB"});
        }
    }
    std::cout << "\n  every decision accounted for (drops + suppressed + received = decisions): "
              << (all_exact ? "yes" : "NO") << '\n';
    report.info("exact", all_exact ? "yes" : "no");
    report.print_results();
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    return lockc::bench::bench_main<Settings>("lockc-events-bench", kUsage, "interrupted",
                                              std::span<char *const>(argv, argc), &parse_arguments,
                                              &run);
}
