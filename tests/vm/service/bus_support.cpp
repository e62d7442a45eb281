#include "bus_support.hpp"

#include "vm_support.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <fstream>

namespace lockc::vmtest {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) {
        s.pop_back();
    }
    return s;
}

std::string unit_property(const std::string &name) {
    return trimmed(sh("systemctl show -p " + name + " --value lockcd.service").output);
}

pid_t main_pid() {
    return static_cast<pid_t>(std::stol("0" + unit_property("MainPID")));
}

sdbus::Variant manager_property(sdbus::IProxy &manager, const std::string &name) {
    sdbus::Variant value;
    manager.callMethod("Get")
        .onInterface("org.freedesktop.DBus.Properties")
        .withTimeout(kStartTimeout)
        .withArguments(std::string(kManagerInterface), name)
        .storeResultsTo(value);
    return value;
}

void register_cgroup(sdbus::IProxy &manager, const std::string &id, const std::string &level,
                     const std::string &mode, const TestCgroup &cg) {
    sdbus::ObjectPath path;
    manager.callMethod("RegisterContainer")
        .onInterface(kManagerInterface)
        .withTimeout(kStartTimeout)
        .withArguments(id, level, mode,
                       Options{{"cgroup", sdbus::Variant(cg.path().string())},
                               {"runtime", sdbus::Variant(std::string("vm-test"))}})
        .storeResultsTo(path);
}

void unregister(sdbus::IProxy &manager, const std::string &id) {
    manager.callMethod("UnregisterContainer")
        .onInterface(kManagerInterface)
        .withTimeout(kStartTimeout)
        .withArguments(id, Options{});
}

void set_on(sdbus::IProxy &manager, const std::string &method, const std::string &id,
            const std::string &value) {
    manager.callMethod(method)
        .onInterface(kManagerInterface)
        .withTimeout(kStartTimeout)
        .withArguments(id, value, Options{});
}

std::string get_on(sdbus::IProxy &manager, const std::string &method, const std::string &id) {
    std::string value;
    manager.callMethod(method)
        .onInterface(kManagerInterface)
        .withTimeout(kStartTimeout)
        .withArguments(id)
        .storeResultsTo(value);
    return value;
}

int open_sysrq() {
    const int fd = ::open("/proc/sysrq-trigger", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    ::close(fd);
    return 0;
}

int sysrq_in(const TestCgroup &cg) {
    const auto r = run_child(&cg.path(), nullptr, open_sysrq);
    return r.ok ? r.err : -1;
}

std::string call_in_child(const std::filesystem::path *cgroup, std::optional<uid_t> uid,
                          const std::function<void(sdbus::IProxy &)> &call) {
    // Looked up before fork(): NSS is not safe in the child of a threaded
    // process.
    std::optional<std::pair<std::string, gid_t>> user;
    if (uid) {
        const passwd *pw = ::getpwuid(*uid);
        if (pw == nullptr) {
            return "no user " + std::to_string(*uid);
        }
        user.emplace(pw->pw_name, pw->pw_gid);
    }
    std::vector<gid_t> groups(64);
    if (user) {
        int n = static_cast<int>(groups.size());
        if (::getgrouplist(user->first.c_str(), user->second, groups.data(), &n) < 0) {
            return "too many groups";
        }
        groups.resize(static_cast<std::size_t>(n));
    }
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        return "pipe failed";
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::string report = "child setup failed";
        bool ready = true;
        if (cgroup != nullptr) {
            std::ofstream procs(*cgroup / "cgroup.procs");
            procs << ::getpid() << std::flush;
            ready = static_cast<bool>(procs);
        }
        if (ready && user) {
            ready = ::setgroups(groups.size(), groups.data()) == 0 &&
                    ::setresgid(user->second, user->second, user->second) == 0 &&
                    ::setresuid(*uid, *uid, *uid) == 0;
        }
        if (ready) {
            try {
                auto bus = sdbus::createSystemBusConnection();
                auto proxy = sdbus::createProxy(*bus, kBusName, kManagerPath);
                call(*proxy);
                report = "";
            } catch (const sdbus::Error &e) {
                report = e.getName() + "\n" + e.getMessage();
            }
        }
        (void)!::write(fds[1], report.data(), report.size());
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string out;
    std::array<char, 512> buf{};
    ssize_t n = 0;
    while ((n = ::read(fds[0], buf.data(), buf.size())) > 0) {
        out.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    ::waitpid(pid, nullptr, 0);
    return out;
}

void pump(sdbus::IConnection &bus, const std::function<bool()> &done,
          std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        while (bus.processPendingRequest()) {
        }
        if (done()) {
            return;
        }
        const auto data = bus.getEventLoopPollData();
        pollfd pfd{data.fd, data.events, 0};
        ::poll(&pfd, 1, 20);
    }
}

namespace {

// The fields of Denied from an element of DeniedBatch or DeniedCoalesced
// (which begin with them, in the same order).
template <typename Entry> DeniedSignal denied_fields(const Entry &d) {
    return {std::get<0>(d), std::get<1>(d), std::get<2>(d), std::get<3>(d), std::get<4>(d),
            std::get<7>(d), std::get<5>(d), std::get<6>(d), std::get<8>(d), std::get<9>(d)};
}

} // namespace

DenialListener::DenialListener(bool subscribe, const char *delivery) {
    proxy->uponSignal("Denied")
        .onInterface(kManagerInterface)
        .call([this](const std::string &container, const std::string &level,
                     const std::string &mode, const std::string &hook, const std::string &target,
                     std::uint32_t pid, std::uint32_t uid, const std::string &comm,
                     std::int32_t errnum, std::uint64_t time) {
            ++denied_signals;
            received.push_back(
                {container, level, mode, hook, target, comm, pid, uid, errnum, time});
        });
    proxy->uponSignal("DeniedBatch")
        .onInterface(kManagerInterface)
        .call([this](const std::vector<bus::DenialEntry> &denials) {
            ++batch_signals;
            for (const auto &d : denials) {
                received.push_back(denied_fields(d));
            }
        });
    proxy->uponSignal("DeniedCoalesced")
        .onInterface(kManagerInterface)
        .call([this](const std::vector<bus::CoalescedDenialEntry> &denials) {
            ++coalesced_signals;
            for (const auto &d : denials) {
                received.push_back(denied_fields(d));
                repeats.push_back({std::get<10>(d), std::get<11>(d)});
            }
        });
    proxy->finishRegistration();
    if (subscribe) {
        Options options;
        if (delivery != nullptr) {
            options.emplace(delivery, sdbus::Variant(true));
        }
        proxy->callMethod("SubscribeDenials").onInterface(kManagerInterface).withArguments(options);
    }
}

bool DenialListener::wait_for(const std::function<bool(const DeniedSignal &)> &match,
                              std::chrono::milliseconds wait) {
    const auto found = [&] { return std::any_of(received.begin(), received.end(), match); };
    pump(*bus, found, wait);
    return found();
}

std::string DenialListener::dump() const {
    std::string out;
    for (const auto &d : received) {
        out += d.container + " " + d.level + "/" + d.mode + " " + d.hook + " " + d.target + " " +
               d.comm + " errno " + std::to_string(d.errnum) + "\n";
    }
    return out.empty() ? "(no Denied signals)" : out;
}

} // namespace lockc::vmtest
