// lockc-enforcer: a low-level tool for developers and the test VM. It loads
// or removes lockc's BPF programs and shows their state and events without
// the daemon. Administrators use lockcd and lockcctl instead.
#include "cgroup.hpp"
#include "enforcer.hpp"
#include "error.hpp"

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr std::string_view kUsage =
    "usage: lockc-enforcer COMMAND\n"
    "  load                 load and pin the programs (or reattach), default policy\n"
    "  status               entries and counters\n"
    "  set CGROUP LEVEL [MODE]  give a cgroup (path under the cgroup2 root) a level\n"
    "  events [--follow]    print decision events\n"
    "  uninstall            unpin everything: enforcement ends\n";

volatile std::sig_atomic_t g_stop = 0;

int load() {
    lockc::EnforcerOptions options;
    options.defer_attach = true; // new maps get the rules before programs run
    auto e = lockc::Enforcer::open(options);
    e.apply_rules(lockc::default_rules());
    e.attach();
    if (const auto abi = e.replaced_abi()) {
        // This tool has no registry: only pattern entries carry over.
        std::cout << "replaced the pinned programs of ABI " << *abi
                  << " (new maps: registered entries were not carried over)\n";
    } else {
        std::cout << (e.replaced_build() ? "replaced the pinned programs of another build\n"
                      : e.reattached()   ? "reattached to pinned programs\n"
                                         : "loaded and pinned\n");
    }
    for (const auto &pin : e.retired_pins()) {
        std::cout << "removed the retired pin " << pin << "\n";
    }
    if (e.classified_existing() > 0) {
        std::cout << "gave " << e.classified_existing() << " existing cgroups entries\n";
    }
    return 0;
}

lockc::Enforcer attach() {
    lockc::EnforcerOptions options;
    options.load_if_missing = false; // inspecting must not start enforcing
    return lockc::Enforcer::open(options);
}

int status() {
    const auto e = attach();
    const auto s = e.settings();
    std::cout << "default: " << lockc::to_string(static_cast<lockc::Level>(s.default_level)) << " "
              << lockc::to_string(static_cast<lockc::Mode>(s.default_mode)) << "\n";
    for (const auto &[id, p] : e.policies()) {
        std::uint64_t n = 0;
        for (auto d : p.decisions) {
            n += d;
        }
        std::cout << "cgroup " << id << ": " << lockc::to_string(p.level) << " "
                  << lockc::to_string(p.mode) << " " << lockc::to_string(p.phase) << ", " << n
                  << " decisions\n";
    }
    const auto c = e.counters();
    for (unsigned h = 0; h < LOCKC_HOOK_COUNT; ++h) {
        if (c.denied[h] != 0 || c.audited[h] != 0) {
            std::cout << lockc::hook_name(h) << ": " << c.denied[h] << " denied, " << c.audited[h]
                      << " audited\n";
        }
    }
    std::cout << "ring buffer drops: " << c.ringbuf_drops << "\n";
    std::cout << "unclassified container cgroups: " << c.classify_failures << "\n";
    std::cout << "drivers' majors left without their rule: " << c.driver_rule_failures << "\n";
    return 0;
}

int set(const std::vector<std::string_view> &args) {
    if (args.size() < 2 || args.size() > 3) {
        std::cerr << kUsage;
        return 2;
    }
    const auto level = lockc::parse_level(args[1]);
    const auto mode = args.size() == 3 ? lockc::parse_mode(args[2]) : lockc::Mode::Enforce;
    if (!level || !mode) {
        std::cerr << "unknown level or mode\n";
        return 2;
    }
    auto e = attach();
    e.set_policy(lockc::cgroup_id(lockc::cgroup2_mount() /
                                  std::string(args[0]).substr(args[0].starts_with('/') ? 1 : 0)),
                 *level, *mode);
    return 0;
}

int events(bool follow) {
    auto e = attach();
    std::signal(SIGINT, [](int) { g_stop = 1; });
    std::signal(SIGTERM, [](int) { g_stop = 1; });
    const auto print = [](const lockc::Event &ev) { std::cout << lockc::describe(ev) << '\n'; };
    do {
        e.consume_events(print);
        std::cout.flush(); // once per batch, not per event
        if (!follow) {
            break;
        }
        // Not every event wakes the reader: look again when events_due()
        // says (every millisecond while events come).
        int timeout_ms = 500;
        if (const auto due = e.events_due()) {
            const auto left = std::chrono::ceil<std::chrono::milliseconds>(
                *due - std::chrono::steady_clock::now());
            timeout_ms = static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, timeout_ms));
        }
        pollfd pfd{e.event_fd(), POLLIN, 0};
        ::poll(&pfd, 1, timeout_ms);
    } while (g_stop == 0);
    return 0;
}

} // namespace

int main(int argc, char **argv) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    if (args.empty()) {
        std::cerr << kUsage;
        return 2;
    }
    try {
        const auto cmd = args[0];
        const std::vector<std::string_view> rest(args.begin() + 1, args.end());
        if (cmd == "load") {
            return load();
        }
        if (cmd == "status") {
            return status();
        }
        if (cmd == "set") {
            return set(rest);
        }
        if (cmd == "events") {
            return events(!rest.empty() && rest[0] == "--follow");
        }
        if (cmd == "uninstall") {
            lockc::Enforcer::uninstall("/sys/fs/bpf/lockc");
            return 0;
        }
        std::cerr << kUsage;
        return 2;
    } catch (const lockc::Error &e) {
        std::cerr << "lockc-enforcer: " << e.what() << "\n";
        return e.kind() == lockc::ErrorKind::KernelUnsupported ? 3 : 1;
    }
}
