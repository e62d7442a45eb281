// lockcd when its own parts fail (issue 8): killed in the middle of a
// thousand registrations, polkit gone, its state directory read-only or
// full. Nothing is lost, nothing is invented, every refusal is clean, and the
// kernel keeps enforcing throughout.
#include "bus_support.hpp"
#include "cgroup.hpp"
#include "unique_fd.hpp"
#include "vm_support.hpp"

#include <bpf/bpf.h>

#include <sdbus-c++/sdbus-c++.h>

#include <gtest/gtest.h>

#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace lockc::vmtest {
namespace {

// The state files as lockcd sees them, with their contents' hashes.
std::string state_digest(const std::string &dir) {
    return sh("cd " + dir +
              " && find . -type f ! -name filler -print0 | sort -z | "
              "xargs -0r sha256sum")
        .output;
}

class Faults : public ::testing::Test {
  protected:
    void SetUp() override { ASSERT_EQ(sh("systemctl start lockcd").status, 0); }

    // Whatever a test did to lockcd's unit is undone, pass or fail.
    void TearDown() override {
        (void)sh("rm -f " + std::string(kDropins) +
                 "/*.conf && systemctl daemon-reload && systemctl reset-failed lockcd; "
                 "systemctl unmask --runtime polkit.service; systemctl start polkit lockcd; "
                 "umount " +
                 std::string(kSmallStateDir) + " 2>/dev/null");
    }

    static constexpr const char *kDropins = "/run/systemd/system/lockcd.service.d";
    static constexpr const char *kSmallStateDir = "/run/lockc-fault-small";

    std::unique_ptr<sdbus::IConnection> bus_ = sdbus::createSystemBusConnection();
    std::unique_ptr<sdbus::IProxy> manager_ = sdbus::createProxy(*bus_, kBusName, kManagerPath);

    std::set<std::string> registered_with_prefix(const std::string &prefix) {
        std::vector<bus::ContainerEntry> list;
        manager_->callMethod("ListContainers")
            .onInterface(kManagerInterface)
            .withTimeout(kStartTimeout)
            .storeResultsTo(list);
        std::set<std::string> ids;
        for (const auto &c : list) {
            if (std::get<0>(c).starts_with(prefix)) {
                ids.insert(std::get<0>(c));
            }
        }
        return ids;
    }

    void unregister(const std::string &id) { vmtest::unregister(*manager_, id); }

    // A drop-in for lockcd.service, applied by a restart; "" removes it.
    static void service_dropin(const std::string &name, const std::string &text) {
        const std::string dir = kDropins;
        const std::string file = dir + "/" + name + ".conf";
        const std::string write =
            text.empty() ? "rm -f " + file
                         : "mkdir -p " + dir + " && printf '%s\\n' '" + text + "' > " + file;
        const auto r = sh(write + " && systemctl daemon-reload && systemctl restart lockcd");
        ASSERT_EQ(r.status, 0) << r.output;
    }
};

// kill -9 while a client registers 1,000 cgroups one after the other: the
// calls that succeeded are all registered after the restart, and the
// registry and the kernel's policy map agree exactly on every one of the
// 1,000 (a registration whose call was cut off is in both or in neither).
//
// The kill must cut a call off, or the test proves nothing. A bare kill from
// outside lands between two calls now and then (lockcd had replied, the
// client's next call waits for the restarted lockcd and succeeds): CI saw
// 1,000 of 1,000 succeed once. So lockcd is stopped first, at whatever point
// of its work it has reached, and killed only once the client has been
// blocked on its call for a second: that call is in flight, and it alone
// fails. The calls after it start the new lockcd through the bus.
TEST_F(Faults, KillNineInTheMiddleOfAThousandRegistrationsLosesAndInventsNothing) {
    constexpr int kCount = 1000;
    constexpr int kKillAfter = 300;
    const std::string prefix = "fault-bulk-";
    TestCgroup parent("fault-bulk");
    std::vector<std::unique_ptr<TestCgroup>> cgroups;
    cgroups.reserve(kCount);
    for (int i = 0; i < kCount; ++i) {
        cgroups.push_back(std::make_unique<TestCgroup>(parent, "c" + std::to_string(i)));
    }
    const pid_t victim = main_pid();
    ASSERT_GT(victim, 0);

    std::vector<bool> succeeded(kCount, false);
    std::atomic<int> attempted{0};
    std::thread client([&] {
        auto bus = sdbus::createSystemBusConnection();
        auto manager = sdbus::createProxy(*bus, kBusName, kManagerPath);
        for (int i = 0; i < kCount; ++i) {
            try {
                register_cgroup(*manager, prefix + std::to_string(i), "restricted", "enforce",
                                *cgroups[i]);
                succeeded[i] = true;
            } catch (const sdbus::Error &) {
                // Cut off by the kill; the check below decides if it counts.
            }
            attempted.store(i + 1);
        }
    });
    const bool reached =
        wait_until([&] { return attempted.load() >= kKillAfter; }, std::chrono::seconds(300));
    ::kill(victim, SIGSTOP);
    const bool blocked = wait_until(
        [&, last = -1, still = 0]() mutable {
            const int now = attempted.load();
            still = now == last ? still + 1 : 0;
            last = now;
            return still >= 10; // 10 polls of 100 ms without progress
        },
        std::chrono::seconds(60));
    const int in_flight = attempted.load();
    ::kill(victim, SIGKILL);
    client.join();
    ASSERT_TRUE(reached);
    ASSERT_TRUE(blocked) << "the client kept going with lockcd stopped";
    ASSERT_TRUE(wait_until(
        [&] {
            const pid_t now = main_pid();
            return now > 0 && now != victim && unit_property("ActiveState") == "active";
        },
        std::chrono::seconds(120)));

    const auto registry = registered_with_prefix(prefix);
    std::map<std::uint64_t, PolicyEntry> kernel;
    {
        EnforcerOptions look;
        look.load_if_missing = false;
        for (auto &[cgroup, entry] : Enforcer::open(look).policies()) {
            kernel.emplace(cgroup, entry);
        }
    }
    int ok = 0;
    int lost = 0;
    int phantom = 0;
    int disagree = 0;
    for (int i = 0; i < kCount; ++i) {
        const std::string id = prefix + std::to_string(i);
        const bool in_registry = registry.contains(id);
        const auto it = kernel.find(cgroups[i]->id());
        const bool in_kernel = it != kernel.end();
        ok += succeeded[i] ? 1 : 0;
        if (succeeded[i] && !in_registry) {
            ++lost;
            ADD_FAILURE() << id << " was registered, then lost";
        }
        if (in_kernel && !in_registry) {
            ++phantom;
            ADD_FAILURE() << id << ": the kernel has an entry nobody registered";
        }
        if (in_registry && (!in_kernel || it->second.level != Level::Restricted ||
                            it->second.origin != LOCKC_ORIGIN_REGISTERED)) {
            ++disagree;
            ADD_FAILURE() << id << ": registered, but not restricted in the kernel";
        }
    }
    std::cout << "kill -9 during registration " << in_flight + 1 << " of " << kCount << ": " << ok
              << " calls succeeded, " << kCount - ok << " failed, " << registry.size()
              << " registered afterwards, " << lost << " lost, " << phantom << " phantom, "
              << disagree << " disagreeing\n";
    EXPECT_GE(in_flight, kKillAfter);
    if (in_flight < kCount) {
        EXPECT_FALSE(succeeded[in_flight]) << "the call in flight at the kill succeeded";
    } else {
        ADD_FAILURE() << "the client was done before the kill";
    }
    EXPECT_EQ(ok, kCount - 1) << "only the call in flight at the kill may fail";
    EXPECT_EQ(sysrq_in(*cgroups.front()), EPERM);
    for (const auto &id : registry) {
        unregister(id);
    }
    EXPECT_TRUE(registered_with_prefix(prefix).empty());
}

// polkit stopped (and masked, so that the bus cannot start it again):
// queries still answer, changes by a member of group lockc are refused with
// a message that says why, and nothing changes. root needs no polkit. Back
// with polkit, the member may change levels again.
TEST_F(Faults, WithPolkitGoneQueriesAnswerAndChangesAreRefused) {
    (void)sh("userdel lockc-fault-admin");
    ASSERT_EQ(sh("useradd --system --no-create-home -G lockc lockc-fault-admin").status, 0);
    const passwd *pw = ::getpwnam("lockc-fault-admin");
    ASSERT_NE(pw, nullptr);
    const uid_t admin = pw->pw_uid;
    TestCgroup cg("fault-polkit");
    register_cgroup(*manager_, "fault-polkit", "baseline", "enforce", cg);
    const auto as_admin = [&](const std::function<void(sdbus::IProxy &)> &call) {
        return call_in_child(nullptr, admin, call);
    };
    const auto set_to = [](const std::string &level) {
        return [level](sdbus::IProxy &p) { set_on(p, "SetLevel", "fault-polkit", level); };
    };
    EXPECT_EQ(as_admin(set_to("restricted")), "") << "a member of group lockc may change levels";
    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-polkit"), "restricted");

    ASSERT_EQ(sh("systemctl mask --runtime polkit.service && systemctl stop polkit.service").status,
              0);
    const auto refused = as_admin(set_to("privileged"));
    EXPECT_TRUE(refused.starts_with("org.freedesktop.DBus.Error.AccessDenied\n")) << refused;
    EXPECT_NE(refused.find("polkit is not available"), std::string::npos) << refused;
    EXPECT_EQ(as_admin([](sdbus::IProxy &p) { (void)get_on(p, "GetLevel", "fault-polkit"); }), "");
    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-polkit"), "restricted");
    EXPECT_EQ(sysrq_in(cg), EPERM);
    set_on(*manager_, "SetLevel", "fault-polkit", "baseline"); // root, without polkit
    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-polkit"), "baseline");

    ASSERT_EQ(
        sh("systemctl unmask --runtime polkit.service && systemctl start polkit.service").status,
        0);
    EXPECT_EQ(as_admin(set_to("privileged")), "");
    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-polkit"), "privileged");
    EXPECT_EQ(sysrq_in(cg), 0);
    unregister("fault-polkit");
    (void)sh("userdel lockc-fault-admin");
}

// /var/lib/lockc read-only for lockcd (as after a filesystem error): lockcd
// starts, answers, and keeps every container's level in the kernel; a change
// fails with a message that names the cause, and changes nothing.
TEST_F(Faults, AReadOnlyStateDirectoryFailsChangesCleanlyAndKeepsTheState) {
    TestCgroup kept("fault-ro-kept");
    TestCgroup refused("fault-ro-refused");
    register_cgroup(*manager_, "fault-ro-kept", "restricted", "enforce", kept);
    service_dropin("read-only-state", "[Service]\nReadOnlyPaths=/var/lib/lockc");
    const std::string state = "/proc/" + std::to_string(main_pid()) + "/root/var/lib/lockc";
    EXPECT_NE(sh("touch " + state + "/probe").status, 0) << "the directory is not read-only";
    const auto before = state_digest("/var/lib/lockc");

    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-ro-kept"), "restricted");
    EXPECT_EQ(sysrq_in(kept), EPERM);
    try {
        register_cgroup(*manager_, "fault-ro-refused", "restricted", "enforce", refused);
        ADD_FAILURE() << "a registration was accepted that could not be saved";
    } catch (const sdbus::Error &e) {
        EXPECT_EQ(e.getName(), "org.lockc.Error.Failed");
        EXPECT_NE(e.getMessage().find("Read-only file system"), std::string::npos)
            << e.getMessage();
    }
    EXPECT_EQ(sysrq_in(refused), 0) << "a refused registration reached the kernel";
    EXPECT_FALSE(registered_with_prefix("fault-ro-refused").contains("fault-ro-refused"));
    EXPECT_ANY_THROW(set_on(*manager_, "SetLevel", "fault-ro-kept", "privileged"));
    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-ro-kept"), "restricted");
    EXPECT_EQ(sysrq_in(kept), EPERM);
    EXPECT_EQ(state_digest("/var/lib/lockc"), before);

    service_dropin("read-only-state", "");
    register_cgroup(*manager_, "fault-ro-refused", "restricted", "enforce", refused);
    EXPECT_EQ(sysrq_in(refused), EPERM);
    unregister("fault-ro-refused");
    unregister("fault-ro-kept");
}

// /var/lib/lockc full (a small filesystem of its own, filled up). Writes
// that still fit (the journal's last page has room) are saved and count;
// the first change that does not fit fails cleanly and changes nothing, and
// the same change works once there is room again.
TEST_F(Faults, AFullStateDirectoryFailsChangesCleanlyAndRecovers) {
    constexpr int kAttempts = 100; // journal lines: far more than a page holds
    const std::string small = kSmallStateDir;
    TestCgroup kept("fault-full-kept");
    register_cgroup(*manager_, "fault-full-kept", "restricted", "enforce", kept);
    std::vector<std::unique_ptr<TestCgroup>> cgroups;
    cgroups.reserve(kAttempts);
    for (int i = 0; i < kAttempts; ++i) {
        cgroups.push_back(std::make_unique<TestCgroup>("fault-full-" + std::to_string(i)));
    }
    ASSERT_EQ(sh("systemctl stop lockcd").status, 0);
    ASSERT_EQ(sh("mkdir -p " + small + " && mount -t tmpfs -o size=256k,mode=0700 tmpfs " + small +
                 " && cp -a /var/lib/lockc/. " + small + "/")
                  .status,
              0);
    service_dropin("full-state", "[Service]\nBindPaths=" + small + ":/var/lib/lockc");
    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-full-kept"), "restricted");
    (void)sh("dd if=/dev/zero of=" + small + "/filler bs=4k 2>/dev/null");

    int refused = -1;
    for (int i = 0; i < kAttempts && refused < 0; ++i) {
        const std::string id = "fault-full-" + std::to_string(i);
        const auto before = state_digest(small);
        try {
            register_cgroup(*manager_, id, "restricted", "enforce", *cgroups[i]);
            EXPECT_EQ(sysrq_in(*cgroups[i]), EPERM) << id << " was saved, so it counts";
        } catch (const sdbus::Error &e) {
            refused = i;
            EXPECT_EQ(e.getName(), "org.lockc.Error.Failed");
            EXPECT_NE(e.getMessage().find("No space left on device"), std::string::npos)
                << e.getMessage();
            EXPECT_EQ(sysrq_in(*cgroups[i]), 0) << "a refused registration reached the kernel";
            EXPECT_EQ(state_digest(small), before) << "a refused registration changed the files";
            EXPECT_FALSE(registered_with_prefix(id).contains(id));
        }
    }
    ASSERT_GE(refused, 0) << "the full directory took " << kAttempts << " registrations";
    std::cout << "with the state directory full, " << refused
              << " registrations still fitted the journal's last page; the next was refused\n";
    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-full-kept"), "restricted");
    EXPECT_EQ(sysrq_in(kept), EPERM);

    (void)sh("rm -f " + small + "/filler");
    const std::string again = "fault-full-" + std::to_string(refused);
    register_cgroup(*manager_, again, "restricted", "enforce", *cgroups[refused]);
    EXPECT_EQ(sysrq_in(*cgroups[refused]), EPERM);
    for (const auto &id : registered_with_prefix("fault-full-")) {
        unregister(id);
    }
    // Back to the real directory, with what lockcd saved meanwhile.
    ASSERT_EQ(sh("systemctl stop lockcd && find /var/lib/lockc -mindepth 1 -delete && cp -a " +
                 small + "/. /var/lib/lockc/")
                  .status,
              0);
    service_dropin("full-state", "");
    EXPECT_EQ(sh("umount " + small).status, 0);
    EXPECT_TRUE(registered_with_prefix("fault-full-").empty());
}

// A task in a cgroup that tries a denied open every millisecond (often
// enough to see any gap a load could leave; not a flood) until stopped.
class DeniedOpenWatcher {
  public:
    explicit DeniedOpenWatcher(const TestCgroup &cgroup) {
        (void)sh("rm -f " + stop_file_ + " " + tally_file_);
        pid_ = ::fork();
        if (pid_ == 0) {
            std::ofstream(cgroup.path() / "cgroup.procs") << ::getpid() << std::flush;
            long attempts = 0;
            long allowed = 0;
            while (::access(stop_file_.c_str(), F_OK) != 0) {
                ++attempts;
                allowed += open_sysrq() == 0 ? 1 : 0;
                ::usleep(1000);
            }
            std::ofstream(tally_file_) << attempts << " " << allowed << std::flush;
            ::_exit(0);
        }
    }
    DeniedOpenWatcher(const DeniedOpenWatcher &) = delete;
    DeniedOpenWatcher &operator=(const DeniedOpenWatcher &) = delete;
    DeniedOpenWatcher(DeniedOpenWatcher &&) = delete;
    DeniedOpenWatcher &operator=(DeniedOpenWatcher &&) = delete;
    ~DeniedOpenWatcher() { (void)stop(); }

    [[nodiscard]] bool running() const { return pid_ > 0; }

    struct Tally {
        long attempts = -1;
        long allowed = -1;
    };
    // Stops the task; what it tried and what got through.
    Tally stop() {
        Tally tally;
        if (pid_ <= 0) {
            return tally;
        }
        (void)sh("touch " + stop_file_);
        ::waitpid(pid_, nullptr, 0);
        pid_ = -1;
        std::ifstream(tally_file_) >> tally.attempts >> tally.allowed;
        (void)sh("rm -f " + stop_file_ + " " + tally_file_);
        return tally;
    }

  private:
    std::string stop_file_ = "/run/lockc-fault-watcher.stop";
    std::string tally_file_ = "/run/lockc-fault-watcher.tally";
    pid_t pid_ = -1;
};

// Waits until no program of `before` is loaded and some are.
bool programs_replaced(const std::set<std::uint32_t> &before) {
    return wait_until(
        [&] {
            const auto now = loaded_lockc_program_ids();
            return !now.empty() &&
                   std::ranges::none_of(now, [&](std::uint32_t id) { return before.contains(id); });
        },
        std::chrono::seconds(30));
}

// Where lockcd pins `pin` ("links/...", "maps/...").
std::string pin_path(const std::string &pin) {
    return (std::filesystem::path(kDefaultPinDir) / pin).string();
}

// Pins the program link or map pinned at `pin` once more, as `retired`:
// what an earlier build with a program or map this one lacks leaves
// behind. Such a link keeps the old program attached until its pin goes.
bool pin_again(const std::string &pin, const std::string &retired) {
    const UniqueFd fd(bpf_obj_get(pin_path(pin).c_str()));
    return fd.valid() && bpf_obj_pin(fd.get(), pin_path(retired).c_str()) == 0;
}

bool pinned(const std::string &pin) {
    return ::access(pin_path(pin).c_str(), F_OK) == 0;
}

bool journal_has(const std::string &text) {
    return sh("journalctl --no-pager -u lockcd.service -o cat").output.find(text) !=
           std::string::npos;
}

// Upgrading lockc while containers run, as a package does: lockcd stops,
// a loader of another build of the BPF object (same ABI; the real build
// with LOCKC_TEST_VARIANT) takes over, then lockcd of this build starts and
// takes over back. Meanwhile a task in a registered restricted cgroup tries
// a denied open over and over: not one attempt gets through. Each takeover
// loads new programs (new ids) on the same maps, so the registered entry
// and one made by the container pattern both stay; a restart of the same
// build reuses the programs. The old build also had a program that the new
// one lacks (its link pinned under a name no program has): the takeover
// removes that pin, so none of the old programs stays attached.
TEST_F(Faults, AnUpgradeReplacesTheProgramsWithoutAMomentUnenforced) {
    TestCgroup registered("fault-upgrade");
    register_cgroup(*manager_, "fault-upgrade", "restricted", "enforce", registered);
    TestCgroup by_pattern("docker-0fa17c0de0upgrade.scope");
    ASSERT_EQ(sysrq_in(by_pattern), EPERM);
    DeniedOpenWatcher watcher(registered);
    ASSERT_TRUE(watcher.running());

    const auto first = loaded_lockc_program_ids();
    ASSERT_EQ(sh("systemctl stop lockcd").status, 0);
    ASSERT_TRUE(pin_again("links/lockc_file_open", "links/lockc_retired_hook"));
    const auto variant = sh(std::string(LOCKC_ENFORCER_VARIANT) + " load");
    EXPECT_EQ(variant.status, 0) << variant.output;
    EXPECT_NE(variant.output.find("replaced the pinned programs of another build"),
              std::string::npos)
        << variant.output;
    EXPECT_NE(variant.output.find("removed the retired pin links/lockc_retired_hook"),
              std::string::npos)
        << variant.output;
    EXPECT_FALSE(pinned("links/lockc_retired_hook"));
    EXPECT_TRUE(programs_replaced(first)) << "the variant build did not replace the programs";
    EXPECT_EQ(sysrq_in(by_pattern), EPERM);

    const auto second = loaded_lockc_program_ids();
    ASSERT_EQ(sh("systemctl start lockcd").status, 0);
    EXPECT_TRUE(programs_replaced(second)) << "lockcd did not replace the variant's programs";
    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-upgrade"), "restricted");
    EXPECT_EQ(sysrq_in(by_pattern), EPERM);
    EXPECT_TRUE(journal_has("replaced the BPF programs of another lockc build"));

    const auto third = loaded_lockc_program_ids();
    ASSERT_EQ(sh("systemctl restart lockcd").status, 0);
    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-upgrade"), "restricted");
    EXPECT_EQ(loaded_lockc_program_ids(), third) << "the same build loaded its programs again";

    const auto tally = watcher.stop();
    std::cout << "during two takeovers and a restart, " << tally.attempts
              << " denied opens were tried, " << tally.allowed << " got through\n";
    EXPECT_GT(tally.attempts, 100);
    EXPECT_EQ(tally.allowed, 0) << "enforcement lapsed during the upgrade";
    unregister("fault-upgrade");
}

// Upgrading to a lockc whose maps have another layout (another ABI): the
// attached programs' maps cannot be reused. lockcd loads its programs on
// new maps, fills them from its registry and from the cgroups that exist
// (as the cgroup_mkdir program would have), and only then attaches them;
// the old programs go when their pins are replaced. The old release is
// played by the ABI variant's loader, which first takes over from lockcd
// the same way (it has no registry, so the registered entry is then set
// through it, as the old lockcd would have). While lockcd takes over, a
// task in the registered restricted cgroup tries a denied open every
// millisecond: none gets through, and both entries hold afterwards. The old
// release also had a program and a map that this one lacks (pinned under
// names this build has none of): their pins go once lockc's programs are
// attached, so no old program stays attached and no old map stays pinned.
TEST_F(Faults, AnAbiChangeFillsTheNewMapsBeforeTheOldProgramsGo) {
    TestCgroup registered("fault-abi");
    register_cgroup(*manager_, "fault-abi", "restricted", "enforce", registered);
    TestCgroup by_pattern("docker-0fa17c0de0abi.scope");
    TestCgroup inside(by_pattern, "inner");
    ASSERT_EQ(sysrq_in(by_pattern), EPERM);

    const std::string old_release = LOCKC_ENFORCER_ABI_VARIANT;
    ASSERT_EQ(sh("systemctl stop lockcd").status, 0);
    const auto first = loaded_lockc_program_ids();
    const auto load = sh(old_release + " load");
    ASSERT_EQ(load.status, 0) << load.output;
    EXPECT_NE(load.output.find("replaced the pinned programs of ABI " +
                               std::to_string(LOCKC_ABI_VERSION)),
              std::string::npos)
        << load.output;
    EXPECT_TRUE(programs_replaced(first)) << "the other ABI's loader did not replace the programs";
    EXPECT_EQ(sysrq_in(by_pattern), EPERM) << "the other ABI did not classify a running container";
    EXPECT_EQ(sysrq_in(inside), EPERM);
    const auto relative = registered.path().lexically_relative(cgroup2_mount()).string();
    const auto set = sh(old_release + " set " + relative + " restricted");
    ASSERT_EQ(set.status, 0) << set.output;
    ASSERT_EQ(sysrq_in(registered), EPERM);
    ASSERT_TRUE(pin_again("links/lockc_file_open", "links/lockc_retired_hook"));
    ASSERT_TRUE(pin_again("maps/rule_summary", "maps/open_path_rules"));

    DeniedOpenWatcher watcher(registered);
    ASSERT_TRUE(watcher.running());
    ::usleep(200'000); // the watcher is trying before lockcd starts
    const auto second = loaded_lockc_program_ids();
    ASSERT_EQ(sh("systemctl start lockcd").status, 0);
    EXPECT_TRUE(programs_replaced(second)) << "lockcd did not replace the other ABI's programs";
    const auto tally = watcher.stop();
    std::cout << "while lockcd replaced programs of another ABI, " << tally.attempts
              << " denied opens were tried, " << tally.allowed << " got through\n";
    EXPECT_GT(tally.attempts, 50);
    EXPECT_EQ(tally.allowed, 0) << "enforcement lapsed during the ABI change";

    EXPECT_EQ(get_on(*manager_, "GetLevel", "fault-abi"), "restricted");
    EXPECT_EQ(sysrq_in(registered), EPERM);
    EXPECT_EQ(sysrq_in(by_pattern), EPERM);
    EXPECT_EQ(sysrq_in(inside), EPERM);
    EXPECT_TRUE(journal_has("with another map layout (ABI 1004, now " +
                            std::to_string(LOCKC_ABI_VERSION) + ")"));
    EXPECT_FALSE(pinned("links/lockc_retired_hook"));
    EXPECT_FALSE(pinned("maps/open_path_rules"));
    EXPECT_TRUE(journal_has("links/lockc_retired_hook"));
    EXPECT_TRUE(journal_has("maps/open_path_rules"));
    EXPECT_TRUE(pinned("maps/rule_summary"));
    // The pins are this ABI's now, and the old programs are gone: the next
    // start reuses everything.
    EnforcerOptions attach_only;
    attach_only.load_if_missing = false;
    const auto pinned = Enforcer::open(attach_only);
    EXPECT_EQ(pinned.settings().abi_version, static_cast<std::uint32_t>(LOCKC_ABI_VERSION));
    // (lockcd's discovery may since have registered it as a Docker
    // container: the level and phase are what count.)
    const auto entry = pinned.policy(by_pattern.id());
    ASSERT_TRUE(entry);
    EXPECT_EQ(entry->level, Level::Baseline);
    EXPECT_EQ(entry->phase, Phase::Running);
    EXPECT_FALSE(pinned.policy(inside.id())) << "a cgroup inside a container got its own entry";
    const auto third = loaded_lockc_program_ids();
    ASSERT_EQ(sh("systemctl restart lockcd").status, 0);
    EXPECT_EQ(loaded_lockc_program_ids(), third);
    unregister("fault-abi");
}

} // namespace
} // namespace lockc::vmtest
