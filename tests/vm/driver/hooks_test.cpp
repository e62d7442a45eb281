// Every hook x level x mode, from a process in a test cgroup, in a kernel
// that runs lockc's programs; and the same operations from a host process.
#include "cgroup.hpp"
#include "host_capabilities.hpp"
#include "terminals.hpp"
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/netlink.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lockc::vmtest {
namespace {

namespace fs = std::filesystem;

const fs::path kWork = "/var/tmp/lockc-vm";    // overlay root: no nosuid
const fs::path kTarget = kWork / "target";     // mount point
const fs::path kBlockDev = kWork / "blockdev"; // b 7:0
// A character device no rule names: the USB class major's first hiddev
// minor. No device answers it here, so an open that lockc allows fails
// after lockc's check (ENODEV from usbcore, ENXIO without it).
const fs::path kUnlistedCharDev = kWork / "chardev"; // c 180:96
const fs::path kSuidTrue = kWork / "suid-true";      // setuid-root copy of true
// On tmpfs, which supports file handles.
constexpr const char *kHandleFile = "/run/lockc-test-handle";
constexpr const char *kTokenFile = "/run/secrets/kubernetes.io/serviceaccount/token";
// Under an allowed bind-mount source prefix, pointing at the host's root.
const fs::path kSymlinkToRoot = "/var/lib/docker/lockc-test-link-to-root";

// 0 when the call worked, else its errno.
using host_capabilities::errno_of;

// A private mount namespace, so the operation's mounts stay in the child.
int private_mounts() {
    if (::unshare(CLONE_NEWNS) != 0) {
        return errno;
    }
    return errno_of(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr));
}

// Becomes uid 1000 but keeps CAP_SETUID effective, so that only lockc can
// stop a setuid(0).
int become_user_keeping_setuid() {
    if (::prctl(PR_SET_KEEPCAPS, 1) != 0 || ::setresuid(1000, 1000, 1000) != 0) {
        return errno;
    }
    __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
    std::array<__user_cap_data_struct, 2> data{};
    if (::syscall(SYS_capget, &hdr, data.data()) != 0) {
        return errno;
    }
    data[0].effective |= 1u << CAP_SETUID;
    return errno_of(::syscall(SYS_capset, &hdr, data.data()));
}

struct Op {
    std::string name;
    lockc_hook hook;
    std::function<int()> prepare; // as a host process
    std::function<int()> action;  // inside the cgroup
    std::set<int> allowed = {0};  // results when lockc allows
    bool restricted_only = false;
    Phase phase = Phase::Setup; // the entry's phase during the test
    std::string target;         // expected in the event's target ("" = any)
    int denied = EPERM;         // what the caller sees when lockc denies
    // Events in audit mode: lockc lets the operation go on, and a later
    // check of its may report it as well.
    std::size_t audit_events = 1;
    // A device whose open restricted refuses at file_open already (no
    // character device but Docker's defaults), before the hook that
    // decides it for baseline.
    bool restricted_refuses_device = false;
    // Whether lockc judges the operation on this kernel at all (its
    // program loads only on kernels that can run it safely).
    bool judged = true;
};

// A host cgroup for the extended attribute operations, and the attribute.
const char *const kXattrCgroup = "lockc-matrix-xattr";
const char *const kXattrName = "user.lockc-test";

fs::path xattr_cgroup() {
    return cgroup2_mount() / kXattrCgroup;
}

// The host's cgroup for the xattr operations made, with the attribute set
// if `with_attribute`. 0 or the errno.
int prepare_xattr_cgroup(bool with_attribute) {
    if (::mkdir(xattr_cgroup().c_str(), 0755) != 0 && errno != EEXIST) {
        return errno;
    }
    return with_attribute ? errno_of(::setxattr(xattr_cgroup().c_str(), kXattrName, "1", 1, 0)) : 0;
}

// lockc judges extended attributes only where the kernel checks the
// capability they take before the LSM hooks (Linux 6.10 and later; see
// daemon/enforcer/optional_programs.cpp). Elsewhere they are a known gap.
bool xattrs_judged() {
    static const bool judged = kernel_has_lsm_hook("inode_xattr_skipcap");
    return judged;
}

pid_t g_host_task = 0; // a host process for ptrace and kill

// An abstract socket under a built-in rule's prefix ("@/containerd-shim",
// the shims' sockets): its name starts with a NUL and has none at its end.
constexpr std::string_view kShimSocketName = "/containerd-shim/lockc-vm-test.sock";

socklen_t shim_socket_address(sockaddr_un &addr) {
    addr = {};
    addr.sun_family = AF_UNIX;
    std::memcpy(&addr.sun_path[1], kShimSocketName.data(), kShimSocketName.size());
    return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + kShimSocketName.size());
}

std::vector<Op> operations() {
    std::vector<Op> ops;
    ops.push_back(
        {"bind_host_root",
         LOCKC_HOOK_SB_MOUNT,
         private_mounts,
         [] { return errno_of(::mount("/", kTarget.c_str(), nullptr, MS_BIND, nullptr)); },
         {0},
         false,
         Phase::Setup,
         "/"});
    ops.push_back(
        {"bind_dotdot_escape",
         LOCKC_HOOK_SB_MOUNT,
         private_mounts,
         [] { return errno_of(::mount("/home/..", kTarget.c_str(), nullptr, MS_BIND, nullptr)); },
         {0},
         false,
         Phase::Setup,
         "/home/.."});
    ops.push_back({"bind_through_symlink",
                   LOCKC_HOOK_SB_MOUNT,
                   private_mounts,
                   [] {
                       return errno_of(::mount(kSymlinkToRoot.c_str(), kTarget.c_str(), nullptr,
                                               MS_BIND, nullptr));
                   },
                   {0},
                   false,
                   Phase::Setup,
                   kSymlinkToRoot.filename().string()});
    ops.push_back(
        {"bind_home",
         LOCKC_HOOK_SB_MOUNT,
         private_mounts,
         [] { return errno_of(::mount("/home", kTarget.c_str(), nullptr, MS_BIND, nullptr)); },
         {0},
         true,
         Phase::Setup,
         "/home"});
    ops.push_back({"mount_debugfs",
                   LOCKC_HOOK_SB_KERN_MOUNT,
                   private_mounts,
                   [] { return errno_of(::mount("none", kTarget.c_str(), "debugfs", 0, nullptr)); },
                   {0},
                   false,
                   Phase::Setup,
                   "debugfs"});
    ops.push_back({"mount_tmpfs_once_running",
                   LOCKC_HOOK_SB_MOUNT,
                   private_mounts,
                   [] { return errno_of(::mount("none", kTarget.c_str(), "tmpfs", 0, nullptr)); },
                   {0},
                   true,
                   Phase::Running,
                   "none"});
    ops.push_back({"move_mount_detached_tree",
                   LOCKC_HOOK_MOVE_MOUNT,
                   private_mounts,
                   [] {
                       const int fd = static_cast<int>(
                           ::syscall(SYS_open_tree, AT_FDCWD, "/home", OPEN_TREE_CLONE));
                       if (fd < 0) {
                           return -3000 - errno; // setup failure, distinct from a decision
                       }
                       const int err =
                           errno_of(::syscall(SYS_move_mount, fd, "", AT_FDCWD, kTarget.c_str(),
                                              MOVE_MOUNT_F_EMPTY_PATH));
                       ::close(fd);
                       return err;
                   },
                   {0},
                   false,
                   Phase::Setup,
                   ""});
    ops.push_back({"pivot_root_once_running",
                   LOCKC_HOOK_SB_PIVOTROOT,
                   [] {
                       if (int e = private_mounts()) {
                           return e;
                       }
                       if (::mount("none", kTarget.c_str(), "tmpfs", 0, nullptr) != 0) {
                           return errno;
                       }
                       ::mkdir((kTarget / "old").c_str(), 0700);
                       return errno_of(::chdir(kTarget.c_str()));
                   },
                   [] { return errno_of(::syscall(SYS_pivot_root, ".", "old")); },
                   {0},
                   true,
                   Phase::Running,
                   ""});
    ops.push_back({"open_by_handle_at",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] {
                       alignas(file_handle)
                           std::array<unsigned char, sizeof(file_handle) + MAX_HANDLE_SZ>
                               buf{};
                       auto *handle = reinterpret_cast<file_handle *>(buf.data());
                       handle->handle_bytes = MAX_HANDLE_SZ;
                       int mount_id = 0;
                       if (::name_to_handle_at(AT_FDCWD, kHandleFile, handle, &mount_id, 0) != 0) {
                           return -3000 - errno;
                       }
                       const int mount_fd = ::open("/run", O_RDONLY | O_DIRECTORY);
                       const int err = fd_result(::open_by_handle_at(mount_fd, handle, O_RDONLY));
                       ::close(mount_fd);
                       return err;
                   },
                   {0},
                   false,
                   Phase::Setup,
                   "open_by_handle_at"});
    ops.push_back({"read_sysfs",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err("/sys/kernel/uevent_seqnum", O_RDONLY); },
                   {0},
                   false,
                   Phase::Setup,
                   "sysfs:/kernel/uevent_seqnum"});
    ops.push_back({"write_proc_sys",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err("/proc/sys/kernel/hostname", O_WRONLY); },
                   {0},
                   false,
                   Phase::Setup,
                   "proc:/sys/kernel/hostname"});
    ops.push_back({"read_proc_kcore",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err("/proc/kcore", O_RDONLY); },
                   {0},
                   false,
                   Phase::Setup,
                   "proc:/kcore",
                   EPERM,
                   2}); // and CAP_SYS_RAWIO, which /proc/kcore's open asks for
    // Open-path rules: restricted's built-in one (file_open composes the
    // path only for levels some such rule denies) and one from the
    // configuration that denies baseline too.
    ops.push_back({"read_service_account_token",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err(kTokenFile, O_RDONLY); },
                   {0},
                   true,
                   Phase::Setup,
                   kTokenFile});
    ops.push_back({"read_file_of_an_open_path_rule",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err(kTestOpenRuleFile, O_RDONLY); },
                   {0},
                   false,
                   Phase::Setup,
                   kTestOpenRuleFile});
    ops.push_back({"write_sysrq_trigger",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err("/proc/sysrq-trigger", O_WRONLY); },
                   {0},
                   false,
                   Phase::Setup,
                   "proc:/sysrq-trigger"});
    ops.push_back({"open_dev_mem",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err("/dev/mem", O_RDONLY); },
                   {0},
                   false,
                   Phase::Setup,
                   "c 1:1",
                   EPERM,
                   2}); // and CAP_SYS_RAWIO, which /dev/mem's open asks for
    // Hibernation's image device: opened, it freezes the host and reads
    // out its memory. Its open asks the lockdown hook (hibernation_available).
    ops.push_back({"open_snapshot",
                   LOCKC_HOOK_CAPABLE,
                   nullptr,
                   [] { return open_err("/dev/snapshot", O_RDONLY); },
                   {0},
                   false,
                   Phase::Setup,
                   "lockdown HIBERNATION",
                   EPERM,
                   1,
                   true});
    // The host's first virtual console, where its console logins run.
    ops.push_back({"open_host_console",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err("/dev/tty1", O_RDONLY | O_NOCTTY | O_NONBLOCK); },
                   {0},
                   false,
                   Phase::Setup,
                   "c 4:1"});
    // restricted refuses the character devices no rule allows; baseline
    // those that a rule denies. usbcore, which registers the major, is
    // loaded first: without it the open asks the kernel to load a driver
    // for char-major-180-96, which lockc refuses to the container under
    // kernel_module, a second decision that would depend on whether an
    // earlier test had loaded usbcore.
    ops.push_back({"open_unlisted_char_device",
                   LOCKC_HOOK_FILE_OPEN,
                   [] { return sh("modprobe usbcore").status == 0 ? 0 : -3000; },
                   [] { return open_err(kUnlistedCharDev.c_str(), O_RDWR); },
                   {0, ENXIO, ENODEV},
                   true,
                   Phase::Setup,
                   "c 180:96"});
    // The host's root cgroup: one write of "0" to its cgroup.procs and the
    // caller has left its container's cgroup, and lockc's reach. (Opened
    // only, as all of these.)
    ops.push_back({"move_to_host_cgroup",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err((cgroup2_mount() / "cgroup.procs").c_str(), O_WRONLY); },
                   {0},
                   false,
                   Phase::Setup,
                   "cgroup2:/cgroup.procs"});
    // Its own cgroup's, from the host's cgroup namespace: the kernel
    // would let it move host tasks in through that file.
    ops.push_back({"migrate_from_host_cgroup_namespace",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err((own_cgroup() / "cgroup.procs").c_str(), O_WRONLY); },
                   {0},
                   false,
                   Phase::Setup,
                   "/cgroup.procs"});
    // Its own cgroup's limits.
    ops.push_back(
        {"raise_own_cgroup_limit",
         LOCKC_HOOK_FILE_OPEN,
         nullptr,
         [] { return open_err((own_cgroup() / "cgroup.max.descendants").c_str(), O_WRONLY); },
         {0},
         false,
         Phase::Setup,
         "/cgroup.max.descendants"});
    // The host's cgroup tree itself. A cgroup made in the host's root
    // (the prepare step removes one an allowed run left), one removed
    // from there, a mode and an owner set as they already are.
    ops.push_back(
        {"make_host_cgroup",
         LOCKC_HOOK_CGROUP_TREE,
         [] {
             ::rmdir((cgroup2_mount() / "lockc-matrix-made").c_str());
             return 0;
         },
         [] { return errno_of(::mkdir((cgroup2_mount() / "lockc-matrix-made").c_str(), 0755)); },
         {0},
         false,
         Phase::Setup,
         "mkdir cgroup2:/lockc-matrix-made"});
    ops.push_back(
        {"remove_host_cgroup",
         LOCKC_HOOK_CGROUP_TREE,
         [] {
             const auto made = cgroup2_mount() / "lockc-matrix-removed";
             return ::mkdir(made.c_str(), 0755) == 0 || errno == EEXIST ? 0 : errno;
         },
         [] { return errno_of(::rmdir((cgroup2_mount() / "lockc-matrix-removed").c_str())); },
         {0},
         false,
         Phase::Setup,
         "rmdir cgroup2:/lockc-matrix-removed"});
    ops.push_back({"chmod_host_cgroup_file",
                   LOCKC_HOOK_CGROUP_TREE,
                   nullptr,
                   [] {
                       const auto procs = cgroup2_mount() / "cgroup.procs";
                       struct stat st {};
                       if (::stat(procs.c_str(), &st) != 0) {
                           return -3000 - errno;
                       }
                       return errno_of(::chmod(procs.c_str(), st.st_mode & 07777));
                   },
                   {0},
                   false,
                   Phase::Setup,
                   "chmod cgroup2:/cgroup.procs"});
    // Its own cgroup is its parent's to hand over (the host's here).
    ops.push_back({"chown_own_cgroup",
                   LOCKC_HOOK_CGROUP_TREE,
                   nullptr,
                   [] { return errno_of(::chown(own_cgroup().c_str(), 0, 0)); },
                   {0},
                   false,
                   Phase::Setup,
                   "chown cgroup2:/"});
    ops.push_back(
        {"set_host_cgroup_xattr",
         LOCKC_HOOK_CGROUP_TREE,
         [] { return prepare_xattr_cgroup(false); },
         [] { return errno_of(::setxattr(xattr_cgroup().c_str(), kXattrName, "1", 1, 0)); },
         {0},
         false,
         Phase::Setup,
         std::string("setxattr cgroup2:/") + kXattrCgroup});
    ops.back().judged = xattrs_judged();
    ops.push_back({"remove_host_cgroup_xattr",
                   LOCKC_HOOK_CGROUP_TREE,
                   [] { return prepare_xattr_cgroup(true); },
                   [] { return errno_of(::removexattr(xattr_cgroup().c_str(), kXattrName)); },
                   {0},
                   false,
                   Phase::Setup,
                   std::string("removexattr cgroup2:/") + kXattrCgroup});
    ops.back().judged = xattrs_judged();
    ops.push_back({"open_block_device",
                   LOCKC_HOOK_FILE_OPEN,
                   nullptr,
                   [] { return open_err(kBlockDev.c_str(), O_RDONLY); },
                   {0, ENXIO, ENODEV},
                   false,
                   Phase::Setup,
                   "b 7:0"});
    ops.push_back({"syslog_read",
                   LOCKC_HOOK_SYSLOG,
                   nullptr,
                   [] { return errno_of(::klogctl(10 /* SIZE_BUFFER */, nullptr, 0)); },
                   {0},
                   false,
                   Phase::Setup,
                   ""});
    ops.push_back({"init_module",
                   LOCKC_HOOK_KERNEL_MODULE,
                   nullptr,
                   [] {
                       static const char garbage[64] = "not a module";
                       return errno_of(::syscall(SYS_init_module, garbage, sizeof(garbage), ""));
                   },
                   {ENOEXEC, EINVAL, EBADMSG, EKEYREJECTED},
                   false,
                   Phase::Setup,
                   ""});
    ops.push_back({"finit_module",
                   LOCKC_HOOK_KERNEL_MODULE,
                   nullptr,
                   [] {
                       const int fd = ::open("/bin/true", O_RDONLY | O_CLOEXEC);
                       if (fd < 0) {
                           return -3000 - errno;
                       }
                       const int err = errno_of(::syscall(SYS_finit_module, fd, "", 0));
                       ::close(fd);
                       return err;
                   },
                   {ENOEXEC, EINVAL, EBADMSG, EKEYREJECTED},
                   false,
                   Phase::Setup,
                   ""});
    // A socket family nobody builds (AF_IUCV is s390's): the kernel asks
    // modprobe for net-pf-32, which fails either way, so only the event
    // tells the decision.
    ops.push_back({"module_autoload_request",
                   LOCKC_HOOK_KERNEL_MODULE,
                   nullptr,
                   [] { return fd_result(::socket(32, SOCK_STREAM, 0)); },
                   {EAFNOSUPPORT},
                   false,
                   Phase::Setup,
                   "net-pf-32",
                   EAFNOSUPPORT});
    ops.push_back({"bpf_map_create",
                   LOCKC_HOOK_BPF,
                   nullptr,
                   [] {
                       bpf_attr attr{};
                       attr.map_type = BPF_MAP_TYPE_ARRAY;
                       attr.key_size = 4;
                       attr.value_size = 4;
                       attr.max_entries = 1;
                       return fd_result(::syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof(attr)));
                   },
                   {0},
                   false,
                   Phase::Setup,
                   ""});
    ops.push_back({"perf_event_open",
                   LOCKC_HOOK_PERF_EVENT,
                   nullptr,
                   [] {
                       perf_event_attr attr{};
                       attr.type = PERF_TYPE_SOFTWARE;
                       attr.size = sizeof(attr);
                       attr.config = PERF_COUNT_SW_CPU_CLOCK;
                       attr.disabled = 1;
                       return fd_result(::syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
                   },
                   {0},
                   false,
                   Phase::Setup,
                   ""});
    ops.push_back({"ptrace_host_task",
                   LOCKC_HOOK_PTRACE,
                   nullptr,
                   [] {
                       if (::ptrace(PTRACE_ATTACH, g_host_task, nullptr, nullptr) != 0) {
                           return errno;
                       }
                       ::waitpid(g_host_task, nullptr, __WALL);
                       ::ptrace(PTRACE_DETACH, g_host_task, nullptr, nullptr);
                       return 0;
                   },
                   {0},
                   false,
                   Phase::Setup,
                   "pid "});
    ops.push_back({"ptrace_traceme_by_host_parent",
                   LOCKC_HOOK_PTRACE,
                   nullptr,
                   [] { return errno_of(::ptrace(PTRACE_TRACEME, 0, nullptr, nullptr)); },
                   {0},
                   false,
                   Phase::Setup,
                   "pid "});
    ops.push_back({"signal_host_task",
                   LOCKC_HOOK_TASK_KILL,
                   nullptr,
                   [] { return errno_of(::kill(g_host_task, 0)); },
                   {0},
                   false,
                   Phase::Setup,
                   "pid "});
    // A file's owner gets its SIGIO, sent without task_kill: the owner is
    // judged when it is set. The driver runs in the host's PID namespace
    // (like --pid=host), where a confined task may own files itself only.
    ops.push_back({"signal_owner_host_task",
                   LOCKC_HOOK_TASK_KILL,
                   nullptr,
                   [] {
                       std::array<int, 2> pipe{};
                       if (::pipe2(pipe.data(), O_CLOEXEC) != 0) {
                           return -3000 - errno;
                       }
                       const int err = errno_of(::fcntl(pipe[0], F_SETOWN, g_host_task));
                       ::close(pipe[0]);
                       ::close(pipe[1]);
                       return err;
                   },
                   {0},
                   false,
                   Phase::Setup,
                   "signal owner "});
    // FIOSETOWN reads the pid from the caller's memory after the hook: not
    // even the caller itself, then.
    ops.push_back({"signal_owner_by_ioctl",
                   LOCKC_HOOK_TASK_KILL,
                   nullptr,
                   [] {
                       const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
                       if (fd < 0) {
                           return -3000 - errno;
                       }
                       const int self = ::getpid();
                       const int err = errno_of(::ioctl(fd, FIOSETOWN, &self));
                       ::close(fd);
                       return err;
                   },
                   {0},
                   false,
                   Phase::Setup,
                   "signal owner by ioctl"});
    ops.push_back({"connect_engine_socket",
                   LOCKC_HOOK_UNIX_CONNECT,
                   nullptr,
                   [] {
                       const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
                       sockaddr_un addr{};
                       addr.sun_family = AF_UNIX;
                       std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", kTestEngineSocket);
                       const int err = errno_of(
                           ::connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)));
                       ::close(fd);
                       return err;
                   },
                   {0},
                   false,
                   Phase::Setup,
                   kTestEngineSocket});
    ops.push_back({"connect_shim_socket",
                   LOCKC_HOOK_UNIX_CONNECT,
                   nullptr,
                   [] {
                       const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
                       sockaddr_un addr{};
                       const socklen_t len = shim_socket_address(addr);
                       const int err =
                           errno_of(::connect(fd, reinterpret_cast<sockaddr *>(&addr), len));
                       ::close(fd);
                       return err;
                   },
                   {0},
                   false,
                   Phase::Setup,
                   "@" + std::string(kShimSocketName)});
    ops.push_back({"setuid_to_root",
                   LOCKC_HOOK_SETUID,
                   nullptr,
                   [] {
                       if (int e = become_user_keeping_setuid()) {
                           return -4000 - e;
                       }
                       return errno_of(::setuid(0));
                   },
                   {0},
                   true,
                   Phase::Setup,
                   ""});
    ops.push_back({"exec_setuid_root_binary",
                   LOCKC_HOOK_EXEC_SETUID,
                   nullptr,
                   [] {
                       if (::setresuid(1000, 1000, 1000) != 0) {
                           return -4000 - errno;
                       }
                       // On success the child becomes `true` and exits 0.
                       ::execl(kSuidTrue.c_str(), "suid-true", nullptr);
                       return errno;
                   },
                   {0},
                   true,
                   Phase::Setup,
                   kSuidTrue.string()});
    ops.push_back({"create_user_namespace",
                   LOCKC_HOOK_USERNS_CREATE,
                   nullptr,
                   [] { return errno_of(::unshare(CLONE_NEWUSER)); },
                   {0},
                   true,
                   Phase::Setup,
                   ""});
    // Capabilities that act on the whole host (the driver runs as root in
    // the host's PID namespace, like a --privileged --pid=host container).
    ops.push_back({"port_io",
                   LOCKC_HOOK_CAPABLE,
                   nullptr,
                   host_capabilities::port_io,
                   {0},
                   false,
                   Phase::Setup,
                   "CAP_SYS_RAWIO"});
    ops.push_back({"map_page_zero",
                   LOCKC_HOOK_CAPABLE,
                   nullptr,
                   host_capabilities::map_page_zero,
                   {0},
                   false,
                   Phase::Setup,
                   "CAP_SYS_RAWIO mmap_min_addr"});
    // Host terminals are denied to containers by device (open_host_console);
    // a port opened by a host task and handed in is caught by lockdown.
    // The port `prepare` opens as a host task, for the action: both run in
    // the same child.
    const auto serial_fd = std::make_shared<int>(-1);
    ops.push_back({"move_serial_port",
                   LOCKC_HOOK_CAPABLE,
                   [serial_fd] {
                       *serial_fd =
                           host_capabilities::open_serial_port(host_capabilities::kSpareSerialPort);
                       return *serial_fd < 0 ? errno : 0;
                   },
                   [serial_fd] { return host_capabilities::move_serial_port(*serial_fd); },
                   {0},
                   false,
                   Phase::Setup,
                   "lockdown TIOCSSERIAL",
                   EPERM,
                   2}); // audited, the move back is reported too
    // Terminals: typing into one's input, the console's output, a virtual
    // console's selection. Each on a pty of the caller's own, so nothing
    // outside the test is touched.
    ops.push_back({"type_into_terminal",
                   LOCKC_HOOK_CAPABLE,
                   nullptr,
                   terminals::type_into_own_pty,
                   {0},
                   false,
                   Phase::Setup,
                   "terminal ioctl 0x5412"});
    ops.push_back({"redirect_console",
                   LOCKC_HOOK_CAPABLE,
                   nullptr,
                   terminals::redirect_console_to_own_pty,
                   {0},
                   false,
                   Phase::Setup,
                   "terminal ioctl 0x541d",
                   EPERM,
                   3}); // audited: the open of /dev/console and the way back too
    ops.push_back({"virtual_console_request",
                   LOCKC_HOOK_CAPABLE,
                   nullptr,
                   terminals::virtual_console_request_on_own_pty,
                   {ENOTTY, EINVAL},
                   false,
                   Phase::Setup,
                   "terminal ioctl 0x541c"});
    ops.push_back({"set_clock",
                   LOCKC_HOOK_CAPABLE,
                   nullptr,
                   host_capabilities::clock_tick_unchanged,
                   {0},
                   false,
                   Phase::Setup,
                   "CAP_SYS_TIME"});
    ops.push_back({"reboot_setting",
                   LOCKC_HOOK_CAPABLE,
                   nullptr,
                   host_capabilities::reboot_setting_unchanged,
                   {0},
                   false,
                   Phase::Setup,
                   "CAP_SYS_BOOT"});
    ops.push_back({"audit_status",
                   LOCKC_HOOK_CAPABLE,
                   nullptr,
                   host_capabilities::audit_status_query,
                   {0},
                   false,
                   Phase::Setup,
                   "CAP_AUDIT_CONTROL"});
    ops.push_back({"host_network_setting",
                   LOCKC_HOOK_CAPABLE,
                   nullptr,
                   [] { return host_capabilities::interface_flags_unchanged(); },
                   {0},
                   false,
                   Phase::Setup,
                   "CAP_NET_ADMIN"});
    // A socket of the host's network namespace, opened by a host task
    // (`prepare`, which then moves to a network namespace of its own, as a
    // container has) and used inside the cgroup: the capability is checked
    // against the socket's namespace, which the capable hook does not see.
    const auto host_socket = [](int domain, int type, int protocol,
                                const std::shared_ptr<int> &fd) {
        return [=] {
            *fd = ::socket(domain, type | SOCK_CLOEXEC, protocol);
            if (*fd < 0) {
                return errno;
            }
            return errno_of(::unshare(CLONE_NEWNET));
        };
    };
    const auto inet_fd = std::make_shared<int>(-1);
    ops.push_back({"host_socket_interface_flags",
                   LOCKC_HOOK_CAPABLE,
                   host_socket(AF_INET, SOCK_DGRAM, 0, inet_fd),
                   [inet_fd] { return host_capabilities::interface_flags_unchanged(*inet_fd); },
                   {0},
                   false,
                   Phase::Setup,
                   "host socket ioctl 0x8913", // SIOCGIFFLAGS, then SIOCSIFFLAGS
                   EPERM,
                   2});
    // The same from a 32-bit process (lockc-ioctl32, exec'd with the
    // socket at descriptor 3), whose ioctls take the compat path.
    const auto inet32_fd = std::make_shared<int>(-1);
    ops.push_back({"host_socket_interface_flags_32bit",
                   LOCKC_HOOK_CAPABLE,
                   host_socket(AF_INET, SOCK_DGRAM, 0, inet32_fd),
                   [inet32_fd] {
                       constexpr int kSocketFd = 3;
                       // dup2() onto itself would keep close-on-exec.
                       const bool at_3 = *inet32_fd == kSocketFd
                                             ? ::fcntl(kSocketFd, F_SETFD, 0) == 0
                                             : ::dup2(*inet32_fd, kSocketFd) == kSocketFd;
                       if (!at_3) {
                           return -3000 - errno;
                       }
                       ::execl(LOCKC_IOCTL32, "lockc-ioctl32", nullptr);
                       return -3000 - errno; // exec'd, it exits with its result
                   },
                   {0},
                   false,
                   Phase::Setup,
                   "host socket ioctl 0x8913",
                   EPERM,
                   2});
    const auto route_fd = std::make_shared<int>(-1);
    ops.push_back({"host_socket_netlink_link",
                   LOCKC_HOOK_CAPABLE,
                   host_socket(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE, route_fd),
                   [route_fd] { return host_capabilities::link_unchanged(*route_fd); },
                   {0},
                   false,
                   Phase::Setup,
                   "host socket netlink 0"});
    const auto igmp_fd = std::make_shared<int>(-1);
    ops.push_back({"host_socket_multicast_routing",
                   LOCKC_HOOK_CAPABLE,
                   host_socket(AF_INET, SOCK_RAW, IPPROTO_IGMP, igmp_fd),
                   [igmp_fd] { return host_capabilities::multicast_assert_unchanged(*igmp_fd); },
                   {0},
                   false,
                   Phase::Setup,
                   "host socket getsockopt 0:207", // MRT_ASSERT, then its setsockopt
                   EPERM,
                   2});
    ops.push_back({"packet_socket",
                   LOCKC_HOOK_SOCKET_CREATE,
                   nullptr,
                   [] { return fd_result(::socket(AF_PACKET, SOCK_RAW, 0)); },
                   {0},
                   true,
                   Phase::Setup,
                   "family 17"});
    return ops;
}

// Fixtures shared by every case: the mount point, a block device node, a
// setuid-root binary, a host task and a listening "engine" socket.
class HookEnvironment : public ::testing::Environment {
  public:
    void SetUp() override {
        // Confined tasks may not trigger module autoloading: load what the
        // packet-socket case needs as the host.
        (void)sh("modprobe af_packet");
        fs::create_directories(kTarget);
        std::ofstream(kHandleFile) << "lockc";
        for (const char *file : {kTokenFile, kTestOpenRuleFile}) {
            fs::create_directories(fs::path(file).parent_path());
            std::ofstream(file) << "lockc";
        }
        fs::create_directories(kSymlinkToRoot.parent_path());
        fs::remove(kSymlinkToRoot);
        fs::create_symlink("/", kSymlinkToRoot);
        ::unlink(kBlockDev.c_str());
        ASSERT_EQ(::mknod(kBlockDev.c_str(), S_IFBLK | 0600, makedev(7, 0)), 0);
        ::unlink(kUnlistedCharDev.c_str());
        ASSERT_EQ(::mknod(kUnlistedCharDev.c_str(), S_IFCHR | 0600, makedev(180, 96)), 0);
        fs::copy_file("/bin/true", kSuidTrue, fs::copy_options::overwrite_existing);
        ASSERT_EQ(::chown(kSuidTrue.c_str(), 0, 0), 0);
        ASSERT_EQ(::chmod(kSuidTrue.c_str(), 04755), 0);
        g_host_task = ::fork();
        if (g_host_task == 0) {
            // exec drops our (close-on-exec) BPF fds: a child that kept
            // them would keep lockc's links alive after an uninstall.
            ::execl("/bin/sleep", "sleep", "infinity", nullptr);
            ::_exit(127);
        }
        listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", kTestEngineSocket);
        ::unlink(kTestEngineSocket);
        ASSERT_EQ(::bind(listener_, reinterpret_cast<sockaddr *>(&addr), sizeof(addr)), 0);
        ASSERT_EQ(::listen(listener_, 512), 0);
        shim_listener_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
        const socklen_t len = shim_socket_address(addr);
        ASSERT_EQ(::bind(shim_listener_, reinterpret_cast<sockaddr *>(&addr), len), 0);
        ASSERT_EQ(::listen(shim_listener_, 512), 0);
    }
    void TearDown() override {
        ::kill(g_host_task, SIGKILL);
        ::waitpid(g_host_task, nullptr, 0);
        ::close(listener_);
        ::close(shim_listener_);
    }

  private:
    int listener_ = -1;
    int shim_listener_ = -1; // abstract: gone with its last fd
};

const auto *const g_env = ::testing::AddGlobalTestEnvironment(new HookEnvironment);

struct Case {
    Op op;
    Level level;
    Mode mode;
};

std::string case_name(const ::testing::TestParamInfo<Case> &info) {
    return info.param.op.name + "_" + std::string(to_string(info.param.level)) + "_" +
           std::string(to_string(info.param.mode));
}

std::vector<Case> all_cases() {
    std::vector<Case> cases;
    for (const auto &op : operations()) {
        for (auto level : {Level::Privileged, Level::Baseline, Level::Restricted}) {
            for (auto mode : {Mode::Enforce, Mode::Audit}) {
                cases.push_back({op, level, mode});
            }
        }
    }
    return cases;
}

// Names instead of byte dumps in gtest's messages.
void PrintTo(const Case &c, std::ostream *os) {
    *os << c.op.name << " " << to_string(c.level) << " " << to_string(c.mode);
}
void PrintTo(const Op &op, std::ostream *os) {
    *os << op.name;
}

class HookMatrix : public ::testing::TestWithParam<Case> {};

TEST_P(HookMatrix, DecisionAndExactlyOneEvent) {
    const auto &[op, level, mode] = GetParam();
    TestCgroup cg("matrix");
    enforcer().set_policy(cg.id(), level, mode, op.phase);
    (void)take_events();

    const ChildResult r = run_child(&cg.path(), op.prepare, op.action);
    ASSERT_TRUE(r.ok) << "child did not report";
    ASSERT_GT(r.err, -1000) << "setup of the operation failed: " << r.err;
    const auto events = take_events(cg.id());
    enforcer().remove_policy(cg.id());

    const bool denied = op.judged && level != Level::Privileged &&
                        (!op.restricted_only || level == Level::Restricted);
    if (denied && mode == Mode::Enforce) {
        EXPECT_EQ(r.err, op.denied) << std::strerror(r.err);
    } else {
        EXPECT_TRUE(op.allowed.contains(r.err))
            << "result " << r.err << " " << std::strerror(r.err);
    }
    if (!denied) {
        EXPECT_TRUE(events.empty()) << "unexpected event: " << describe(events.front());
        return;
    }
    // In audit mode file_open lets the open go on to the hook that decides
    // it for baseline, which reports it too.
    const bool device_first = op.restricted_refuses_device && level == Level::Restricted;
    const std::size_t audit_events = op.audit_events + (device_first ? 1 : 0);
    ASSERT_EQ(events.size(), mode == Mode::Audit ? audit_events : 1u) << describe_all(events);
    const Event &e = events.front();
    EXPECT_EQ(e.hook, device_first ? LOCKC_HOOK_FILE_OPEN : op.hook) << describe(e);
    EXPECT_EQ(e.level, level);
    EXPECT_EQ(e.mode, mode);
    EXPECT_EQ(e.error, mode == Mode::Enforce ? EPERM : 0); // what the hook returned
    EXPECT_EQ(e.pid, static_cast<std::uint32_t>(r.pid)) << describe(e);
    EXPECT_EQ(e.cgroup_id, cg.id());
    EXPECT_EQ(e.policy_cgroup_id, cg.id());
    EXPECT_FALSE(e.comm.empty());
    if (device_first) {
        EXPECT_TRUE(e.target.starts_with("c ")) << describe(e);
    } else if (!op.target.empty()) {
        EXPECT_NE(e.target.find(op.target), std::string::npos) << describe(e);
    }
    if (op.hook == LOCKC_HOOK_UNIX_CONNECT) {
        // The socket's name is the whole target (not the rule key's form,
        // which ends in '/').
        EXPECT_EQ(e.target, op.target);
    }
}

INSTANTIATE_TEST_SUITE_P(Hooks, HookMatrix, ::testing::ValuesIn(all_cases()), case_name);

class HostTask : public ::testing::TestWithParam<Op> {};

TEST_P(HostTask, IsNeverDenied) {
    const Op &op = GetParam();
    (void)take_events();
    const ChildResult r = run_child(nullptr, op.prepare, op.action);
    ASSERT_TRUE(r.ok);
    EXPECT_TRUE(op.allowed.contains(r.err)) << "result " << r.err << " " << std::strerror(r.err);
    const auto events = take_events();
    for (const auto &e : events) {
        EXPECT_NE(e.pid, static_cast<std::uint32_t>(r.pid)) << describe(e);
    }
}

INSTANTIATE_TEST_SUITE_P(Hooks, HostTask, ::testing::ValuesIn(operations()),
                         [](const auto &info) { return info.param.name; });

// What every container needs keeps working at every level.
TEST(Allowed, EverydayOperationsInsideABaselineOrRestrictedCgroup) {
    for (auto level : {Level::Baseline, Level::Restricted}) {
        const auto r = run_contained("everyday", level, [] {
            for (const char *p : {"/sys/devices/system/cpu/online", "/proc/self/status",
                                  "/proc/sys/kernel/hostname", "/etc/passwd", "/dev/null"}) {
                if (int e = open_err(p, O_RDONLY)) {
                    return e;
                }
            }
            if (int e = open_err("/dev/null", O_WRONLY)) {
                return e;
            }
            if (int e = open_err("/dev/ptmx", O_RDWR | O_NOCTTY)) {
                return e; // a new pty, as `docker run -t` makes
            }
            return fd_result(::socket(AF_INET, SOCK_DGRAM, 0));
        });
        EXPECT_TRUE(r.ok);
        EXPECT_EQ(r.err, 0) << to_string(level) << ": " << std::strerror(r.err);
        EXPECT_TRUE(r.events.empty()) << describe_all(r.events);
    }
}

// restricted opens the character devices Docker gives every container,
// and no rule refuses them: nodes of those numbers outside /dev, so that
// each number is tried whether or not a device answers it (without one the
// open fails after lockc's check, with ENXIO or ENODEV).
TEST(Allowed, DevicesDockerGivesEveryContainerInARestrictedCgroup) {
    struct Device {
        unsigned major;
        unsigned minor;
    };
    const std::vector<Device> devices = {{1, 3}, {1, 5}, {1, 7},   {1, 8},   {1, 9},
                                         {5, 0}, {5, 2}, {136, 0}, {136, 7}, {10, 200}};
    // tun's driver loaded by the host: a container may not load it (the
    // kernel_module hook refuses the open's request for char-major-10-200).
    ASSERT_EQ(sh("modprobe tun").status, 0);
    const fs::path dir = kWork / "docker-devices";
    fs::create_directories(dir);
    for (const auto &d : devices) {
        const fs::path node = dir / (std::to_string(d.major) + "-" + std::to_string(d.minor));
        ::unlink(node.c_str());
        ASSERT_EQ(::mknod(node.c_str(), S_IFCHR | 0600, makedev(d.major, d.minor)), 0) << node;
        const auto r = run_contained("docker-device", Level::Restricted, [&] {
            return open_err(node.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK);
        });
        EXPECT_TRUE(r.ok);
        EXPECT_NE(r.err, EPERM) << "c " << d.major << ":" << d.minor;
        EXPECT_TRUE(r.events.empty()) << describe_all(r.events);
    }
    fs::remove_all(dir);
}

} // namespace
} // namespace lockc::vmtest

namespace lockc::vmtest {
namespace {

// `text` written to `file`: 0 or the errno.
int write_file(const fs::path &file, std::string_view text) {
    return host_capabilities::write_text(file.c_str(), text);
}

// nsdelegate on the cgroup2 hierarchy, set or cleared for the host (as
// runc clears it when it mounts cgroup2 for a --cgroupns=host container),
// and put back as it was.
class Nsdelegate {
  public:
    Nsdelegate() : was_(on()) {}
    Nsdelegate(const Nsdelegate &) = delete;
    Nsdelegate &operator=(const Nsdelegate &) = delete;
    ~Nsdelegate() { (void)set(was_); }
    static bool on() {
        return sh("grep -qE ' /sys/fs/cgroup .* - cgroup2 .*nsdelegate' /proc/self/mountinfo")
                   .status == 0;
    }
    // A remount's options replace the hierarchy's: memory_recursiveprot,
    // which systemd sets, is given again.
    static int set(bool nsdelegate) {
        return errno_of(
            ::mount(nullptr, "/sys/fs/cgroup", nullptr,
                    MS_REMOUNT | MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME,
                    nsdelegate ? "nsdelegate,memory_recursiveprot" : "memory_recursiveprot"));
    }

  private:
    bool was_;
};

// In a cgroup namespace of the caller's own (and, if asked, as the init of
// a PID namespace of its own): a cgroup made below its own, the caller
// moved there, a limit set on it, and the caller moved back. 0 or the
// first errno.
int migrate_below_own_cgroup(bool own_pid_namespace) {
    const fs::path own = own_cgroup();
    if (::unshare(CLONE_NEWCGROUP | (own_pid_namespace ? CLONE_NEWPID : 0)) != 0) {
        return -3000 - errno;
    }
    const auto steps = [own] {
        const fs::path sub = own / "sub";
        if (::mkdir(sub.c_str(), 0755) != 0) {
            return -4000 - errno;
        }
        int err = write_file(sub / "cgroup.procs", "0");
        if (err == 0) {
            err = write_file(sub / "cgroup.max.descendants", "5");
            if (err == 0) {
                err = open_err((own / "cgroup.subtree_control").c_str(), O_WRONLY);
            }
            const int back = write_file(own / "cgroup.procs", "0");
            err = err != 0 ? err : back;
        }
        ::rmdir(sub.c_str());
        return err;
    };
    if (!own_pid_namespace) {
        return steps();
    }
    const pid_t init = ::fork(); // the new PID namespace's init
    if (init == 0) {
        ::_exit(steps() & 0xff);
    }
    int status = 0;
    if (init < 0 || ::waitpid(init, &status, 0) != init || !WIFEXITED(status)) {
        return -5000;
    }
    return WEXITSTATUS(status);
}

// A container with a cgroup namespace of its own (Docker's default on
// cgroup v2) makes cgroups below its own, moves its tasks between them and
// sets their limits, as systemd inside it does. With nsdelegate the kernel
// keeps every move inside the namespace; without it, only a PID namespace
// of the container's own keeps host tasks from being named and moved in.
TEST(CgroupMigration, BelowTheContainersOwnFromItsOwnNamespacesOnly) {
    Nsdelegate setting;
    for (auto level : {Level::Baseline, Level::Restricted}) {
        ASSERT_EQ(Nsdelegate::set(true), 0);
        ASSERT_TRUE(Nsdelegate::on());
        auto r = run_contained("cgroupns-nsdelegate", level,
                               [] { return migrate_below_own_cgroup(false); });
        EXPECT_TRUE(r.ok);
        EXPECT_EQ(r.err, 0) << "nsdelegate, level " << static_cast<int>(level);
        EXPECT_TRUE(r.events.empty()) << describe_all(r.events);

        ASSERT_EQ(Nsdelegate::set(false), 0);
        ASSERT_FALSE(Nsdelegate::on());
        r = run_contained("cgroupns-host-pids", level,
                          [] { return migrate_below_own_cgroup(false); });
        EXPECT_TRUE(r.ok);
        EXPECT_EQ(r.err, EPERM) << "no nsdelegate, the host's PID namespace";
        ASSERT_EQ(r.events.size(), 1U) << describe_all(r.events);
        EXPECT_EQ(r.events[0].hook, LOCKC_HOOK_FILE_OPEN) << describe(r.events[0]);
        EXPECT_NE(r.events[0].target.find("/sub/cgroup.procs"), std::string::npos)
            << describe(r.events[0]);

        r = run_contained("cgroupns-own-pids", level,
                          [] { return migrate_below_own_cgroup(true); });
        EXPECT_TRUE(r.ok);
        EXPECT_EQ(r.err, 0) << "no nsdelegate, a PID namespace of its own";
        EXPECT_TRUE(r.events.empty()) << describe_all(r.events);
    }
}

// A container changes its part of the cgroup tree as a runtime or systemd
// inside it does: it makes cgroups in its own, sets their files' modes and
// owners and their attributes, and removes them again. Its own cgroup's
// mode, owner, attributes and existence are its parent's to change.
TEST(CgroupTree, ChangedBelowTheContainersOwnOnly) {
    for (auto level : {Level::Baseline, Level::Restricted}) {
        auto r = run_contained("cgroup-tree-below", level, [] {
            const fs::path sub = own_cgroup() / "sub";
            if (::mkdir(sub.c_str(), 0755) != 0) {
                return errno;
            }
            int err = errno_of(::chmod((sub / "cgroup.procs").c_str(), 0664));
            err = err != 0 ? err : errno_of(::chown(sub.c_str(), 0, 0));
            err = err != 0 ? err : errno_of(::chown((sub / "cgroup.procs").c_str(), 0, 0));
            err = err != 0 ? err : errno_of(::setxattr(sub.c_str(), kXattrName, "1", 1, 0));
            err = err != 0 ? err : errno_of(::removexattr(sub.c_str(), kXattrName));
            const int removed = errno_of(::rmdir(sub.c_str()));
            return err != 0 ? err : removed;
        });
        EXPECT_TRUE(r.ok);
        EXPECT_EQ(r.err, 0) << to_string(level) << ": " << std::strerror(r.err);
        EXPECT_TRUE(r.events.empty()) << describe_all(r.events);

        // Each refused by lockc, or, for the attributes on a kernel where
        // lockc cannot judge them, allowed: operation 1 + its index fails
        // the test otherwise.
        const bool xattrs = xattrs_judged();
        r = run_contained("cgroup-tree-own", level, [xattrs] {
            const fs::path own = own_cgroup();
            const int xattr_result = xattrs ? EPERM : 0;
            const std::array<std::pair<int, int>, 5> results = {{
                {errno_of(::chmod((own / "cgroup.procs").c_str(), 0644)), EPERM},
                {errno_of(::chown(own.c_str(), 0, 0)), EPERM},
                {errno_of(::rmdir(own.c_str())), EPERM}, // EBUSY from the kernel
                {errno_of(::setxattr(own.c_str(), kXattrName, "1", 1, 0)), xattr_result},
                {errno_of(::removexattr(own.c_str(), kXattrName)), xattr_result},
            }};
            for (std::size_t i = 0; i < results.size(); ++i) {
                if (results.at(i).first != results.at(i).second) {
                    return static_cast<int>(1 + i);
                }
            }
            return 0;
        });
        EXPECT_TRUE(r.ok);
        EXPECT_EQ(r.err, 0) << to_string(level) << ": operation " << r.err;
        std::vector<std::string> ops = {"chmod cgroup2:/", "chown cgroup2:/", "rmdir cgroup2:/"};
        if (xattrs) {
            ops.insert(ops.end(), {"setxattr cgroup2:/", "removexattr cgroup2:/"});
        }
        ASSERT_EQ(r.events.size(), ops.size()) << describe_all(r.events);
        for (std::size_t i = 0; i < ops.size(); ++i) {
            const Event &event = r.events[i];
            EXPECT_EQ(event.hook, LOCKC_HOOK_CGROUP_TREE) << describe(event);
            EXPECT_TRUE(event.target.starts_with(ops[i])) << describe(event);
            EXPECT_NE(event.target.find("/cgroup-tree-own"), std::string::npos) << describe(event);
        }
        EXPECT_TRUE(r.events[0].target.ends_with("/cgroup.procs")) << describe(r.events[0]);
    }
}

// lockc's inode_setxattr and inode_removexattr programs allow whatever is
// not a cgroup's. The kernel's own check of security.* attributes (they
// take CAP_SYS_ADMIN) must still hold for every task where they load
// (Linux 6.10 on). On Debian's 6.1 with bpf in lsm= that check is off for
// every task with or without lockc (measured in the test VM: a uid 1000
// task sets security.* on its own tmpfs file before lockc ever loads);
// there the programs must not load at all. A host user's own file on
// tmpfs, an attribute root set on it.
TEST(KernelChecks, SecurityAttributesStillTakeCapSysAdmin) {
    (void)enforcer(); // loaded
    if (!xattrs_judged()) {
        const auto programs = loaded_lockc_programs();
        EXPECT_FALSE(programs.contains("lockc_inode_set"));
        EXPECT_FALSE(programs.contains("lockc_inode_rem"));
        EXPECT_TRUE(programs.contains("lockc_path_chmo")); // names cut to 15 bytes
        return;
    }
    const fs::path file = "/run/lockc-test-security-xattr";
    constexpr const char *kName = "security.lockc-test";
    std::ofstream(file) << "x";
    ASSERT_EQ(::chown(file.c_str(), 1000, 1000), 0) << std::strerror(errno);
    ASSERT_EQ(::setxattr(file.c_str(), kName, "1", 1, 0), 0) << std::strerror(errno);
    (void)take_events();
    const auto r = run_child(nullptr, nullptr, [file] {
        if (::setresgid(1000, 1000, 1000) != 0 || ::setresuid(1000, 1000, 1000) != 0) {
            return -3000 - errno;
        }
        const int set = errno_of(::setxattr(file.c_str(), kName, "2", 1, 0));
        const int removed = errno_of(::removexattr(file.c_str(), kName));
        return set != EPERM ? 1000 + set : removed != EPERM ? 2000 + removed : 0;
    });
    EXPECT_TRUE(r.ok);
    EXPECT_EQ(r.err, 0) << "1000 + setxattr's errno, 2000 + removexattr's";
    std::array<char, 4> value{};
    EXPECT_EQ(::getxattr(file.c_str(), kName, value.data(), value.size()), 1);
    EXPECT_EQ(value[0], '1');
    EXPECT_TRUE(take_events().empty());
    fs::remove(file);
}

// A task may make itself, or nobody, the owner of its files (SIGIO to
// itself), in the host's PID namespace too.
TEST(Allowed, SignalOwnerThatIsTheCallerItself) {
    for (auto level : {Level::Baseline, Level::Restricted}) {
        const auto r = run_contained("own-sigio", level, [] {
            std::array<int, 2> pipe{};
            if (::pipe2(pipe.data(), O_CLOEXEC) != 0) {
                return -3000 - errno;
            }
            int err = errno_of(::fcntl(pipe[0], F_SETOWN, ::getpid()));
            if (err == 0) {
                err = errno_of(::fcntl(pipe[0], F_SETOWN, 0));
            }
            ::close(pipe[0]);
            ::close(pipe[1]);
            return err;
        });
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.err, 0) << to_string(level) << ": " << r.err;
        EXPECT_TRUE(r.events.empty()) << describe_all(r.events);
    }
}

// Socket activation hands a container the host's listening socket, and its
// connections are the host's network namespace's too: what the socket does
// with its own traffic stays allowed at every level.
TEST(Allowed, HostSocketsHandedInCarryTheirOwnTraffic) {
    for (auto level : {Level::Baseline, Level::Restricted}) {
        TestCgroup cg("own-traffic");
        enforcer().set_policy(cg.id(), level, Mode::Enforce, Phase::Running);
        (void)take_events();
        // The host's listener, and a client of the host's that connected
        // to it, both made before the move to a namespace of its own.
        auto listener = std::make_shared<int>(-1);
        auto client = std::make_shared<int>(-1);
        const auto r = run_child(
            &cg.path(),
            [listener, client] {
                *listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                *client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
                sockaddr_in addr{};
                addr.sin_family = AF_INET;
                addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
                socklen_t len = sizeof(addr);
                auto *const a = reinterpret_cast<sockaddr *>(&addr);
                if (*listener < 0 || *client < 0 || ::bind(*listener, a, len) != 0 ||
                    ::listen(*listener, 1) != 0 || ::getsockname(*listener, a, &len) != 0 ||
                    ::connect(*client, a, len) != 0) {
                    return errno;
                }
                return errno_of(::unshare(CLONE_NEWNET));
            },
            [listener, client] {
                const int one = 1;
                int available = 0;
                int tos = 0;
                socklen_t tos_size = sizeof(tos);
                const int conn = ::accept4(*listener, nullptr, nullptr, SOCK_CLOEXEC);
                if (conn < 0) {
                    return errno;
                }
                char byte = 'x';
                for (const int e :
                     {errno_of(::ioctl(*listener, FIONBIO, &one)),
                      errno_of(::setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one))),
                      errno_of(::getsockopt(conn, IPPROTO_IP, IP_TOS, &tos, &tos_size)),
                      errno_of(::send(*client, &byte, 1, 0)),
                      errno_of(::ioctl(conn, FIONREAD, &available)),
                      errno_of(::recv(conn, &byte, 1, 0))}) {
                    if (e != 0) {
                        ::close(conn);
                        return e;
                    }
                }
                ::close(conn);
                return available == 1 ? 0 : -4000; // FIONREAD saw the byte
            });
        const auto events = take_events(cg.id());
        enforcer().remove_policy(cg.id());
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.err, 0) << to_string(level) << ": " << r.err;
        EXPECT_TRUE(events.empty()) << describe_all(events);
    }
}

// /proc/sys/net belongs to the writer's network namespace: a container with
// its own may set its sysctls, one sharing the host's may not.
// The capable hook judges what acts on the host: a capability in a user
// namespace of the container's own, reboot(2) in its own PID namespace
// (which ends only the container) or CAP_NET_ADMIN in its own network
// namespace is the container's business.
TEST(Allowed, CapabilitiesOverTheContainersOwnNamespaces) {
    const auto reboot_in_own_pid_namespace = [] {
        if (::unshare(CLONE_NEWPID) != 0) {
            return -1000 - errno;
        }
        const pid_t child = ::fork();
        if (child == 0) {
            ::_exit(host_capabilities::reboot_setting_unchanged());
        }
        int status = 0;
        if (child < 0 || ::waitpid(child, &status, 0) != child || !WIFEXITED(status)) {
            return -2000;
        }
        return WEXITSTATUS(status);
    };
    for (auto level : {Level::Baseline, Level::Restricted}) {
        const auto r = run_contained("own-pidns", level, reboot_in_own_pid_namespace);
        ASSERT_TRUE(r.ok);
        // The kernel's own answer: this command is for the host's alone.
        EXPECT_EQ(r.err, EINVAL) << to_string(level) << ": " << r.err;
        EXPECT_TRUE(r.events.empty()) << describe_all(r.events);
    }
    // An interface of the container's own network namespace.
    for (auto level : {Level::Baseline, Level::Restricted}) {
        const auto r = run_contained("own-netns", level, [] {
            if (::unshare(CLONE_NEWNET) != 0) {
                return -1000 - errno;
            }
            return host_capabilities::interface_flags_unchanged();
        });
        ASSERT_TRUE(r.ok);
        EXPECT_EQ(r.err, 0) << to_string(level) << ": " << r.err;
        EXPECT_TRUE(r.events.empty()) << describe_all(r.events);
    }
    // A time namespace's offsets need CAP_SYS_TIME in its user namespace
    // (restricted forbids new user namespaces).
    const auto r = run_contained("own-timens", Level::Baseline, [] {
        constexpr int kNewTime = 0x80; // CLONE_NEWTIME
        if (::unshare(CLONE_NEWUSER | kNewTime) != 0) {
            return -1000 - errno;
        }
        const int fd = ::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            return errno;
        }
        const std::string line = "monotonic 1 0\n";
        const int err = errno_of(::write(fd, line.data(), line.size()));
        ::close(fd);
        return err;
    });
    ASSERT_TRUE(r.ok);
    EXPECT_EQ(r.err, 0) << std::strerror(r.err > 0 ? r.err : 0) << " " << r.err;
    EXPECT_TRUE(r.events.empty()) << describe_all(r.events);
}

TEST(Allowed, NetSysctlsOnlyInTheContainersOwnNetworkNamespace) {
    TestCgroup cg("netns");
    enforcer().set_policy(cg.id(), Level::Baseline, Mode::Enforce, Phase::Running);
    const auto write_sysctl = [] {
        return open_err("/proc/sys/net/ipv4/ip_unprivileged_port_start", O_WRONLY);
    };
    const auto own = run_child(
        &cg.path(), [] { return errno_of(::unshare(CLONE_NEWNET)); }, write_sysctl);
    const auto host = run_child(&cg.path(), nullptr, write_sysctl);
    enforcer().remove_policy(cg.id());
    EXPECT_EQ(own.err, 0) << std::strerror(own.err);
    EXPECT_EQ(host.err, EPERM);
}

} // namespace
} // namespace lockc::vmtest

namespace lockc::vmtest {
namespace {

// During setup a bind *source* may not cross a symlink, but the mount
// point may (runc mounts onto files in its state dir under /var/run).
TEST(Allowed, SymlinksOnTheWayToTheMountPointDuringSetup) {
    TestCgroup cg("symlinked-target");
    enforcer().set_policy(cg.id(), Level::Baseline, Mode::Enforce, Phase::Setup);
    (void)take_events();
    const fs::path link = kWork / "link-to-target";
    fs::remove(link);
    fs::create_symlink(kTarget, link);
    const auto r = run_child(&cg.path(), private_mounts, [&link] {
        return errno_of(::mount("/var/lib/docker", link.c_str(), nullptr, MS_BIND, nullptr));
    });
    const auto events = take_events(cg.id());
    enforcer().remove_policy(cg.id());
    EXPECT_EQ(r.err, 0) << std::strerror(r.err);
    EXPECT_TRUE(events.empty()) << describe(events.front());
}

// Once a container has entered its root filesystem a bind source names
// something it already sees (runc binds /proc/bus onto itself to make it
// read-only); ".." stays denied, and during setup the allow-list rules.
TEST(Allowed, BindSourcesAreFreeOnlyAfterThePivot) {
    TestCgroup cg("pivoted");
    const auto bind = [](const char *source) {
        return [source] {
            return errno_of(::mount(source, kTarget.c_str(), nullptr, MS_BIND, nullptr));
        };
    };
    // Longer than the program reads: its tail could hide "..".
    static const std::string long_source = "/var/lib/docker/" + std::string(240, 'x');
    enforcer().set_policy(cg.id(), Level::Baseline, Mode::Enforce, Phase::Pivoted);
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind("/proc/bus")).err, 0);
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind("/proc/../etc")).err, EPERM);
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind(long_source.c_str())).err, EPERM);
    enforcer().set_policy(cg.id(), Level::Baseline, Mode::Enforce, Phase::Setup);
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind("/proc/bus")).err, EPERM);
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind("/var/lib/docker")).err, 0);
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind(long_source.c_str())).err, EPERM);
    enforcer().remove_policy(cg.id());
}

// Runtimes bind paths onto themselves before they pivot: runc its rootfs by
// name, crun masked paths through an O_PATH fd ("/proc/self/fd/N"). That is
// allowed during setup; the same source onto another mount point, an fd of
// a forbidden source, or a name that only resolves to the mount point
// (a "." component, a trailing '/') is not.
TEST(Allowed, DuringSetupAPathMayBeBoundOntoItself) {
    TestCgroup cg("self-bind");
    enforcer().set_policy(cg.id(), Level::Baseline, Mode::Enforce, Phase::Setup);
    (void)take_events();
    const auto bind_fd = [](const char *opened, const fs::path &target) {
        return [opened, target] {
            const int fd = ::open(opened, O_PATH | O_CLOEXEC);
            if (fd < 0) {
                return errno;
            }
            const std::string source = "/proc/self/fd/" + std::to_string(fd);
            const int err =
                errno_of(::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr));
            ::close(fd);
            return err;
        };
    };
    const auto bind = [](const std::string &source, const fs::path &target) {
        return [source, target] {
            return errno_of(::mount(source.c_str(), target.c_str(), nullptr, MS_BIND, nullptr));
        };
    };
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind_fd(kTarget.c_str(), kTarget)).err, 0);
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind(kTarget.string(), kTarget)).err, 0);
    EXPECT_TRUE(take_events(cg.id()).empty());
    const std::string dotted = (kTarget.parent_path() / "." / kTarget.filename()).string();
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind(dotted, kTarget)).err, EPERM);
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind(kTarget.string() + "/", kTarget)).err,
              EPERM);
    EXPECT_EQ(take_events(cg.id()).size(), 2U);
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind_fd("/", kTarget)).err, EPERM);
    EXPECT_EQ(run_child(&cg.path(), private_mounts, bind_fd("/etc", kTarget)).err, EPERM);
    const auto events = take_events(cg.id());
    ASSERT_EQ(events.size(), 2U);
    EXPECT_EQ(events[0].hook, LOCKC_HOOK_SB_MOUNT);
    EXPECT_TRUE(events[0].target.starts_with("/proc/self/fd/")) << events[0].target;
    enforcer().remove_policy(cg.id());
}

} // namespace
} // namespace lockc::vmtest
