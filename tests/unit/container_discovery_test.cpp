// What lockcd reads from names alone (which engine a cgroup belongs to,
// where a scope for `lockcctl run` goes), and the path from a held runtime
// exec to a registered container: a real fanotify gate on a copy of
// /bin/true called runc, real bundles, a Service without the kernel's maps
// (this host's kernel has no BPF LSM; the VM tests the kernel's part).
#include "container_discovery.hpp"
#include "exec_support.hpp"
#include "policy.hpp"
#include "systemd_units.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <set>
#include <string>
#include <string_view>

namespace lockc {
namespace {

using namespace lockc::test;

const std::string kId = "4ec7c0df7a9a60ba48c496c906b44ac57609cfd09ee2854ffa112bfb2b9c371f";

TEST(ContainerNames, ScopesOfKnownEnginesNameTheirContainer) {
    const auto docker = container_of_cgroup_path("docker-" + kId + ".scope");
    ASSERT_TRUE(docker);
    EXPECT_EQ(docker->engine, "docker");
    EXPECT_EQ(docker->id, kId);
    EXPECT_EQ(container_of_cgroup_path("libpod-" + kId + ".scope")->engine, "podman");
    EXPECT_EQ(container_of_cgroup_path("cri-containerd-" + kId + ".scope")->engine, "kubernetes");
    EXPECT_EQ(container_of_cgroup_path("crio-" + kId + ".scope")->engine, "kubernetes");
    const auto scope = container_of_cgroup_path("/system.slice/docker-" + kId + ".scope");
    ASSERT_TRUE(scope);
    EXPECT_EQ(scope->id, kId);
}

TEST(ContainerNames, DirectoriesOfTheCgroupfsDriverNameTheirContainer) {
    const auto docker = container_of_cgroup_path("/docker/" + kId);
    ASSERT_TRUE(docker);
    EXPECT_EQ(docker->engine, "docker");
    EXPECT_EQ(docker->id, kId);
    const auto podman = container_of_cgroup_path("/libpod_parent/libpod-" + kId);
    ASSERT_TRUE(podman);
    EXPECT_EQ(podman->engine, "podman");
    EXPECT_EQ(podman->id, kId);
    // Only the runtime's ids: Docker keeps other directories there too.
    EXPECT_FALSE(container_of_cgroup_path("/docker/buildkit"));
    EXPECT_FALSE(container_of_cgroup_path("/docker/" + kId.substr(1)));
    EXPECT_FALSE(container_of_cgroup_path("/libpod_parent/conmon"));
    EXPECT_FALSE(container_of_cgroup_path("/elsewhere/" + kId)) << "the parent decides";
    EXPECT_FALSE(container_of_cgroup_path(kId)) << "no parent at all";
}

TEST(ContainerNames, EveryBuiltInPatternNamesItsEnginesContainers) {
    // One table gives the kernel its default patterns and lockcd the engine
    // of each: a container under any of them is found with that engine, not
    // shadowed by an earlier pattern of another.
    const std::set<std::string_view> engines = {"docker", "podman", "kubernetes"};
    for (const auto &[pattern, engine] : default_patterns()) {
        const std::string path =
            (pattern.parent.empty() ? "/system.slice/" : "/" + pattern.parent + "/") +
            pattern.prefix + kId + pattern.suffix;
        const auto named = container_of_cgroup_path(path);
        ASSERT_TRUE(named) << path;
        EXPECT_EQ(named->engine, engine) << path;
        EXPECT_EQ(named->id, kId) << path;
        EXPECT_TRUE(engines.contains(engine)) << engine;
    }
    EXPECT_EQ(default_settings().container_patterns.size(), default_patterns().size());
}

TEST(ContainerNames, OtherNamesAndMonitorsAreNotContainers) {
    EXPECT_FALSE(container_of_cgroup_path("docker.service"));
    EXPECT_FALSE(container_of_cgroup_path("docker-.scope")) << "no id";
    EXPECT_FALSE(container_of_cgroup_path("docker-" + kId + ".slice"));
    EXPECT_FALSE(container_of_cgroup_path("session-1.scope"));
    EXPECT_FALSE(container_of_cgroup_path("libpod-conmon-" + kId + ".scope"))
        << "podman's monitor runs in a scope of its own";
    EXPECT_FALSE(container_of_cgroup_path("docker-a b.scope")) << "not a valid id";
}

TEST(ContainerNames, BundlesOfUnknownContainersAreNotFound) {
    EXPECT_FALSE(find_bundle({"docker", "lockc-test-no-such-container"}));
    EXPECT_FALSE(find_bundle({"", kId}));
}

TEST(ScopeSlices, AScopeGoesIntoTheSliceItsCallerWasIn) {
    EXPECT_EQ(slice_for_cgroup("/user.slice/user-1000.slice/session-3.scope"), "user-1000.slice");
    EXPECT_EQ(slice_for_cgroup("/system.slice/ssh.service"), "system.slice");
    EXPECT_EQ(slice_for_cgroup("/machine.slice/machine-a.scope/payload"), "machine.slice");
    // A user's own manager places units below user@.service, not PID 1.
    EXPECT_EQ(slice_for_cgroup("/user.slice/user-1000.slice/user@1000.service/app.slice/x.scope"),
              "user-1000.slice");
    EXPECT_EQ(slice_for_cgroup("/"), "system.slice");
    EXPECT_EQ(slice_for_cgroup("/init.scope"), "system.slice");
}

// A Service with its own state and configuration, and a gate on its own
// "runc".
class Discovery : public ::testing::Test {
  protected:
    void SetUp() override {
        // Others may traverse and exec: one check runs the runtime as nobody.
        fs::permissions(tmp_.path(),
                        fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
        fs::permissions(runtime_, fs::perms::owner_all | fs::perms::group_exec |
                                      fs::perms::others_exec | fs::perms::group_read |
                                      fs::perms::others_read);
        std::ofstream(tmp_.path() / "lockc.toml")
            << "[kubernetes.namespaces]\nkube-system = \"privileged\"\nlocked = \"restricted\"\n";
        ServiceOptions options;
        options.config_file = tmp_.path() / "lockc.toml";
        options.state_dir = tmp_.path() / "state";
        fs::create_directory(options.state_dir); // systemd makes it (StateDirectory=)
        options.enforcer.pin_dir = tmp_.path() / "pins";
        options.allow_unenforced = true;
        service_ = std::make_unique<Service>(options);
        discovery_ = std::make_unique<ContainerDiscovery>(*service_);
    }

    // A bundle whose config.json has these annotations and cgroupsPath.
    fs::path bundle(const std::string &name, const std::string &annotations,
                    const std::string &cgroups_path) {
        auto dir = tmp_.path() / name;
        fs::create_directories(dir);
        std::ofstream(dir / "config.json")
            << R"({"ociVersion": "1.0.2", "annotations": {)" << annotations
            << R"(}, "linux": {"cgroupsPath": ")" << cgroups_path << "\"}}";
        return dir;
    }

    // Execs the runtime with `args` (as `uid`, from `cgroup` if given),
    // lets lockcd handle the held exec, and returns the runtime's status.
    int run(std::vector<std::string> args, uid_t uid = 0, const fs::path &cgroup = {}) {
        auto argv = c_argv(args);
        const auto binary = runtime_;
        Child child([&] {
            if (!cgroup.empty()) {
                std::ofstream(cgroup / "cgroup.procs") << ::getpid() << std::flush;
            }
            if (uid != 0 && (::setresgid(uid, uid, uid) != 0 || ::setresuid(uid, uid, uid) != 0)) {
                return 121;
            }
            ::execv(binary.c_str(), argv.data());
            return 127;
        });
        auto execs = wait_execs(gate_);
        EXPECT_EQ(execs.size(), 1U);
        for (auto &exec : execs) {
            discovery_->handle(exec);
        }
        return child.wait().value_or(-1);
    }

    [[nodiscard]] std::vector<std::string> ids() {
        std::vector<std::string> out;
        for (const auto *record : service_->containers()) {
            out.push_back(record->id);
        }
        return out;
    }

    TempDir tmp_;
    fs::path runtime_ = copy_true(tmp_.path() / "runc");
    ExecGate gate_{{runtime_}};
    std::unique_ptr<Service> service_;
    std::unique_ptr<ContainerDiscovery> discovery_;
};

TEST_F(Discovery, RootsCreateRegistersTheCgroupNameWithTheAnnotatedLevel) {
    const auto dir = bundle("b1", R"("org.lockc.level": "privileged", "org.lockc.mode": "audit")",
                            "system.slice:docker:c1");
    ASSERT_EQ(run({"runc", "--systemd-cgroup", "create", "--bundle", dir.string(), "c1"}), 0);
    const auto &record = service_->container("c1");
    EXPECT_EQ(record.level, Level::Privileged);
    EXPECT_EQ(record.mode, Mode::Audit);
    EXPECT_EQ(record.pending_name, "docker-c1.scope");
    EXPECT_EQ(record.runtime, "runc");
    EXPECT_EQ(service_->state_of(record), ContainerState::Pending);
    // Deleted before its cgroup ever appeared: forgotten.
    ASSERT_EQ(run({"runc", "delete", "--force", "c1"}), 0);
    EXPECT_TRUE(ids().empty());
}

TEST_F(Discovery, TheBundleIsFoundFromTheRuntimesWorkingDirectory) {
    const auto dir =
        bundle("b2", R"("io.kubernetes.cri.sandbox-namespace": "locked")", "/kubepods/pod1/c2");
    // `runc create ID` without --bundle: the bundle is runc's working
    // directory, here relative to the test's.
    ASSERT_EQ(::chdir(dir.c_str()), 0);
    const int status = run({"runc", "create", "c2"});
    ASSERT_EQ(::chdir("/"), 0);
    ASSERT_EQ(status, 0);
    const auto &record = service_->container("c2");
    EXPECT_EQ(record.level, Level::Restricted);
    EXPECT_EQ(record.pending_name, "c2");
    EXPECT_EQ(record.runtime, "kubernetes");
}

TEST_F(Discovery, AnotherUsersRuntimeChoosesNoLevel) {
    const auto dir = bundle("b3", R"("org.lockc.level": "privileged")", "system.slice:docker:c3");
    // It could otherwise reserve a privileged level for a name that root's
    // Docker creates later.
    EXPECT_EQ(run({"runc", "--systemd-cgroup", "create", "--bundle", dir.string(), "c3"}, 65534),
              0);
    EXPECT_TRUE(ids().empty());
}

TEST_F(Discovery, ARuntimeInsideAConfinedContainerChoosesNoLevel) {
    const auto root =
        service_->cgroup_mount() / ("lockc-test-discovery-" + std::to_string(::getpid()));
    ASSERT_TRUE(fs::create_directory(root));
    RegisterRequest request;
    request.id = "outer";
    request.level = Level::Baseline;
    request.location = CgroupPathLocation{root.string()};
    (void)service_->register_container(request);
    const auto dir = bundle("b4", R"("org.lockc.level": "privileged")", "/c4");
    const int status = run({"runc", "run", "--bundle", dir.string(), "c4"}, 0, root);
    ::rmdir(root.c_str());
    EXPECT_EQ(status, 0);
    EXPECT_EQ(ids(), std::vector<std::string>{"outer"});
}

TEST_F(Discovery, ABrokenBundleRegistersNothingAndTheRuntimeStillRuns) {
    const auto dir = tmp_.path() / "broken";
    fs::create_directories(dir);
    std::ofstream(dir / "config.json") << "{\"annotations\": {";
    EXPECT_EQ(run({"runc", "create", "--bundle", dir.string(), "c5"}), 0);
    EXPECT_EQ(run({"runc", "create", "--bundle", (tmp_.path() / "missing").string(), "c6"}), 0);
    EXPECT_EQ(run({"runc", "--help"}), 0);
    EXPECT_TRUE(ids().empty());
}

TEST_F(Discovery, AnExplicitRegistrationWinsOverTheBundle) {
    RegisterRequest request;
    request.id = "mine";
    request.level = Level::Restricted;
    request.location = ScopeNameLocation{"docker-c7.scope"};
    (void)service_->register_container(request);
    const auto dir = bundle("b7", R"("org.lockc.level": "privileged")", "system.slice:docker:c7");
    EXPECT_EQ(run({"runc", "--systemd-cgroup", "create", "--bundle", dir.string(), "c7"}), 0);
    EXPECT_EQ(ids(), std::vector<std::string>{"mine"});
    EXPECT_EQ(service_->container("mine").level, Level::Restricted);
}

} // namespace
} // namespace lockc
