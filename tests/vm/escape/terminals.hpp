// Terminal ioctls that act on more than the caller's own use of a terminal
// (lockc's file_ioctl program, reported under `capable`), for the hook
// tests (tests/vm/driver/hooks_test.cpp), the lockcctl run test and the
// escape probe. 0 when the kernel allowed it, else the errno.
#pragma once

#include "host_capabilities.hpp"

#include <fcntl.h>
#include <linux/tiocl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <string_view>

namespace lockc::terminals {

using host_capabilities::errno_of;

// A pty pair of the caller's own, as `docker run -t` gives a container;
// closed again when it goes.
class Pty {
  public:
    Pty() {
        master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master_ < 0 || ::grantpt(master_) != 0 || ::unlockpt(master_) != 0) {
            error_ = errno;
            return;
        }
        const char *name = ::ptsname(master_);
        slave_ = name == nullptr ? -1 : ::open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
        error_ = slave_ < 0 ? errno : 0;
    }
    Pty(const Pty &) = delete;
    Pty &operator=(const Pty &) = delete;
    Pty(Pty &&) = delete;
    Pty &operator=(Pty &&) = delete;
    ~Pty() {
        for (int fd : {slave_, master_}) {
            if (fd >= 0) {
                ::close(fd);
            }
        }
    }
    // 0, or why the pair could not be made.
    [[nodiscard]] int error() const { return error_; }
    [[nodiscard]] int master() const { return master_; }
    [[nodiscard]] int slave() const { return slave_; }

  private:
    int master_ = -1;
    int slave_ = -1;
    int error_ = 0;
};

// What the probe types into a terminal (lockc-escape-probe terminal-inject).
inline constexpr std::string_view kLine = "# typed by lockc-escape-probe\n";

// TIOCSTI: `text` typed into the input of the terminal open at `fd`, for
// whoever reads it next. On another's terminal it takes CAP_SYS_ADMIN, and
// on its own too where the kernel turned legacy TIOCSTI off (6.12).
inline int type_into(int fd, std::string_view text) {
    for (const char c : text) {
        if (int e = errno_of(::ioctl(fd, TIOCSTI, &c))) {
            return e;
        }
    }
    return 0;
}

// `request` on a new pty pair of the caller's own, so that nothing reaches
// anyone else's terminal; -3000 - errno when the pair could not be made.
template <typename Request> int on_own_pty(Request request) {
    Pty pty;
    return pty.error() != 0 ? -3000 - pty.error() : request(pty);
}

// The same into a new pty of the caller's own: the kernel's answer, with
// nothing typed anywhere else.
inline int type_into_own_pty() {
    return on_own_pty([](const Pty &pty) { return type_into(pty.slave(), "x"); });
}

// TIOCCONS: the console's output (what is written to /dev/console) sent to
// a new pty of the caller's (CAP_SYS_ADMIN), then back: TIOCCONS on
// /dev/console ends a redirection.
inline int redirect_console_to_own_pty() {
    return on_own_pty([](const Pty &pty) {
        const int err = errno_of(::ioctl(pty.slave(), TIOCCONS));
        if (err == 0) {
            const int console = ::open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
            const int back = console < 0 ? errno : errno_of(::ioctl(console, TIOCCONS));
            if (console >= 0) {
                ::close(console);
            }
            if (back != 0) {
                return -4000 - back; // the console stays redirected: a failed setup
            }
        }
        return err;
    });
}

// TIOCLINUX: a virtual console's selection, screen and keyboard state. A
// pty has none, so the kernel's answer when lockc allows it is ENOTTY or
// EINVAL: what is tried here is lockc's check, which comes first.
inline int virtual_console_request_on_own_pty() {
    return on_own_pty([](const Pty &pty) {
        char request = TIOCL_GETSHIFTSTATE;
        return errno_of(::ioctl(pty.slave(), TIOCLINUX, &request));
    });
}

} // namespace lockc::terminals
