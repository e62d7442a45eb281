// lockcd's main loop: one thread polls the bus, the kernel's ring buffer
// and a signalfd; systemd hears READY, STATUS and watchdog pings.
#pragma once

#include "service.hpp"

#include <chrono>

namespace lockc {

struct DaemonOptions {
    ServiceOptions service;
    // Exit after this long without calls, subscribers or pending polkit
    // questions (0: never). D-Bus activation starts lockcd again on the
    // next call; the pinned programs enforce meanwhile and their events
    // wait in the ring buffer.
    std::chrono::seconds exit_when_idle{0};
};

// Exit status when the kernel cannot enforce (EX_CONFIG): the unit does not
// restart on it, as a restart cannot help until the machine boots with lsm=.
inline constexpr int kExitKernelUnsupported = 78;

// Runs until SIGTERM or SIGINT; returns the exit status.
int run_daemon(const DaemonOptions &options);

} // namespace lockc
