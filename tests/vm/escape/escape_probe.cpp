// lockc-escape-probe: tries known container-escape techniques from inside a
// container and prints, one line per technique, whether each worked. A
// static binary, copied into a test image (tests/vm/driver/escape_test.cpp;
// the catalogue is docs/escapes.md).
//
//   lockc-escape-probe [TECHNIQUE...]      (default: every technique)
//
// Each technique runs in a child of its own whose comm is the technique's
// name, so the events lockc reports can be matched to it even across pid
// namespaces. Output lines:
//   <name> escaped             the technique worked
//   <name> denied <ERRNO>      EPERM or EACCES (whoever said no)
//   <name> failed <ERRNO>      another error: evidence neither way
//   <name> skipped <why>       missing input (an environment variable)
// Environment:
//   LOCKC_ESCAPE_HOST_PID   a task of the host (run with --pid=host)
//   LOCKC_ESCAPE_BLOCKDEV   a host block device holding an ext4 filesystem
//   LOCKC_ESCAPE_HOST_NET   set when run with --net=host
//   LOCKC_ESCAPE_SG         a host SCSI disk's generic node (/dev/sgN)
//   LOCKC_ESCAPE_BSG        the same disk's bsg node (/dev/bsg/H:C:T:L)
//   LOCKC_ESCAPE_WATCHDOG   a watchdog (/dev/watchdogN), soft_noboot
//   LOCKC_ESCAPE_NVME       a host NVMe controller (/dev/nvmeN)
//   LOCKC_ESCAPE_NVME_NS    a namespace of it, its generic node (/dev/ngNnM)
//   LOCKC_ESCAPE_SERIAL     a serial port with no UART behind it (/dev/ttySN)
//   LOCKC_ESCAPE_HOST_SOCKETS  a unix socket where a host task hands out
//                           sockets of the host's network namespace
//   LOCKC_ESCAPE_TERMINAL   set when stdin is the terminal of a shell on
//                           the host (lockcctl run from that shell)
// The host task is this program too:
//   lockc-escape-probe --serve-host-sockets PATH
// listens on PATH and sends every client a route netlink socket of its
// own network namespace (SCM_RIGHTS), until it is killed.
// Each technique stops at the step that proves the access (an open, a
// mount, an attach, setting a value to what it is) and changes nothing on
// the host but one: kill-host sends SIGKILL to the host task.
#include "host_capabilities.hpp"
#include "terminals.hpp"
#include "watchdog.hpp"

#include <fcntl.h>
#include <linux/bsg.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/nvme_ioctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <scsi/sg.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr uid_t kUnprivileged = 1000;
constexpr const char *kEuidCheck = "--euid-is-root";
constexpr const char *kServeHostSockets = "--serve-host-sockets";

// 0 when the step worked, else the errno that stopped it.
using lockc::host_capabilities::errno_of;

int open_and_close(const std::string &path, int flags) {
    const int fd = ::open(path.c_str(), flags | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    ::close(fd);
    return 0;
}

std::optional<std::string> env(const char *name) {
    const char *v = std::getenv(name);
    if (!v || !*v) {
        return std::nullopt;
    }
    return std::string(v);
}

// A fresh directory to mount on; the child that made it exits right after.
std::string scratch_dir() {
    std::array<char, 32> dir{};
    std::snprintf(dir.data(), dir.size(), "/tmp/escape.XXXXXX");
    if (!::mkdtemp(dir.data())) {
        return "/mnt";
    }
    return dir.data();
}

int mount_fs(const char *type, const char *data) {
    const auto dir = scratch_dir();
    const int err = errno_of(::mount("none", dir.c_str(), type, 0, data));
    if (err == 0) {
        ::umount2(dir.c_str(), MNT_DETACH);
    }
    return err;
}

int mount_blockdev(const std::string &dev) {
    const auto dir = scratch_dir();
    const int err = errno_of(::mount(dev.c_str(), dir.c_str(), "ext4", MS_RDONLY, nullptr));
    if (err == 0) {
        ::umount2(dir.c_str(), MNT_DETACH);
    }
    return err;
}

// A node of our own for the host's device: no path rule can see it.
int mknod_blockdev(const std::string &dev) {
    struct stat st {};
    if (::stat(dev.c_str(), &st) != 0) {
        return errno;
    }
    const auto node = scratch_dir() + "/disk";
    if (::mknod(node.c_str(), S_IFBLK | 0600, st.st_rdev) != 0) {
        return errno;
    }
    return open_and_close(node, O_RDONLY);
}

int read_kernel_log() {
    std::array<char, 4096> buf{};
    return errno_of(::klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf.data(), buf.size()));
}

// SCSI READ(10) of a disk's first block, and where its answer goes.
struct FirstBlockRead {
    std::array<unsigned char, 10> cdb = {0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0};
    std::array<unsigned char, 512> block{};
    std::array<unsigned char, 32> sense{};
    static constexpr unsigned kTimeoutMs = 5000;
};

// Opens `dev` and passes `request` (one of SG_IO's two layouts) to it: 0
// when the device answered and `succeeded(request)`, else the errno. A
// disk's first command may be answered with a unit attention ("power on
// occurred") instead: it is sent again, a few times.
template <typename Request, typename Succeeded>
int send_sg_io(const std::string &dev, Request &request, Succeeded succeeded) {
    const int fd = ::open(dev.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    constexpr int kAttempts = 3;
    int err = EIO;
    for (int attempt = 0; attempt < kAttempts && err == EIO; ++attempt) {
        err = errno_of(::ioctl(fd, SG_IO, &request));
        if (err == 0 && !succeeded(request)) {
            err = EIO;
        }
    }
    ::close(fd);
    return err;
}

// The disk's first block through SCSI generic (/dev/sg*): READ needs no
// capability, only the open.
int read_disk_through_sg(const std::string &dev) {
    FirstBlockRead read;
    sg_io_hdr_t io{};
    io.interface_id = 'S';
    io.dxfer_direction = SG_DXFER_FROM_DEV;
    io.cmd_len = read.cdb.size();
    io.cmdp = read.cdb.data();
    io.dxfer_len = read.block.size();
    io.dxferp = read.block.data();
    io.mx_sb_len = read.sense.size();
    io.sbp = read.sense.data();
    io.timeout = FirstBlockRead::kTimeoutMs;
    return send_sg_io(dev, io, [](const sg_io_hdr_t &answer) {
        return (answer.info & SG_INFO_OK_MASK) == SG_INFO_OK;
    });
}

// The same through block SCSI generic (/dev/bsg/H:C:T:L), SG_IO version 4.
int read_disk_through_bsg(const std::string &dev) {
    FirstBlockRead read;
    sg_io_v4 io{};
    io.guard = 'Q';
    io.protocol = BSG_PROTOCOL_SCSI;
    io.subprotocol = BSG_SUB_PROTOCOL_SCSI_CMD;
    io.request_len = read.cdb.size();
    io.request = reinterpret_cast<std::uintptr_t>(read.cdb.data());
    io.din_xfer_len = read.block.size();
    io.din_xferp = reinterpret_cast<std::uintptr_t>(read.block.data());
    io.max_response_len = read.sense.size();
    io.response = reinterpret_cast<std::uintptr_t>(read.sense.data());
    io.timeout = FirstBlockRead::kTimeoutMs;
    return send_sg_io(dev, io, [](const sg_io_v4 &answer) {
        return answer.device_status == 0 && answer.transport_status == 0 &&
               answer.driver_status == 0;
    });
}

// Passes an NVMe command that reads into `data` to `dev` with `request`
// (NVME_IOCTL_ADMIN_CMD or NVME_IOCTL_IO_CMD): 0 when the drive carried it
// out, EIO when it answered with an NVMe status, else the errno.
int send_nvme_command(const std::string &dev, unsigned long request, nvme_passthru_cmd &command,
                      std::span<std::uint8_t> data) {
    const int fd = ::open(dev.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    constexpr std::uint32_t kTimeoutMs = 5000;
    command.addr = reinterpret_cast<std::uintptr_t>(data.data());
    command.data_len = static_cast<std::uint32_t>(data.size());
    command.timeout_ms = kTimeoutMs;
    const int status = ::ioctl(fd, request, &command);
    const int err = status < 0 ? errno : (status > 0 ? EIO : 0);
    ::close(fd);
    return err;
}

// Identify Controller through the controller's node (/dev/nvme0). The same
// admin ioctl formats the drive, replaces its firmware or deletes its
// namespaces.
int identify_nvme_controller(const std::string &dev) {
    constexpr std::uint8_t kIdentify = 0x06;
    constexpr std::uint32_t kController = 1; // CNS
    std::array<std::uint8_t, 4096> data{};
    nvme_passthru_cmd identify{};
    identify.opcode = kIdentify;
    identify.cdw10 = kController;
    return send_nvme_command(dev, NVME_IOCTL_ADMIN_CMD, identify, data);
}

// The namespace's first block through its generic node (/dev/ng0n1), which
// reaches the disk around the block layer and any filesystem on it.
int read_nvme_namespace(const std::string &dev) {
    constexpr std::uint8_t kRead = 0x02;
    constexpr std::size_t kBlock = 512; // the test drive's logical block
    std::array<std::uint8_t, kBlock> data{};
    nvme_passthru_cmd read{};
    read.opcode = kRead;
    read.nsid = 1;
    // cdw10/11: the first block (0); cdw12: how many, less one (0).
    return send_nvme_command(dev, NVME_IOCTL_IO_CMD, read, data);
}

// A malformed image: past the permission checks the kernel rejects it as
// not an ELF file (ENOEXEC), which is what "allowed" looks like without
// loading anything.
int load_module() {
    std::array<char, 64> image{};
    const long rc = ::syscall(SYS_init_module, image.data(), image.size(), "");
    return rc == 0 || errno == ENOEXEC ? 0 : errno;
}

int bpf_map_create() {
    union bpf_attr attr {};
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    const long fd = ::syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr));
    if (fd < 0) {
        return errno;
    }
    ::close(static_cast<int>(fd));
    return 0;
}

int perf_event() {
    perf_event_attr attr{};
    attr.size = sizeof(attr);
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.disabled = 1;
    const long fd = ::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0);
    if (fd < 0) {
        return errno;
    }
    ::close(static_cast<int>(fd));
    return 0;
}

// "Shocker": a handle names an inode without a path, so the container's root
// and path rules are not on the way.
int open_by_handle() {
    alignas(file_handle) std::array<unsigned char, sizeof(file_handle) + MAX_HANDLE_SZ> buf{};
    auto *handle = reinterpret_cast<file_handle *>(buf.data()); // variable-size struct
    handle->handle_bytes = MAX_HANDLE_SZ;
    int mount_id = 0;
    // /dev is tmpfs, which hands out handles (the image's overlayfs does not).
    if (::name_to_handle_at(AT_FDCWD, "/dev", handle, &mount_id, 0) != 0) {
        return errno;
    }
    const int mount_fd = ::open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (mount_fd < 0) {
        return errno;
    }
    const int fd = ::open_by_handle_at(mount_fd, handle, O_RDONLY | O_CLOEXEC);
    const int err = fd < 0 ? errno : 0;
    if (fd >= 0) {
        ::close(fd);
    }
    ::close(mount_fd);
    return err;
}

int enter_mount_namespace(const std::string &pid) {
    const int fd = ::open(("/proc/" + pid + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    const int err = errno_of(::setns(fd, CLONE_NEWNS));
    ::close(fd);
    return err;
}

// The tracee is detached when this child exits.
int ptrace_seize(const std::string &pid) {
    return errno_of(::ptrace(PTRACE_SEIZE, std::stoi(pid), nullptr, nullptr));
}

int drop_to_unprivileged() {
    if (::setresgid(kUnprivileged, kUnprivileged, kUnprivileged) != 0 ||
        ::setresuid(kUnprivileged, kUnprivileged, kUnprivileged) != 0) {
        return errno;
    }
    return 0;
}

// A setuid-root copy of this program, exec'd by a non-root task: it exits 0
// only if it runs with euid 0.
int exec_setuid_root() {
    const auto copy = scratch_dir() + "/suid";
    std::error_code ec;
    std::filesystem::copy_file("/proc/self/exe", copy, ec);
    // The directory too: the unprivileged exec must reach the file.
    if (ec || ::chmod(copy.c_str(), 04755) != 0 ||
        ::chmod(std::filesystem::path(copy).parent_path().c_str(), 0755) != 0) {
        return EIO;
    }
    if (const int err = drop_to_unprivileged()) {
        return err;
    }
    ::execl(copy.c_str(), copy.c_str(), kEuidCheck, nullptr);
    return errno;
}

// Non-root with CAP_SETUID kept across the drop, then setuid(0).
int setuid_back_to_root() {
    if (::prctl(PR_SET_KEEPCAPS, 1) != 0) {
        return errno;
    }
    if (const int err = drop_to_unprivileged()) {
        return err;
    }
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    std::array<__user_cap_data_struct, 2> caps{};
    if (::syscall(SYS_capget, &header, caps.data()) != 0) {
        return errno;
    }
    caps[0].effective = caps[0].permitted;
    caps[1].effective = caps[1].permitted;
    if (::syscall(SYS_capset, &header, caps.data()) != 0) {
        return errno;
    }
    return errno_of(::setresuid(0, 0, 0));
}

int make_socket(int family, int type, int protocol) {
    const int fd = ::socket(family, type | SOCK_CLOEXEC, protocol);
    if (fd < 0) {
        return errno;
    }
    ::close(fd);
    return 0;
}

// One byte with room for one descriptor beside it: the message that
// send_fd and receive_fd exchange. It points into itself: not copyable.
struct FdMessage {
    char byte = 'f';
    iovec data{&byte, 1};
    alignas(cmsghdr) std::array<char, CMSG_SPACE(sizeof(int))> control{};
    msghdr msg{};

    FdMessage() {
        msg.msg_iov = &data;
        msg.msg_iovlen = 1;
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
    }
    FdMessage(const FdMessage &) = delete;
    FdMessage &operator=(const FdMessage &) = delete;
    FdMessage(FdMessage &&) = delete;
    FdMessage &operator=(FdMessage &&) = delete;
    ~FdMessage() = default;
};

// Sends the descriptor `fd` over the unix socket `conn`.
int send_fd(int conn, int fd) {
    FdMessage m;
    cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return errno_of(::sendmsg(conn, &m.msg, MSG_NOSIGNAL));
}

// The descriptor sent over `conn`, or -1 with errno set.
int receive_fd(int conn) {
    FdMessage m;
    errno = 0;
    if (::recvmsg(conn, &m.msg, MSG_CMSG_CLOEXEC) != 1) {
        errno = errno ? errno : EPROTO;
        return -1;
    }
    const cmsghdr *c = CMSG_FIRSTHDR(&m.msg);
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int))) {
        errno = EPROTO;
        return -1;
    }
    int fd = -1;
    std::memcpy(&fd, CMSG_DATA(c), sizeof(int));
    return fd;
}

sockaddr_un unix_address(const std::string &path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path.c_str());
    return addr;
}

// The host's side: a route netlink socket of this task's network namespace
// for every client, until killed.
int serve_host_sockets(const std::string &path) {
    const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_un addr = unix_address(path);
    ::unlink(path.c_str());
    if (listener < 0 ||
        ::bind(listener, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) != 0 ||
        ::listen(listener, 8) != 0) {
        std::perror("lockc-escape-probe: listening");
        return 1;
    }
    for (;;) {
        const int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
        if (conn < 0 && (errno == EINTR || errno == ECONNABORTED)) {
            continue; // a signal, or a client that left
        }
        if (conn < 0) {
            std::perror("lockc-escape-probe: accepting");
            return 1;
        }
        const int route = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (route >= 0) {
            (void)send_fd(conn, route);
            ::close(route);
        }
        ::close(conn);
    }
}

// The container's side: a route netlink socket of the host's network
// namespace, from the host task at `path`, used to change a host link
// (changing nothing: see link_unchanged).
int configure_host_network_through_socket(const std::string &path) {
    const int conn = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const sockaddr_un addr = unix_address(path);
    if (conn < 0 || ::connect(conn, reinterpret_cast<const sockaddr *>(&addr), sizeof(addr)) != 0) {
        return errno;
    }
    const int route = receive_fd(conn);
    const int received = errno;
    ::close(conn);
    if (route < 0) {
        return received;
    }
    const int err = lockc::host_capabilities::link_unchanged(route);
    ::close(route);
    return err;
}

// Makes the task `pid` the owner of a new pipe's read end (fcntl F_SETOWN):
// a write to the pipe would then send it SIGIO (O_ASYNC), without kill(2).
int own_pipe_by(const std::string &pid) {
    std::array<int, 2> pipe{};
    if (::pipe2(pipe.data(), O_CLOEXEC) != 0) {
        return errno;
    }
    const int err = errno_of(::fcntl(pipe[0], F_SETOWN, std::stoi(pid)));
    ::close(pipe[0]);
    ::close(pipe[1]);
    return err;
}

int move_to_root_cgroup() {
    return lockc::host_capabilities::write_text("/sys/fs/cgroup/cgroup.procs", "0");
}

struct Technique {
    const char *name;  // also the child's comm: at most 15 bytes
    const char *needs; // environment variable it needs, or nullptr
    std::function<int(const std::string &input)> attempt;
};

std::vector<Technique> techniques() {
    const auto none = [](auto f) { return [f](const std::string &) { return f(); }; };
    return {
        {"mount-debugfs", nullptr, none([] { return mount_fs("debugfs", nullptr); })},
        {"mount-tracefs", nullptr, none([] { return mount_fs("tracefs", nullptr); })},
        {"mount-secfs", nullptr, none([] { return mount_fs("securityfs", nullptr); })},
        {"mount-bpffs", nullptr, none([] { return mount_fs("bpf", nullptr); })},
        // A named cgroup v1 hierarchy: the release_agent escape's first step.
        {"mount-cgroup1", nullptr, none([] { return mount_fs("cgroup", "none,name=escape"); })},
        {"mount-blockdev", "LOCKC_ESCAPE_BLOCKDEV", mount_blockdev},
        {"read-blockdev", "LOCKC_ESCAPE_BLOCKDEV",
         [](const std::string &dev) { return open_and_close(dev, O_RDONLY); }},
        {"mknod-blockdev", "LOCKC_ESCAPE_BLOCKDEV", mknod_blockdev},
        {"sg-disk", "LOCKC_ESCAPE_SG", read_disk_through_sg},
        {"bsg-disk", "LOCKC_ESCAPE_BSG", read_disk_through_bsg},
        {"watchdog", "LOCKC_ESCAPE_WATCHDOG", lockc::watchdog::arm_and_disarm},
        {"nvme-admin", "LOCKC_ESCAPE_NVME", identify_nvme_controller},
        {"nvme-generic", "LOCKC_ESCAPE_NVME_NS", read_nvme_namespace},
        {"core-pattern", nullptr,
         none([] { return open_and_close("/proc/sys/kernel/core_pattern", O_WRONLY); })},
        {"sysctl-modprobe", nullptr,
         none([] { return open_and_close("/proc/sys/kernel/modprobe", O_WRONLY); })},
        {"sysrq-trigger", nullptr,
         none([] { return open_and_close("/proc/sysrq-trigger", O_WRONLY); })},
        {"snapshot-image", nullptr, none([] { return open_and_close("/dev/snapshot", O_RDONLY); })},
        {"host-console", nullptr,
         none([] { return open_and_close("/dev/tty1", O_RDONLY | O_NOCTTY | O_NONBLOCK); })},
        {"console-screen", nullptr, none([] { return open_and_close("/dev/vcs1", O_RDONLY); })},
        {"uinput-keyboard", nullptr, none([] { return open_and_close("/dev/uinput", O_WRONLY); })},
        // A HID device of one's own: uhid's devices are keyboards too.
        {"uhid-keyboard", nullptr, none([] { return open_and_close("/dev/uhid", O_RDWR); })},
        // The BIOS's settings in CMOS, read at the next boot.
        {"cmos-nvram", nullptr, none([] { return open_and_close("/dev/nvram", O_WRONLY); })},
        // A firmware capsule, applied by UEFI at the next reboot. Opened
        // only: nothing is written.
        {"efi-capsule", nullptr,
         none([] { return open_and_close("/dev/efi_capsule_loader", O_WRONLY); })},
        // Device-mapper's control: with it, the host's volumes (LVM, LUKS)
        // can be suspended, removed or mapped elsewhere.
        {"dm-control", nullptr, none([] { return open_and_close("/dev/mapper/control", O_RDWR); })},
        // The host's TPM: its keys, its PCRs, its owner hierarchy; directly
        // and through the kernel's resource manager.
        {"tpm-device", nullptr, none([] { return open_and_close("/dev/tpm0", O_RDWR); })},
        {"tpm-resmgr", nullptr, none([] { return open_and_close("/dev/tpmrm0", O_RDWR); })},
        // A TPM of one's own, backed by the container, that the host would
        // take as a chip (its random numbers, its measurements).
        {"vtpm-proxy", nullptr, none([] { return open_and_close("/dev/vtpmx", O_RDWR); })},
        // A character device of one's own making in the host's /dev.
        {"cuse-device", nullptr, none([] { return open_and_close("/dev/cuse", O_RDWR); })},
        // The host's USB keyboard's raw reports (a uhid keyboard in the test).
        {"hidraw-keyboard", nullptr, none([] { return open_and_close("/dev/hidraw0", O_RDWR); })},
        // Any USB device of the host through usbfs (the VM's root hub).
        {"usbfs-device", nullptr,
         none([] { return open_and_close("/dev/bus/usb/001/001", O_RDWR); })},
        // Every packet of every USB bus.
        {"usbmon-sniff", nullptr, none([] { return open_and_close("/dev/usbmon0", O_RDONLY); })},
        {"input-device", nullptr,
         none([] { return open_and_close("/dev/input/mice", O_RDONLY | O_NONBLOCK); })},
        {"dev-mem", nullptr, none([] { return open_and_close("/dev/mem", O_RDONLY); })},
        {"proc-kcore", nullptr, none([] { return open_and_close("/proc/kcore", O_RDONLY); })},
        {"kernel-log", nullptr, none(read_kernel_log)},
        {"dev-kmsg", nullptr, none([] { return open_and_close("/dev/kmsg", O_RDONLY); })},
        {"load-module", nullptr, none(load_module)},
        {"bpf-map", nullptr, none(bpf_map_create)},
        {"perf-event", nullptr, none(perf_event)},
        {"open-by-handle", nullptr, none(open_by_handle)},
        {"host-proc-root", "LOCKC_ESCAPE_HOST_PID",
         [](const std::string &pid) {
             return open_and_close("/proc/" + pid + "/root/", O_RDONLY | O_DIRECTORY);
         }},
        {"ptrace-host", "LOCKC_ESCAPE_HOST_PID", ptrace_seize},
        {"setns-host", "LOCKC_ESCAPE_HOST_PID", enter_mount_namespace},
        // Capabilities over the whole host; the last two need the host's
        // PID namespace (the variable is only their marker).
        {"port-io", nullptr, none(lockc::host_capabilities::port_io)},
        {"map-page-zero", nullptr, none(lockc::host_capabilities::map_page_zero)},
        {"serial-port-io", "LOCKC_ESCAPE_SERIAL",
         [](const std::string &node) { return lockc::host_capabilities::move_serial_port(node); }},
        {"set-clock", nullptr, none(lockc::host_capabilities::clock_tick_unchanged)},
        {"reboot-host", "LOCKC_ESCAPE_HOST_PID",
         none(lockc::host_capabilities::reboot_setting_unchanged)},
        {"audit-control", "LOCKC_ESCAPE_HOST_PID",
         none(lockc::host_capabilities::audit_status_query)},
        // Run with --net=host (the variable is only its marker).
        {"host-network", "LOCKC_ESCAPE_HOST_NET",
         none([] { return lockc::host_capabilities::interface_flags_unchanged(); })},
        // The host task as the owner of a pipe: writing to the pipe would
        // send it SIGIO, which ends it (set only, nothing written).
        {"sigio-host", "LOCKC_ESCAPE_HOST_PID", own_pipe_by},
        // A socket of the host's network namespace handed in by a host task.
        {"host-net-socket", "LOCKC_ESCAPE_HOST_SOCKETS", configure_host_network_through_socket},
        // Last of the host-task techniques: without lockc the task is gone.
        {"kill-host", "LOCKC_ESCAPE_HOST_PID",
         [](const std::string &pid) { return errno_of(::kill(std::stoi(pid), SIGKILL)); }},
        // The terminal it was started from: the line is read by the shell
        // there once the command is gone (a comment, if a shell runs it).
        {"terminal-inject", "LOCKC_ESCAPE_TERMINAL",
         none([] { return lockc::terminals::type_into(STDIN_FILENO, lockc::terminals::kLine); })},
        // The host's root cgroup (--cgroupns=host): "0" moves the writer
        // there, out of its container's cgroup. The child exits right
        // after, wherever it is.
        {"cgroup-escape", nullptr, none(move_to_root_cgroup)},
        {"user-namespace", nullptr, none([] { return errno_of(::unshare(CLONE_NEWUSER)); })},
        {"exec-setuid", nullptr, none(exec_setuid_root)},
        {"setuid-root", nullptr, none(setuid_back_to_root)},
        {"packet-socket", nullptr, none([] { return make_socket(AF_PACKET, SOCK_RAW, 0); })},
        {"raw-socket", nullptr, none([] { return make_socket(AF_INET, SOCK_RAW, IPPROTO_ICMP); })},
    };
}

void report(const char *name, int err) {
    if (err == 0) {
        std::printf("%s escaped\n", name);
    } else if (err == EPERM || err == EACCES) {
        std::printf("%s denied %s\n", name, strerrorname_np(err));
    } else {
        std::printf("%s failed %s\n", name, strerrorname_np(err));
    }
    std::fflush(stdout);
}

void run(const Technique &t) {
    std::string input;
    if (t.needs) {
        const auto v = env(t.needs);
        if (!v) {
            std::printf("%s skipped no %s\n", t.name, t.needs);
            std::fflush(stdout);
            return;
        }
        input = *v;
    }
    const pid_t child = ::fork();
    if (child < 0) {
        report(t.name, errno);
        return;
    }
    if (child == 0) {
        ::prctl(PR_SET_NAME, t.name);
        ::_exit(t.attempt(input) & 0xff);
    }
    int status = 0;
    if (::waitpid(child, &status, 0) != child) {
        report(t.name, errno);
    } else if (WIFEXITED(status)) {
        report(t.name, WEXITSTATUS(status));
    } else {
        std::printf("%s failed signal %d\n", t.name, WTERMSIG(status));
        std::fflush(stdout);
    }
}

} // namespace

int main(int argc, char **argv) {
    if (argc == 2 && std::string_view(argv[1]) == kEuidCheck) {
        return ::geteuid() == 0 ? 0 : EPERM;
    }
    if (argc == 3 && std::string_view(argv[1]) == kServeHostSockets) {
        return serve_host_sockets(argv[2]);
    }
    const auto all = techniques();
    if (argc == 1) {
        for (const auto &t : all) {
            run(t);
        }
        return 0;
    }
    for (int i = 1; i < argc; ++i) {
        bool known = false;
        for (const auto &t : all) {
            if (std::string_view(argv[i]) == t.name) {
                run(t);
                known = true;
            }
        }
        if (!known) {
            std::fprintf(stderr, "lockc-escape-probe: unknown technique %s\n", argv[i]);
            return 2;
        }
    }
    return 0;
}
