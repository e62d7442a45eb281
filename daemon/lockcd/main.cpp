// lockcd: the org.lockc.Manager system service.
#include "daemon.hpp"
#include "log.hpp"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <span>
#include <string>
#include <string_view>

namespace {

constexpr const char *kUsage =
    "usage: lockcd [options]\n"
    "The lockc D-Bus service (org.lockc.Manager on the system bus).\n"
    "\n"
    "  --config FILE        configuration (default /etc/lockc/lockc.toml)\n"
    "  --state-dir DIR      registry directory (default /var/lib/lockc)\n"
    "  --pin-dir DIR        bpffs directory of the pins (default /sys/fs/bpf/lockc)\n"
    "  --allow-unenforced   start even if the kernel cannot enforce (Enforcing=false);\n"
    "                       for tests and inspection only\n"
    "  --exit-when-idle SECONDS\n"
    "                       exit after SECONDS without calls or subscribers (D-Bus\n"
    "                       activation starts lockcd again; enforcement goes on)\n"
    "  --help, --version\n";

int usage_error(const std::string &message) {
    std::cerr << "lockcd: " << message << "\n" << kUsage;
    return 2;
}

} // namespace

int main(int argc, char **argv) {
    lockc::DaemonOptions options;
    const std::span<char *> args(argv, static_cast<std::size_t>(argc));
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        const auto value = [&]() -> const char * {
            return i + 1 < args.size() ? args[++i] : nullptr;
        };
        if (arg == "--help") {
            std::cout << kUsage;
            return 0;
        }
        if (arg == "--version") {
            std::cout << "lockcd " << PROJECT_VERSION << '\n';
            return 0;
        }
        if (arg == "--allow-unenforced") {
            options.service.allow_unenforced = true;
            continue;
        }
        if (arg == "--exit-when-idle") {
            const char *v = value();
            constexpr long kMaxIdle = 86400;
            char *end = nullptr;
            const long seconds = v == nullptr ? 0 : std::strtol(v, &end, 10);
            if (v == nullptr || end == v || *end != '\0' || seconds < 1 || seconds > kMaxIdle) {
                return usage_error("--exit-when-idle needs a number of seconds from 1 to 86400");
            }
            options.exit_when_idle = std::chrono::seconds(seconds);
            continue;
        }
        if (arg == "--config" || arg == "--state-dir" || arg == "--pin-dir") {
            const char *v = value();
            if (v == nullptr || *v == '\0') {
                return usage_error(std::string(arg) + " needs a value");
            }
            if (arg == "--config") {
                options.service.config_file = v;
            } else if (arg == "--state-dir") {
                options.service.state_dir = v;
            } else {
                options.service.enforcer.pin_dir = v;
            }
            continue;
        }
        return usage_error("unknown argument '" + std::string(arg) + "'");
    }
    try {
        return lockc::run_daemon(options);
    } catch (const std::exception &e) {
        lockc::log::error(e.what());
        return 1;
    }
}
