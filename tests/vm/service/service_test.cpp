// lockcd as installed: started by D-Bus activation through systemd, talking
// to the real system bus and polkit, and changing what the kernel allows.
#include "bus_support.hpp"
#include "vm_support.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <gtest/gtest.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <string>
#include <thread>

namespace lockc::vmtest {
namespace {

class ServiceTest : public ::testing::Test {
  protected:
    std::unique_ptr<sdbus::IConnection> bus_ = sdbus::createSystemBusConnection();

    std::unique_ptr<sdbus::IProxy> manager() {
        return sdbus::createProxy(*bus_, kBusName, kManagerPath);
    }

    void register_cgroup(const std::string &id, const std::string &level, const std::string &mode,
                         const TestCgroup &cg) {
        vmtest::register_cgroup(*manager(), id, level, mode, cg);
    }

    // Registered by the name its cgroup will have: pending until then.
    void register_scope(const std::string &id, const std::string &level, const std::string &scope) {
        sdbus::ObjectPath path;
        manager()
            ->callMethod("RegisterContainer")
            .onInterface(kManagerInterface)
            .withArguments(id, level, std::string("enforce"),
                           Options{{"scope", sdbus::Variant(scope)}})
            .storeResultsTo(path);
    }

    // The D-Bus error name of GetLevel (may start lockcd); "" if it answered.
    std::string get_level_error(const std::string &id) {
        try {
            (void)get("GetLevel", id);
            return "";
        } catch (const sdbus::Error &e) {
            return e.getName();
        }
    }

    void unregister(const std::string &id) { vmtest::unregister(*manager(), id); }

    void set(const std::string &method, const std::string &id, const std::string &value) {
        set_on(*manager(), method, id, value);
    }

    std::string get(const std::string &method, const std::string &id) {
        return get_on(*manager(), method, id);
    }

    // The D-Bus error name of `call` made by `nobody` on its own connection
    // ("" if it succeeded).
    static std::string error_as_nobody(const std::function<void(sdbus::IProxy &)> &call) {
        const auto report = call_in_child(nullptr, kNobody, call);
        return report.substr(0, report.find('\n'));
    }

    // The same as root, from a child that first moved itself into `cg`.
    static std::string error_in_cgroup(const TestCgroup &cg,
                                       const std::function<void(sdbus::IProxy &)> &call) {
        return call_in_child(&cg.path(), std::nullopt, call);
    }
};

// ---- In order: the first call starts lockcd ----

TEST_F(ServiceTest, ABusCallStartsLockcdWhichLoadsTheProgramsAndTellsSystemd) {
    EXPECT_NE(unit_property("ActiveState"), "active") << "lockcd runs before anyone asked for it";
    EXPECT_TRUE(loaded_lockc_programs().empty());
    const bool enforcing = manager_property(*manager(), "Enforcing").get<bool>();
    EXPECT_TRUE(enforcing);
    EXPECT_EQ(manager()
                  ->getProperty("EnforcementProblem")
                  .onInterface(kManagerInterface)
                  .get<std::string>(),
              "");
    EXPECT_EQ(unit_property("ActiveState"), "active");
    EXPECT_GT(main_pid(), 0);
    EXPECT_NE(unit_property("StatusText").find("Enforcing"), std::string::npos)
        << unit_property("StatusText");
    EXPECT_FALSE(loaded_lockc_programs().empty());
    const auto lsms = manager()
                          ->getProperty("KernelLsms")
                          .onInterface(kManagerInterface)
                          .get<std::vector<std::string>>();
    EXPECT_NE(std::find(lsms.begin(), lsms.end(), "bpf"), lsms.end());
    // Started at boot: the preset enables it for multi-user.target.
    EXPECT_EQ(sh("systemctl preset lockcd.service").status, 0);
    EXPECT_EQ(trimmed(sh("systemctl is-enabled lockcd.service").output), "enabled");
    EXPECT_NE(sh("systemctl show -p WantedBy --value lockcd.service; "
                 "systemctl list-dependencies --plain multi-user.target")
                  .output.find("lockcd.service"),
              std::string::npos);
}

TEST_F(ServiceTest, RegisteringACgroupChangesWhatTheKernelAllowsAtOnce) {
    TestCgroup cg("svc-register");
    ASSERT_EQ(sysrq_in(cg), 0) << "an unregistered cgroup is the host's";
    register_cgroup("svc-register", "baseline", "enforce", cg);
    EXPECT_EQ(sysrq_in(cg), EPERM);
    set("SetLevel", "svc-register", "privileged");
    EXPECT_EQ(sysrq_in(cg), 0);
    set("SetLevel", "svc-register", "restricted");
    EXPECT_EQ(sysrq_in(cg), EPERM);
    set("SetMode", "svc-register", "audit");
    EXPECT_EQ(sysrq_in(cg), 0);
    set("SetMode", "svc-register", "enforce");
    EXPECT_EQ(sysrq_in(cg), EPERM);
    unregister("svc-register");
    EXPECT_EQ(sysrq_in(cg), 0) << "an unregistered, not container-like cgroup is the host's again";
}

TEST_F(ServiceTest, DeniedSignalsReachSubscribersOnlyWithTheRightFields) {
    TestCgroup cg("svc-signal");
    register_cgroup("svc-signal", "baseline", "enforce", cg);
    DenialListener subscriber(true);
    DenialListener batched(true, "batched");
    DenialListener bystander(false);
    const auto before_usec =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    const auto r = run_child(&cg.path(), nullptr, open_sysrq);
    ASSERT_TRUE(r.ok);
    ASSERT_EQ(r.err, EPERM);
    pump(
        *subscriber.bus, [&] { return !subscriber.received.empty(); }, std::chrono::seconds(10));
    ASSERT_EQ(subscriber.received.size(), 1U);
    const auto &d = subscriber.received[0];
    EXPECT_EQ(d.container, "svc-signal");
    EXPECT_EQ(d.level, "baseline");
    EXPECT_EQ(d.mode, "enforce");
    EXPECT_EQ(d.hook, "file_open");
    EXPECT_EQ(d.target, "proc:/sysrq-trigger");
    EXPECT_EQ(d.pid, static_cast<std::uint32_t>(r.pid));
    EXPECT_EQ(d.uid, 0U);
    EXPECT_EQ(d.comm, "lockc-vm-servic"); // the driver's name, cut to TASK_COMM_LEN
    EXPECT_EQ(d.errnum, EPERM);
    EXPECT_GE(d.time + 1'000'000U, before_usec);
    EXPECT_LE(d.time, before_usec + 30'000'000U);
    // A batched subscriber gets the same denial, in a DeniedBatch signal.
    pump(
        *batched.bus, [&] { return !batched.received.empty(); }, std::chrono::seconds(10));
    ASSERT_EQ(batched.received.size(), 1U);
    EXPECT_EQ(batched.batch_signals, 1U);
    EXPECT_EQ(batched.denied_signals, 0U);
    EXPECT_EQ(batched.received[0], d);
    pump(
        *bystander.bus, [] { return false; }, std::chrono::milliseconds(1500));
    EXPECT_TRUE(bystander.received.empty()) << "a connection that did not subscribe got a denial";

    // Audit mode: reported, allowed, errnum 0.
    set("SetMode", "svc-signal", "audit");
    const auto audited = run_child(&cg.path(), nullptr, open_sysrq);
    EXPECT_EQ(audited.err, 0);
    pump(
        *subscriber.bus, [&] { return subscriber.received.size() >= 2; }, std::chrono::seconds(10));
    ASSERT_EQ(subscriber.received.size(), 2U);
    EXPECT_EQ(subscriber.received[1].mode, "audit");
    EXPECT_EQ(subscriber.received[1].errnum, 0);

    subscriber.proxy->callMethod("UnsubscribeDenials").onInterface(kManagerInterface);
    set("SetMode", "svc-signal", "enforce");
    EXPECT_EQ(sysrq_in(cg), EPERM);
    pump(
        *subscriber.bus, [] { return false; }, std::chrono::milliseconds(1500));
    EXPECT_EQ(subscriber.received.size(), 2U) << "denials kept coming after UnsubscribeDenials";
    unregister("svc-signal");
}

TEST_F(ServiceTest, CoalescedSubscribersGetRepeatsOnceWithTheirCountAndTimes) {
    TestCgroup cg("svc-coalesced");
    register_cgroup("svc-coalesced", "baseline", "enforce", cg);
    DenialListener coalesced(true, "coalesced");
    DenialListener batched(true, "batched");
    // One process, one denied path, many times: denials that differ only
    // in their time. Then one more from another process.
    constexpr int kRepeats = 200;
    const auto r = run_child(&cg.path(), nullptr, [] {
        int err = 0;
        for (int i = 0; i < kRepeats; ++i) {
            err = open_sysrq();
        }
        return err;
    });
    ASSERT_TRUE(r.ok);
    ASSERT_EQ(r.err, EPERM);
    const auto other = run_child(&cg.path(), nullptr, open_sysrq);
    ASSERT_EQ(other.err, EPERM);
    const auto total = [&] {
        std::uint64_t n = 0;
        for (const auto &rep : coalesced.repeats) {
            n += rep.count;
        }
        return n;
    };
    pump(
        *coalesced.bus, [&] { return total() >= kRepeats + 1; }, std::chrono::seconds(10));
    pump(
        *batched.bus, [&] { return batched.received.size() >= kRepeats + 1; },
        std::chrono::seconds(10));
    // The batched subscriber sees every denial: none was lost on the way.
    ASSERT_EQ(batched.received.size(), kRepeats + 1U) << batched.dump();
    EXPECT_EQ(total(), kRepeats + 1U) << coalesced.dump();
    EXPECT_EQ(coalesced.denied_signals + coalesced.batch_signals, 0U);
    // A window is 100 ms: the repeats span a few at most, never one each.
    EXPECT_LE(coalesced.received.size(), 10U) << coalesced.dump();
    std::uint64_t first = UINT64_MAX;
    std::uint64_t last = 0;
    std::uint64_t from_other = 0;
    for (std::size_t i = 0; i < coalesced.received.size(); ++i) {
        const auto &d = coalesced.received[i];
        const auto &rep = coalesced.repeats[i];
        EXPECT_LE(d.time, rep.last);
        if (d.pid == static_cast<std::uint32_t>(other.pid)) {
            from_other += rep.count;
            continue;
        }
        // Every field but the time is that of the denials it stands for.
        auto same = batched.received[0];
        same.time = d.time;
        EXPECT_EQ(d, same);
        first = std::min(first, d.time);
        last = std::max(last, rep.last);
    }
    EXPECT_EQ(from_other, 1U) << "another process's denial was merged with the repeats";
    EXPECT_EQ(first, batched.received.front().time);
    EXPECT_EQ(last, batched.received[kRepeats - 1].time);
    unregister("svc-coalesced");
}

TEST_F(ServiceTest, ADenialIsNamedAfterItsContainerEvenWhenItsCgroupIsAlreadyGone) {
    // Registered, as runtimes do, by the name its cgroup will have. The
    // cgroup is then made, denied something and removed while lockcd is
    // stopped (SIGSTOP): lockcd reads the event when the cgroup is gone,
    // and only the kernel entry's tag still says whose it was.
    sdbus::ObjectPath object;
    manager()
        ->callMethod("RegisterContainer")
        .onInterface(kManagerInterface)
        .withArguments(std::string("svc-gone"), std::string("baseline"), std::string("enforce"),
                       Options{{"scope", sdbus::Variant(std::string("svc-gone.scope"))}})
        .storeResultsTo(object);
    DenialListener subscriber(true);
    const pid_t lockcd = main_pid();
    ASSERT_GT(lockcd, 0);
    ASSERT_EQ(::kill(lockcd, SIGSTOP), 0);
    int err = -1;
    std::filesystem::path gone;
    {
        const TestCgroup cg("svc-gone.scope");
        gone = cg.path();
        err = sysrq_in(cg);
    }
    const bool removed = !std::filesystem::exists(gone);
    ::kill(lockcd, SIGCONT);
    EXPECT_EQ(err, EPERM) << "the name registered did not give the new cgroup its entry";
    ASSERT_TRUE(removed) << gone << " was not removed before lockcd could look";
    EXPECT_TRUE(subscriber.wait_for(
        [](const DeniedSignal &d) {
            return d.container == "svc-gone" && d.target == "proc:/sysrq-trigger";
        },
        std::chrono::seconds(10)))
        << subscriber.dump();
    try {
        unregister("svc-gone");
    } catch (const sdbus::Error &) {
        // lockcd may have forgotten it already: its cgroup came and went.
    }
}

TEST_F(ServiceTest, DenialsAreInTheJournalWithStructuredFields) {
    TestCgroup cg("svc-journal");
    register_cgroup("svc-journal", "restricted", "enforce", cg);
    ASSERT_EQ(sysrq_in(cg), EPERM);
    const std::string query =
        std::string("journalctl --no-pager -o cat --output-fields=LOCKC_HOOK,LOCKC_TARGET ") +
        "MESSAGE_ID=" + kDenialMessageId + " LOCKC_CONTAINER=svc-journal";
    CommandResult r;
    wait_until(
        [&] {
            r = sh(query);
            return r.output.find("sysrq-trigger") != std::string::npos;
        },
        std::chrono::seconds(15));
    EXPECT_NE(r.output.find("file_open"), std::string::npos) << r.output;
    EXPECT_NE(r.output.find("proc:/sysrq-trigger"), std::string::npos) << r.output;
    unregister("svc-journal");
}

TEST_F(ServiceTest, TheSystemPolkitDeniesAnOutsiderWhoCanStillRead) {
    TestCgroup cg("svc-polkit");
    register_cgroup("svc-polkit", "baseline", "enforce", cg);
    EXPECT_EQ(error_as_nobody([](sdbus::IProxy &p) {
                  std::string level;
                  p.callMethod("GetLevel")
                      .onInterface(kManagerInterface)
                      .withArguments(std::string("svc-polkit"))
                      .storeResultsTo(level);
              }),
              "");
    EXPECT_EQ(error_as_nobody([](sdbus::IProxy &p) {
                  p.callMethod("SetLevel")
                      .onInterface(kManagerInterface)
                      .withArguments(std::string("svc-polkit"), std::string("privileged"),
                                     Options{});
              }),
              "org.freedesktop.DBus.Error.AccessDenied");
    EXPECT_EQ(error_as_nobody([](sdbus::IProxy &p) {
                  p.callMethod("SubscribeDenials")
                      .onInterface(kManagerInterface)
                      .withArguments(Options{});
              }),
              "org.freedesktop.DBus.Error.AccessDenied");
    EXPECT_EQ(get("GetLevel", "svc-polkit"), "baseline");
    EXPECT_EQ(sysrq_in(cg), EPERM);
    unregister("svc-polkit");
}

TEST_F(ServiceTest, RootInsideAConfinedContainerCannotLiftItsConfinement) {
    TestCgroup cg("svc-jail");
    register_cgroup("svc-jail", "baseline", "enforce", cg);
    const auto lift = [](sdbus::IProxy &p) {
        p.callMethod("SetLevel")
            .onInterface(kManagerInterface)
            .withArguments(std::string("svc-jail"), std::string("privileged"), Options{});
    };
    // Enforcing, the kernel already refuses the system bus socket to the
    // container (sd-bus reports EPERM as AccessDenied).
    const auto enforced = error_in_cgroup(cg, lift);
    EXPECT_EQ(enforced.substr(0, enforced.find('\n')), "org.freedesktop.DBus.Error.AccessDenied");
    EXPECT_NE(enforced.find("Operation not permitted"), std::string::npos) << enforced;
    // In audit mode the kernel lets it connect; lockcd itself refuses.
    set("SetMode", "svc-jail", "audit");
    const auto audited = error_in_cgroup(cg, lift);
    EXPECT_EQ(audited.substr(0, audited.find('\n')), "org.freedesktop.DBus.Error.AccessDenied");
    EXPECT_NE(audited.find("runs confined (container svc-jail)"), std::string::npos) << audited;
    EXPECT_EQ(get("GetLevel", "svc-jail"), "baseline");
    set("SetMode", "svc-jail", "enforce");
    EXPECT_EQ(sysrq_in(cg), EPERM);
    unregister("svc-jail");

    // A container nobody registered, confined by the kernel's name pattern
    // (at the default level, in audit mode so that it reaches the bus).
    manager()
        ->callMethod("SetDefaultMode")
        .onInterface(kManagerInterface)
        .withArguments(std::string("audit"), Options{});
    {
        TestCgroup docker("docker-lockcvmtest.scope");
        const auto lower = error_in_cgroup(docker, [](sdbus::IProxy &p) {
            p.callMethod("SetDefaultLevel")
                .onInterface(kManagerInterface)
                .withArguments(std::string("privileged"), Options{});
        });
        EXPECT_NE(lower.find("runs confined (cgroup /lockc-test/docker-lockcvmtest.scope)"),
                  std::string::npos)
            << lower;
    }
    manager()
        ->callMethod("SetDefaultMode")
        .onInterface(kManagerInterface)
        .withArguments(std::string("enforce"), Options{});
    EXPECT_EQ(
        manager()->getProperty("DefaultLevel").onInterface(kManagerInterface).get<std::string>(),
        "baseline");
}

TEST_F(ServiceTest, RulesAddedByReloadApplyAtOnceAndGoAwayTheSameWay) {
    TestCgroup cg("svc-rules");
    register_cgroup("svc-rules", "baseline", "enforce", cg);
    const std::string secret = "/run/lockc-vm-secret";
    ASSERT_EQ(sh("echo s3cret >" + secret).status, 0);
    const auto open_secret = [&] {
        const auto r = run_child(&cg.path(), nullptr, [&] {
            const int fd = ::open(secret.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                return errno;
            }
            ::close(fd);
            return 0;
        });
        return r.ok ? r.err : -1;
    };
    ASSERT_EQ(open_secret(), 0);
    ASSERT_EQ(sh("cp /etc/lockc/lockc.toml /run/lockc.toml.orig && printf '[[rules]]\\nkind = "
                 "\"open\"\\npath = \"" +
                 secret +
                 "\"\\ndeny = [\"baseline\"]\\n' >> "
                 "/etc/lockc/lockc.toml")
                  .status,
              0);
    manager()->callMethod("Reload").onInterface(kManagerInterface).withArguments(Options{});
    EXPECT_EQ(open_secret(), EPERM);
    // A broken file changes nothing: the rule stays.
    ASSERT_EQ(sh("echo 'rules = 3' >> /etc/lockc/lockc.toml").status, 0);
    try {
        manager()->callMethod("Reload").onInterface(kManagerInterface).withArguments(Options{});
        ADD_FAILURE() << "a broken configuration was accepted";
    } catch (const sdbus::Error &e) {
        EXPECT_EQ(e.getName(), "org.lockc.Error.InvalidConfig");
        EXPECT_NE(e.getMessage().find("/etc/lockc/lockc.toml:"), std::string::npos)
            << e.getMessage();
    }
    EXPECT_EQ(open_secret(), EPERM);
    ASSERT_EQ(sh("cp /run/lockc.toml.orig /etc/lockc/lockc.toml").status, 0);
    manager()->callMethod("Reload").onInterface(kManagerInterface).withArguments(Options{});
    EXPECT_EQ(open_secret(), 0);
    unregister("svc-rules");
}

TEST_F(ServiceTest, KillNineNeverLapsesEnforcementAndSystemdRestartsIt) {
    TestCgroup cg("svc-kill");
    register_cgroup("svc-kill", "baseline", "enforce", cg);
    const pid_t old_pid = main_pid();
    ASSERT_GT(old_pid, 0);
    ASSERT_EQ(::kill(old_pid, SIGKILL), 0);
    // While lockcd is dead (and while it restarts) the pins keep enforcing.
    int checks = 0;
    bool always_denied = true;
    const bool restarted = wait_until(
        [&] {
            always_denied &= sysrq_in(cg) == EPERM;
            ++checks;
            const pid_t now = main_pid();
            return now > 0 && now != old_pid && unit_property("ActiveState") == "active";
        },
        std::chrono::seconds(60));
    EXPECT_TRUE(restarted) << "systemd did not restart lockcd";
    EXPECT_TRUE(always_denied) << "enforcement lapsed in one of " << checks << " checks";
    EXPECT_GE(checks, 1);
    EXPECT_EQ(get("GetLevel", "svc-kill"), "baseline");
    EXPECT_EQ(sysrq_in(cg), EPERM);
    unregister("svc-kill");
}

TEST_F(ServiceTest, IdleExitKeepsEnforcingAndReportsWhatHappenedMeanwhile) {
    TestCgroup cg("svc-idle");
    register_cgroup("svc-idle", "baseline", "enforce", cg);
    const std::string dropin_dir = "/run/systemd/system/lockcd.service.d";
    ASSERT_EQ(sh("mkdir -p " + dropin_dir +
                 " && printf '[Service]\\nExecStart=\\n"
                 "ExecStart=/usr/sbin/lockcd --exit-when-idle 2\\n' >" +
                 dropin_dir +
                 "/idle.conf"
                 " && systemctl daemon-reload && systemctl restart lockcd.service")
                  .status,
              0);
    EXPECT_TRUE(wait_until([] { return unit_property("ActiveState") == "inactive"; },
                           std::chrono::seconds(30)))
        << "lockcd did not exit when idle: " << unit_property("ActiveState");
    EXPECT_EQ(unit_property("Result"), "success");
    // Nobody is listening now; the kernel still decides and queues the event.
    const auto r = run_child(&cg.path(), nullptr, open_sysrq);
    EXPECT_EQ(r.err, EPERM);
    // The next call starts lockcd again, which reads what queued meanwhile.
    EXPECT_EQ(get("GetLevel", "svc-idle"), "baseline");
    const std::string query = std::string("journalctl --no-pager -o cat MESSAGE_ID=") +
                              kDenialMessageId +
                              " LOCKC_CONTAINER=svc-idle LOCKC_PID=" + std::to_string(r.pid);
    CommandResult found;
    EXPECT_TRUE(wait_until(
        [&] {
            found = sh(query);
            return found.output.find("sysrq-trigger") != std::string::npos;
        },
        std::chrono::seconds(15)))
        << "the denial made while lockcd was away never reached the journal: " << found.output;
    ASSERT_EQ(sh("rm -rf " + dropin_dir +
                 " && systemctl daemon-reload && systemctl restart lockcd.service")
                  .status,
              0);
    unregister("svc-idle");
}

TEST_F(ServiceTest, ACorruptRegistryNeverWeakensAContainer) {
    TestCgroup cg("svc-corrupt");
    register_cgroup("svc-corrupt", "restricted", "enforce", cg);
    ASSERT_EQ(sh("systemctl stop lockcd.service").status, 0);
    ASSERT_EQ(sh("truncate -s 20 /var/lib/lockc/registry.toml").status, 0);
    EXPECT_EQ(sysrq_in(cg), EPERM);
    // The next call starts lockcd: the file is set aside, the kernel's entry
    // kept and registered under the cgroup's name.
    EXPECT_EQ(get("GetLevel", "svc-corrupt"), "restricted");
    EXPECT_EQ(sysrq_in(cg), EPERM);
    EXPECT_EQ(sh("ls /var/lib/lockc | grep -q '^registry.toml.corrupt-'").status, 0);
    EXPECT_NE(
        sh("journalctl --no-pager -u lockcd.service -o cat").output.find("rebuilt the registry"),
        std::string::npos);
    unregister("svc-corrupt");
}

// A short container registered by name can start and end between two of
// lockcd's looks, or while lockcd is stopped: the pinned programs still
// bind the name to its cgroup. lockcd must then forget the registration,
// not give the name back to the kernel and wait forever for a cgroup its
// runtime will never create again (a ghost in ListContainers). A
// registration whose cgroup has not come yet is kept, still waiting.
TEST_F(ServiceTest, ARegistrationWhoseCgroupCameAndWentWhileLockcdWasStoppedIsForgotten) {
    register_scope("svc-came-and-went", "restricted", "svc-came-and-went.scope");
    register_scope("svc-still-waiting", "restricted", "svc-still-waiting.scope");
    ASSERT_EQ(sh("systemctl stop lockcd.service").status, 0);
    {
        TestCgroup short_lived("svc-came-and-went.scope");
        EXPECT_EQ(sysrq_in(short_lived), EPERM) << "the kernel bound the name without lockcd";
    }
    // The next call starts lockcd again.
    EXPECT_EQ(get_level_error("svc-came-and-went"), "org.lockc.Error.NotFound");
    EXPECT_NE(sh("journalctl --no-pager -u lockcd.service -o cat")
                  .output.find("svc-came-and-went: its cgroup svc-came-and-went.scope came and "
                               "went while lockcd was away"),
              std::string::npos);
    {
        TestCgroup again("svc-came-and-went.scope");
        EXPECT_EQ(sysrq_in(again), 0) << "the kernel still held the forgotten name";
    }
    EXPECT_EQ(get("GetLevel", "svc-still-waiting"), "restricted");
    TestCgroup late("svc-still-waiting.scope");
    EXPECT_EQ(sysrq_in(late), EPERM) << "a registration still waiting lost its name";
    unregister("svc-still-waiting");
}

TEST_F(ServiceTest, RestartAndAReloadOfThePinsKeepEveryContainersLevel) {
    TestCgroup strict("svc-keep-restricted");
    TestCgroup free("svc-keep-privileged");
    TestCgroup watched("svc-keep-audit");
    register_cgroup("svc-keep-restricted", "restricted", "enforce", strict);
    register_cgroup("svc-keep-privileged", "privileged", "enforce", free);
    register_cgroup("svc-keep-audit", "baseline", "audit", watched);
    const auto check_all = [&](const char *when) {
        EXPECT_EQ(get("GetLevel", "svc-keep-restricted"), "restricted") << when;
        EXPECT_EQ(get("GetLevel", "svc-keep-privileged"), "privileged") << when;
        EXPECT_EQ(get("GetMode", "svc-keep-audit"), "audit") << when;
        EXPECT_EQ(sysrq_in(strict), EPERM) << when;
        EXPECT_EQ(sysrq_in(free), 0) << when;
        EXPECT_EQ(sysrq_in(watched), 0) << when;
    };
    check_all("before");
    ASSERT_EQ(sh("systemctl restart lockcd.service").status, 0);
    check_all("after systemctl restart");
    // What a reboot does to the kernel side: stop lockcd, drop the pins
    // (the programs go away), then start it again by a bus call. The
    // registry alone must bring every level back.
    ASSERT_EQ(sh("systemctl stop lockcd.service").status, 0);
    Enforcer::uninstall(kDefaultPinDir);
    ASSERT_TRUE(
        wait_until([] { return loaded_lockc_programs().empty(); }, std::chrono::seconds(30)));
    EXPECT_EQ(sysrq_in(strict), 0) << "programs still enforce after they were unloaded";
    check_all("after the pins were dropped and lockcd started again");
    EXPECT_FALSE(loaded_lockc_programs().empty());
    for (const char *id : {"svc-keep-restricted", "svc-keep-privileged", "svc-keep-audit"}) {
        unregister(id);
    }
}

// Issue 5: `cmake --install` puts the four manual pages where man looks,
// and man shows each by its name, without warnings.
TEST(InstalledFiles, ManShowsEveryManualPage) {
    for (const std::string page :
         {"1 lockcctl", "8 lockcd", "5 lockc.toml", "5 org.lockc.Manager"}) {
        const auto where = sh("man -w " + page);
        EXPECT_EQ(where.status, 0) << page << ": " << where.output;
        EXPECT_TRUE(where.output.starts_with("/usr/share/man/")) << where.output;
        const auto shown = sh("MANWIDTH=80 man --warnings -P cat " + page + " 2>&1");
        EXPECT_EQ(shown.status, 0) << page;
        EXPECT_EQ(shown.output.find("warning"), std::string::npos) << shown.output;
        EXPECT_NE(shown.output.find("SEE ALSO"), std::string::npos) << page;
    }
}

} // namespace
} // namespace lockc::vmtest
