// Containers as their runtimes describe them: runc and crun command lines
// as containerd, Docker and Podman write them (runtime_invocation.hpp);
// bundles, Docker labels, cgroup names, engines and the policy chosen from
// them (container_metadata.hpp).
#include "container_metadata.hpp"
#include "policy.hpp"
#include "runtime_invocation.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace lockc {
namespace {

namespace fs = std::filesystem;

const std::string kId = "3f4e2a1b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f";
const fs::path kCwd = "/run/user/0";

std::optional<RuntimeInvocation> parse(const std::vector<std::string> &argv,
                                       const fs::path &cwd = kCwd) {
    return parse_runtime_invocation(argv, cwd);
}

// --- runtime_invocation ---------------------------------------------------

TEST(RuntimeInvocation, DockerShimCreate) {
    const std::string bundle = "/run/containerd/io.containerd.runtime.v2.task/moby/" + kId;
    const auto inv = parse({"runc", "--root", "/var/run/docker/runtime-runc/moby", "--log",
                            bundle + "/log.json", "--log-format", "json", "--systemd-cgroup",
                            "create", "--bundle", bundle, "--pid-file", bundle + "/init.pid", kId});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->runtime, "runc");
    EXPECT_EQ(inv->command, "create");
    EXPECT_EQ(inv->container_id, kId);
    EXPECT_EQ(inv->bundle, fs::path(bundle));
    EXPECT_TRUE(inv->systemd_cgroup);
    EXPECT_TRUE(creates_container(*inv));
    EXPECT_FALSE(deletes_container(*inv));
}

TEST(RuntimeInvocation, DockerShimCreateWithConsoleSocketAndCgroupfs) {
    const std::string bundle = "/run/containerd/io.containerd.runtime.v2.task/moby/" + kId;
    const auto inv = parse({"/usr/bin/runc", "--root", "/var/run/docker/runtime-runc/moby", "--log",
                            bundle + "/log.json", "--log-format", "json", "create", "--bundle",
                            bundle, "--pid-file", bundle + "/init.pid", "--console-socket",
                            "/tmp/pty123/pty.sock", kId});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->runtime, "runc");
    EXPECT_FALSE(inv->systemd_cgroup);
    EXPECT_EQ(inv->container_id, kId);
    EXPECT_EQ(inv->bundle, fs::path(bundle));
}

TEST(RuntimeInvocation, PodmanCrunCreate) {
    const std::string bundle =
        "/var/lib/containers/storage/overlay-containers/" + kId + "/userdata";
    const auto inv =
        parse({"/usr/bin/crun", "--cgroup-manager", "systemd", "--root", "/run/crun", "create",
               "--bundle", bundle, "--pid-file", bundle + "/pidfile", "--no-new-keyring", kId});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->runtime, "crun");
    EXPECT_EQ(inv->command, "create");
    EXPECT_EQ(inv->container_id, kId);
    EXPECT_EQ(inv->bundle, fs::path(bundle));
    EXPECT_TRUE(inv->systemd_cgroup);
}

TEST(RuntimeInvocation, CrunCgroupManagerAndEqualsForms) {
    auto inv = parse({"crun", "--cgroup-manager=cgroupfs", "--log-level=debug", "--log=journald:x",
                      "--rootless=true", "create", "--bundle=/b", "--preserve-fds=2", kId});
    ASSERT_TRUE(inv);
    EXPECT_FALSE(inv->systemd_cgroup);
    EXPECT_EQ(inv->bundle, fs::path("/b"));

    // The last manager wins, as in crun.
    inv =
        parse({"crun", "--systemd-cgroup", "--cgroup-manager", "disabled", "run", "-b", "/b", kId});
    ASSERT_TRUE(inv);
    EXPECT_FALSE(inv->systemd_cgroup);
    inv = parse({"crun", "--cgroup-manager=systemd", "run", "-b/b2", "-d", kId});
    ASSERT_TRUE(inv);
    EXPECT_TRUE(inv->systemd_cgroup);
    EXPECT_EQ(inv->bundle, fs::path("/b2"));

    // crun refuses other managers.
    EXPECT_FALSE(parse({"crun", "--cgroup-manager", "yes", "create", kId}));
}

TEST(RuntimeInvocation, CrunShortOptionClusters) {
    // argp: "-db /b" is -d then -b with the next argument.
    auto inv = parse({"crun", "run", "-db", "/b", kId});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->bundle, fs::path("/b"));
    // "-b=x" is the bundle "=x" for argp, relative to the cwd.
    inv = parse({"crun", "create", "-b=x", kId}, "/w");
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->bundle, fs::path("/w/=x"));
}

TEST(RuntimeInvocation, CrunRootlessNeedsAnAttachedValue) {
    // crun versions disagree on whether a bare --rootless takes the next
    // argument; the command cannot be told.
    EXPECT_FALSE(parse({"crun", "--rootless", "create", "--bundle", "/b", kId}));
    EXPECT_TRUE(parse({"crun", "--rootless=false", "create", "--bundle", "/b", kId}));
}

TEST(RuntimeInvocation, CrunStopsAtTheId) {
    // ARGP_IN_ORDER: options after the id are arguments, and create takes
    // exactly one.
    EXPECT_FALSE(parse({"crun", "create", kId, "--bundle", "/b"}));
    const auto inv = parse({"crun", "create", "--", kId}, "/w");
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->container_id, kId);
    EXPECT_EQ(inv->bundle, fs::path("/w"));
}

TEST(RuntimeInvocation, CrunFlagWithValueIsRefused) {
    EXPECT_FALSE(parse({"crun", "--debug=1", "create", "--bundle", "/b", kId}));
    EXPECT_FALSE(parse({"crun", "create", "--no-pivot=1", "--bundle", "/b", kId}));
}

TEST(RuntimeInvocation, CrunConfigAndRegexAreNotUnderstood) {
    // --config moves config.json out of the bundle; --regex makes the id a
    // pattern.
    EXPECT_FALSE(parse({"crun", "create", "--config", "/x.json", "--bundle", "/b", kId}));
    EXPECT_FALSE(parse({"crun", "create", "-f", "/x.json", "--bundle", "/b", kId}));
    EXPECT_FALSE(parse({"crun", "delete", "--regex", "abc.*"}));
}

TEST(RuntimeInvocation, RelativeBundleIsResolvedAgainstCwd) {
    auto inv = parse({"runc", "run", "-b", "bundle", "mycontainer"}, "/home/user/work");
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->command, "run");
    EXPECT_EQ(inv->container_id, "mycontainer");
    EXPECT_EQ(inv->bundle, fs::path("/home/user/work/bundle"));
    EXPECT_TRUE(creates_container(*inv));

    // "." and empty components go; ".." stays (the runtime chdir()s, which
    // follows symlinks).
    inv = parse({"runc", "run", "-b", "./a//b/../c/", "x"}, "/w");
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->bundle, fs::path("/w/a/b/../c"));
}

TEST(RuntimeInvocation, BundleDefaultsToCwd) {
    auto inv = parse({"runc", "create", "abc"}, "/srv/bundles/abc");
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->bundle, fs::path("/srv/bundles/abc"));
    // runc: an empty --bundle is no --bundle.
    inv = parse({"runc", "create", "--bundle=", "abc"}, "/srv/x");
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->bundle, fs::path("/srv/x"));
    // Without an absolute cwd a relative bundle cannot be placed.
    EXPECT_FALSE(parse({"runc", "create", "abc"}, "relative"));
    EXPECT_FALSE(parse({"runc", "create", "-b", "b", "abc"}, ""));
    // An absolute one can.
    EXPECT_TRUE(parse({"runc", "create", "-b", "/b", "abc"}, ""));
}

TEST(RuntimeInvocation, RuncEqualsAndSingleDashForms) {
    // Go's flag package: "-x" and "--x" alike, "=value" for any flag.
    auto inv = parse({"runc", "-root=/r", "--log=/l", "-systemd-cgroup", "create", "-bundle=/b",
                      "--pid-file=/p", kId});
    ASSERT_TRUE(inv);
    EXPECT_TRUE(inv->systemd_cgroup);
    EXPECT_EQ(inv->bundle, fs::path("/b"));
    inv = parse({"runc", "create", "--b", "/b2", kId});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->bundle, fs::path("/b2"));
    // The last --bundle wins.
    inv = parse({"runc", "create", "--bundle=/b3", "-b", "/b4", kId});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->bundle, fs::path("/b4"));
}

TEST(RuntimeInvocation, RuncBooleanValues) {
    auto inv = parse({"runc", "--systemd-cgroup=false", "create", "-b", "/b", kId});
    ASSERT_TRUE(inv);
    EXPECT_FALSE(inv->systemd_cgroup);
    inv = parse({"runc", "--systemd-cgroup=T", "create", "--no-pivot=true", "-b", "/b", kId});
    ASSERT_TRUE(inv);
    EXPECT_TRUE(inv->systemd_cgroup);
    // Not a Go bool: runc refuses the command line.
    EXPECT_FALSE(parse({"runc", "--systemd-cgroup=yes", "create", "-b", "/b", kId}));
    EXPECT_FALSE(parse({"runc", "create", "--no-pivot=maybe", "-b", "/b", kId}));
    // A bool does not take the next argument: "false" is the id here.
    inv = parse({"runc", "--debug", "create", "--no-pivot", "false"}, "/w");
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->container_id, "false");
}

TEST(RuntimeInvocation, RuncReordersOptionsAfterTheId) {
    // urfave/cli v1 moves flags before arguments (checked against runc 1.1.5).
    auto inv = parse({"runc", "create", kId, "--bundle", "/b"});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->container_id, kId);
    EXPECT_EQ(inv->bundle, fs::path("/b"));
    inv = parse({"runc", "create", kId, "--no-pivot", "-b", "/b2"});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->bundle, fs::path("/b2"));
    // ... but keeps the argument after a flag without "=" in place: runc
    // then sees three arguments and fails.
    EXPECT_FALSE(parse({"runc", "create", "--no-pivot", kId, "-b", "/b"}));
    // A "--" after the id moves to the front and ends the flags.
    inv = parse({"runc", "create", kId, "--"}, "/w");
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->bundle, fs::path("/w"));
    EXPECT_FALSE(parse({"runc", "create", kId, "--", "--bundle", "/b"}));
    // A value that looks like a flag is still the value.
    inv = parse({"runc", "create", kId, "--pid-file", "-b"}, "/w");
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->bundle, fs::path("/w"));
}

TEST(RuntimeInvocation, RuncSyntaxErrors) {
    EXPECT_FALSE(parse({"runc", "create", "---b", "/b", kId}));
    EXPECT_FALSE(parse({"runc", "create", "-b"}));
    EXPECT_FALSE(parse({"runc", "--root"}));
    EXPECT_FALSE(parse({"runc", "-=x", "create", kId}));
}

TEST(RuntimeInvocation, DeleteAndKill) {
    auto inv = parse({"runc", "--root", "/run/runc", "delete", "--force", kId});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->command, "delete");
    EXPECT_EQ(inv->container_id, kId);
    EXPECT_TRUE(inv->bundle.empty());
    EXPECT_TRUE(deletes_container(*inv));
    EXPECT_FALSE(creates_container(*inv));

    inv = parse({"crun", "delete", "-f", kId});
    ASSERT_TRUE(inv);
    EXPECT_TRUE(deletes_container(*inv));
    // delete takes exactly one id.
    EXPECT_FALSE(parse({"runc", "delete", "a", "b"}));
    EXPECT_FALSE(parse({"runc", "delete"}));

    // kill: the signal follows the id.
    inv = parse({"runc", "kill", "--all", kId, "KILL"});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->command, "kill");
    EXPECT_EQ(inv->container_id, kId);
    EXPECT_FALSE(deletes_container(*inv));
    inv = parse({"crun", "kill", kId, "9"});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->container_id, kId);
}

TEST(RuntimeInvocation, ExecStopsAtTheId) {
    // What follows the id is the command, flags included.
    auto inv = parse({"runc", "exec", "--tty", "-e", "A=1", "--user", "0:0", "--cwd", "/", kId,
                      "ls", "--bundle", "/x"});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->command, "exec");
    EXPECT_EQ(inv->container_id, kId);
    EXPECT_TRUE(inv->bundle.empty());
    EXPECT_FALSE(creates_container(*inv));
    inv = parse({"crun", "exec", "--tty=false", "-p", "/p.json", "--detach", kId});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->container_id, kId);
}

TEST(RuntimeInvocation, InitAndOtherCommandsWithoutId) {
    auto inv = parse({"runc", "init"});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->command, "init");
    EXPECT_TRUE(inv->container_id.empty());
    EXPECT_TRUE(inv->bundle.empty());
    EXPECT_FALSE(creates_container(*inv));
    EXPECT_FALSE(deletes_container(*inv));
    inv = parse({"runc", "--root", "/run/runc", "list"});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->command, "list");
    EXPECT_TRUE(inv->container_id.empty());
}

TEST(RuntimeInvocation, UnknownOptions) {
    // Unknown global: it may take a value, so the command is unknown.
    EXPECT_FALSE(parse({"runc", "--frobnicate", "create", "-b", "/b", kId}));
    EXPECT_FALSE(parse({"crun", "--frobnicate", "create", "-b", "/b", kId}));
    // Unknown option of create, run or delete: the id would be a guess.
    EXPECT_FALSE(parse({"runc", "create", "--frobnicate", "x", kId}));
    EXPECT_FALSE(parse({"runc", "run", "-z", kId}));
    EXPECT_FALSE(parse({"runc", "delete", "--frobnicate", kId}));
    EXPECT_FALSE(parse({"crun", "create", "-Z", kId}));
    // Elsewhere it is skipped.
    const auto inv = parse({"runc", "state", "--frobnicate", kId});
    ASSERT_TRUE(inv);
    EXPECT_EQ(inv->command, "state");
    EXPECT_EQ(inv->container_id, kId);
}

TEST(RuntimeInvocation, HelpAndVersionDoNothing) {
    EXPECT_FALSE(parse({"runc", "--version"}));
    EXPECT_FALSE(parse({"runc", "-v", "create", kId}));
    EXPECT_FALSE(parse({"runc", "--help", "create", kId}));
    EXPECT_FALSE(parse({"runc", "create", "-b", "/b", kId, "--help"}));
    EXPECT_FALSE(parse({"crun", "create", "-?", kId}));
    EXPECT_FALSE(parse({"crun", "-V"}));
}

TEST(RuntimeInvocation, NoCommand) {
    EXPECT_FALSE(parse({}));
    EXPECT_FALSE(parse({"runc"}));
    EXPECT_FALSE(parse({"runc", "--root", "/r", "--debug"}));
    EXPECT_FALSE(parse({"", "create", kId}));
    // create and run need an id.
    EXPECT_FALSE(parse({"runc", "create", "--bundle", "/b"}));
}

TEST(RuntimeInvocation, BadIds) {
    EXPECT_FALSE(parse({"runc", "create", "-b", "/b", "a/b"}));
    EXPECT_FALSE(parse({"runc", "create", "-b", "/b", "a b"}));
    EXPECT_FALSE(parse({"runc", "create", "-b", "/b", "a\nb"}));
    EXPECT_FALSE(parse({"runc", "create", "-b", "/b", "caf\xc3\xa9"}));
    EXPECT_FALSE(parse({"runc", "create", "-b", "/b", ".."}));
    EXPECT_FALSE(parse({"runc", "create", "-b", "/b", ""}));
    EXPECT_FALSE(parse({"runc", "delete", std::string(256, 'a')}));
    EXPECT_TRUE(parse({"runc", "delete", std::string(255, 'a')}));
    EXPECT_FALSE(parse({"crun", "kill", "x\x7f", "KILL"}));
}

TEST(RuntimeInvocation, IsCrun) {
    EXPECT_TRUE(is_crun("crun"));
    EXPECT_TRUE(is_crun("crun-wasm"));
    EXPECT_TRUE(is_crun("krun"));
    EXPECT_FALSE(is_crun("runc"));
    EXPECT_FALSE(is_crun("crunchy"));
}

// --- bundles and Docker configs -------------------------------------------

class TempDir : public ::testing::Test {
  protected:
    void SetUp() override {
        std::random_device random;
        dir_ = fs::temp_directory_path() / ("lockc-metadata-test-" + std::to_string(::getpid()) +
                                            "-" + std::to_string(random()));
        fs::create_directories(dir_);
    }
    void TearDown() override {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
    static void write(const fs::path &path, std::string_view text) {
        fs::create_directories(path.parent_path());
        std::ofstream(path, std::ios::binary | std::ios::trunc)
            .write(text.data(), static_cast<std::streamsize>(text.size()));
    }
    // What read_bundle threw (its message), or "" if it did not throw.
    [[nodiscard]] std::string bundle_error() const {
        try {
            (void)read_bundle(dir_);
        } catch (const MetadataError &e) {
            return e.what();
        }
        return {};
    }
    fs::path dir_;
};

using Bundle = TempDir;
using DockerLabels = TempDir;
using RuncState = TempDir;

TEST_F(Bundle, ReadsAnnotationsAndCgroupsPath) {
    write(dir_ / "config.json", R"({
        "ociVersion": "1.0.2-dev",
        "process": {"args": ["sh"], "cwd": "/"},
        "root": {"path": "rootfs"},
        "annotations": {
            "org.lockc.level": "restricted",
            "io.container.manager": "libpod",
            "weird": "caf\u00e9"
        },
        "linux": {
            "cgroupsPath": "system.slice:docker:abc",
            "namespaces": [{"type": "pid"}]
        }
    })");
    const auto spec = read_bundle(dir_);
    EXPECT_EQ(spec.cgroups_path, "system.slice:docker:abc");
    EXPECT_EQ(spec.annotations.size(), 3U);
    EXPECT_EQ(spec.annotations.at("org.lockc.level"), "restricted");
    EXPECT_EQ(spec.annotations.at("io.container.manager"), "libpod");
    EXPECT_EQ(spec.annotations.at("weird"), "caf\xc3\xa9");
}

TEST_F(Bundle, IgnoresAnnotationsThatAreNotStrings) {
    write(dir_ / "config.json", R"({"annotations": {
        "a": 1, "b": true, "c": null, "d": {"x": "y"}, "e": ["f"], "g": "kept"}})");
    const auto spec = read_bundle(dir_);
    ASSERT_EQ(spec.annotations.size(), 1U);
    EXPECT_EQ(spec.annotations.at("g"), "kept");
}

TEST_F(Bundle, NoLinuxSectionOrNulls) {
    write(dir_ / "config.json", R"({"ociVersion": "1.0.0"})");
    auto spec = read_bundle(dir_);
    EXPECT_TRUE(spec.cgroups_path.empty());
    EXPECT_TRUE(spec.annotations.empty());
    // Go reads null as empty.
    write(dir_ / "config.json",
          R"({"annotations": null, "linux": {"cgroupsPath": null, "devices": []}})");
    spec = read_bundle(dir_);
    EXPECT_TRUE(spec.cgroups_path.empty());
    EXPECT_TRUE(spec.annotations.empty());
}

TEST_F(Bundle, MissingFile) {
    const auto error = bundle_error();
    EXPECT_NE(error.find((dir_ / "config.json").string()), std::string::npos) << error;
    EXPECT_NE(error.find("No such file"), std::string::npos) << error;
}

TEST_F(Bundle, MalformedJson) {
    for (const std::string_view text :
         {R"({"annotations": {"a": "b",}})", "", "{", "\xff\xfe", R"({"a": "\ud800"})",
          "{\"a\": \"b\xff\"}", R"({"a": 1e999})", "{} trailing"}) {
        write(dir_ / "config.json", text);
        const auto error = bundle_error();
        EXPECT_NE(error.find((dir_ / "config.json").string() + ": not valid JSON"),
                  std::string::npos)
            << "for " << text << ": " << error;
    }
}

TEST_F(Bundle, NotAnOciSpec) {
    for (const std::string_view text :
         {R"([1, 2])", R"("text")", R"({"annotations": ["a"]})", R"({"annotations": "a"})",
          R"({"linux": "x"})", R"({"linux": {"cgroupsPath": 5}})"}) {
        write(dir_ / "config.json", text);
        const auto error = bundle_error();
        EXPECT_NE(error.find((dir_ / "config.json").string()), std::string::npos)
            << "for " << text << ": " << error;
        EXPECT_EQ(error.find("not valid JSON"), std::string::npos) << error;
    }
}

TEST_F(Bundle, TooBig) {
    constexpr std::size_t kLimit = std::size_t{8} << 20U;
    // Valid JSON of exactly 8 MiB is read...
    std::string text = R"({"annotations": {"org.lockc.level": "baseline"}, "pad": ")";
    text += std::string(kLimit - text.size() - 2, 'x');
    text += "\"}";
    ASSERT_EQ(text.size(), kLimit);
    write(dir_ / "config.json", text);
    EXPECT_EQ(read_bundle(dir_).annotations.at("org.lockc.level"), "baseline");
    // ... one byte more is not.
    text.insert(text.size() - 2, "x");
    write(dir_ / "config.json", text);
    const auto error = bundle_error();
    EXPECT_NE(error.find("larger than 8 MiB"), std::string::npos) << error;
}

TEST_F(Bundle, DeepNestingIsRefused) {
    write(dir_ / "config.json", std::string(100000, '[') + std::string(100000, ']'));
    EXPECT_NE(bundle_error().find("nested deeper than"), std::string::npos);
    // Brackets inside strings do not count.
    write(dir_ / "config.json",
          R"({"annotations": {"x": ")" + std::string(1000, '[') + R"(\"["}})");
    EXPECT_EQ(read_bundle(dir_).annotations.at("x"), std::string(1000, '[') + "\"[");
}

TEST_F(Bundle, NotARegularFile) {
    // A FIFO must not block the daemon (the runtime waits for it).
    ASSERT_EQ(::mkfifo((dir_ / "config.json").c_str(), 0600), 0);
    EXPECT_NE(bundle_error().find("not a regular file"), std::string::npos);
    fs::remove(dir_ / "config.json");
    fs::create_directory(dir_ / "config.json");
    EXPECT_NE(bundle_error().find("not a regular file"), std::string::npos);
}

TEST_F(DockerLabels, Present) {
    write(dir_ / "containers" / kId / "config.v2.json",
          R"({"ID": ")" + kId + R"(", "Config": {"Hostname": "h", "Labels": {
              "org.lockc.level": "privileged", "com.example.n": 3, "maintainer": "me"}}})");
    const auto labels = read_docker_labels(dir_, kId);
    ASSERT_EQ(labels.size(), 2U);
    EXPECT_EQ(labels.at("org.lockc.level"), "privileged");
    EXPECT_EQ(labels.at("maintainer"), "me");
}

TEST_F(DockerLabels, AbsentFileOrLabels) {
    EXPECT_TRUE(read_docker_labels(dir_, kId).empty());
    EXPECT_TRUE(read_docker_labels(dir_ / "no-such-root", kId).empty());
    write(dir_ / "containers" / kId / "config.v2.json", R"({"Config": {"Labels": null}})");
    EXPECT_TRUE(read_docker_labels(dir_, kId).empty());
    write(dir_ / "containers" / kId / "config.v2.json", R"({"Config": {}})");
    EXPECT_TRUE(read_docker_labels(dir_, kId).empty());
    write(dir_ / "containers" / kId / "config.v2.json", R"({"State": {}})");
    EXPECT_TRUE(read_docker_labels(dir_, kId).empty());
}

TEST_F(DockerLabels, Malformed) {
    const auto path = dir_ / "containers" / kId / "config.v2.json";
    for (const std::string_view text : {R"({"Config": {"Labels": {"a": "b"})", R"([])",
                                        R"({"Config": []})", R"({"Config": {"Labels": "a=b"}})"}) {
        write(path, text);
        try {
            (void)read_docker_labels(dir_, kId);
            ADD_FAILURE() << "no error for " << text;
        } catch (const MetadataError &e) {
            EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
        }
    }
}

TEST_F(DockerLabels, IdIsNotAPath) {
    write(dir_ / "config.v2.json", R"({"Config": {"Labels": {"org.lockc.level": "privileged"}}})");
    EXPECT_THROW((void)read_docker_labels(dir_ / "containers", ".."), MetadataError);
    EXPECT_THROW((void)read_docker_labels(dir_, "../x"), MetadataError);
    EXPECT_THROW((void)read_docker_labels(dir_, ""), MetadataError);
}

// runc 1.1's state.json, cut down: the bundle is one of config.labels.
TEST_F(RuncState, TheBundleLabelNamesTheBundle) {
    write(dir_ / kId / "state.json",
          R"({"id": ")" + kId + R"(", "init_process_pid": 42, "config": {"rootfs": "/r",
              "labels": ["cgroupManager=cgroupfs", "bundle=/var/tmp/b", "org.x=bundle=/y"]}})");
    EXPECT_EQ(read_runc_state_bundle(dir_, kId), fs::path("/var/tmp/b"));
}

TEST_F(RuncState, NoFileNoLabelOrARelativeBundleIsNoBundle) {
    EXPECT_FALSE(read_runc_state_bundle(dir_, kId));
    for (const std::string text :
         {R"({"config": {}})", R"({"config": {"labels": null}})", R"({"config": null})",
          R"({"config": {"labels": ["a=b", 7]}})", R"({"config": {"labels": ["bundle=b"]}})",
          R"({"config": {"labels": ["bundle="]}})", R"({"other": 1})"}) {
        write(dir_ / kId / "state.json", text);
        EXPECT_FALSE(read_runc_state_bundle(dir_, kId)) << text;
    }
}

TEST_F(RuncState, MalformedStateOrIdIsAnError) {
    for (const std::string text : {R"({"config": )", R"([])", R"({"config": []})"}) {
        write(dir_ / kId / "state.json", text);
        EXPECT_THROW((void)read_runc_state_bundle(dir_, kId), MetadataError) << text;
    }
    EXPECT_THROW((void)read_runc_state_bundle(dir_, "../x"), MetadataError);
    EXPECT_THROW((void)read_runc_state_bundle(dir_, ".."), MetadataError);
}

// --- cgroup names ---------------------------------------------------------

TEST(CgroupName, SystemdDriver) {
    EXPECT_EQ(cgroup_name_of("system.slice:docker:" + kId, true, kId), "docker-" + kId + ".scope");
    EXPECT_EQ(cgroup_name_of("kubepods-besteffort-pod1234.slice:cri-containerd:" + kId, true, kId),
              "cri-containerd-" + kId + ".scope");
    EXPECT_EQ(cgroup_name_of("machine.slice:libpod:" + kId, true, kId, "crun"),
              "libpod-" + kId + ".scope");
    // Asked for a slice, runc makes one; crun still makes a scope.
    EXPECT_EQ(cgroup_name_of("system.slice:runc:my.slice", true, kId), "my.slice");
    EXPECT_EQ(cgroup_name_of("system.slice:x:my.slice", true, kId, "crun"), "x-my.slice.scope");
}

TEST(CgroupName, SystemdDefault) {
    EXPECT_EQ(cgroup_name_of("", true, "abc"), "runc-abc.scope");
    EXPECT_EQ(cgroup_name_of("", true, "abc", "runc"), "runc-abc.scope");
    EXPECT_EQ(cgroup_name_of("", true, "abc", "crun"), "crun-abc.scope");
    EXPECT_EQ(cgroup_name_of("", true, "abc", "crun-wasm"), "crun-abc.scope");
}

TEST(CgroupName, SystemdMalformed) {
    EXPECT_FALSE(cgroup_name_of("system.slice", true, kId));
    EXPECT_FALSE(cgroup_name_of("system.slice:docker", true, kId));
    EXPECT_FALSE(cgroup_name_of("a:b:c:d", true, kId));
    EXPECT_FALSE(cgroup_name_of("/system.slice/docker-x.scope", true, kId));
    EXPECT_FALSE(cgroup_name_of("system.slice:docker:", true, kId));
    EXPECT_FALSE(cgroup_name_of("system.slice:docker:a/b", true, kId));
}

TEST(CgroupName, Cgroupfs) {
    EXPECT_EQ(cgroup_name_of("/a/b/c", false, kId), "c");
    EXPECT_EQ(cgroup_name_of("/docker/" + kId, false, kId), kId);
    EXPECT_EQ(cgroup_name_of("relative/x/", false, kId), "x");
    EXPECT_EQ(cgroup_name_of("/a/b/..", false, kId), "a");
    EXPECT_EQ(cgroup_name_of("/a/./b/.", false, kId), "b");
    EXPECT_EQ(cgroup_name_of("", false, "abc"), "abc");
    // A path with ':' is a cgroupfs name like any other.
    EXPECT_EQ(cgroup_name_of("/x/a:b", false, kId), "a:b");
    // No name at all.
    EXPECT_FALSE(cgroup_name_of("/", false, kId));
    EXPECT_FALSE(cgroup_name_of("/..", false, kId));
    EXPECT_FALSE(cgroup_name_of("", false, ""));
    EXPECT_FALSE(cgroup_name_of("", false, ".."));
}

TEST(CgroupName, LengthLimit) {
    constexpr std::size_t kMax = LOCKC_CGROUP_NAME_LEN - 1;
    EXPECT_EQ(kMax, 127U);
    EXPECT_EQ(cgroup_name_of("/a/" + std::string(kMax, 'n'), false, kId), std::string(kMax, 'n'));
    EXPECT_FALSE(cgroup_name_of("/a/" + std::string(kMax + 1, 'n'), false, kId));
    // "p-" + name + ".scope" is 8 bytes more than the name.
    EXPECT_TRUE(cgroup_name_of("s.slice:p:" + std::string(kMax - 8, 'n'), true, kId));
    EXPECT_FALSE(cgroup_name_of("s.slice:p:" + std::string(kMax - 7, 'n'), true, kId));
    // A full-length Docker id fits both drivers.
    EXPECT_TRUE(cgroup_name_of("", true, kId));
}

TEST(CgroupName, NonPrintable) {
    EXPECT_FALSE(cgroup_name_of("/a/b\nc", false, kId));
    EXPECT_FALSE(cgroup_name_of(std::string("/a/b\0c", 6), false, kId));
    EXPECT_FALSE(cgroup_name_of("s.slice:p:caf\xc3\xa9", true, kId));
}

// --- engines --------------------------------------------------------------

TEST(Engine, Kubernetes) {
    BundleSpec containerd;
    containerd.annotations = {{"io.kubernetes.cri.container-type", "container"},
                              {"io.kubernetes.cri.sandbox-namespace", "default"}};
    EXPECT_EQ(
        engine_of(containerd, "/run/containerd/io.containerd.runtime.v2.task/k8s.io/x", "runc"),
        "kubernetes");
    BundleSpec crio;
    crio.annotations = {{"io.kubernetes.cri-o.ContainerType", "container"}};
    EXPECT_EQ(engine_of(crio, "/run/containers/storage/overlay-containers/x/userdata", "crun"),
              "kubernetes");
    BundleSpec namespace_only;
    namespace_only.annotations = {{"io.kubernetes.pod.namespace", "kube-system"}};
    EXPECT_EQ(engine_of(namespace_only, "/b", "runc"), "kubernetes");
    // A look-alike key is not enough.
    BundleSpec lookalike;
    lookalike.annotations = {{"io.kubernetes.container.name", "x"}, {"io.kubernetes.crix", "y"}};
    EXPECT_EQ(engine_of(lookalike, "/b", "runc"), "runc");
}

TEST(Engine, Podman) {
    BundleSpec spec;
    spec.annotations = {{"io.container.manager", "libpod"}};
    EXPECT_EQ(engine_of(spec, "/var/lib/containers/storage/overlay-containers/x/userdata", "crun"),
              "podman");
    spec.annotations = {{"io.container.manager", "cri-o"}};
    EXPECT_EQ(engine_of(spec, "/b", "crun"), "crun");
    // podman 4 writes CRI-O's annotations on its own containers too (seen
    // in the test VM): still podman's.
    spec.annotations = {{"io.container.manager", "libpod"},
                        {"io.kubernetes.cri-o.ContainerType", "container"},
                        {"io.kubernetes.cri-o.TTY", "false"}};
    EXPECT_EQ(engine_of(spec, "/b", "crun"), "podman");
}

TEST(Engine, Docker) {
    const BundleSpec spec;
    EXPECT_EQ(engine_of(spec, "/run/containerd/io.containerd.runtime.v2.task/moby/" + kId, "runc"),
              "docker");
    EXPECT_EQ(
        engine_of(spec, "/var/run/docker/containerd/io.containerd.runtime.v2.task/moby/x/", "runc"),
        "docker");
    // Another containerd namespace, "moby" elsewhere, or the namespace
    // directory itself.
    EXPECT_EQ(engine_of(spec, "/run/containerd/io.containerd.runtime.v2.task/default/x", "runc"),
              "runc");
    EXPECT_EQ(engine_of(spec, "/run/containerd/moby/x", "runc"), "runc");
    EXPECT_EQ(engine_of(spec, "/run/containerd/io.containerd.runtime.v2.task/moby", "runc"),
              "runc");
    EXPECT_EQ(engine_of(spec, "/srv/bundle", "crun"), "crun");
}

TEST(Engine, KubernetesNamespace) {
    EXPECT_EQ(kubernetes_namespace({{"io.kubernetes.cri.sandbox-namespace", "kube-system"}}),
              "kube-system");
    EXPECT_EQ(kubernetes_namespace({{"io.kubernetes.pod.namespace", "prod"}}), "prod");
    EXPECT_FALSE(kubernetes_namespace({{"io.kubernetes.pod.namespace", ""}}));
    EXPECT_FALSE(kubernetes_namespace({{"io.kubernetes.cri.sandbox-name", "x"}}));
    EXPECT_FALSE(kubernetes_namespace({}));
}

// --- policy ---------------------------------------------------------------

const std::map<std::string, Level> kNamespaces = {{"kube-system", Level::Privileged},
                                                  {"secure", Level::Restricted}};

TEST(Policy, DefaultWhenNothingIsSaid) {
    const auto choice = choose_policy({{"other", "x"}}, {}, kNamespaces);
    EXPECT_FALSE(choice.level);
    EXPECT_FALSE(choice.mode);
    EXPECT_EQ(choice.source, "default");
    EXPECT_TRUE(choice.warning.empty());
}

TEST(Policy, AnnotationsBeforeLabels) {
    auto choice = choose_policy({{kLevelKey, "restricted"}, {kModeKey, "audit"}},
                                {{kLevelKey, "privileged"}, {kModeKey, "enforce"}}, kNamespaces);
    EXPECT_EQ(choice.level, Level::Restricted);
    EXPECT_EQ(choice.mode, Mode::Audit);
    EXPECT_EQ(choice.source, "annotation org.lockc.level, annotation org.lockc.mode");
    EXPECT_TRUE(choice.warning.empty());

    choice = choose_policy({}, {{kLevelKey, "privileged"}}, kNamespaces);
    EXPECT_EQ(choice.level, Level::Privileged);
    EXPECT_FALSE(choice.mode);
    EXPECT_EQ(choice.source, "label org.lockc.level");
}

TEST(Policy, EachKeyOnItsOwn) {
    const auto choice =
        choose_policy({{kLevelKey, "baseline"}}, {{kModeKey, "audit"}}, kNamespaces);
    EXPECT_EQ(choice.level, Level::Baseline);
    EXPECT_EQ(choice.mode, Mode::Audit);
    EXPECT_EQ(choice.source, "annotation org.lockc.level, label org.lockc.mode");
}

TEST(Policy, InvalidValuesGiveTheDefaultWithAWarning) {
    auto choice = choose_policy({{kLevelKey, "superuser"}}, {{kLevelKey, "privileged"}},
                                {{"kube-system", Level::Privileged}});
    EXPECT_FALSE(choice.level);
    EXPECT_EQ(choice.source, "default");
    EXPECT_EQ(choice.warning, R"(org.lockc.level="superuser" is not a level )"
                              "(privileged, baseline, restricted); using the default");

    choice = choose_policy({{kModeKey, "Audit"}}, {}, kNamespaces);
    EXPECT_FALSE(choice.mode);
    EXPECT_EQ(choice.warning,
              R"(org.lockc.mode="Audit" is not a mode (enforce, audit); using the default)");

    // Both wrong: both said; the valid one still counts.
    choice = choose_policy({}, {{kLevelKey, ""}, {kModeKey, "loud"}}, kNamespaces);
    EXPECT_NE(choice.warning.find(R"(org.lockc.level="")"), std::string::npos);
    EXPECT_NE(choice.warning.find(R"(org.lockc.mode="loud")"), std::string::npos);
    choice = choose_policy({{kLevelKey, "x"}, {kModeKey, "audit"}}, {}, kNamespaces);
    EXPECT_EQ(choice.mode, Mode::Audit);
    EXPECT_EQ(choice.source, "annotation org.lockc.mode");
    EXPECT_FALSE(choice.warning.empty());
}

TEST(Policy, LongValuesAreCutInWarnings) {
    const auto choice = choose_policy({{kLevelKey, std::string(100000, 'z')}}, {}, kNamespaces);
    EXPECT_FALSE(choice.level);
    EXPECT_LT(choice.warning.size(), 200U);
    EXPECT_NE(choice.warning.find(std::string(64, 'z') + "...\""), std::string::npos);
}

TEST(Policy, KubernetesNamespaceTable) {
    const std::map<std::string, std::string> kube_system = {
        {"io.kubernetes.cri.sandbox-namespace", "kube-system"}};
    auto choice = choose_policy(kube_system, {}, kNamespaces);
    EXPECT_EQ(choice.level, Level::Privileged);
    EXPECT_FALSE(choice.mode);
    EXPECT_EQ(choice.source, "kubernetes namespace kube-system");

    choice = choose_policy({{"io.kubernetes.pod.namespace", "secure"}, {kModeKey, "audit"}}, {},
                           kNamespaces);
    EXPECT_EQ(choice.level, Level::Restricted);
    EXPECT_EQ(choice.mode, Mode::Audit);
    EXPECT_EQ(choice.source, "kubernetes namespace secure, annotation org.lockc.mode");

    // Not in the table: the default.
    choice = choose_policy({{"io.kubernetes.pod.namespace", "web"}}, {}, kNamespaces);
    EXPECT_FALSE(choice.level);
    EXPECT_EQ(choice.source, "default");

    // An explicit level beats the namespace.
    auto annotated = kube_system;
    annotated[kLevelKey] = "restricted";
    choice = choose_policy(annotated, {}, kNamespaces);
    EXPECT_EQ(choice.level, Level::Restricted);
    EXPECT_EQ(choice.source, "annotation org.lockc.level");

    // Only Kubernetes containers are looked up.
    choice = choose_policy({{"namespace", "kube-system"}}, {}, kNamespaces);
    EXPECT_FALSE(choice.level);
}

TEST(Policy, KubernetesNamespaceLabelAfterTheTable) {
    std::vector<std::string> asked;
    const NamespaceLabelLookup label = [&](const std::string &ns) -> std::optional<Level> {
        asked.push_back(ns);
        if (ns == "web") {
            return Level::Restricted;
        }
        if (ns == "secure") {
            return Level::Privileged; // the table says otherwise, and wins
        }
        return std::nullopt;
    };
    const std::map<std::string, std::string> web = {{"io.kubernetes.cri.sandbox-namespace", "web"}};

    // Not in the table: the label.
    auto choice = choose_policy(web, {}, kNamespaces, label);
    EXPECT_EQ(choice.level, Level::Restricted);
    EXPECT_EQ(choice.source, "namespace label pod-security.kubernetes.io/enforce of web");
    EXPECT_EQ(asked, std::vector<std::string>{"web"});

    // In the table: the label is not even asked for.
    asked.clear();
    choice = choose_policy({{"io.kubernetes.pod.namespace", "secure"}}, {}, kNamespaces, label);
    EXPECT_EQ(choice.level, Level::Restricted);
    EXPECT_EQ(choice.source, "kubernetes namespace secure");
    choice =
        choose_policy({{"io.kubernetes.pod.namespace", "kube-system"}}, {}, kNamespaces, label);
    EXPECT_EQ(choice.level, Level::Privileged);
    EXPECT_TRUE(asked.empty());

    // An annotation (or a label of the container) decides before either.
    auto annotated = web;
    annotated[kLevelKey] = "baseline";
    choice = choose_policy(annotated, {}, kNamespaces, label);
    EXPECT_EQ(choice.level, Level::Baseline);
    EXPECT_EQ(choice.source, "annotation org.lockc.level");
    choice = choose_policy(web, {{kLevelKey, "privileged"}}, kNamespaces, label);
    EXPECT_EQ(choice.level, Level::Privileged);
    // An invalid annotation is not skipped for the label: the default.
    annotated[kLevelKey] = "admin";
    choice = choose_policy(annotated, {}, kNamespaces, label);
    EXPECT_FALSE(choice.level);
    EXPECT_EQ(choice.source, "default");
    EXPECT_TRUE(asked.empty());

    // No label (or no answer): the default; the mode is still read.
    choice = choose_policy({{"io.kubernetes.pod.namespace", "plain"}, {kModeKey, "audit"}}, {},
                           kNamespaces, label);
    EXPECT_FALSE(choice.level);
    EXPECT_EQ(choice.mode, Mode::Audit);
    EXPECT_EQ(choice.source, "annotation org.lockc.mode");
    EXPECT_EQ(asked, std::vector<std::string>{"plain"});

    // Not a Kubernetes container: nothing to ask about.
    asked.clear();
    choice = choose_policy({}, {}, kNamespaces, label);
    EXPECT_FALSE(choice.level);
    EXPECT_TRUE(asked.empty());

    // No lookup (no kubeconfig): the default, as before.
    choice = choose_policy(web, {}, kNamespaces, {});
    EXPECT_FALSE(choice.level);
    EXPECT_EQ(choice.source, "default");
}

} // namespace
} // namespace lockc
