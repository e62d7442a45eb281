// What the in-guest lockcd tests share: the bus names, lockcd's unit, and a
// connection that collects Denied signals.
#pragma once

#include "bus_names.hpp"
#include "bus_types.hpp"
#include "vm_support.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lockc::vmtest {

using bus::kBusName;
using bus::kManagerInterface;
using bus::kManagerPath;
inline constexpr const char *kDenialMessageId = "3c0f2e7a9d5b4e61a8f1c27d64b09e53";
using bus::Options;

// A call that starts lockcd waits for it to load its programs: about 15 s
// under TCG emulation, three times that with the host busy (CI runs
// clang-tidy next to the VM). Calls that may start lockcd wait this long,
// and so does the bus (service_start_timeout, set by main.cpp).
inline constexpr std::chrono::seconds kStartTimeout{120};

// A property of the manager, read with kStartTimeout.
sdbus::Variant manager_property(sdbus::IProxy &manager, const std::string &name);

// lockcd's API as the tests call it through `manager`, a proxy of
// org.lockc.Manager; each call waits up to kStartTimeout (it may start
// lockcd) and throws sdbus::Error on an error reply.
// RegisterContainer of the cgroup `cg`, runtime "vm-test".
void register_cgroup(sdbus::IProxy &manager, const std::string &id, const std::string &level,
                     const std::string &mode, const TestCgroup &cg);
void unregister(sdbus::IProxy &manager, const std::string &id);
// A setter of one container (SetLevel, SetMode): method(id, value, {}).
void set_on(sdbus::IProxy &manager, const std::string &method, const std::string &id,
            const std::string &value);
// A getter of one container (GetLevel, GetMode): method(id).
std::string get_on(sdbus::IProxy &manager, const std::string &method, const std::string &id);

// Without trailing newlines and spaces.
std::string trimmed(std::string s);
// A property of lockcd.service, from systemctl show.
std::string unit_property(const std::string &name);
pid_t main_pid();

inline constexpr uid_t kNobody = 65534;

// A sensitive host path that baseline and restricted deny, privileged and
// host tasks may open: 0 or the errno of opening /proc/sysrq-trigger for
// writing (which writes nothing), by this process or by a child in `cg`
// (-1 if the child could not run).
int open_sysrq();
int sysrq_in(const TestCgroup &cg);

// Makes `call` on a system-bus connection of its own, in a child process
// that first moves itself into `cgroup` (if given) and becomes `uid` (if
// given, with that user's groups). "" when the call succeeded, else the
// D-Bus error's name, a newline and its message.
std::string call_in_child(const std::filesystem::path *cgroup, std::optional<uid_t> uid,
                          const std::function<void(sdbus::IProxy &)> &call);

// Processes `bus` until `done` holds or `wait` has passed.
void pump(sdbus::IConnection &bus, const std::function<bool()> &done,
          std::chrono::milliseconds wait);

struct DeniedSignal {
    std::string container, level, mode, hook, target, comm;
    std::uint32_t pid = 0, uid = 0;
    std::int32_t errnum = 0;
    std::uint64_t time = 0;
    bool operator==(const DeniedSignal &) const = default;
};

// A connection that listens for Denied and DeniedBatch; subscribes if
// asked to.
struct DenialListener {
    std::unique_ptr<sdbus::IConnection> bus = sdbus::createSystemBusConnection();
    std::unique_ptr<sdbus::IProxy> proxy = sdbus::createProxy(*bus, kBusName, kManagerPath);
    std::vector<DeniedSignal> received;
    // For DeniedCoalesced entries, parallel to `received` (whose time is the
    // entry's first time): the last time and the count.
    struct Repeats {
        std::uint64_t last = 0;
        std::uint32_t count = 0;
    };
    std::vector<Repeats> repeats;
    std::size_t denied_signals = 0;    // Denied signals received
    std::size_t batch_signals = 0;     // DeniedBatch signals received
    std::size_t coalesced_signals = 0; // DeniedCoalesced signals received

    // Subscribes when `subscribe`, with the boolean option `delivery`
    // ("batched", "coalesced") when given.
    explicit DenialListener(bool subscribe, const char *delivery = nullptr);
    // Pumps the bus until a signal matches or `wait` has passed.
    bool wait_for(const std::function<bool(const DeniedSignal &)> &match,
                  std::chrono::milliseconds wait);
    [[nodiscard]] std::string dump() const;
};

} // namespace lockc::vmtest
