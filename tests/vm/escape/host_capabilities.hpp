// Uses of the capabilities that act on the whole host (lockc's `capable`
// hook), for the hook tests (tests/vm/driver/hooks_test.cpp) and the escape
// probe. Each proves the access and changes nothing: it asks for what is
// already there. 0 when the kernel allowed it, else the errno.
#pragma once

#include <fcntl.h>
#include <linux/audit.h>
#include <net/if.h>
#include <netinet/in.h>
#include <linux/mroute.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/reboot.h>
#include <linux/serial.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace lockc::host_capabilities {

// A system call's return value as these functions give theirs; the hook
// tests and the probe use it for every call they make.
inline int errno_of(long rc) {
    return rc < 0 ? errno : 0;
}

// `text` written to the file at `path` in one write(2), as `echo` would
// (cgroup files take a whole value per write): 0 or the errno.
inline int write_text(const char *path, std::string_view text) {
    const int fd = ::open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    const auto written = ::write(fd, text.data(), text.size());
    const int err = written == static_cast<ssize_t>(text.size()) ? 0 : written < 0 ? errno : EIO;
    ::close(fd);
    return err;
}

// iopl(2) level 3: every I/O port, from user space (CAP_SYS_RAWIO). No port
// is touched.
inline int port_io() {
    return errno_of(::syscall(SYS_iopl, 3));
}

// A page mapped at `address`, then unmapped again: 0 when the kernel
// allowed it. Below vm.mmap_min_addr this takes CAP_SYS_RAWIO, which the
// kernel checks without security_capable() (lockc's mmap_addr hook).
// MAP_FIXED_NOREPLACE never replaces a mapping.
inline int map_page_at(std::uintptr_t address) {
    const auto page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    // NOLINTNEXTLINE(performance-no-int-to-ptr): an address is the point
    void *const wanted = reinterpret_cast<void *>(address);
    void *const at =
        ::mmap(wanted, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (at == MAP_FAILED) {
        return errno;
    }
    ::munmap(at, page);
    return at == wanted ? 0 : EADDRNOTAVAIL;
}

// Page 0: what turns a kernel NULL dereference into code execution.
inline int map_page_zero() {
    return map_page_at(0);
}

// A serial port with no UART behind it: QEMU's PC has one UART (ttyS0), and
// the 8250 driver lists four ports.
inline constexpr const char *kSpareSerialPort = "/dev/ttyS1";

// TIOCSSERIAL moving the serial port open at `fd` by 16 I/O ports, then
// back (CAP_SYS_ADMIN, then the kernel's lockdown check, which lockc's
// locked_down hook answers). Moved, the kernel's serial driver does port
// I/O wherever it is told. The tests use kSpareSerialPort, so the kernel
// touches no I/O port either way.
inline int move_serial_port(int fd) {
    constexpr unsigned kShift = 0x10;
    serial_struct port{};
    int err = errno_of(::ioctl(fd, TIOCGSERIAL, &port));
    if (err == 0) {
        const unsigned base = port.port;
        port.port = base + kShift;
        err = errno_of(::ioctl(fd, TIOCSSERIAL, &port));
        if (err == 0) {
            port.port = base;
            err = errno_of(::ioctl(fd, TIOCSSERIAL, &port));
        }
    }
    return err;
}

// The serial port `node`, opened without becoming the caller's terminal.
inline int open_serial_port(const std::string &node) {
    return ::open(node.c_str(), O_RDWR | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
}

// The same through the port's node, opened first.
inline int move_serial_port(const std::string &node) {
    const int fd = open_serial_port(node);
    if (fd < 0) {
        return errno;
    }
    const int err = move_serial_port(fd);
    ::close(fd);
    return err;
}

// adjtimex(2) setting the clock's tick to the value it has (CAP_SYS_TIME).
inline int clock_tick_unchanged() {
    struct timex now {};
    if (::adjtimex(&now) < 0) {
        return errno;
    }
    struct timex set {};
    set.modes = ADJ_TICK;
    set.tick = now.tick;
    return errno_of(::adjtimex(&set));
}

// reboot(2) turning Ctrl-Alt-Del's immediate reboot off, which systemd as
// PID 1 already did (CAP_SYS_BOOT). In a PID namespace of its own the
// kernel answers EINVAL: only the host's takes this command.
inline int reboot_setting_unchanged() {
    return errno_of(::syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2,
                              LINUX_REBOOT_CMD_CAD_OFF, nullptr));
}

// AUDIT_GET on the audit netlink socket: the host's audit status, which
// needs CAP_AUDIT_CONTROL like the commands that change it. Sent with an
// explicit address, so that the kernel checks the capability once (of the
// caller), not also of the socket's opener.
inline int audit_status_query() {
    const int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_AUDIT);
    if (fd < 0) {
        return errno;
    }
    const timeval timeout{5, 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    nlmsghdr request{};
    request.nlmsg_len = NLMSG_LENGTH(0);
    request.nlmsg_type = AUDIT_GET;
    request.nlmsg_flags = NLM_F_REQUEST;
    request.nlmsg_seq = 1;
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    int err = errno_of(::sendto(fd, &request, request.nlmsg_len, 0,
                                reinterpret_cast<const sockaddr *>(&kernel), sizeof(kernel)));
    if (err == 0) {
        alignas(nlmsghdr) std::array<char, 1024> reply{};
        const auto n = ::recv(fd, reply.data(), reply.size(), 0);
        if (n < 0) {
            err = errno;
        } else if (static_cast<std::size_t>(n) < sizeof(nlmsghdr)) {
            err = EPROTO;
        } else {
            nlmsghdr header{};
            std::memcpy(&header, reply.data(), sizeof(header));
            if (header.nlmsg_type == NLMSG_ERROR) {
                nlmsgerr answer{};
                std::memcpy(&answer, reply.data() + NLMSG_HDRLEN,
                            std::min(sizeof(answer), static_cast<std::size_t>(n) - NLMSG_HDRLEN));
                err = answer.error < 0 ? -answer.error : EPROTO;
            } else if (header.nlmsg_type != AUDIT_GET) {
                err = EPROTO;
            }
        }
    }
    ::close(fd);
    return err;
}

// SIOCSIFFLAGS through the socket `fd` setting the loopback interface's
// flags to what they are (CAP_NET_ADMIN over the socket's network
// namespace): in the host's, the same call takes the host's interfaces down.
inline int interface_flags_unchanged(int fd) {
    ifreq request{};
    std::strncpy(request.ifr_name, "lo", IFNAMSIZ - 1);
    int err = errno_of(::ioctl(fd, SIOCGIFFLAGS, &request));
    if (err == 0) {
        err = errno_of(::ioctl(fd, SIOCSIFFLAGS, &request));
    }
    return err;
}

// The same through a socket of the caller's network namespace.
inline int interface_flags_unchanged() {
    const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return errno;
    }
    const int err = interface_flags_unchanged(fd);
    ::close(fd);
    return err;
}

// The kernel's answer (0 or an errno) to the netlink request `request` of
// `size` bytes, sent on `fd` with NLM_F_ACK.
inline int netlink_acked(int fd, void *request, std::size_t size) {
    auto *header = static_cast<nlmsghdr *>(request);
    header->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
    header->nlmsg_seq = 1;
    const timeval timeout{5, 0};
    (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    if (::sendto(fd, request, size, 0, reinterpret_cast<const sockaddr *>(&kernel),
                 sizeof(kernel)) < 0) {
        return errno;
    }
    alignas(nlmsghdr) std::array<char, 1024> reply{};
    const auto n = ::recv(fd, reply.data(), reply.size(), 0);
    if (n < 0) {
        return errno;
    }
    nlmsghdr answer{};
    nlmsgerr ack{};
    if (static_cast<std::size_t>(n) < NLMSG_HDRLEN + sizeof(ack)) {
        return EPROTO;
    }
    std::memcpy(&answer, reply.data(), sizeof(answer));
    std::memcpy(&ack, reply.data() + NLMSG_HDRLEN, sizeof(ack));
    if (answer.nlmsg_type != NLMSG_ERROR) {
        return EPROTO;
    }
    return -ack.error;
}

// RTM_NEWLINK on the loopback interface (index 1) through the route netlink
// socket `fd`, changing nothing (no flags, no attributes): it takes
// CAP_NET_ADMIN over the socket's network namespace, like every change of
// its links, addresses and routes.
inline int link_unchanged(int fd) {
    struct {
        nlmsghdr header;
        ifinfomsg link;
    } request{};
    request.header.nlmsg_len = NLMSG_LENGTH(sizeof(ifinfomsg));
    request.header.nlmsg_type = RTM_NEWLINK;
    request.link.ifi_family = AF_UNSPEC;
    request.link.ifi_index = 1;
    return netlink_acked(fd, &request, request.header.nlmsg_len);
}

// MRT_ASSERT of the network namespace's IPv4 multicast routing set to what
// it is, through the raw IGMP socket `fd` (CAP_NET_ADMIN over the socket's
// namespace, as for every other multicast routing option).
inline int multicast_assert_unchanged(int fd) {
    int value = 0;
    socklen_t size = sizeof(value);
    int err = errno_of(::getsockopt(fd, IPPROTO_IP, MRT_ASSERT, &value, &size));
    if (err == 0) {
        err = errno_of(::setsockopt(fd, IPPROTO_IP, MRT_ASSERT, &value, sizeof(value)));
    }
    return err;
}

} // namespace lockc::host_capabilities
