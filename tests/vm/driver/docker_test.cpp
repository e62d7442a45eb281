// Real Docker (and runc) in the guest, with only the enforcer loaded and
// the default level baseline: the escapes of "containers do not contain"
// fail, ordinary containers work, and without lockc the escapes succeed.
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace lockc::vmtest {
namespace {

namespace fs = std::filesystem;

const std::string kImage = "lockc-test/busybox:latest";
const std::string kCliImage = "lockc-test/dockercli:latest";
const fs::path kVolume = "/home/lockc-volume";

// The three escapes, each a command that exits 0 only if the escape worked.
const std::string kReadHostSys = "docker run --rm " + kImage + " cat /sys/kernel/uevent_seqnum";
const std::string kChrootHostRoot =
    "docker run --rm -v /:/rootfs " + kImage + " chroot /rootfs /bin/sh -c 'test -d /etc/docker'";
const std::string kDockerSocket = "docker run --rm -v /var/run/docker.sock:/var/run/docker.sock " +
                                  kCliImage + " docker run --rm --privileged -v /:/host " + kImage +
                                  " test -d /host/etc/docker";

class Docker : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        const auto setup = sh(std::string(LOCKC_SOURCE_DIR) + "/tests/vm/guest/docker-setup.sh");
        ASSERT_EQ(setup.status, 0) << setup.output;
    }

    void SetUp() override {
        enforcer().configure(default_settings());
        (void)take_events();
    }

    // Events of containers (entries created by the scope-name pattern).
    static std::vector<Event> container_events() {
        std::vector<Event> out;
        for (const auto &e : take_events()) {
            const auto entry = enforcer().policy(e.policy_cgroup_id);
            if (!entry || entry->origin == LOCKC_ORIGIN_PATTERN) {
                out.push_back(e);
            }
        }
        return out;
    }

    static bool has_event(const std::vector<Event> &events, lockc_hook hook,
                          const std::string &target) {
        for (const auto &e : events) {
            if (e.hook == hook && e.target.find(target) != std::string::npos &&
                e.level == Level::Baseline && e.mode == Mode::Enforce) {
                return true;
            }
        }
        return false;
    }
};

TEST_F(Docker, OrdinaryContainerWorksWithoutAnyDenial) {
    const auto r = sh("docker run --rm " + kImage +
                      " sh -c 'echo ok > /tmp/f && cat /tmp/f && ls / >/dev/null && id -u'");
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("ok"), std::string::npos) << r.output;
    const auto events = container_events();
    EXPECT_TRUE(events.empty()) << describe_all(events);
}

TEST_F(Docker, VolumeUnderAnAllowedPathWorks) {
    fs::create_directories(kVolume);
    fs::remove(kVolume / "written");
    const auto r = sh("docker run --rm -v " + kVolume.string() + ":/data " + kImage +
                      " sh -c 'echo from-container > /data/written'");
    EXPECT_EQ(r.status, 0) << r.output;
    std::ifstream in(kVolume / "written");
    std::string text;
    in >> text;
    EXPECT_EQ(text, "from-container");
    const auto events = container_events();
    EXPECT_TRUE(events.empty()) << describe_all(events);
}

TEST_F(Docker, ReadingHostSysfsIsDenied) {
    const auto r = sh(kReadHostSys);
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("Operation not permitted"), std::string::npos) << r.output;
    const auto events = container_events();
    EXPECT_TRUE(has_event(events, LOCKC_HOOK_FILE_OPEN, "sysfs:/kernel/uevent_seqnum"))
        << describe_all(events);
}

TEST_F(Docker, BindMountingTheHostRootIsDenied) {
    const auto r = sh(kChrootHostRoot);
    EXPECT_NE(r.status, 0) << r.output;
    const auto events = container_events();
    EXPECT_TRUE(has_event(events, LOCKC_HOOK_SB_MOUNT, "/")) << describe_all(events);
}

TEST_F(Docker, TheDockerSocketCannotBeMountedIn) {
    const auto r = sh(kDockerSocket);
    EXPECT_NE(r.status, 0) << r.output;
    const auto events = container_events();
    EXPECT_TRUE(has_event(events, LOCKC_HOOK_SB_MOUNT, "docker.sock")) << describe_all(events);
}

TEST_F(Docker, PrivilegedContainerIsStillConfinedAtBaseline) {
    const auto r = sh("docker run --rm --privileged " + kImage +
                      " sh -c 'mkdir -p /d && mount -t debugfs none /d'");
    EXPECT_NE(r.status, 0) << r.output;
    const auto events = container_events();
    EXPECT_TRUE(has_event(events, LOCKC_HOOK_SB_KERN_MOUNT, "debugfs")) << describe_all(events);
}

// Without lockc the same commands escape: the tests above prove lockc is
// what stops them. Runs last in this suite (gtest keeps file order).
TEST_F(Docker, WithoutLockcTheEscapesSucceed) {
    enforcer().uninstall();
    close_enforcer();
    ASSERT_TRUE(
        wait_until([] { return loaded_lockc_programs().empty(); }, std::chrono::seconds(30)));
    const auto sys = sh(kReadHostSys);
    const auto root = sh(kChrootHostRoot);
    const auto sock = sh(kDockerSocket);
    reopen_enforcer();
    EXPECT_EQ(sys.status, 0) << sys.output;
    EXPECT_EQ(root.status, 0) << root.output;
    EXPECT_EQ(sock.status, 0) << sock.output;
}

} // namespace
} // namespace lockc::vmtest
