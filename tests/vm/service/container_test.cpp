// Real containers meet lockcd as installed (issue 4): Docker with labels,
// plain runc with OCI annotations, CRI-style bundles, lockcctl run. lockcd
// holds runc's execs, reads the bundle and registers the container's
// cgroup name before runc creates it; these checks prove the level is in
// the kernel before the container's first mount, every time.
#include "bus_support.hpp"
#include "terminals.hpp"
#include "vm_support.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <set>
#include <string>

namespace lockc::vmtest {
namespace {

const std::string kImage = "lockc-test/busybox:latest";
const std::string kSuidImage = "lockc-test/suid:latest";
const std::string kCliImage = "lockc-test/dockercli:latest";
const std::string kRootfs = "/var/tmp/lockc-rootfs";
const std::string kBundles = "/var/tmp/lockc-bundles";
const std::string kPrivileged = " --label org.lockc.level=privileged ";
const std::string kSource = LOCKC_SOURCE_DIR;
// podman as Debian 12 ships it; vfs: the guest's root is an overlayfs.
const std::string kPodman = "podman --storage-driver vfs ";

std::string container_id(const std::string &name) {
    return trimmed(sh("docker inspect -f '{{.Id}}' " + name).output);
}

class Containers : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const auto setup = sh(kSource + "/tests/vm/guest/docker-setup.sh");
        ASSERT_EQ(setup.status, 0) << setup.output;
        // The namespace table of the CRI checks.
        std::ofstream("/etc/lockc/lockc.toml") << "[kubernetes.namespaces]\n"
                                                  "kube-system = \"privileged\"\n"
                                                  "locked-down = \"restricted\"\n";
        const auto start = sh("systemctl start lockcd && systemctl reload lockcd");
        ASSERT_EQ(start.status, 0) << start.output;
        // An image with a setuid-root copy of busybox; a root file system
        // for plain runc; the busybox image for podman.
        const std::string suid = "mkdir -p /opt/suid && cp /bin/busybox /opt/suid/true && "
                                 "chmod 4755 /opt/suid/true";
        const std::vector<std::string> steps = {
            "docker rm -f lockc-mksuid",
            "docker run --name lockc-mksuid " + kImage + " sh -c '" + suid + "'",
            "docker commit lockc-mksuid " + kSuidImage,
            "docker rm lockc-mksuid",
            "rm -rf " + kRootfs + " && mkdir -p " + kRootfs + "/rootfs",
            "docker export $(docker create " + kImage + ") | tar -C " + kRootfs + " -x",
            "tar -C " + kRootfs + " -cf /var/tmp/lockc-rootfs.tar .",
            kPodman + "import /var/tmp/lockc-rootfs.tar " + kImage,
        };
        for (const auto &step : steps) {
            const auto r = sh(step);
            ASSERT_TRUE(r.status == 0 || step == steps.front()) << step << ": " << r.output;
        }
    }

    void SetUp() override {
        // A test that stopped lockcd must not leave the next one without it.
        ASSERT_EQ(sh("systemctl start lockcd").status, 0);
    }

    std::unique_ptr<sdbus::IConnection> bus_ = sdbus::createSystemBusConnection();

    std::unique_ptr<sdbus::IProxy> manager() {
        return sdbus::createProxy(*bus_, kBusName, kManagerPath);
    }

    // The container's level as lockcd has it; "" if it is not registered.
    std::string level_of(const std::string &id) {
        try {
            std::string level;
            manager()
                ->callMethod("GetLevel")
                .onInterface(kManagerInterface)
                .withArguments(id)
                .storeResultsTo(level);
            return level;
        } catch (const sdbus::Error &) {
            return "";
        }
    }

    std::set<std::string> registered() {
        std::vector<bus::ContainerEntry> list;
        manager()->callMethod("ListContainers").onInterface(kManagerInterface).storeResultsTo(list);
        std::set<std::string> ids;
        for (const auto &c : list) {
            ids.insert(std::get<0>(c));
        }
        return ids;
    }

    // A bundle under kBundles/<name> for `args`; extra: make-bundle.py options.
    static std::string bundle(const std::string &name, const std::string &extra,
                              const std::string &args) {
        std::string dir = kBundles + "/" + name;
        const auto r = sh(kSource + "/tests/vm/guest/make-bundle.py " + dir + " --rootfs " +
                          kRootfs + " " + extra + " -- " + args);
        EXPECT_EQ(r.status, 0) << r.output;
        return dir;
    }

    static int entries_in(const std::string &map) {
        const auto r = sh("bpftool -j map dump pinned " + pinned_map_path(map).string() +
                          " | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'");
        return r.status == 0 ? std::stoi(r.output) : -1;
    }
};

struct Escape {
    std::string name;
    std::string run; // docker run arguments after the options
    std::string hook;
    std::string target;
};

const std::vector<Escape> kEscapes = {
    {"sys", kImage + " cat /sys/kernel/uevent_seqnum", "file_open", "uevent_seqnum"},
    {"chroot", "-v /:/rootfs " + kImage + " chroot /rootfs /bin/sh -c 'test -d /etc/docker'",
     "sb_mount", "/"},
    {"socket",
     "-v /var/run/docker.sock:/var/run/docker.sock " + kCliImage + " docker run --rm " + kImage +
         " true",
     "sb_mount", "docker.sock"},
};

TEST_F(Containers, TheThreeEscapesFailByDefaultAndEachIsReportedByName) {
    DenialListener listener(true);
    for (const auto &escape : kEscapes) {
        const std::string name = "lockc-escape-" + escape.name;
        (void)sh("docker rm -f " + name);
        const auto r = sh("docker run --name " + name + " " + escape.run);
        const auto id = container_id(name);
        (void)sh("docker rm -f " + name);
        EXPECT_NE(r.status, 0) << escape.name << ": " << r.output;
        ASSERT_EQ(id.size(), 64U) << name;
        EXPECT_TRUE(listener.wait_for(
            [&](const DeniedSignal &d) {
                return d.container == id && d.hook == escape.hook && d.level == "baseline" &&
                       d.errnum > 0 && d.target.find(escape.target) != std::string::npos;
            },
            std::chrono::seconds(10)))
            << escape.name << " (" << id << "): " << listener.dump();
    }
}

TEST_F(Containers, WithThePrivilegedLabelTheEscapesSucceed) {
    for (const auto &escape : kEscapes) {
        const auto r = sh("docker run --rm" + kPrivileged + escape.run);
        EXPECT_EQ(r.status, 0) << escape.name << ": " << r.output;
    }
    // The socket is reached, but what it starts has no label: lockc confines
    // the new container at the default level, so the last step still fails.
    const auto inner =
        sh("docker run --rm" + kPrivileged + "-v /var/run/docker.sock:/var/run/docker.sock " +
           kCliImage + " docker run --rm --privileged -v /:/host " + kImage +
           " test -d /host/etc/docker");
    EXPECT_NE(inner.status, 0) << inner.output;
}

TEST_F(Containers, RestrictedStopsSetuidRootAndAuditOnlyReports) {
    // busybox picks its applet by name: /opt/suid/true is `true`.
    const std::string as_nobody = " --user 65534 " + kSuidImage + " /opt/suid/true";
    const auto baseline = sh("docker run --rm" + as_nobody);
    EXPECT_EQ(baseline.status, 0) << "baseline allows setuid-root binaries: " << baseline.output;

    DenialListener listener(true);
    const auto restricted =
        sh("docker run --name lockc-restricted --label org.lockc.level=restricted" + as_nobody);
    const auto id = container_id("lockc-restricted");
    (void)sh("docker rm -f lockc-restricted");
    EXPECT_NE(restricted.status, 0) << restricted.output;
    EXPECT_TRUE(listener.wait_for(
        [&](const DeniedSignal &d) {
            return d.container == id && d.hook == "exec_setuid" && d.level == "restricted";
        },
        std::chrono::seconds(10)))
        << listener.dump();

    const auto audit = sh("docker run --name lockc-audit --label org.lockc.mode=audit " + kImage +
                          " cat /sys/kernel/uevent_seqnum");
    const auto audit_id = container_id("lockc-audit");
    (void)sh("docker rm -f lockc-audit");
    EXPECT_EQ(audit.status, 0) << "audit mode must not deny: " << audit.output;
    EXPECT_TRUE(listener.wait_for(
        [&](const DeniedSignal &d) {
            return d.container == audit_id && d.mode == "audit" && d.errnum == 0 &&
                   d.hook == "file_open";
        },
        std::chrono::seconds(10)))
        << listener.dump();
}

// lockc protects itself: from a baseline container with every privilege
// Docker can give (--privileged, the host's pid and cgroup namespaces),
// lockcd cannot be signalled, traced or entered, its programs, links, maps
// and pins cannot be reached or unmounted, and /var/lib/lockc cannot be
// bound in. Each attempt is denied and reported; afterwards the same lockcd
// runs the same programs with the same pins.
TEST_F(Containers, APrivilegedBaselineContainerCannotReachLockcdItsProgramsOrItsState) {
    const auto image = sh(kSource + "/tests/vm/guest/escape-image.sh " + LOCKC_ESCAPE_PROBE);
    ASSERT_EQ(image.status, 0) << image.output;
    const std::string lockcd = trimmed(sh("systemctl show -p MainPID --value lockcd").output);
    ASSERT_NE(lockcd, "0");
    const auto programs = loaded_lockc_programs();
    const std::string list_pins = std::string("find ") + kDefaultPinDir + " | sort";
    const auto pins = sh(list_pins).output;
    ASSERT_FALSE(programs.empty());

    DenialListener listener(true);
    const std::string worst = "docker run --rm --privileged --pid=host --cgroupns=host ";
    // Signal, trace, enter its mount namespace (where the pins are), reach
    // its root (and so /var/lib/lockc), bpf(2) at all, a bpffs of its own.
    const auto probe = sh(worst + "-e LOCKC_ESCAPE_HOST_PID=" + lockcd +
                          " lockc-test/escape:latest /bin/lockc-escape-probe kill-host ptrace-host "
                          "setns-host host-proc-root bpf-map mount-bpffs");
    EXPECT_EQ(probe.status, 0) << probe.output;
    for (const char *technique :
         {"kill-host", "ptrace-host", "setns-host", "host-proc-root", "bpf-map", "mount-bpffs"}) {
        EXPECT_NE(probe.output.find(std::string(technique) + " denied"), std::string::npos)
            << technique << ":\n"
            << probe.output;
    }
    // busybox as an attacker would use it: unmount or remount the host's
    // bpffs from the host's mount namespace, bind lockc's pins, state and
    // bus socket in.
    const std::vector<std::string> attempts = {
        worst + kImage + " nsenter -t 1 -m umount -l /sys/fs/bpf",
        worst + kImage + " nsenter -t 1 -m mount -o remount,ro /sys/fs/bpf",
        worst + "-v " + kDefaultPinDir + ":/pins " + kImage + " ls /pins",
        worst + "-v /var/lib/lockc:/state " + kImage + " ls /state",
        worst + "-v /run/dbus:/bus " + kImage + " true",
    };
    for (const auto &attempt : attempts) {
        const auto r = sh(attempt);
        EXPECT_NE(r.status, 0) << attempt << ": " << r.output;
    }
    for (const char *hook : {"task_kill", "ptrace", "bpf", "sb_kern_mount", "sb_mount"}) {
        EXPECT_TRUE(listener.wait_for(
            [&](const DeniedSignal &d) {
                return d.hook == hook && d.level == "baseline" && d.errnum > 0;
            },
            std::chrono::seconds(10)))
            << hook << ": " << listener.dump();
    }
    EXPECT_EQ(trimmed(sh("systemctl show -p MainPID --value lockcd").output), lockcd);
    EXPECT_EQ(sh("systemctl is-active lockcd").status, 0);
    EXPECT_EQ(loaded_lockc_programs(), programs);
    EXPECT_EQ(sh(list_pins).output, pins);
}

TEST_F(Containers, SetLevelChangesARunningContainersNextOperation) {
    (void)sh("docker rm -f lockc-live");
    ASSERT_EQ(sh("docker run -d --name lockc-live " + kImage + " sleep 600").status, 0);
    const auto id = container_id("lockc-live");
    const std::string read_sys = "docker exec lockc-live cat /sys/kernel/uevent_seqnum";
    EXPECT_TRUE(wait_until([&] { return level_of(id) == "baseline"; }, std::chrono::seconds(10)));
    EXPECT_NE(sh(read_sys).status, 0);
    manager()
        ->callMethod("SetLevel")
        .onInterface(kManagerInterface)
        .withArguments(id, std::string("privileged"), Options{});
    EXPECT_EQ(sh(read_sys).status, 0) << "privileged now";
    manager()
        ->callMethod("SetLevel")
        .onInterface(kManagerInterface)
        .withArguments(id, std::string("baseline"), Options{});
    EXPECT_NE(sh(read_sys).status, 0) << "baseline again";
    (void)sh("docker rm -f lockc-live");
    EXPECT_TRUE(wait_until([&] { return !registered().contains(id); }, std::chrono::seconds(15)))
        << "a removed container stays registered";
}

TEST_F(Containers, EveryOneOfAHundredContainersIsConfinedFromItsFirstMount) {
    const int policies_before = entries_in("policies");
    // Odd: privileged, whose bind mount of / must work; even: the default,
    // whose bind mount of / must fail. Every time, not most of the time.
    const auto r = sh("for i in $(seq 1 50); do "
                      "docker run --rm" +
                      kPrivileged + "-v /:/rootfs " + kImage +
                      " test -d /rootfs/etc/docker || echo PRIVILEGED-FAILED-$i; "
                      "docker run --rm -v /:/rootfs " +
                      kImage + " true 2>/dev/null && echo ESCAPED-$i; done; echo loop-done");
    EXPECT_NE(r.output.find("loop-done"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("PRIVILEGED-FAILED"), std::string::npos) << r.output;
    EXPECT_EQ(r.output.find("ESCAPED"), std::string::npos) << r.output;
    // Nothing left behind: no registration, no pending name, no entry.
    EXPECT_TRUE(wait_until(
        [&] {
            const auto ids = registered();
            return std::none_of(ids.begin(), ids.end(),
                                [](const std::string &id) { return id.size() == 64; });
        },
        std::chrono::seconds(20)));
    EXPECT_EQ(entries_in("pending"), 0);
    EXPECT_EQ(entries_in("policies"), policies_before);
}

TEST_F(Containers, AContainerStartedWhileLockcdIsStoppedGetsItsLevelWhenItIsBack) {
    (void)sh("docker rm -f lockc-late");
    ASSERT_EQ(sh("systemctl stop lockcd").status, 0);
    const auto run = sh("docker run -d --name lockc-late" + kPrivileged + kImage + " sleep 600");
    const auto id = container_id("lockc-late");
    const std::string read_sys = "docker exec lockc-late cat /sys/kernel/uevent_seqnum";
    const auto while_stopped = sh(read_sys);
    ASSERT_EQ(sh("systemctl start lockcd").status, 0);
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_NE(while_stopped.status, 0) << "not confined while lockcd was stopped";
    EXPECT_TRUE(wait_until([&] { return level_of(id) == "privileged"; }, std::chrono::seconds(15)))
        << "level now: " << level_of(id);
    EXPECT_EQ(sh(read_sys).status, 0);
    (void)sh("docker rm -f lockc-late");
}

// Issue 8: the state file is corrupt and the kernel has lost the
// container's entry too (say a crash between the two): lockcd rebuilds the
// registration from the runtime, with the level the container's label asks
// for, not the default one.
TEST_F(Containers, ACorruptRegistryAndALostKernelEntryAreRebuiltFromTheRuntime) {
    (void)sh("docker rm -f lockc-rebuilt");
    // As nobody, /opt/suid/true is a setuid-root exec: denied at
    // restricted only, so it tells restricted from the default baseline.
    const std::string suid_exec = "docker exec lockc-rebuilt /opt/suid/true";
    ASSERT_EQ(sh("docker run -d --name lockc-rebuilt --user 65534 "
                 "--label org.lockc.level=restricted " +
                 kSuidImage + " sleep 600")
                  .status,
              0);
    const auto id = container_id("lockc-rebuilt");
    ASSERT_TRUE(wait_until([&] { return level_of(id) == "restricted"; }, std::chrono::seconds(15)));
    ASSERT_NE(sh(suid_exec).status, 0) << "restricted did not stop the setuid exec";

    ASSERT_EQ(sh("systemctl stop lockcd").status, 0);
    ASSERT_EQ(sh("truncate -s 20 /var/lib/lockc/registry.toml").status, 0);
    // The kernel's entry goes as well: the policies map is keyed by the
    // cgroup's id, its inode number, little-endian.
    const auto key = sh("pid=$(docker inspect -f '{{.State.Pid}}' lockc-rebuilt) && "
                        "cg=$(sed -n 's/^0:://p' /proc/$pid/cgroup) && "
                        "python3 -c 'import os, struct, sys; "
                        "print(\" \".join(\"%02x\" % b for b in "
                        "struct.pack(\"<Q\", os.stat(sys.argv[1]).st_ino)))' /sys/fs/cgroup$cg");
    ASSERT_EQ(key.status, 0) << key.output;
    ASSERT_EQ(sh("bpftool map delete pinned " + pinned_map_path("policies").string() + " key hex " +
                 key.output)
                  .status,
              0);
    EXPECT_EQ(sh(suid_exec).status, 0) << "the kernel still had an entry for the container";

    ASSERT_EQ(sh("systemctl start lockcd").status, 0);
    EXPECT_TRUE(wait_until([&] { return level_of(id) == "restricted"; }, std::chrono::seconds(20)))
        << "level now: '" << level_of(id) << "'";
    EXPECT_NE(sh(suid_exec).status, 0) << "the rebuilt entry does not confine at restricted";
    const auto journal = sh("journalctl --no-pager -u lockcd.service -o cat").output;
    EXPECT_NE(journal.find("rebuilt the registry"), std::string::npos) << journal;
    (void)sh("docker rm -f lockc-rebuilt");
}

TEST_F(Containers, PlainRuncBundlesGetTheLevelOfTheirAnnotations) {
    const std::string args = "sh -c 'test -d /rootfs/etc/docker'";
    const auto privileged =
        bundle("annotated", "--bind-host-root --annotation org.lockc.level=privileged", args);
    const auto plain = bundle("plain", "--bind-host-root", args);
    const auto harmless = bundle("harmless", "", "echo harmless");
    const auto p = sh("runc run --bundle " + privileged + " lockc-runc-privileged");
    EXPECT_EQ(p.status, 0) << p.output;
    // runc binds a rootfs outside runtime storage onto itself: allowed.
    const auto h = sh("runc run --bundle " + harmless + " lockc-runc-harmless");
    EXPECT_EQ(h.status, 0) << "a baseline container without forbidden mounts: " << h.output;
    EXPECT_NE(h.output.find("harmless"), std::string::npos) << h.output;
    DenialListener listener(true);
    const auto d = sh("runc run --bundle " + plain + " lockc-runc-plain");
    EXPECT_NE(d.status, 0) << d.output;
    (void)sh("runc delete -f lockc-runc-plain");
    EXPECT_TRUE(listener.wait_for(
        [](const DeniedSignal &s) {
            // The host's root, not the rootfs runc binds onto itself.
            return s.container == "lockc-runc-plain" && s.hook == "sb_mount" && s.target == "/";
        },
        std::chrono::seconds(10)))
        << listener.dump();
}

// The cgroupfs driver: runc without --systemd-cgroup puts a container with
// cgroupsPath /docker/<id> in /sys/fs/cgroup/docker/<id>, a directory no
// unit names. With lockcd up, the gate gives it its annotation's level;
// while lockcd is stopped the kernel's "docker/*" pattern confines it, and
// when lockcd is back it finds the container and its annotation (runc's
// state names the bundle).
TEST_F(Containers, CgroupfsDriverContainersAreConfinedAlsoWhileLockcdIsStopped) {
    const std::string gated(64, 'c');
    const std::string late(64, 'd');
    const std::string annotated = "--annotation org.lockc.level=privileged --cgroups-path /docker/";
    const auto first = bundle("cgroupfs-gated", "--bind-host-root " + annotated + gated,
                              "sh -c 'test -d /rootfs/etc/docker'");
    const auto r = sh("runc run --bundle " + first + " " + gated);
    (void)sh("runc delete -f " + gated);
    EXPECT_EQ(r.status, 0) << "privileged by its annotation: " << r.output;

    const auto second = bundle("cgroupfs-late", annotated + late, "sleep 600");
    ASSERT_EQ(sh("systemctl stop lockcd").status, 0);
    // Detached, the container keeps its stdio: not the pipe sh() reads.
    const auto run = sh("runc run -d --bundle " + second + " " + late +
                        " </dev/null >/run/lockc-runc-late.log 2>&1; s=$?; "
                        "cat /run/lockc-runc-late.log; exit $s");
    const std::string read_sys = "runc exec " + late + " cat /sys/kernel/uevent_seqnum";
    const auto while_stopped = sh(read_sys);
    ASSERT_EQ(sh("systemctl start lockcd").status, 0);
    EXPECT_EQ(run.status, 0) << run.output;
    EXPECT_TRUE(std::filesystem::is_directory("/sys/fs/cgroup/docker/" + late))
        << "not the cgroupfs driver's directory";
    EXPECT_NE(while_stopped.status, 0) << "not confined while lockcd was stopped";
    EXPECT_TRUE(
        wait_until([&] { return level_of(late) == "privileged"; }, std::chrono::seconds(15)))
        << "level now: " << level_of(late);
    EXPECT_EQ(sh(read_sys).status, 0) << "privileged once lockcd is back";
    (void)sh("runc delete -f " + late);
    EXPECT_TRUE(wait_until([&] { return !registered().contains(late); }, std::chrono::seconds(15)))
        << "a deleted container stays registered";
}

// podman with one runtime: an ordinary container runs, a privileged one
// binds the host's root, a baseline one cannot and is reported by its id.
void check_podman_with(const std::string &runtime) {
    const std::string run = kPodman + "run --rm --runtime " + runtime + " --network none ";
    const auto ordinary = sh(run + kImage + " sh -c 'echo ok > /tmp/f && cat /tmp/f'");
    EXPECT_EQ(ordinary.status, 0) << runtime << ": " << ordinary.output;
    const auto privileged = sh(run + "--annotation org.lockc.level=privileged -v /:/rootfs " +
                               kImage + " test -d /rootfs/etc/docker");
    EXPECT_EQ(privileged.status, 0) << runtime << ": " << privileged.output;
    DenialListener listener(true);
    (void)sh("rm -f /run/lockc-podman.cid");
    const auto plain = sh(run + "--cidfile /run/lockc-podman.cid -v /:/rootfs " + kImage + " true");
    EXPECT_NE(plain.status, 0) << runtime << ": " << plain.output;
    const auto id = trimmed(sh("cat /run/lockc-podman.cid").output);
    ASSERT_EQ(id.size(), 64U) << runtime;
    EXPECT_TRUE(listener.wait_for(
        [&](const DeniedSignal &d) {
            return d.container == id && d.hook == "sb_mount" && d.level == "baseline" &&
                   d.target == "/";
        },
        std::chrono::seconds(10)))
        << runtime << ": " << listener.dump();
}

// With both runtimes podman can use: crun (its default) binds masked /proc
// paths onto themselves through /proc/self/fd/N before it pivots.
TEST_F(Containers, PodmanContainersGetTheLevelOfTheirAnnotation) {
    check_podman_with("crun");
    check_podman_with("runc");
}

TEST_F(Containers, CriBundlesGetTheLevelOfTheirKubernetesNamespace) {
    const auto cri = [](const std::string &ns, const std::string &id) {
        return std::string("--bind-host-root --cgroups-path kubepods-besteffort-pod") + id +
               ".slice:cri-containerd:" + id +
               " --annotation io.kubernetes.cri.container-type=container"
               " --annotation io.kubernetes.cri.sandbox-id=0123456789abcdef"
               " --annotation io.kubernetes.cri.sandbox-namespace=" +
               ns;
    };
    const std::string args = "sh -c 'test -d /rootfs/etc/docker'";
    const auto system = bundle("kube-system", cri("kube-system", "lockc-cri-system"), args);
    const auto locked = bundle("locked-down", cri("locked-down", "lockc-cri-locked"), args);
    const auto s = sh("runc --systemd-cgroup run --bundle " + system + " lockc-cri-system");
    EXPECT_EQ(s.status, 0) << "kube-system is privileged: " << s.output;
    DenialListener listener(true);
    const auto l = sh("runc --systemd-cgroup run --bundle " + locked + " lockc-cri-locked");
    (void)sh("runc --systemd-cgroup delete -f lockc-cri-locked");
    EXPECT_NE(l.status, 0) << l.output;
    EXPECT_TRUE(listener.wait_for(
        [](const DeniedSignal &d) {
            return d.container == "lockc-cri-locked" && d.level == "restricted";
        },
        std::chrono::seconds(10)))
        << listener.dump();
}

TEST_F(Containers, LockcctlRunConfinesACommandThatNoRuntimeStarted) {
    const std::string mount = "sh -c 'mkdir -p /run/lockc-m && mount -t debugfs none /run/lockc-m "
                              "&& umount /run/lockc-m'";
    DenialListener listener(true);
    const auto confined = sh("lockcctl run --level baseline --unit lockc-vm-run.scope -- " + mount);
    EXPECT_NE(confined.status, 0) << confined.output;
    EXPECT_TRUE(listener.wait_for(
        [](const DeniedSignal &d) {
            return d.container == "lockc-vm-run" && d.hook == "sb_kern_mount";
        },
        std::chrono::seconds(10)))
        << listener.dump();
    EXPECT_EQ(sh(mount).status, 0) << "the same command unconfined";
    EXPECT_EQ(sh("lockcctl run --level privileged -- sh -c 'exit 7'").status, 7);
    // systemd's UnitRemoved makes lockcd look at once; its periodic sweep
    // (every 10 s) alone would miss this bound.
    EXPECT_TRUE(wait_until(
        [&] {
            const auto ids = registered();
            return std::none_of(ids.begin(), ids.end(), [](const std::string &id) {
                return id == "lockc-vm-run" || id.starts_with("lockc-run-");
            });
        },
        std::chrono::seconds(5)))
        << "scopes of ended commands stay registered";
}

// A command under `lockcctl run` holds the terminal of the shell it was
// started from. TIOCSTI would type into that terminal a line the shell
// reads once the command is gone: a way out of any confinement. The
// terminal here is a pty whose slave the test keeps open, as the shell
// would; the command is the escape probe's terminal-inject.
TEST_F(Containers, ACommandUnderLockcctlRunCannotTypeIntoTheShellItCameFrom) {
    for (const std::string level : {"baseline", "privileged"}) {
        SCOPED_TRACE(level);
        terminals::Pty terminal;
        ASSERT_EQ(terminal.error(), 0) << std::strerror(terminal.error());
        ASSERT_EQ(::fcntl(terminal.slave(), F_SETFL, O_NONBLOCK), 0);
        const std::string slave = ::ptsname(terminal.master());
        DenialListener listener(true);
        // setsid -c: a session of its own whose controlling terminal is
        // stdin, as a login shell's is.
        std::string command = "setsid -w -c lockcctl run --no-ask-password --level ";
        command += level;
        command += " --unit lockc-vm-tty-";
        command += level;
        command += ".scope -- env LOCKC_ESCAPE_TERMINAL=1 ";
        command += LOCKC_ESCAPE_PROBE;
        command += " terminal-inject < ";
        command += slave;
        const auto run = sh(command);
        std::array<char, 256> typed{};
        const auto n = ::read(terminal.slave(), typed.data(), typed.size());
        const std::string read_back(typed.data(), n > 0 ? static_cast<std::size_t>(n) : 0);
        if (level == "baseline") {
            EXPECT_NE(run.output.find("terminal-inject denied EPERM"), std::string::npos)
                << run.output;
            EXPECT_EQ(n, -1) << "the shell would read: " << read_back;
            EXPECT_TRUE(listener.wait_for(
                [](const DeniedSignal &d) {
                    return d.container == "lockc-vm-tty-baseline" && d.hook == "capable" &&
                           d.target == "terminal ioctl 0x5412" && d.comm == "terminal-inject";
                },
                std::chrono::seconds(10)))
                << listener.dump();
        } else {
            // Proof that the technique works on this kernel.
            EXPECT_NE(run.output.find("terminal-inject escaped"), std::string::npos) << run.output;
            EXPECT_EQ(read_back, terminals::kLine);
        }
    }
}

// Issue 5: `lockcctl monitor` follows denials of real containers, in both of
// its output forms, each line as it happens (not when the pipe is closed).
TEST_F(Containers, LockcctlMonitorShowsADenialOfARealContainer) {
    const std::string text = "/run/lockc-monitor.txt";
    const std::string json = "/run/lockc-monitor.json";
    (void)sh("rm -f " + text + " " + json);
    // Both run in the background until the test kills them; a monitor
    // that buffered its output would show nothing in the files meanwhile.
    ASSERT_EQ(sh("(timeout 300 lockcctl --no-pager monitor > " + text +
                 " 2>&1 &); "
                 "(timeout 300 lockcctl monitor --json > " +
                 json + " 2>&1 &)")
                  .status,
              0);
    const std::string name = "lockc-monitored";
    std::string id;
    // Subscribing takes a moment: repeat the denied read until a line shows.
    const bool seen = wait_until(
        [&] {
            (void)sh("docker rm -f " + name);
            (void)sh("docker run --name " + name + " " + kImage + " cat /sys/kernel/uevent_seqnum");
            id = container_id(name);
            const auto t = sh("grep -F -- '" + id.substr(0, 12) + "' " + text);
            const auto j = sh(R"(grep -F -- '"container":")" + id + R"("' )" + json);
            return id.size() == 64 && t.status == 0 && j.status == 0;
        },
        std::chrono::seconds(60));
    (void)sh("docker rm -f " + name);
    const auto text_out = sh("cat " + text).output;
    const auto json_out = sh("cat " + json).output;
    (void)sh("pkill -f 'lockcctl.*monitor'");
    ASSERT_TRUE(seen) << "text:\n" << text_out << "json:\n" << json_out;
    // One line per denial: the hook and the file it was denied.
    const auto line = sh("grep -F -- '" + id.substr(0, 12) + "' " + text + " | head -1").output;
    EXPECT_NE(line.find("file_open"), std::string::npos) << line;
    EXPECT_NE(line.find("uevent_seqnum"), std::string::npos) << line;
    const auto object =
        sh(R"(grep -F -- '"container":")" + id + R"("' )" + json + " | head -1").output;
    for (const std::string field :
         {R"("hook":"file_open")", R"("comm":"cat")", R"("time_usec":)"}) {
        EXPECT_NE(object.find(field), std::string::npos) << field << " in " << object;
    }
    EXPECT_NE(object.find("uevent_seqnum"), std::string::npos) << object;
}

} // namespace
} // namespace lockc::vmtest
