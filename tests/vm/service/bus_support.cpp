#include "bus_support.hpp"

#include "vm_support.hpp"

#include <poll.h>

#include <algorithm>

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

DenialListener::DenialListener(bool subscribe, bool batched) {
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
                received.push_back({std::get<0>(d), std::get<1>(d), std::get<2>(d), std::get<3>(d),
                                    std::get<4>(d), std::get<7>(d), std::get<5>(d), std::get<6>(d),
                                    std::get<8>(d), std::get<9>(d)});
            }
        });
    proxy->finishRegistration();
    if (subscribe) {
        Options options;
        if (batched) {
            options.emplace("batched", sdbus::Variant(true));
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
