// org.lockc.Manager over a real bus with real polkit: every method,
// property and signal, bad input of every kind, authorization, restarts.
#include "lockcd_fixture.hpp"

#include "cgroup.hpp"
#include "lockc_shared.h"

#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <memory>
#include <ostream>
#include <thread>

namespace lockc::test {
namespace {

using ListEntry = bus::ContainerEntry;
using bus::LevelDenialEntry;
using bus::LevelEntry;

constexpr const char *kNotFound = "org.lockc.Error.NotFound";
constexpr const char *kAlreadyRegistered = "org.lockc.Error.AlreadyRegistered";
constexpr const char *kInvalidLevel = "org.lockc.Error.InvalidLevel";
constexpr const char *kInvalidMode = "org.lockc.Error.InvalidMode";
constexpr const char *kFailed = "org.lockc.Error.Failed";
constexpr const char *kInvalidArgument = "org.lockc.Error.InvalidArgument";
constexpr const char *kInvalidConfig = "org.lockc.Error.InvalidConfig";
constexpr const char *kAccessDenied = "org.freedesktop.DBus.Error.AccessDenied";

Options cgroup_option(const std::string &path) {
    return {{"cgroup", sdbus::Variant(path)}};
}

// RunConfined(level, mode, options); on this bus there is no systemd.
std::function<void(sdbus::IProxy &)> run_call(const std::string &level, const std::string &mode,
                                              const Options &options) {
    return [=](sdbus::IProxy &p) {
        sdbus::ObjectPath path;
        std::string unit;
        p.callMethod("RunConfined")
            .onInterface(kManagerInterface)
            .withArguments(level, mode, options)
            .storeResultsTo(path, unit);
    };
}

std::function<void(sdbus::IProxy &)> register_call(const std::string &id, const std::string &level,
                                                   const std::string &mode,
                                                   const Options &options) {
    return [=](sdbus::IProxy &p) {
        sdbus::ObjectPath path;
        p.callMethod("RegisterContainer")
            .onInterface(kManagerInterface)
            .withArguments(id, level, mode, options)
            .storeResultsTo(path);
    };
}

std::function<void(sdbus::IProxy &)> unregister_call(const std::string &id) {
    return [=](sdbus::IProxy &p) {
        p.callMethod("UnregisterContainer")
            .onInterface(kManagerInterface)
            .withArguments(id, Options{});
    };
}

std::function<void(sdbus::IProxy &)> set_call(const std::string &method, const std::string &id,
                                              const std::string &value) {
    return [=](sdbus::IProxy &p) {
        p.callMethod(method).onInterface(kManagerInterface).withArguments(id, value, Options{});
    };
}

std::function<void(sdbus::IProxy &)> default_call(const std::string &method,
                                                  const std::string &value) {
    return [=](sdbus::IProxy &p) {
        p.callMethod(method).onInterface(kManagerInterface).withArguments(value, Options{});
    };
}

std::function<void(sdbus::IProxy &)> options_call(const std::string &method) {
    return [=](sdbus::IProxy &p) {
        p.callMethod(method).onInterface(kManagerInterface).withArguments(Options{});
    };
}

std::function<void(sdbus::IProxy &)> subscribe_with(const Options &options) {
    return [=](sdbus::IProxy &p) {
        p.callMethod("SubscribeDenials").onInterface(kManagerInterface).withArguments(options);
    };
}

std::function<void(sdbus::IProxy &)> read_calls() {
    return [](sdbus::IProxy &p) {
        std::vector<ListEntry> list;
        p.callMethod("ListContainers").onInterface(kManagerInterface).storeResultsTo(list);
        std::vector<LevelEntry> levels;
        p.callMethod("DescribeLevels").onInterface(kManagerInterface).storeResultsTo(levels);
        std::map<std::string, sdbus::Variant> all;
        p.callMethod("GetAll")
            .onInterface("org.freedesktop.DBus.Properties")
            .withArguments(std::string(kManagerInterface))
            .storeResultsTo(all);
        if (!all.contains("Enforcing") || !all.contains("DefaultLevel")) {
            throw sdbus::Error("test.MissingProperty", "GetAll lacks properties");
        }
    };
}

// ---- Properties and start-up ----

TEST_F(LockcdTest, PropertiesDescribeTheDaemon) {
    auto m = manager();
    EXPECT_EQ(m->getProperty("Version").onInterface(kManagerInterface).get<std::string>(),
              PROJECT_VERSION);
    EXPECT_FALSE(m->getProperty("Enforcing").onInterface(kManagerInterface).get<bool>());
    const auto problem = manager_property("EnforcementProblem");
    EXPECT_NE(problem.find("lsm="), std::string::npos) << problem;
    EXPECT_EQ(
        m->getProperty("Levels").onInterface(kManagerInterface).get<std::vector<std::string>>(),
        (std::vector<std::string>{"privileged", "baseline", "restricted"}));
    EXPECT_EQ(
        m->getProperty("Modes").onInterface(kManagerInterface).get<std::vector<std::string>>(),
        (std::vector<std::string>{"enforce", "audit"}));
    EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
    EXPECT_EQ(manager_property("DefaultMode"), "enforce");
    EXPECT_EQ(m->getProperty("ContainerCount").onInterface(kManagerInterface).get<std::uint32_t>(),
              0U);
    const auto denials = m->getProperty("Denials")
                             .onInterface(kManagerInterface)
                             .get<std::map<std::string, std::uint64_t>>();
    EXPECT_TRUE(denials.contains("sb_mount"));
    EXPECT_TRUE(denials.contains("file_open"));
    EXPECT_EQ(m->getProperty("KernelDrops").onInterface(kManagerInterface).get<std::uint64_t>(),
              0U);
}

TEST_F(LockcdTest, DefaultsComeFromTheConfigurationFile) {
    stop_daemon();
    write_config("[defaults]\nlevel = \"restricted\"\nmode = \"audit\"\n");
    start_daemon();
    EXPECT_EQ(manager_property("DefaultLevel"), "restricted");
    EXPECT_EQ(manager_property("DefaultMode"), "audit");
}

TEST_F(LockcdTest, WithoutOptInAKernelWithoutBpfLsmStopsTheDaemonWithTheLsmHint) {
    stop_daemon();
    const pid_t pid = ::fork();
    if (pid == 0) {
        const std::string log = log_file_.string();
        if (std::freopen(log.c_str(), "w", stderr) == nullptr) {
            ::_exit(126);
        }
        ::execl(LOCKCD_PATH, LOCKCD_PATH, "--config", config_file_.c_str(), "--state-dir",
                state_dir_.c_str(), nullptr);
        ::_exit(127);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 78); // EX_CONFIG: systemd does not restart it
    EXPECT_NE(daemon_log().find("lsm="), std::string::npos) << daemon_log();
}

TEST_F(LockcdTest, IntrospectionListsTheDocumentedInterface) {
    std::string xml;
    manager()
        ->callMethod("Introspect")
        .onInterface("org.freedesktop.DBus.Introspectable")
        .storeResultsTo(xml);
    for (const char *member : {"RegisterContainer",
                               "UnregisterContainer",
                               "GetContainer",
                               "ListContainers",
                               "GetLevel",
                               "SetLevel",
                               "GetMode",
                               "SetMode",
                               "SetDefaultLevel",
                               "SetDefaultMode",
                               "Reload",
                               "DescribeLevels",
                               "SubscribeDenials",
                               "UnsubscribeDenials",
                               "Denied",
                               "<signal name=\"DeniedBatch\">",
                               "a(sssssuusit)",
                               "<signal name=\"DeniedCoalesced\">",
                               "a(sssssuusittu)",
                               "org.freedesktop.DBus.ObjectManager"}) {
        EXPECT_NE(xml.find(member), std::string::npos) << member;
    }
}

// ---- Registration ----

TEST_F(LockcdTest, RegisterByCgroupPathCreatesAnObjectWithEveryProperty) {
    TestCgroup cg("lockc-test-path");
    sdbus::ObjectPath path;
    manager()
        ->callMethod("RegisterContainer")
        .onInterface(kManagerInterface)
        .withArguments(std::string("web/1"), std::string("restricted"), std::string("audit"),
                       Options{{"cgroup", sdbus::Variant(cg.relative())},
                               {"runtime", sdbus::Variant(std::string("docker"))}})
        .storeResultsTo(path);
    EXPECT_EQ(std::string(path), "/org/lockc/Manager/container/web_2f1");

    auto c = object(path);
    const auto prop = [&](const char *name) {
        return c->getProperty(name).onInterface(kContainerInterface);
    };
    EXPECT_EQ(prop("Id").get<std::string>(), "web/1");
    EXPECT_EQ(prop("Level").get<std::string>(), "restricted");
    EXPECT_EQ(prop("Mode").get<std::string>(), "audit");
    EXPECT_EQ(prop("Runtime").get<std::string>(), "docker");
    EXPECT_EQ(prop("State").get<std::string>(), "active");
    EXPECT_EQ(prop("CgroupPath").get<std::string>(), cg.relative());
    EXPECT_EQ(prop("CgroupId").get<std::uint64_t>(), cgroup_id(cg.absolute()));
    EXPECT_EQ(prop("PendingName").get<std::string>(), "");
    const auto now_usec =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    const auto registered = prop("RegisteredAt").get<std::uint64_t>();
    EXPECT_LE(registered, now_usec);
    EXPECT_GT(registered, now_usec - 60'000'000U);
    using Counts = std::map<std::string, std::uint64_t>;
    const auto decisions = prop("Decisions").get<Counts>();
    EXPECT_EQ(decisions.size(), std::size_t{LOCKC_HOOK_COUNT}); // one per hook
    EXPECT_TRUE(decisions.contains("capable"));
    EXPECT_TRUE(decisions.contains("cgroup_tree"));

    sdbus::ObjectPath found;
    manager()
        ->callMethod("GetContainer")
        .onInterface(kManagerInterface)
        .withArguments(std::string("web/1"))
        .storeResultsTo(found);
    EXPECT_EQ(found, path);
    std::vector<ListEntry> list;
    manager()->callMethod("ListContainers").onInterface(kManagerInterface).storeResultsTo(list);
    ASSERT_EQ(list.size(), 1U);
    EXPECT_EQ(std::get<0>(list[0]), "web/1");
    EXPECT_EQ(std::get<1>(list[0]), "restricted");
    EXPECT_EQ(std::get<2>(list[0]), "audit");
    EXPECT_EQ(std::get<3>(list[0]), "docker");
    EXPECT_EQ(std::get<4>(list[0]), "active");
    EXPECT_EQ(std::get<5>(list[0]), path);
    EXPECT_EQ(manager()
                  ->getProperty("ContainerCount")
                  .onInterface(kManagerInterface)
                  .get<std::uint32_t>(),
              1U);
}

TEST_F(LockcdTest, RegisterTakesAbsolutePathsAndPidsAndScopeNames) {
    TestCgroup a("lockc-test-abs");
    TestCgroup b("lockc-test-pid");
    const pid_t sleeper = b.spawn_sleeper();
    EXPECT_EQ(
        call_as_root(register_call("abs", "", "", cgroup_option(a.absolute().string()))).error, "");
    EXPECT_EQ(
        call_as_root(register_call("pid", "baseline", "",
                                   {{"pid", sdbus::Variant(static_cast<std::uint32_t>(sleeper))}}))
            .error,
        "");
    EXPECT_EQ(
        call_as_root(register_call("scope", "privileged", "enforce",
                                   {{"scope", sdbus::Variant(std::string("docker-feed.scope"))}}))
            .error,
        "");

    auto abs = object("/org/lockc/Manager/container/abs");
    EXPECT_EQ(abs->getProperty("CgroupPath").onInterface(kContainerInterface).get<std::string>(),
              a.relative());
    EXPECT_EQ(abs->getProperty("Level").onInterface(kContainerInterface).get<std::string>(),
              "baseline"); // default
    auto pid = object("/org/lockc/Manager/container/pid");
    EXPECT_EQ(pid->getProperty("CgroupPath").onInterface(kContainerInterface).get<std::string>(),
              b.relative());
    auto scope = object("/org/lockc/Manager/container/scope");
    EXPECT_EQ(scope->getProperty("State").onInterface(kContainerInterface).get<std::string>(),
              "pending");
    EXPECT_EQ(scope->getProperty("PendingName").onInterface(kContainerInterface).get<std::string>(),
              "docker-feed.scope");
    EXPECT_EQ(scope->getProperty("CgroupId").onInterface(kContainerInterface).get<std::uint64_t>(),
              0U);
    EXPECT_EQ(container_ids(), (std::vector<std::string>{"abs", "pid", "scope"}));
}

TEST_F(LockcdTest, ObjectManagerAnnouncesContainersAndGetManagedObjectsListsThem) {
    TestCgroup cg("lockc-test-om");
    std::vector<std::string> added;
    std::vector<std::string> removed;
    auto m = manager();
    m->uponSignal("InterfacesAdded")
        .onInterface("org.freedesktop.DBus.ObjectManager")
        .call([&](const sdbus::ObjectPath &path,
                  const std::map<std::string, std::map<std::string, sdbus::Variant>> &interfaces) {
            if (interfaces.contains(kContainerInterface)) {
                added.push_back(path);
            }
        });
    m->uponSignal("InterfacesRemoved")
        .onInterface("org.freedesktop.DBus.ObjectManager")
        .call([&](const sdbus::ObjectPath &path, const std::vector<std::string> &) {
            removed.push_back(path);
        });
    m->finishRegistration();
    EXPECT_EQ(call_as_root(register_call("om", "baseline", "enforce", cgroup_option(cg.relative())))
                  .error,
              "");
    pump_until([&] { return !added.empty(); });
    EXPECT_EQ(added, (std::vector<std::string>{"/org/lockc/Manager/container/om"}));

    std::map<sdbus::ObjectPath, std::map<std::string, std::map<std::string, sdbus::Variant>>>
        objects;
    manager()
        ->callMethod("GetManagedObjects")
        .onInterface("org.freedesktop.DBus.ObjectManager")
        .storeResultsTo(objects);
    ASSERT_EQ(objects.size(), 1U);
    EXPECT_EQ(objects.begin()->second.at(kContainerInterface).at("Id").get<std::string>(), "om");

    EXPECT_EQ(call_as_root(unregister_call("om")).error, "");
    pump_until([&] { return !removed.empty(); });
    EXPECT_EQ(removed, (std::vector<std::string>{"/org/lockc/Manager/container/om"}));
}

TEST_F(LockcdTest, SetLevelAndModeChangePropertiesSignalAndPersist) {
    TestCgroup cg("lockc-test-set");
    ASSERT_EQ(
        call_as_root(register_call("c", "baseline", "enforce", cgroup_option(cg.relative()))).error,
        "");
    auto c = object("/org/lockc/Manager/container/c");
    std::vector<std::string> changed;
    c->uponSignal("PropertiesChanged")
        .onInterface("org.freedesktop.DBus.Properties")
        .call([&](const std::string &iface, const std::map<std::string, sdbus::Variant> &values,
                  const std::vector<std::string> &) {
            if (iface == kContainerInterface) {
                for (const auto &[name, value] : values) {
                    changed.push_back(name + "=" + value.get<std::string>());
                }
            }
        });
    c->finishRegistration();
    EXPECT_EQ(call_as_root(set_call("SetLevel", "c", "restricted")).error, "");
    EXPECT_EQ(call_as_root(set_call("SetMode", "c", "audit")).error, "");
    pump_until([&] { return changed.size() >= 2; });
    EXPECT_EQ(changed, (std::vector<std::string>{"Level=restricted", "Mode=audit"}));

    std::string level;
    manager()
        ->callMethod("GetLevel")
        .onInterface(kManagerInterface)
        .withArguments(std::string("c"))
        .storeResultsTo(level);
    EXPECT_EQ(level, "restricted");
    std::string mode;
    manager()
        ->callMethod("GetMode")
        .onInterface(kManagerInterface)
        .withArguments(std::string("c"))
        .storeResultsTo(mode);
    EXPECT_EQ(mode, "audit");
    const auto registry = registry_text();
    EXPECT_NE(registry.find("restricted"), std::string::npos) << registry;
    EXPECT_NE(registry.find("audit"), std::string::npos) << registry;
}

TEST_F(LockcdTest, UnregisterRemovesTheContainerEverywhere) {
    TestCgroup cg("lockc-test-unreg");
    ASSERT_EQ(call_as_root(register_call("gone", "", "", cgroup_option(cg.relative()))).error, "");
    EXPECT_EQ(call_as_root(unregister_call("gone")).error, "");
    EXPECT_TRUE(container_ids().empty());
    EXPECT_EQ(call_as_root([](sdbus::IProxy &p) {
                  sdbus::ObjectPath path;
                  p.callMethod("GetContainer")
                      .onInterface(kManagerInterface)
                      .withArguments(std::string("gone"))
                      .storeResultsTo(path);
              }).error,
              kNotFound);
    // Gone from the registry too: a restarted lockcd does not bring it back.
    stop_daemon();
    start_daemon();
    EXPECT_TRUE(container_ids().empty());
    EXPECT_EQ(registry_text().find("gone"), std::string::npos) << registry_text();
    // The cgroup can be registered again, under another id.
    EXPECT_EQ(call_as_root(register_call("again", "", "", cgroup_option(cg.relative()))).error, "");
}

namespace {

struct PropertyDeclaration {
    std::string type;
    std::string emits_changed; // the EmitsChangedSignal annotation; "true" without one
    bool operator==(const PropertyDeclaration &) const = default;
};

// For gtest's failure messages.
[[maybe_unused]] void PrintTo(const PropertyDeclaration &d, std::ostream *os) {
    *os << d.type << " (EmitsChangedSignal " << d.emits_changed << ")";
}

std::string without_comments(std::string xml) {
    for (auto at = xml.find("<!--"); at != std::string::npos; at = xml.find("<!--", at)) {
        const auto end = xml.find("-->", at);
        xml.erase(at, end == std::string::npos ? std::string::npos : end + 3 - at);
    }
    return xml;
}

std::string attribute(const std::string &tag, const std::string &name) {
    const auto at = tag.find(" " + name + "=\"");
    if (at == std::string::npos) {
        return "";
    }
    const auto start = at + name.size() + 3;
    return tag.substr(start, tag.find('"', start) - start);
}

// The properties of org.lockc.Container in introspection XML, as written
// by hand (dbus/) or by sd-bus (lockcd's answer).
std::map<std::string, PropertyDeclaration> container_properties(const std::string &text) {
    const auto xml = without_comments(text);
    const auto start = xml.find("<interface name=\"org.lockc.Container\">");
    if (start == std::string::npos) {
        return {};
    }
    const auto body = xml.substr(start, xml.find("</interface>", start) - start);
    std::map<std::string, PropertyDeclaration> out;
    for (auto at = body.find("<property "); at != std::string::npos;
         at = body.find("<property ", at + 1)) {
        const auto tag_end = body.find('>', at);
        const auto tag = body.substr(at, tag_end - at);
        PropertyDeclaration declaration{attribute(tag, "type"), "true"};
        if (!tag.ends_with("/")) {
            const auto inner = body.substr(tag_end, body.find("</property>", tag_end) - tag_end);
            const auto note = inner.find("\"org.freedesktop.DBus.Property.EmitsChangedSignal\"");
            if (note != std::string::npos) {
                declaration.emits_changed =
                    attribute(inner.substr(note, inner.find('>', note) - note), "value");
            }
        }
        out[attribute(tag, "name")] = declaration;
    }
    return out;
}

std::string introspect(sdbus::IProxy &proxy) {
    std::string xml;
    proxy.callMethod("Introspect")
        .onInterface("org.freedesktop.DBus.Introspectable")
        .storeResultsTo(xml);
    return xml;
}

} // namespace

// lockcd serves the container objects from a table of its own
// (container_objects.cpp), not from code generated from the XML: what a
// client introspects must be what the XML documents, property by property,
// down to whether a change is signalled.
TEST_F(LockcdTest, ContainerObjectsAreIntrospectedAsTheXmlDocumentsThem) {
    TestCgroup cg("lockc-test-introspect");
    ASSERT_EQ(call_as_root(register_call("intro", "", "", cgroup_option(cg.relative()))).error, "");
    std::ifstream file(LOCKC_DBUS_XML);
    const std::string documented((std::istreambuf_iterator<char>(file)),
                                 std::istreambuf_iterator<char>());
    const auto expected = container_properties(documented);
    ASSERT_EQ(expected.size(), 10U) << "the parser no longer reads " << LOCKC_DBUS_XML;
    const auto served =
        container_properties(introspect(*object("/org/lockc/Manager/container/intro")));
    EXPECT_EQ(served, expected);
    for (const auto &[name, declaration] : expected) {
        EXPECT_TRUE(served.contains(name)) << name;
    }
}

// Every registered container, and only those, is an object: listed as a
// node, answering at its path; an unregistered id, a deeper path or a
// path next to the prefix answers UnknownObject.
TEST_F(LockcdTest, ContainerPathsNameExactlyTheRegisteredContainers) {
    TestCgroup one("lockc-test-node-1");
    TestCgroup two("lockc-test-node-2");
    ASSERT_EQ(call_as_root(register_call("n-1", "", "", cgroup_option(one.relative()))).error, "");
    ASSERT_EQ(call_as_root(register_call("web/2", "", "", cgroup_option(two.relative()))).error,
              "");
    const auto listing = introspect(*object("/org/lockc/Manager/container"));
    EXPECT_NE(listing.find("<node name=\"n_2d1\""), std::string::npos) << listing;
    EXPECT_NE(listing.find("<node name=\"web_2f2\""), std::string::npos) << listing;
    EXPECT_EQ(object("/org/lockc/Manager/container/web_2f2")
                  ->getProperty("Id")
                  .onInterface(kContainerInterface)
                  .get<std::string>(),
              "web/2");
    const auto error_of = [&](const std::string &path) {
        try {
            (void)object(path)->getProperty("Id").onInterface(kContainerInterface);
            return std::string();
        } catch (const sdbus::Error &e) {
            return e.getName();
        }
    };
    EXPECT_EQ(error_of("/org/lockc/Manager/container/nobody"),
              "org.freedesktop.DBus.Error.UnknownObject");
    EXPECT_EQ(error_of("/org/lockc/Manager/container/web_2f2/x"),
              "org.freedesktop.DBus.Error.UnknownObject");
    EXPECT_EQ(error_of("/org/lockc/Manager/containers"),
              "org.freedesktop.DBus.Error.UnknownObject");
    EXPECT_EQ(call_as_root(unregister_call("web/2")).error, "");
    EXPECT_EQ(error_of("/org/lockc/Manager/container/web_2f2"),
              "org.freedesktop.DBus.Error.UnknownObject");
    EXPECT_EQ(introspect(*object("/org/lockc/Manager/container")).find("web_2f2"),
              std::string::npos);
}

// ---- Bad input: a clear error, and nothing changes ----

struct BadCall {
    const char *name;
    std::function<void(sdbus::IProxy &)> call;
    const char *error;
};

TEST_F(LockcdTest, BadInputIsRejectedClearlyAndChangesNothing) {
    TestCgroup cg("lockc-test-bad");
    TestCgroup other("lockc-test-bad-other");
    ASSERT_EQ(
        call_as_root(register_call("taken", "baseline", "enforce", cgroup_option(cg.relative())))
            .error,
        "");
    std::filesystem::create_directory(cg.absolute() / "inner");
    ASSERT_EQ(call_as_root(register_call("pending", "baseline", "enforce",
                                         {{"scope", sdbus::Variant(std::string("x.scope"))}}))
                  .error,
              "");
    const auto registry_before = registry_text();
    const auto own_cgroup = cgroup_of_pid(static_cast<int>(::getpid())).string();
    const std::string huge(1 << 20, 'a');
    const Options ok = cgroup_option(other.relative());

    const std::vector<BadCall> calls = {
        {"empty id", register_call("", "", "", ok), kInvalidArgument},
        {"id with a space", register_call("a b", "", "", ok), kInvalidArgument},
        {"id with a newline", register_call("a\nb", "", "", ok), kInvalidArgument},
        {"id of 256 bytes", register_call(std::string(256, 'x'), "", "", ok), kInvalidArgument},
        {"id of 1 MiB", register_call(huge, "", "", ok), kInvalidArgument},
        {"non-ASCII id", register_call("caf\xc3\xa9", "", "", ok), kInvalidArgument},
        {"unknown level", register_call("n", "superuser", "", ok), kInvalidLevel},
        {"level in capitals", register_call("n", "BASELINE", "", ok), kInvalidLevel},
        {"huge level", register_call("n", huge, "", ok), kInvalidLevel},
        {"unknown mode", register_call("n", "", "permissive", ok), kInvalidMode},
        {"unknown option", register_call("n", "", "", {{"cgroup", sdbus::Variant(other.relative())}, {"colour", sdbus::Variant(std::string("red"))}}), kInvalidArgument},
        {"option of the wrong type", register_call("n", "", "", {{"pid", sdbus::Variant(std::string("12"))}}), kInvalidArgument},
        {"no location", register_call("n", "", "", {}), kInvalidArgument},
        {"two locations", register_call("n", "", "", {{"cgroup", sdbus::Variant(other.relative())}, {"pid", sdbus::Variant(static_cast<std::uint32_t>(1))}}), kInvalidArgument},
        {"relative cgroup path", register_call("n", "", "", cgroup_option("system.slice")), kInvalidArgument},
        {"cgroup path with ..", register_call("n", "", "", cgroup_option(other.relative() + "/../..")), kInvalidArgument},
        {"cgroup path that does not exist", register_call("n", "", "", cgroup_option("/no/such/cgroup")), kNotFound},
        {"a file, not a cgroup", register_call("n", "", "", cgroup_option(other.relative() + "/cgroup.procs")), kNotFound},
        {"the root cgroup", register_call("n", "", "", cgroup_option("/")), kInvalidArgument},
        {"lockcd's own cgroup", register_call("n", "", "", cgroup_option(own_cgroup)), kInvalidArgument},
        {"pid 0", register_call("n", "", "", {{"pid", sdbus::Variant(static_cast<std::uint32_t>(0))}}), kInvalidArgument},
        {"a pid that does not exist", register_call("n", "", "", {{"pid", sdbus::Variant(static_cast<std::uint32_t>(0x7ffffff0))}}), kNotFound},
        {"scope name with a slash", register_call("n", "", "", {{"scope", sdbus::Variant(std::string("a/b.scope"))}}), kInvalidArgument},
        {"scope name ..", register_call("n", "", "", {{"scope", sdbus::Variant(std::string(".."))}}), kInvalidArgument},
        {"scope name too long", register_call("n", "", "", {{"scope", sdbus::Variant(std::string(200, 's'))}}), kInvalidArgument},
        {"registered id", register_call("taken", "", "", ok), kAlreadyRegistered},
        {"registered cgroup", register_call("n", "", "", cgroup_option(cg.relative())), kAlreadyRegistered},
        {"a cgroup inside a registered one", register_call("n", "privileged", "", cgroup_option(cg.relative() + "/inner")), kAlreadyRegistered},
        {"pid 1 (init)", register_call("n", "", "", {{"pid", sdbus::Variant(static_cast<std::uint32_t>(1))}}), kInvalidArgument},
        {"registered scope name", register_call("n", "", "", {{"scope", sdbus::Variant(std::string("x.scope"))}}), kAlreadyRegistered},
        {"unregister unknown", unregister_call("nobody"), kNotFound},
        {"set level of unknown", set_call("SetLevel", "nobody", "baseline"), kNotFound},
        {"set unknown level", set_call("SetLevel", "taken", "max"), kInvalidLevel},
        {"set empty level", set_call("SetLevel", "taken", ""), kInvalidLevel},
        {"set unknown mode", set_call("SetMode", "taken", "off"), kInvalidMode},
        {"get level of unknown", [](sdbus::IProxy &p) { std::string s; p.callMethod("GetLevel").onInterface(kManagerInterface).withArguments(std::string("nobody")).storeResultsTo(s); }, kNotFound},
        {"get mode with a bad id", [](sdbus::IProxy &p) { std::string s; p.callMethod("GetMode").onInterface(kManagerInterface).withArguments(std::string("")).storeResultsTo(s); }, kInvalidArgument},
        {"unknown default level", default_call("SetDefaultLevel", "none"), kInvalidLevel},
        {"unknown default mode", default_call("SetDefaultMode", "none"), kInvalidMode},
        {"reload with an unknown option", [](sdbus::IProxy &p) { p.callMethod("Reload").onInterface(kManagerInterface).withArguments(Options{{"force", sdbus::Variant(true)}}); }, kInvalidArgument},
        {"interactive of the wrong type", [](sdbus::IProxy &p) { p.callMethod("Reload").onInterface(kManagerInterface).withArguments(Options{{"interactive", sdbus::Variant(std::string("yes"))}}); }, kInvalidArgument},
        {"run at an unknown level", run_call("root", "", {}), kInvalidLevel},
        {"run in an unknown mode", run_call("", "lax", {}), kInvalidMode},
        {"run in a service, not a scope", run_call("baseline", "", {{"unit", sdbus::Variant(std::string("x.service"))}}), kInvalidArgument},
        {"run in a unit with a slash", run_call("baseline", "", {{"unit", sdbus::Variant(std::string("a/b.scope"))}}), kInvalidArgument},
        {"run in a unit named .scope", run_call("baseline", "", {{"unit", sdbus::Variant(std::string(".scope"))}}), kInvalidArgument},
        {"run in a unit too long for a cgroup name", run_call("baseline", "", {{"unit", sdbus::Variant(std::string(130, 'u') + ".scope")}}), kInvalidArgument},
        {"run with an unknown option", run_call("baseline", "", {{"slice", sdbus::Variant(std::string("x.slice"))}}), kInvalidArgument},
        {"run without systemd on the bus", run_call("baseline", "", {{"unit", sdbus::Variant(std::string("lockc-test.scope"))}}), kFailed},
    };
    for (const auto &bad : calls) {
        const auto outcome = call_as_root(bad.call);
        EXPECT_EQ(outcome.error, bad.error) << bad.name << ": " << outcome.message;
        EXPECT_FALSE(outcome.message.empty()) << bad.name;
        EXPECT_LT(outcome.message.size(), 600U) << bad.name << ": the message quotes too much";
    }
    EXPECT_EQ(container_ids(), (std::vector<std::string>{"pending", "taken"}));
    EXPECT_EQ(registry_text(), registry_before);
    std::filesystem::remove(cg.absolute() / "inner");
    EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
    EXPECT_TRUE(daemon_running());
}

TEST_F(LockcdTest, CallsWithTheWrongSignatureAreRefusedByTheBusLayer) {
    const std::vector<std::function<void(sdbus::IProxy &)>> calls = {
        [](sdbus::IProxy &p) {
            p.callMethod("RegisterContainer").onInterface(kManagerInterface).withArguments(42);
        },
        [](sdbus::IProxy &p) {
            p.callMethod("RegisterContainer")
                .onInterface(kManagerInterface)
                .withArguments(std::string("a"), std::string("b"));
        },
        [](sdbus::IProxy &p) {
            p.callMethod("SetLevel")
                .onInterface(kManagerInterface)
                .withArguments(std::string("a"), 3, Options{});
        },
        [](sdbus::IProxy &p) { p.callMethod("GetLevel").onInterface(kManagerInterface); },
        [](sdbus::IProxy &p) { p.callMethod("NoSuchMethod").onInterface(kManagerInterface); },
        [](sdbus::IProxy &p) {
            p.callMethod("Set")
                .onInterface("org.freedesktop.DBus.Properties")
                .withArguments(std::string(kManagerInterface), std::string("DefaultLevel"),
                               sdbus::Variant(std::string("privileged")));
        },
    };
    for (std::size_t i = 0; i < calls.size(); ++i) {
        const auto outcome = call_as_root(calls[i]);
        EXPECT_NE(outcome.error, "") << "call " << i;
        EXPECT_EQ(outcome.error.rfind("org.freedesktop.DBus.Error.", 0), 0U)
            << "call " << i << ": " << outcome.error;
    }
    EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
    EXPECT_TRUE(daemon_running());
}

// ---- Defaults and configuration ----

TEST_F(LockcdTest, SetDefaultsSignalPersistAcrossRestartsAndReloadGoesBackToTheFile) {
    std::vector<std::string> changed;
    auto m = manager();
    m->uponSignal("PropertiesChanged")
        .onInterface("org.freedesktop.DBus.Properties")
        .call([&](const std::string &, const std::map<std::string, sdbus::Variant> &values,
                  const std::vector<std::string> &) {
            for (const auto &[name, value] : values) {
                if (name == "DefaultLevel" || name == "DefaultMode") {
                    changed.push_back(name + "=" + value.get<std::string>());
                }
            }
        });
    m->finishRegistration();
    EXPECT_EQ(call_as_root(default_call("SetDefaultLevel", "restricted")).error, "");
    EXPECT_EQ(call_as_root(default_call("SetDefaultMode", "audit")).error, "");
    pump_until([&] { return changed.size() >= 4; });
    EXPECT_NE(std::find(changed.begin(), changed.end(), "DefaultLevel=restricted"), changed.end());
    EXPECT_NE(std::find(changed.begin(), changed.end(), "DefaultMode=audit"), changed.end());

    stop_daemon();
    start_daemon();
    EXPECT_EQ(manager_property("DefaultLevel"), "restricted");
    EXPECT_EQ(manager_property("DefaultMode"), "audit");

    EXPECT_EQ(call_as_root(options_call("Reload")).error, "");
    EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
    EXPECT_EQ(manager_property("DefaultMode"), "enforce");
}

std::vector<LevelEntry> describe_levels(sdbus::IProxy &manager) {
    std::vector<LevelEntry> levels;
    manager.callMethod("DescribeLevels").onInterface(kManagerInterface).storeResultsTo(levels);
    return levels;
}

bool lists(const LevelEntry &level, const LevelDenialEntry &entry) {
    const auto &denies = std::get<1>(level);
    return std::find(denies.begin(), denies.end(), entry) != denies.end();
}

TEST_F(LockcdTest, DescribeLevelsFollowsTheRunningConfiguration) {
    auto m = manager();
    auto levels = describe_levels(*m);
    ASSERT_EQ(levels.size(), 3U);
    EXPECT_EQ(std::get<0>(levels[0]), "privileged");
    EXPECT_EQ(std::get<0>(levels[1]), "baseline");
    EXPECT_EQ(std::get<0>(levels[2]), "restricted");
    EXPECT_TRUE(std::get<1>(levels[0]).empty());
    const LevelDenialEntry sysrq{"fs-open", "proc:/sysrq-trigger", "read,write"};
    EXPECT_TRUE(lists(levels[1], sysrq));
    EXPECT_TRUE(lists(levels[2], sysrq));
    const LevelDenialEntry secret{"open", "/srv/dbus-test-secret", "read"};
    EXPECT_FALSE(lists(levels[2], secret));

    write_config("[[rules]]\nkind = \"open\"\npath = \"/srv/dbus-test-secret\"\n"
                 "deny = [\"restricted\"]\naccess = [\"read\"]\n");
    ASSERT_EQ(call_as_root(options_call("Reload")).error, "");
    levels = describe_levels(*m);
    ASSERT_EQ(levels.size(), 3U);
    EXPECT_TRUE(std::get<1>(levels[0]).empty());
    EXPECT_FALSE(lists(levels[1], secret));
    EXPECT_TRUE(lists(levels[2], secret));

    // An outsider may read it too.
    EXPECT_EQ(call_as(outsider_user(), [](sdbus::IProxy &p) { (void)describe_levels(p); }).error,
              "");
}

TEST_F(LockcdTest, ABrokenConfigurationIsRejectedWholeWithItsLocation) {
    write_config("[defaults]\nlevel = \"privileged\"\n");
    ASSERT_EQ(call_as_root(options_call("Reload")).error, "");
    ASSERT_EQ(manager_property("DefaultLevel"), "privileged");
    // Valid first key, bad second one: nothing of the file may apply.
    write_config("[defaults]\nlevel = \"restricted\"\nmode = \"sometimes\"\n");
    const auto outcome = call_as_root(options_call("Reload"));
    EXPECT_EQ(outcome.error, kInvalidConfig);
    EXPECT_NE(outcome.message.find(config_file_.string() + ":3:"), std::string::npos)
        << outcome.message;
    EXPECT_EQ(manager_property("DefaultLevel"), "privileged");
    EXPECT_EQ(manager_property("DefaultMode"), "enforce");
    write_config("[defaults\n");
    const auto syntax = call_as_root(options_call("Reload"));
    EXPECT_EQ(syntax.error, kInvalidConfig);
    EXPECT_NE(syntax.message.find(config_file_.string() + ":1:"), std::string::npos)
        << syntax.message;
    EXPECT_NE(daemon_log().find(config_file_.string() + ":1:"), std::string::npos)
        << "the journal (stderr) should have the location too";
    EXPECT_EQ(manager_property("DefaultLevel"), "privileged");
}

TEST_F(LockcdTest, SighupReloadsTheConfiguration) {
    write_config("[defaults]\nmode = \"audit\"\n");
    ASSERT_EQ(::kill(daemon_pid_, SIGHUP), 0);
    std::string mode;
    for (int i = 0; i < 300 && (mode = manager_property("DefaultMode")) != "audit"; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(mode, "audit");
    write_config("garbage = = =\n");
    ASSERT_EQ(::kill(daemon_pid_, SIGHUP), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(manager_property("DefaultMode"), "audit");
    EXPECT_TRUE(daemon_running());
}

TEST_F(LockcdTest, ABrokenFileAtStartUpMeansBuiltInDefaultsNotAnUnconfinedHost) {
    stop_daemon();
    write_config("[defaults]\nlevel = 7\n");
    start_daemon();
    EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
    EXPECT_NE(daemon_log().find(config_file_.string() + ":2:"), std::string::npos) << daemon_log();
}

// ---- Persistence ----

TEST_F(LockcdTest, TheRegistrySurvivesACleanRestartAndAKill) {
    TestCgroup a("lockc-test-persist-a");
    TestCgroup b("lockc-test-persist-b");
    ASSERT_EQ(
        call_as_root(register_call("a", "restricted", "audit", cgroup_option(a.relative()))).error,
        "");
    ASSERT_EQ(call_as_root(register_call("b", "privileged", "enforce", cgroup_option(b.relative())))
                  .error,
              "");
    ASSERT_EQ(call_as_root(register_call("s", "baseline", "enforce",
                                         {{"scope", sdbus::Variant(std::string("later.scope"))}}))
                  .error,
              "");
    stop_daemon();
    start_daemon();
    EXPECT_EQ(container_ids(), (std::vector<std::string>{"a", "b", "s"}));
    stop_daemon(true);
    start_daemon();
    EXPECT_EQ(container_ids(), (std::vector<std::string>{"a", "b", "s"}));
    auto c = object("/org/lockc/Manager/container/a");
    EXPECT_EQ(c->getProperty("Level").onInterface(kContainerInterface).get<std::string>(),
              "restricted");
    EXPECT_EQ(c->getProperty("Mode").onInterface(kContainerInterface).get<std::string>(), "audit");
    EXPECT_EQ(c->getProperty("CgroupId").onInterface(kContainerInterface).get<std::uint64_t>(),
              cgroup_id(a.absolute()));
}

TEST_F(LockcdTest, ContainersWhoseCgroupVanishedWhileStoppedAreDropped) {
    auto cg = std::make_unique<TestCgroup>("lockc-test-vanish");
    ASSERT_EQ(call_as_root(register_call("v", "", "", cgroup_option(cg->relative()))).error, "");
    stop_daemon();
    cg.reset();
    start_daemon();
    EXPECT_TRUE(container_ids().empty());
    EXPECT_EQ(registry_text().find("\"v\""), std::string::npos);
}

TEST_F(LockcdTest, ACorruptRegistryIsSetAsideAndTheDaemonStarts) {
    TestCgroup cg("lockc-test-corrupt");
    ASSERT_EQ(call_as_root(register_call("c", "", "", cgroup_option(cg.relative()))).error, "");
    stop_daemon();
    {
        std::ofstream(state_dir_ / "registry.toml", std::ios::trunc)
            << "version = 1\n[[container]]\nid = ";
    }
    start_daemon();
    EXPECT_TRUE(container_ids().empty());
    bool quarantined = false;
    for (const auto &entry : std::filesystem::directory_iterator(state_dir_)) {
        quarantined |= entry.path().filename().string().starts_with("registry.toml.corrupt-");
    }
    EXPECT_TRUE(quarantined);
    EXPECT_NE(daemon_log().find("registry"), std::string::npos);
}

// Unmounts (lazily: lockcd may still hold a file open there) when destroyed.
class TmpfsMount {
  public:
    TmpfsMount(const std::filesystem::path &at, const std::string &options) : at_(at) {
        mounted_ = ::mount("tmpfs", at.c_str(), "tmpfs", 0, options.c_str()) == 0;
    }
    TmpfsMount(const TmpfsMount &) = delete;
    TmpfsMount &operator=(const TmpfsMount &) = delete;
    TmpfsMount(TmpfsMount &&) = delete;
    TmpfsMount &operator=(TmpfsMount &&) = delete;
    ~TmpfsMount() {
        if (mounted_) {
            ::umount2(at_.c_str(), MNT_DETACH);
        }
    }
    [[nodiscard]] bool mounted() const { return mounted_; }

  private:
    std::filesystem::path at_;
    bool mounted_ = false;
};

TEST_F(LockcdTest, AFullStateDirectoryFailsTheCallCleanly) {
    stop_daemon();
    const TmpfsMount small(state_dir_, "size=64k,mode=0700");
    ASSERT_TRUE(small.mounted()) << std::strerror(errno);
    start_daemon();
    TestCgroup kept("lockc-test-full-kept");
    ASSERT_EQ(call_as_root(register_call("kept", "", "", cgroup_option(kept.relative()))).error,
              "");
    {
        // Everything else the filesystem has.
        std::ofstream filler(state_dir_ / "filler", std::ios::binary);
        const std::string block(4096, 'f');
        for (int i = 0; i < 64 && filler.write(block.data(), std::streamsize(block.size())); ++i) {
        }
    }
    // Registrations with long ids until one no longer fits the journal's
    // last page.
    std::vector<std::unique_ptr<TestCgroup>> cgroups;
    std::vector<std::string> registered = {"kept"};
    std::string failed_id;
    CallOutcome failure;
    for (int i = 0; i < 40 && failed_id.empty(); ++i) {
        const std::string id = std::string(200, 'n') + std::to_string(i);
        cgroups.push_back(std::make_unique<TestCgroup>("lockc-test-full-" + std::to_string(i)));
        const auto before = registry_text();
        const auto outcome =
            call_as_root(register_call(id, "", "", cgroup_option(cgroups.back()->relative())));
        if (outcome.error.empty()) {
            registered.push_back(id);
            continue;
        }
        failed_id = id;
        failure = outcome;
        EXPECT_EQ(registry_text(), before) << "a failed registration changed the registry";
    }
    ASSERT_FALSE(failed_id.empty()) << "the journal never filled the filesystem";
    EXPECT_EQ(failure.error, "org.lockc.Error.Failed") << failure.message;
    EXPECT_NE(failure.message.find("registry"), std::string::npos) << failure.message;
    EXPECT_NE(failure.message.find(std::strerror(ENOSPC)), std::string::npos) << failure.message;
    std::sort(registered.begin(), registered.end());
    EXPECT_EQ(container_ids(), registered);
    std::string level;
    manager()
        ->callMethod("GetLevel")
        .onInterface(kManagerInterface)
        .withArguments(std::string("kept"))
        .storeResultsTo(level);
    EXPECT_EQ(level, "baseline");
    EXPECT_TRUE(daemon_running());

    // With room again the same call succeeds, and a restarted lockcd finds
    // exactly what was registered.
    std::filesystem::remove(state_dir_ / "filler");
    EXPECT_EQ(
        call_as_root(register_call(failed_id, "", "", cgroup_option(cgroups.back()->relative())))
            .error,
        "");
    registered.push_back(failed_id);
    std::sort(registered.begin(), registered.end());
    stop_daemon();
    start_daemon();
    EXPECT_EQ(container_ids(), registered);
    stop_daemon();
}

// ---- Authorization (real polkitd, real rules) ----

TEST_F(LockcdTest, AnOutsiderCanReadButEveryChangeIsDenied) {
    TestCgroup cg("lockc-test-outsider");
    ASSERT_EQ(
        call_as_root(register_call("c", "baseline", "enforce", cgroup_option(cg.relative()))).error,
        "");
    const auto user = outsider_user();
    EXPECT_EQ(call_as(user, read_calls()).error, "");
    const std::vector<std::pair<const char *, std::function<void(sdbus::IProxy &)>>> changes = {
        {"RegisterContainer",
         register_call("x", "", "", {{"scope", sdbus::Variant(std::string("x.scope"))}})},
        {"UnregisterContainer", unregister_call("c")},
        {"SetLevel", set_call("SetLevel", "c", "privileged")},
        {"SetMode", set_call("SetMode", "c", "audit")},
        {"SetDefaultLevel", default_call("SetDefaultLevel", "privileged")},
        {"SetDefaultMode", default_call("SetDefaultMode", "audit")},
        {"Reload", options_call("Reload")},
        {"SubscribeDenials", options_call("SubscribeDenials")},
    };
    for (const auto &[name, call] : changes) {
        const auto outcome = call_as(user, call);
        EXPECT_EQ(outcome.error, kAccessDenied) << name << ": " << outcome.message;
    }
    EXPECT_EQ(container_ids(), (std::vector<std::string>{"c"}));
    EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
    EXPECT_EQ(manager_property("DefaultMode"), "enforce");
    std::string level;
    manager()
        ->callMethod("GetLevel")
        .onInterface(kManagerInterface)
        .withArguments(std::string("c"))
        .storeResultsTo(level);
    EXPECT_EQ(level, "baseline");
}

TEST_F(LockcdTest, AMemberOfGroupLockcMayChangeThings) {
    TestCgroup cg("lockc-test-member");
    const auto user = member_user();
    EXPECT_EQ(call_as(user, register_call("m", "baseline", "enforce", cgroup_option(cg.relative())))
                  .error,
              "");
    EXPECT_EQ(call_as(user, set_call("SetLevel", "m", "restricted")).error, "");
    EXPECT_EQ(call_as(user, set_call("SetMode", "m", "audit")).error, "");
    EXPECT_EQ(call_as(user, default_call("SetDefaultLevel", "restricted")).error, "");
    EXPECT_EQ(call_as(user, options_call("SubscribeDenials")).error, "");
    EXPECT_EQ(call_as(user, options_call("Reload")).error, "");
    EXPECT_EQ(call_as(user, unregister_call("m")).error, "");
    EXPECT_TRUE(container_ids().empty());
}

TEST_F(LockcdTest, WithPolkitGoneOnlyRootMayChangeThings) {
    const char *pid_text = std::getenv("LOCKC_TEST_POLKITD_PID");
    ASSERT_NE(pid_text, nullptr);
    const pid_t polkitd = static_cast<pid_t>(std::stol(pid_text));
    ASSERT_EQ(::kill(polkitd, SIGKILL), 0);
    // The bus drops polkit's name once it sees the connection close.
    for (int i = 0; i < 300 && ::kill(polkitd, 0) == 0; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    TestCgroup cg("lockc-test-nopolkit");
    const auto member = call_as(member_user(), default_call("SetDefaultLevel", "privileged"));
    EXPECT_EQ(member.error, kAccessDenied) << member.message;
    EXPECT_NE(member.message.find("polkit"), std::string::npos) << member.message;
    EXPECT_EQ(
        call_as(outsider_user(), register_call("x", "", "", cgroup_option(cg.relative()))).error,
        kAccessDenied);
    EXPECT_EQ(call_as(outsider_user(), read_calls()).error, "");
    EXPECT_EQ(call_as_root(register_call("x", "", "", cgroup_option(cg.relative()))).error, "");
    EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
}

TEST_F(LockcdTest, ReadersAreServedWhilePolkitIsStillDeciding) {
    // Stop polkitd (SIGSTOP): a privileged call then waits for its answer.
    const char *pid_text = std::getenv("LOCKC_TEST_POLKITD_PID");
    ASSERT_NE(pid_text, nullptr);
    const pid_t polkitd = static_cast<pid_t>(std::stol(pid_text));
    ASSERT_EQ(::kill(polkitd, SIGSTOP), 0);
    const pid_t waiting = ::fork();
    if (waiting == 0) {
        (void)call_as(outsider_user(), default_call("SetDefaultLevel", "privileged"));
        ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const auto start = std::chrono::steady_clock::now();
    EXPECT_EQ(call_as(outsider_user(), read_calls()).error, "");
    EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
    ::kill(polkitd, SIGCONT);
    ::waitpid(waiting, nullptr, 0);
    EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
}

TEST_F(LockcdTest, SubscribingTwiceAndUnsubscribingAreHarmless) {
    EXPECT_EQ(call_as_root(options_call("SubscribeDenials")).error, "");
    EXPECT_EQ(call_as_root(options_call("SubscribeDenials")).error, "");
    EXPECT_EQ(call_as_root([](sdbus::IProxy &p) {
                  p.callMethod("UnsubscribeDenials").onInterface(kManagerInterface);
              }).error,
              "");
    EXPECT_EQ(call_as_root([](sdbus::IProxy &p) {
                  p.callMethod("UnsubscribeDenials").onInterface(kManagerInterface);
              }).error,
              "");
    EXPECT_EQ(call_as(outsider_user(),
                      [](sdbus::IProxy &p) {
                          p.callMethod("UnsubscribeDenials").onInterface(kManagerInterface);
                      })
                  .error,
              "");
}

TEST_F(LockcdTest, SubscribeDenialsTakesABooleanBatchedOption) {
    EXPECT_EQ(call_as_root(subscribe_with({{"batched", sdbus::Variant(true)}})).error, "");
    EXPECT_EQ(call_as_root(subscribe_with({{"batched", sdbus::Variant(false)}})).error, "");
    const auto wrong =
        call_as_root(subscribe_with({{"batched", sdbus::Variant(std::string("yes"))}}));
    EXPECT_EQ(wrong.error, kInvalidArgument);
    EXPECT_NE(wrong.message.find("batched"), std::string::npos) << wrong.message;
}

TEST_F(LockcdTest, SubscribeDenialsTakesACoalescedOptionButNotTogetherWithBatched) {
    EXPECT_EQ(call_as_root(subscribe_with({{"coalesced", sdbus::Variant(true)}})).error, "");
    EXPECT_EQ(call_as_root(subscribe_with({{"coalesced", sdbus::Variant(false)},
                                           {"batched", sdbus::Variant(true)}}))
                  .error,
              "");
    const auto both = call_as_root(
        subscribe_with({{"coalesced", sdbus::Variant(true)}, {"batched", sdbus::Variant(true)}}));
    EXPECT_EQ(both.error, kInvalidArgument);
    EXPECT_NE(both.message.find("exclude each other"), std::string::npos) << both.message;
    const auto wrong = call_as_root(subscribe_with({{"coalesced", sdbus::Variant(1U)}}));
    EXPECT_EQ(wrong.error, kInvalidArgument);
    EXPECT_NE(wrong.message.find("coalesced"), std::string::npos) << wrong.message;
}

} // namespace
} // namespace lockc::test

namespace lockc::test {
namespace {

// Waits up to `wait` for lockcd to exit on its own; its exit status or -1.
int wait_for_exit(pid_t pid, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
}

TEST_F(LockcdTest, WithExitWhenIdleItLeavesWhenNobodyNeedsItAndNotBefore) {
    stop_daemon();
    start_daemon({"--exit-when-idle", "1"});
    // A subscriber keeps it up.
    auto subscriber = sdbus::createSystemBusConnection();
    auto proxy = sdbus::createProxy(*subscriber, kBusName, kManagerPath);
    proxy->callMethod("SubscribeDenials").onInterface(kManagerInterface).withArguments(Options{});
    EXPECT_EQ(wait_for_exit(daemon_pid_, std::chrono::milliseconds(2500)), -1)
        << "lockcd left while a subscriber was connected";
    // Calls keep it up too: one every half second for two seconds.
    subscriber.reset(); // the connection closes: the subscription ends
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
        std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    EXPECT_TRUE(daemon_running());
    const int status = wait_for_exit(daemon_pid_, std::chrono::milliseconds(5000));
    EXPECT_EQ(status, 0) << daemon_log();
    daemon_pid_ = -1;
    EXPECT_NE(daemon_log().find("idle"), std::string::npos) << daemon_log();
    // Its state is kept for the next start.
    start_daemon();
    EXPECT_EQ(manager_property("DefaultLevel"), "baseline");
}

TEST_F(LockcdTest, BadCommandLinesAreUsageErrors) {
    for (const std::vector<std::string> &args : {std::vector<std::string>{"--exit-when-idle", "0"},
                                                 {"--exit-when-idle", "1x"},
                                                 {"--exit-when-idle"},
                                                 {"--config"},
                                                 {"--frobnicate"}}) {
        std::string command = std::string(LOCKCD_PATH);
        for (const auto &a : args) {
            command += " '" + a + "'";
        }
        const int status = std::system((command + " >/dev/null 2>&1").c_str());
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << command;
    }
}

} // namespace
} // namespace lockc::test

namespace lockc::test {
namespace {

TEST_F(LockcdTest, RootInsideAConfinedContainerCannotChangeAnything) {
    TestCgroup cg("lockc-test-inside");
    TestCgroup free("lockc-test-inside-privileged");
    ASSERT_EQ(
        call_as_root(register_call("jail", "baseline", "enforce", cgroup_option(cg.relative())))
            .error,
        "");
    ASSERT_EQ(
        call_as_root(register_call("free", "privileged", "enforce", cgroup_option(free.relative())))
            .error,
        "");
    const std::vector<std::pair<const char *, std::function<void(sdbus::IProxy &)>>> changes = {
        {"lift its own level", set_call("SetLevel", "jail", "privileged")},
        {"audit only", set_call("SetMode", "jail", "audit")},
        {"unregister itself", unregister_call("jail")},
        {"lower the default", default_call("SetDefaultLevel", "privileged")},
        {"subscribe to host paths", options_call("SubscribeDenials")},
        {"reload", options_call("Reload")},
    };
    for (const auto &[what, call] : changes) {
        const auto outcome = call_in_cgroup(cg, call);
        EXPECT_EQ(outcome.error, kAccessDenied) << what << ": " << outcome.message;
        EXPECT_NE(outcome.message.find("jail"), std::string::npos) << outcome.message;
    }
    EXPECT_EQ(call_in_cgroup(cg, read_calls()).error, "") << "reading stays open";
    std::string level;
    manager()
        ->callMethod("GetLevel")
        .onInterface(kManagerInterface)
        .withArguments(std::string("jail"))
        .storeResultsTo(level);
    EXPECT_EQ(level, "baseline");
    // A privileged container is not confined: polkit (root here) decides.
    EXPECT_EQ(call_in_cgroup(free, set_call("SetMode", "free", "audit")).error, "");
    // Neither is the host.
    EXPECT_EQ(call_as_root(set_call("SetLevel", "jail", "restricted")).error, "");
}

} // namespace
} // namespace lockc::test
