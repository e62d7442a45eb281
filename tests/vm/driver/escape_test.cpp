// The escape catalogue (docs/escapes.md) against real Docker: every
// technique fails in a baseline container started with --privileged and
// --pid=host (--net=host for one; the worst case lockc still has to
// contain) and in a restricted one, lockc reports it under the hook the
// catalogue names, and without lockc the same container succeeds (the test
// is real). The containers also get a unix socket, bound in, where a host
// task hands out sockets of the host's network namespace.
#include "host_capabilities.hpp"
#include "unique_fd.hpp"
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <linux/input.h>
#include <linux/uhid.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

extern char **environ; // NOLINT(readability-redundant-declaration): posix_spawn needs it

namespace lockc::vmtest {
namespace {

namespace fs = std::filesystem;

const std::string kBaseImage = "lockc-test/busybox:latest";
const std::string kImage = "lockc-test/escape:latest"; // guest/escape-image.sh
const std::string kBlockImage = "/var/tmp/lockc-escape.img";
const std::string kWatchdog = "/dev/watchdog0"; // softdog's
// The VM's QEMU NVMe drive (run-vm.sh): its controller and its namespace's
// generic node.
const std::string kNvmeController = "/dev/nvme0";
const std::string kNvmeNamespace = "/dev/ng0n1";
// The software TPM (swtpm) behind the VM's /dev/tpm0: its state, its pid.
const std::string kSwtpmState = "/run/lockc-swtpm";
const std::string kSwtpmPid = "/run/lockc-swtpm.pid";
// Where a host task (lockc-escape-probe --serve-host-sockets) hands out
// sockets of the host's network namespace: under Docker's storage, a bind
// source every level allows, and where the container finds it.
const std::string kHostSockets = "/var/lib/docker/lockc-escape-host-sockets.sock";
const std::string kHostSocketsInside = "/run/lockc-host-sockets.sock";

struct Technique {
    const char *name; // as lockc-escape-probe names it (and its comm)
    lockc_hook hook;  // what stops it
    bool restricted_only = false;
    // What stops it first in restricted, where that is another hook: a
    // running restricted container may not call mount(2) at all (sb_mount
    // says no before the filesystem type is known), and opens no character
    // device but Docker's defaults (file_open, before the hook that stops
    // the device's use in baseline).
    std::optional<lockc_hook> restricted_hook = std::nullopt;
};

// Keep in step with tests/vm/escape/escape_probe.cpp and docs/escapes.md.
const std::vector<Technique> kCatalogue = {
    {"mount-debugfs", LOCKC_HOOK_SB_KERN_MOUNT, false, LOCKC_HOOK_SB_MOUNT},
    {"mount-tracefs", LOCKC_HOOK_SB_KERN_MOUNT, false, LOCKC_HOOK_SB_MOUNT},
    {"mount-secfs", LOCKC_HOOK_SB_KERN_MOUNT, false, LOCKC_HOOK_SB_MOUNT},
    {"mount-bpffs", LOCKC_HOOK_SB_KERN_MOUNT, false, LOCKC_HOOK_SB_MOUNT},
    {"mount-cgroup1", LOCKC_HOOK_SB_KERN_MOUNT, false, LOCKC_HOOK_SB_MOUNT},
    {"mount-blockdev", LOCKC_HOOK_SB_KERN_MOUNT, false, LOCKC_HOOK_SB_MOUNT},
    {"read-blockdev", LOCKC_HOOK_FILE_OPEN},
    {"mknod-blockdev", LOCKC_HOOK_FILE_OPEN},
    {"sg-disk", LOCKC_HOOK_FILE_OPEN},
    {"bsg-disk", LOCKC_HOOK_FILE_OPEN},
    {"watchdog", LOCKC_HOOK_FILE_OPEN},
    {"nvme-admin", LOCKC_HOOK_FILE_OPEN},
    {"nvme-generic", LOCKC_HOOK_FILE_OPEN},
    {"core-pattern", LOCKC_HOOK_FILE_OPEN},
    {"sysctl-modprobe", LOCKC_HOOK_FILE_OPEN},
    {"sysrq-trigger", LOCKC_HOOK_FILE_OPEN},
    {"snapshot-image", LOCKC_HOOK_CAPABLE, false, LOCKC_HOOK_FILE_OPEN},
    {"host-console", LOCKC_HOOK_FILE_OPEN},
    {"console-screen", LOCKC_HOOK_FILE_OPEN},
    {"uinput-keyboard", LOCKC_HOOK_FILE_OPEN},
    {"uhid-keyboard", LOCKC_HOOK_FILE_OPEN},
    {"cmos-nvram", LOCKC_HOOK_FILE_OPEN},
    {"efi-capsule", LOCKC_HOOK_FILE_OPEN}, // a misc device's rule by name
    {"dm-control", LOCKC_HOOK_FILE_OPEN},
    {"tpm-device", LOCKC_HOOK_FILE_OPEN},
    {"tpm-resmgr", LOCKC_HOOK_FILE_OPEN}, // the "tpm" driver's major
    {"vtpm-proxy", LOCKC_HOOK_FILE_OPEN}, // the misc device "vtpmx" by name
    {"cuse-device", LOCKC_HOOK_FILE_OPEN},
    {"hidraw-keyboard", LOCKC_HOOK_FILE_OPEN}, // the "hidraw" driver's major
    {"usbfs-device", LOCKC_HOOK_FILE_OPEN},
    {"usbmon-sniff", LOCKC_HOOK_FILE_OPEN}, // "usbmon", registered after the rules
    {"input-device", LOCKC_HOOK_FILE_OPEN},
    {"dev-mem", LOCKC_HOOK_FILE_OPEN},
    {"proc-kcore", LOCKC_HOOK_FILE_OPEN},
    {"kernel-log", LOCKC_HOOK_SYSLOG},
    {"dev-kmsg", LOCKC_HOOK_SYSLOG, false, LOCKC_HOOK_FILE_OPEN},
    {"load-module", LOCKC_HOOK_KERNEL_MODULE},
    {"bpf-map", LOCKC_HOOK_BPF},
    {"perf-event", LOCKC_HOOK_PERF_EVENT},
    {"open-by-handle", LOCKC_HOOK_FILE_OPEN},
    {"host-proc-root", LOCKC_HOOK_PTRACE},
    {"ptrace-host", LOCKC_HOOK_PTRACE},
    {"setns-host", LOCKC_HOOK_PTRACE},
    {"port-io", LOCKC_HOOK_CAPABLE},
    {"map-page-zero", LOCKC_HOOK_CAPABLE},
    {"serial-port-io", LOCKC_HOOK_FILE_OPEN}, // c 4:*, before TIOCSSERIAL's check
    {"set-clock", LOCKC_HOOK_CAPABLE},
    {"reboot-host", LOCKC_HOOK_CAPABLE},
    {"audit-control", LOCKC_HOOK_CAPABLE},
    {"sigio-host", LOCKC_HOOK_TASK_KILL},    // reported there, from file_fcntl
    {"host-net-socket", LOCKC_HOOK_CAPABLE}, // reported there, from netlink_send
    {"kill-host", LOCKC_HOOK_TASK_KILL},
    {"cgroup-escape", LOCKC_HOOK_FILE_OPEN},
    {"user-namespace", LOCKC_HOOK_USERNS_CREATE, true},
    {"exec-setuid", LOCKC_HOOK_EXEC_SETUID, true},
    {"setuid-root", LOCKC_HOOK_SETUID, true},
    {"packet-socket", LOCKC_HOOK_SOCKET_CREATE, true},
    {"raw-socket", LOCKC_HOOK_SOCKET_CREATE, true},
};

// Run in a container with --net=host (lockc-escape-probe's name for it).
const std::string kHostNetwork = "host-network";

// Host files and sockets a container asks Docker to bind in (-v), with the
// command that proves the bind worked.
struct BindEscape {
    const char *name;
    const char *volume;
    const char *proof;
};
const std::vector<BindEscape> kBinds = {
    {"host-root", "/:/host", "test -d /host/etc/docker"},
    {"docker-socket", "/var/run/docker.sock:/docker.sock", "test -S /docker.sock"},
    // lockc's own pins live there.
    {"host-bpffs", "/sys/fs/bpf:/host-bpf", "grep -q ' /host-bpf bpf ' /proc/mounts"},
};

struct Outcome {
    std::string verdict; // escaped, denied, failed, skipped
    std::string detail;  // errno name or reason
};

// A USB keyboard as a host has one, made through uhid: its report
// descriptor has the eight modifier keys, enough for hid-generic to bind it
// and hidraw to give it a node. The device lives as long as the returned
// descriptor; an invalid one, with errno set, on failure.
UniqueFd make_hid_keyboard() {
    UniqueFd fd(::open("/dev/uhid", O_RDWR | O_CLOEXEC));
    if (!fd.valid()) {
        return fd;
    }
    constexpr std::array<std::uint8_t, 23> kDescriptor = {
        0x05, 0x01, 0x09, 0x06, 0xa1, 0x01, 0x05, 0x07, 0x19, 0xe0, 0x29, 0xe7,
        0x15, 0x00, 0x25, 0x01, 0x75, 0x01, 0x95, 0x08, 0x81, 0x02, 0xc0};
    uhid_event event{};
    event.type = UHID_CREATE2;
    auto &create = event.u.create2;
    constexpr std::string_view kName = "lockc-test-keyboard";
    std::memcpy(create.name, kName.data(), kName.size());
    std::memcpy(create.rd_data, kDescriptor.data(), kDescriptor.size());
    create.rd_size = kDescriptor.size();
    create.bus = BUS_USB;
    create.vendor = 0x1234;
    create.product = 0x5678;
    if (::write(fd.get(), &event, sizeof(event)) != static_cast<ssize_t>(sizeof(event))) {
        const int err = errno;
        fd.reset();
        errno = err;
    }
    return fd;
}

class Escapes : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const auto setup = sh(std::string(LOCKC_SOURCE_DIR) + "/tests/vm/guest/docker-setup.sh");
        ASSERT_EQ(setup.status, 0) << setup.output;
        const auto image = sh(std::string(LOCKC_SOURCE_DIR) + "/tests/vm/guest/escape-image.sh " +
                              LOCKC_ESCAPE_PROBE);
        ASSERT_EQ(image.status, 0) << image.output;
        // "The host's disk": an ext4 filesystem on a loop device, there
        // before the container starts so --privileged gives it one.
        const auto disk =
            sh("set -e; rm -f " + kBlockImage + "; truncate -s 8M " + kBlockImage +
               "; mkfs.ext4 -q " + kBlockImage + "; losetup --find --show " + kBlockImage);
        ASSERT_EQ(disk.status, 0) << disk.output;
        blockdev() = disk.output.substr(0, disk.output.find('\n'));
        // ext4 is a module: loaded, a mount reaches the filesystem-type
        // check (otherwise lockc already stops the module's autoload).
        const auto ext4 = sh("modprobe ext4");
        ASSERT_EQ(ext4.status, 0) << ext4.output;
        // "The host's SCSI disk": scsi_debug's RAM disk, with its SCSI
        // generic (sg) and block SCSI generic (bsg) nodes; and a watchdog
        // that would not reboot (softdog soft_noboot=1).
        const auto scsi =
            sh("set -e; modprobe scsi_debug dev_size_mb=8; modprobe sg; "
               "modprobe softdog soft_noboot=1; "
               // The SCSI scan may finish after modprobe returns.
               "for i in $(seq 100); do "
               "d=$(ls -d /sys/bus/pseudo/drivers/scsi_debug/adapter0/host*/target*/*:*:*:*/"
               "scsi_generic/sg* 2>/dev/null | head -n1); "
               "if [ -n \"$d\" ]; then hctl=$(basename $(dirname $(dirname $d))); "
               "[ -e /dev/${d##*/} ] && [ -e /dev/bsg/$hctl ] && break; fi; sleep 0.1; done; "
               "echo /dev/${d##*/} /dev/bsg/$hctl");
        ASSERT_EQ(scsi.status, 0) << scsi.output;
        std::istringstream nodes(scsi.output);
        nodes >> sg_node() >> bsg_node();
        ASSERT_TRUE(fs::exists(sg_node()) && fs::exists(bsg_node())) << scsi.output;
        // softdog's major came after the rules were applied: the kernel
        // side gave it the watchdog rule as it registered (no Reload).
        ASSERT_TRUE(fs::exists(kWatchdog));
        // The NVMe drive's driver, loaded again now so that nvme_core
        // registers its majors ("nvme", "nvme-generic") after the rules
        // were applied, like a drive's driver loaded late. The controller
        // is probed asynchronously.
        const auto nvme = sh("rmmod nvme nvme_core 2>/dev/null; modprobe nvme && "
                             "for i in $(seq 300); do [ -e " +
                             kNvmeController + " ] && [ -e " + kNvmeNamespace +
                             " ] && exit 0; sleep 0.1; done; exit 1");
        ASSERT_EQ(nvme.status, 0) << nvme.output << sh("ls -l /dev/nvme* /dev/ng*").output;
        // serial-port-io moves a port with no UART behind it, so that no
        // I/O port is touched even where lockc lets it through.
        const auto serial = sh("grep '^1: uart:unknown ' /proc/tty/driver/serial");
        ASSERT_EQ(serial.status, 0) << sh("cat /proc/tty/driver/serial").output;
        // uinput's, uhid's, nvram's, the capsule loader's and cuse's nodes exist
        // once their modules are loaded. The capsule loader needs the
        // firmware's runtime services: the suite boots through UEFI
        // (run-suite.sh). Its minor is picked as it registers, after the
        // rules were applied.
        const auto misc = sh("modprobe uinput && modprobe uhid && modprobe nvram && "
                             "modprobe capsule-loader && modprobe cuse && test -c /dev/uinput && "
                             "test -c /dev/uhid && test -c /dev/nvram && "
                             "test -c /dev/efi_capsule_loader && test -c /dev/cuse");
        ASSERT_EQ(misc.status, 0) << misc.output << sh("ls /sys/firmware/efi").output;
        // Device-mapper's control node, and a TPM: the VM has no chip, so
        // swtpm makes one through the vTPM proxy (/dev/tpm0 and
        // /dev/tpmrm0, on the "tpm" major that the kernel registered at
        // boot). vtpmx's minor is picked as it registers, after the rules.
        const auto tpm =
            sh("set -e; modprobe dm-mod; modprobe tpm_vtpm_proxy; "
               "test -c /dev/mapper/control; mkdir -p " +
               kSwtpmState + "; swtpm chardev --vtpm-proxy --tpm2 --tpmstate dir=" + kSwtpmState +
               " --daemon --pid file=" + kSwtpmPid +
               "; for i in $(seq 100); do [ -c /dev/tpm0 ] && [ -c /dev/tpmrm0 ] "
               "&& exit 0; sleep 0.1; done; exit 1");
        ASSERT_EQ(tpm.status, 0) << tpm.output;
        // A USB root hub (run-vm.sh gives the VM a UHCI controller), usbmon
        // (loaded after the rules, so the kernel side rules its major), and
        // a keyboard behind hidraw.
        const auto usb = sh("set -e; modprobe uhci_hcd; modprobe usbmon; modprobe hid-generic; "
                            "for i in $(seq 100); do [ -c /dev/bus/usb/001/001 ] && "
                            "[ -c /dev/usbmon0 ] && exit 0; sleep 0.1; done; exit 1");
        ASSERT_EQ(usb.status, 0) << usb.output;
        hid_keyboard() = make_hid_keyboard();
        ASSERT_TRUE(hid_keyboard().valid()) << std::strerror(errno);
        ASSERT_TRUE(
            wait_until([] { return fs::exists("/dev/hidraw0"); }, std::chrono::seconds(10)));
        // A host task for the --pid=host techniques.
        const char *argv[] = {"sleep", "3600", nullptr};
        ASSERT_EQ(::posix_spawnp(&host_task(), "sleep", nullptr, nullptr, const_cast<char **>(argv),
                                 environ), // NOLINT: POSIX signature
                  0);
        // A host task that hands out sockets of the host's network namespace.
        const char *serve[] = {LOCKC_ESCAPE_PROBE, "--serve-host-sockets", kHostSockets.c_str(),
                               nullptr};
        ASSERT_EQ(::posix_spawn(&socket_server(), LOCKC_ESCAPE_PROBE, nullptr, nullptr,
                                const_cast<char **>(serve), environ), // NOLINT: POSIX signature
                  0);
        ASSERT_TRUE(
            wait_until([] { return fs::is_socket(kHostSockets); }, std::chrono::seconds(10)));
    }

    static void TearDownTestSuite() {
        for (const pid_t task : {host_task(), socket_server()}) {
            if (task > 0) {
                ::kill(task, SIGKILL);
                ::waitpid(task, nullptr, 0);
            }
        }
        fs::remove(kHostSockets);
        if (!blockdev().empty()) {
            (void)sh("losetup -d " + blockdev());
        }
        (void)sh("rm -f " + kBlockImage);
        hid_keyboard().reset(); // the keyboard goes with it
        (void)sh("kill $(cat " + kSwtpmPid + ") 2>/dev/null; rm -rf " + kSwtpmState + " " +
                 kSwtpmPid);
        // tpm_vtpm_proxy once swtpm's chip is gone (it unregisters it as
        // the proxy's file closes).
        (void)sh("rmmod sg scsi_debug softdog uinput uhid nvram capsule-loader cuse dm-mod usbmon; "
                 "for i in $(seq 50); do rmmod tpm_vtpm_proxy 2>/dev/null && break; sleep 0.1; "
                 "done");
        reopen_enforcer(); // in case a test stopped in the middle
    }

    static std::string &blockdev() {
        static std::string dev;
        return dev;
    }
    static std::string &sg_node() {
        static std::string node;
        return node;
    }
    static std::string &bsg_node() {
        static std::string node;
        return node;
    }
    static pid_t &host_task() {
        static pid_t pid = 0;
        return pid;
    }
    static pid_t &socket_server() {
        static pid_t pid = 0;
        return pid;
    }
    static UniqueFd &hid_keyboard() {
        static UniqueFd fd;
        return fd;
    }

    static void use_level(Level level) {
        Settings s = default_settings();
        s.default_level = level;
        enforcer().configure(s);
        (void)take_events();
    }

    // One line of lockc-escape-probe's: "<name> <verdict> [<detail>]".
    static std::pair<std::string, Outcome> outcome_of(const std::string &line) {
        std::istringstream words(line);
        std::string name;
        Outcome o;
        words >> name >> o.verdict;
        std::getline(words, o.detail);
        return {name, o};
    }

    // Every technique in one container; the verdict per technique.
    static std::map<std::string, Outcome> probe() {
        // --cgroupns=host: a private cgroup namespace would stop a cgroup v1
        // mount on its own.
        const auto r = sh(
            "docker run --rm --privileged --pid=host --cgroupns=host "
            "-e LOCKC_ESCAPE_HOST_PID=" +
            std::to_string(host_task()) + " -e LOCKC_ESCAPE_BLOCKDEV=" + blockdev() +
            " -e LOCKC_ESCAPE_SG=" + sg_node() + " -e LOCKC_ESCAPE_BSG=" + bsg_node() +
            " -e LOCKC_ESCAPE_WATCHDOG=" + kWatchdog + " -e LOCKC_ESCAPE_NVME=" + kNvmeController +
            " -e LOCKC_ESCAPE_NVME_NS=" + kNvmeNamespace + " -e LOCKC_ESCAPE_SERIAL=" +
            host_capabilities::kSpareSerialPort + " -v " + kHostSockets + ":" + kHostSocketsInside +
            " -e LOCKC_ESCAPE_HOST_SOCKETS=" + kHostSocketsInside + " " + kImage +
            " /bin/lockc-escape-probe");
        EXPECT_EQ(r.status, 0) << r.output;
        std::cout << r.output; // the catalogue's outcomes, for the record
        std::map<std::string, Outcome> out;
        std::istringstream lines(r.output);
        std::string line;
        while (std::getline(lines, line)) {
            auto [name, o] = outcome_of(line);
            out[name] = o;
        }
        for (const auto &t : kCatalogue) {
            EXPECT_TRUE(out.contains(t.name)) << t.name << " not reported:\n" << r.output;
        }
        return out;
    }

    // The one technique that needs the host's network namespace, in a
    // container of its own: with --net=host the others would change.
    static Outcome probe_host_network() {
        const auto r = sh("docker run --rm --privileged --net=host -e LOCKC_ESCAPE_HOST_NET=1 " +
                          kImage + " /bin/lockc-escape-probe " + kHostNetwork);
        EXPECT_EQ(r.status, 0) << r.output;
        std::cout << r.output;
        auto [name, o] = outcome_of(r.output.substr(0, r.output.find('\n')));
        EXPECT_EQ(name, kHostNetwork) << r.output;
        return o;
    }

    static CommandResult bind(const BindEscape &b) {
        return sh(std::string("docker run --rm --privileged -v ") + b.volume + " " + kBaseImage +
                  " " + b.proof);
    }

    static bool reported(const std::vector<Event> &events, const std::string &comm, lockc_hook hook,
                         Level level) {
        for (const auto &e : events) {
            if (e.comm == comm && e.hook == hook && e.level == level && e.mode == Mode::Enforce &&
                e.error != 0) {
                return true;
            }
        }
        return false;
    }

    // Every technique the level forbids is denied and reported by name.
    static void expect_contained(Level level) {
        use_level(level);
        const auto outcomes = probe();
        const auto events = take_events();
        for (const auto &t : kCatalogue) {
            if (t.restricted_only && level != Level::Restricted) {
                continue;
            }
            const auto it = outcomes.find(t.name);
            if (it == outcomes.end()) {
                continue; // reported above
            }
            EXPECT_EQ(it->second.verdict, "denied") << t.name << it->second.detail;
            const auto hook =
                level == Level::Restricted ? t.restricted_hook.value_or(t.hook) : t.hook;
            EXPECT_TRUE(reported(events, t.name, hook, level))
                << t.name << ": no " << hook_name(hook) << " event\n"
                << describe_all(events);
        }
        const auto host_network = probe_host_network();
        EXPECT_EQ(host_network.verdict, "denied") << kHostNetwork << host_network.detail;
        EXPECT_TRUE(reported(take_events(), kHostNetwork, LOCKC_HOOK_CAPABLE, level))
            << kHostNetwork << ": no capable event";
        for (const auto &b : kBinds) {
            const auto r = bind(b);
            EXPECT_NE(r.status, 0) << b.name << ": " << r.output;
        }
        const auto binds = take_events();
        for (const auto &b : kBinds) {
            const std::string source =
                std::string(b.volume).substr(0, std::string(b.volume).find(':'));
            bool seen = false;
            for (const auto &e : binds) {
                seen = seen || (e.hook == LOCKC_HOOK_SB_MOUNT && e.level == level &&
                                !e.target.empty() && source.ends_with(e.target));
            }
            EXPECT_TRUE(seen) << b.name << ": no sb_mount event for " << source << "\n"
                              << describe_all(binds);
        }
    }
};

TEST_F(Escapes, EveryTechniqueFailsInABaselinePrivilegedContainer) {
    expect_contained(Level::Baseline);
}

TEST_F(Escapes, RestrictedStopsThemAllAndUserNamespacesSetuidAndRawSockets) {
    expect_contained(Level::Restricted);
}

// Runs last in this suite: the same containers without lockc.
TEST_F(Escapes, WithoutLockcEveryTechniqueWorks) {
    enforcer().uninstall();
    close_enforcer();
    ASSERT_TRUE(
        wait_until([] { return loaded_lockc_programs().empty(); }, std::chrono::seconds(30)));
    const auto outcomes = probe();
    const auto host_network = probe_host_network();
    std::vector<CommandResult> binds;
    binds.reserve(kBinds.size());
    for (const auto &b : kBinds) {
        binds.push_back(bind(b));
    }
    reopen_enforcer();
    for (const auto &t : kCatalogue) {
        const auto it = outcomes.find(t.name);
        if (it != outcomes.end()) {
            EXPECT_EQ(it->second.verdict, "escaped") << t.name << it->second.detail;
        }
    }
    EXPECT_EQ(host_network.verdict, "escaped") << kHostNetwork << host_network.detail;
    for (std::size_t i = 0; i < kBinds.size(); ++i) {
        EXPECT_EQ(binds[i].status, 0) << kBinds[i].name << ": " << binds[i].output;
    }
}

} // namespace
} // namespace lockc::vmtest
