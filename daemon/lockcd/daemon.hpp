// lockcd's main loop: one thread polls the bus, the kernel's ring buffer
// and a signalfd; systemd hears READY, STATUS and watchdog pings.
#pragma once

#include "service.hpp"

namespace lockc {

struct DaemonOptions {
    ServiceOptions service;
};

// Exit status when the kernel cannot enforce (EX_CONFIG): the unit does not
// restart on it, as a restart cannot help until the machine boots with lsm=.
inline constexpr int kExitKernelUnsupported = 78;

// Runs until SIGTERM or SIGINT; returns the exit status.
int run_daemon(const DaemonOptions &options);

} // namespace lockc
