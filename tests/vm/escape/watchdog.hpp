// Opening a hardware watchdog, for the escape probe and the driver-rule
// tests (tests/vm/driver/driver_registration_test.cpp).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace lockc::watchdog {

// Opens the watchdog `node`, which arms it: the host reboots unless someone
// keeps feeding it. The magic close ("V") disarms it again at once; the
// tests load softdog with soft_noboot=1 as well. 0 when the open and the
// disarm worked, else the errno of the step that failed.
inline int arm_and_disarm(const std::string &node) {
    const int fd = ::open(node.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    const int err = ::write(fd, "V", 1) == 1 ? 0 : errno;
    ::close(fd);
    return err;
}

} // namespace lockc::watchdog
