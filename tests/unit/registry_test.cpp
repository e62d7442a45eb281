#include "error.hpp"
#include "registry.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <csignal>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace lockc {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kEndMarker = "# end of lockc registry";
constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
constexpr std::uint64_t kI64Max = std::numeric_limits<std::int64_t>::max();

std::string read_file(const fs::path &path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream out;
    out << in.rdbuf();
    return std::move(out).str();
}

void write_file(const fs::path &path, std::string_view data) {
    std::ofstream(path, std::ios::binary | std::ios::trunc)
        .write(data.data(), std::streamsize(data.size()));
}

// A hand-written registry: the body plus the end marker save() writes.
std::string doc(std::string_view body) {
    return std::string(body) + "\n" + std::string(kEndMarker) + "\n";
}

ContainerRecord record(std::string id, Level level = Level::Baseline, Mode mode = Mode::Enforce) {
    ContainerRecord r;
    r.id = std::move(id);
    r.level = level;
    r.mode = mode;
    return r;
}

// Records that between them set every field to a non-default value.
RegistryState sample_state(int count) {
    RegistryState s;
    s.default_level = Level::Restricted;
    s.default_mode = Mode::Audit;
    const Level levels[] = {Level::Privileged, Level::Baseline, Level::Restricted};
    for (int i = 0; i < count; ++i) {
        auto r = record("container-" + std::to_string(i), levels[i % 3],
                        i % 2 == 0 ? Mode::Enforce : Mode::Audit);
        if (i % 4 == 0) {
            r.pending_name = "docker-" + std::to_string(i) + ".scope";
        } else {
            r.runtime = i % 4 == 1 ? "docker" : "cri-containerd";
            r.cgroup_path = "/system.slice/docker-" + std::to_string(i) + ".scope";
            r.cgroup_id = 1000 + std::uint64_t(i);
        }
        r.registered_usec = 1'700'000'000'000'000 + std::uint64_t(i);
        s.containers.push_back(r);
    }
    return s;
}

// Runs fn in a forked child and returns its exit code (fn's result, 100 if it
// threw, -1 if the child did not exit). No gtest macros in the child.
int in_child(const std::function<int()> &fn) {
    const pid_t pid = ::fork();
    if (pid == 0) {
        int rc = 100;
        try {
            rc = fn();
        } catch (...) {
        }
        ::_exit(rc);
    }
    int status = 0;
    if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status)) {
        return -1;
    }
    return WEXITSTATUS(status);
}

// A mount namespace of our own, so mounts vanish with the child.
bool private_mounts() {
    return ::unshare(CLONE_NEWNS) == 0 &&
           ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
}

constexpr int kSkip = 77;

class Registry : public ::testing::Test {
  protected:
    void SetUp() override {
        std::string tmpl = (fs::temp_directory_path() / "lockc-registry-XXXXXX").string();
        ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override {
        fs::permissions(dir_, fs::perms::owner_all);
        fs::remove_all(dir_);
    }
    [[nodiscard]] RegistryStore store() const { return RegistryStore(dir_); }
    [[nodiscard]] fs::path tmp() const { return dir_ / "registry.toml.tmp"; }

    // load() of these bytes must throw RegistryCorrupt naming the file and
    // containing `hint`; returns the message.
    std::string expect_corrupt(std::string_view bytes, const std::string &hint) {
        write_file(store().file(), bytes);
        try {
            (void)store().load();
            ADD_FAILURE() << "loaded without complaint:\n" << bytes;
        } catch (const RegistryCorrupt &e) {
            std::string msg = e.what();
            EXPECT_NE(msg.find(store().file().string()), std::string::npos) << msg;
            EXPECT_NE(msg.find(hint), std::string::npos) << "want \"" << hint << "\" in: " << msg;
            return msg;
        }
        return {};
    }

    fs::path dir_;
};

TEST_F(Registry, EmptyDirectoryLoadsAsEmptyState) {
    EXPECT_EQ(store().file(), dir_ / "registry.toml");
    EXPECT_EQ(store().load(), RegistryState{});
    EXPECT_EQ(RegistryStore(dir_ / "missing").load(), RegistryState{});
}

TEST_F(Registry, RoundTripsEveryField) {
    const auto state = sample_state(200);
    store().save(state);
    EXPECT_EQ(store().load(), state);

    // Saving replaces the whole state, defaults included.
    RegistryState smaller;
    smaller.default_mode = Mode::Enforce;
    smaller.containers.push_back(record("only", Level::Privileged, Mode::Audit));
    store().save(smaller);
    EXPECT_EQ(store().load(), smaller);

    store().save({});
    EXPECT_EQ(store().load(), RegistryState{});
}

TEST_F(Registry, TheFileIsReadableToml) {
    RegistryState state;
    state.default_level = Level::Restricted;
    auto r = record("web-1");
    r.cgroup_id = 42;
    state.containers.push_back(r);
    store().save(state);
    const auto text = read_file(store().file());
    EXPECT_NE(text.find("version = 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("[defaults]\nlevel = \"restricted\"\n"), std::string::npos) << text;
    EXPECT_NE(text.find("[[container]]\n"), std::string::npos) << text;
    EXPECT_NE(text.find("cgroup_id = \"42\"\n"), std::string::npos) << text;
    EXPECT_NE(text.find("id = \"web-1\"\n"), std::string::npos) << text;
    EXPECT_EQ(text.find("pending_name"), std::string::npos) << "empty fields are left out";
    EXPECT_TRUE(text.ends_with("\n" + std::string(kEndMarker) + "\n")) << text;
}

TEST_F(Registry, RoundTripsAwkwardIdsAndPaths) {
    const std::vector<std::string> awkward = {
        "a/b:c@d",
        R"(quote"s 'and' \back\slashes\)",
        "'",
        R"(""")",
        "'''",
        "line\nbreak\r\n\ttab",
        std::string("nul\0byte", 8),
        "\x7f del \x1b[31m escape \x01",
        "\u00fcn\u00efc\u00f8d\u00e9 \u2603 \U0001f433 \u2028 \u0085 \ufeff \uffff \U0010ffff",
        std::string(kEndMarker),
        "\n" + std::string(kEndMarker),
        "[[container]]",
        "id = \"x\"",
        " padded ",
        "#",
        std::string(10000, 'x'),
    };
    RegistryState state;
    for (std::size_t i = 0; i < awkward.size(); ++i) {
        auto r = record(awkward[i]);
        r.runtime = awkward[(i + 1) % awkward.size()];
        r.cgroup_path = "/kubepods.slice/pod_" + awkward[(i + 2) % awkward.size()] + "/x y\\z";
        r.pending_name = awkward[(i + 3) % awkward.size()];
        state.containers.push_back(r);
    }
    store().save(state);
    EXPECT_EQ(store().load(), state) << read_file(store().file());
}

TEST_F(Registry, RoundTripsCgroupIdsAboveInt64) {
    RegistryState state;
    const std::uint64_t ids[] = {1, kI64Max, kI64Max + 1, kU64Max - 1, kU64Max};
    for (const auto id : ids) {
        auto r = record("c" + std::to_string(id));
        r.cgroup_id = id;
        r.registered_usec = kI64Max;
        state.containers.push_back(r);
    }
    store().save(state);
    EXPECT_EQ(store().load(), state);
    EXPECT_NE(read_file(store().file()).find("cgroup_id = \"18446744073709551615\""),
              std::string::npos);
}

TEST_F(Registry, SaveLeavesNoTemporaryAndMode0600) {
    store().save(sample_state(3));
    EXPECT_FALSE(fs::exists(tmp()));
    struct stat st {};
    ASSERT_EQ(::stat(store().file().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600U);
}

TEST_F(Registry, StaleTemporaryIsIgnoredByLoadAndReplacedBySave) {
    write_file(tmp(), "garbage from a crashed save");
    ASSERT_EQ(::chmod(tmp().c_str(), 0666), 0);
    EXPECT_EQ(store().load(), RegistryState{});

    const auto a = sample_state(5);
    store().save(a);
    write_file(tmp(), doc("version = 1\n[[container]]\nid = \"half\""));
    EXPECT_EQ(store().load(), a);

    // A stale temporary that is a symlink is replaced, not written through.
    const auto victim = dir_ / "victim";
    write_file(victim, "keep");
    fs::remove(tmp());
    fs::create_symlink(victim, tmp());
    const auto b = sample_state(7);
    store().save(b);
    EXPECT_EQ(store().load(), b);
    EXPECT_EQ(read_file(victim), "keep");
    EXPECT_FALSE(fs::exists(fs::symlink_status(tmp())));
    struct stat st {};
    ASSERT_EQ(::stat(store().file().c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 07777, 0600U);
}

TEST_F(Registry, SaveRefusesStatesLoadWouldRejectAndTouchesNothing) {
    const auto a = sample_state(3);
    store().save(a);
    const auto before = read_file(store().file());

    std::vector<RegistryState> bad(6, a);
    bad[0].containers.push_back(record("container-1")); // duplicate
    bad[1].containers.push_back(record(""));
    bad[2].containers.push_back(record("bad\xff utf-8"));
    bad[3].containers[0].cgroup_path = "/\xc0\xaf"; // overlong '/'
    bad[4].containers[1].registered_usec = kI64Max + 1;
    bad[5].containers[2].level = static_cast<Level>(77);
    for (std::size_t i = 0; i < bad.size(); ++i) {
        try {
            store().save(bad[i]);
            ADD_FAILURE() << "saved bad state " << i;
        } catch (const Error &e) {
            EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << i << ": " << e.what();
        }
        EXPECT_EQ(read_file(store().file()), before) << i;
        EXPECT_FALSE(fs::exists(tmp())) << i;
    }
}

TEST_F(Registry, ReadOnlyDirectoryThrowsAndKeepsTheOldFile) {
    const auto a = sample_state(4);
    store().save(a);
    const auto before = read_file(store().file());
    const int rc = in_child([&] {
        // As root only a read-only mount stops the write; chmod does for others.
        if (!private_mounts() || ::mount(dir_.c_str(), dir_.c_str(), nullptr, MS_BIND, nullptr) ||
            ::mount(nullptr, dir_.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr)) {
            if (::geteuid() == 0 || ::chmod(dir_.c_str(), 0500) != 0) {
                return kSkip;
            }
        }
        try {
            store().save(sample_state(9));
            return 1;
        } catch (const Error &e) {
            if (e.kind() != ErrorKind::System ||
                std::string(e.what()).find(dir_.string()) == std::string::npos) {
                return 2;
            }
        }
        return store().load() == a ? 0 : 3;
    });
    if (rc == kSkip) {
        GTEST_SKIP() << "cannot make a read-only mount";
    }
    EXPECT_EQ(rc, 0);
    EXPECT_EQ(read_file(store().file()), before);
    EXPECT_FALSE(fs::exists(tmp()));
}

TEST_F(Registry, FullDiskThrowsAndKeepsTheOldFile) {
    const int rc = in_child([&] {
        if (!private_mounts() ||
            ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=16k,mode=0700") != 0) {
            return kSkip;
        }
        const auto a = sample_state(4);
        store().save(a);
        const auto before = read_file(store().file());
        try {
            store().save(sample_state(5000)); // about 1 MB
            return 1;
        } catch (const Error &e) {
            if (e.kind() != ErrorKind::System ||
                std::string(e.what()).find(std::strerror(ENOSPC)) == std::string::npos) {
                return 2;
            }
        }
        if (read_file(store().file()) != before || store().load() != a) {
            return 3;
        }
        return fs::exists(tmp()) ? 4 : 0;
    });
    if (rc == kSkip) {
        GTEST_SKIP() << "cannot mount a tmpfs";
    }
    EXPECT_EQ(rc, 0);
}

TEST_F(Registry, DirectoryUnderARegularFileThrowsSystemError) {
    write_file(dir_ / "plain", "x");
    const RegistryStore broken(dir_ / "plain" / "lockc");
    try {
        broken.save(sample_state(1));
        ADD_FAILURE() << "saved under a regular file";
    } catch (const Error &e) {
        EXPECT_EQ(e.kind(), ErrorKind::System);
        EXPECT_NE(std::string(e.what()).find(std::strerror(ENOTDIR)), std::string::npos)
            << e.what();
    }
    // Not "missing": the daemon must not start from an empty registry.
    EXPECT_THROW((void)broken.load(), Error);
    EXPECT_EQ(read_file(dir_ / "plain"), "x");
}

TEST_F(Registry, EveryTruncationThrowsUnlessOnlyTrailingWhitespaceWasCut) {
    const auto state = sample_state(6);
    store().save(state);
    const auto full = read_file(store().file());
    const auto content_end = full.find_last_not_of(" \t\r\n") + 1;
    std::vector<std::size_t> wrong;
    for (std::size_t cut = 0; cut < full.size(); ++cut) {
        write_file(store().file(), std::string_view(full).substr(0, cut));
        try {
            if (store().load() != state || cut < content_end) {
                wrong.push_back(cut);
            }
        } catch (const RegistryCorrupt &) {
            if (cut >= content_end) {
                wrong.push_back(cut);
            }
        }
    }
    EXPECT_TRUE(wrong.empty()) << wrong.size() << " wrong cuts, first at " << wrong.front()
                               << " of " << full.size();
}

TEST_F(Registry, GarbageIsCorrupt) {
    (void)expect_corrupt("", "cut short");
    (void)expect_corrupt(std::string(100, '\0'), "");
    (void)expect_corrupt("this is not toml\n", "");
    (void)expect_corrupt(doc("[server]\nport = 80"), "unknown key \"server\"");
    (void)expect_corrupt(doc("version = 1\nid = \"\xff\xfe\""), "");
    store().save(sample_state(3));
    const auto saved = read_file(store().file());
    (void)expect_corrupt(saved + "x", "");
    (void)expect_corrupt(saved + "\x01\x02", "");

    std::mt19937 rng(12345);
    std::uniform_int_distribution<int> byte(0, 255);
    std::uniform_int_distribution<std::size_t> length(1, 4096);
    for (int i = 0; i < 50; ++i) {
        std::string bytes(length(rng), '\0');
        for (auto &c : bytes) {
            c = static_cast<char>(byte(rng));
        }
        (void)expect_corrupt(bytes, "");
    }
}

TEST_F(Registry, DuplicateIdIsCorruptAndNamesBothLines) {
    const auto msg = expect_corrupt(doc(R"(version = 1

[[container]]
id = "web"
level = "baseline"
mode = "enforce"

[[container]]
level = "restricted"
id = "web"
mode = "audit")"),
                                    "duplicate container id \"web\"");
    EXPECT_NE(msg.find("registry.toml:10:"), std::string::npos) << msg;
    EXPECT_NE(msg.find("first at line 4"), std::string::npos) << msg;
}

TEST_F(Registry, UnknownVersionIsCorrupt) {
    (void)expect_corrupt(doc("version = 2"), "unsupported version 2");
    (void)expect_corrupt(doc("version = 0"), "unsupported version 0");
    (void)expect_corrupt(doc("version = \"1\""), "unsupported version");
    (void)expect_corrupt(doc("version = 1.0"), "unsupported version");
    (void)expect_corrupt(doc("[defaults]\nlevel = \"baseline\""), "missing version");
    write_file(store().file(), doc("version = 1"));
    EXPECT_EQ(store().load(), RegistryState{});
}

TEST_F(Registry, BadFieldsAreCorrupt) {
    const std::string ok = "id = \"c\"\nlevel = \"baseline\"\nmode = \"enforce\"\n";
    const std::pair<std::string, std::string> cases[] = {
        {"id = \"c\"\nlevel = \"unconfined\"\nmode = \"enforce\"", "is not privileged"},
        {"id = \"c\"\nlevel = \"Baseline\"\nmode = \"enforce\"", "level"},
        {"id = \"c\"\nlevel = \"baseline\"\nmode = \"permissive\"", "is not enforce or audit"},
        {"level = \"baseline\"\nmode = \"enforce\"", "missing id"},
        {"id = \"c\"\nmode = \"enforce\"", "missing level"},
        {"id = \"c\"\nlevel = \"baseline\"", "missing mode"},
        {"id = 5\nlevel = \"baseline\"\nmode = \"enforce\"", "id: expected a string"},
        {"id = \"\"\nlevel = \"baseline\"\nmode = \"enforce\"", "empty id"},
        {ok + "runtime = 1", "runtime: expected a string"},
        {ok + "cgroup_path = [\"/a\"]", "cgroup_path: expected a string"},
        {ok + "pending_name = true", "pending_name: expected a string"},
        {ok + "cgroup_id = 123", "cgroup_id: expected a string"},
        {ok + "cgroup_id = \"-1\"", "cgroup_id"},
        {ok + "cgroup_id = \"+1\"", "cgroup_id"},
        {ok + "cgroup_id = \" 1\"", "cgroup_id"},
        {ok + "cgroup_id = \"0x10\"", "cgroup_id"},
        {ok + "cgroup_id = \"01\"", "cgroup_id"},
        {ok + "cgroup_id = \"\"", "cgroup_id"},
        {ok + "cgroup_id = \"18446744073709551616\"", "cgroup_id"},
        {ok + "registered_usec = -1", "registered_usec: negative"},
        {ok + "registered_usec = \"1\"", "registered_usec: expected an integer"},
        {ok + "registered_usec = 1.5", "registered_usec: expected an integer"},
        {ok + "colour = \"red\"", "unknown key \"colour\""},
    };
    for (const auto &[body, hint] : cases) {
        SCOPED_TRACE(body);
        (void)expect_corrupt(doc("version = 1\n\n[[container]]\n" + body), hint);
    }
    (void)expect_corrupt(doc("version = 1\ncontainer = 1"), "expected an array of tables");
    (void)expect_corrupt(doc("version = 1\ncontainer = [1, 2]"), "expected an array of tables");
    (void)expect_corrupt(doc("version = 1\ndefaults = 1"), "defaults: expected a table");
    (void)expect_corrupt(doc("version = 1\n[defaults]\nlevel = \"nope\""), "defaults: level");
    (void)expect_corrupt(doc("version = 1\n[defaults]\nmode = 1"), "defaults: mode");
    (void)expect_corrupt(doc("version = 1\n[defaults]\nuser = \"x\""), "unknown key \"user\"");
    (void)expect_corrupt(doc("version = 1\nextra = true"), "unknown key \"extra\"");

    // Keys other than id, level and mode are optional.
    write_file(store().file(), doc("version = 1\n\n[[container]]\n" + ok));
    RegistryState minimal;
    minimal.containers.push_back(record("c"));
    EXPECT_EQ(store().load(), minimal);
}

TEST_F(Registry, CorruptMessageNamesFileLineAndColumn) {
    const auto msg = expect_corrupt(doc(R"(version = 1

[[container]]
id = "line\nbreak"
level = "sideways"
mode = "enforce")"),
                                    "");
    EXPECT_EQ(msg, store().file().string() +
                       ":5:9: container \"line\\x0abreak\": level: \"sideways\" is not "
                       "privileged, baseline or restricted");
    const auto syntax = expect_corrupt("version = 1\nid = \"unterminated\n", "");
    EXPECT_EQ(syntax.rfind(store().file().string() + ":2:", 0), 0U) << syntax;
}

TEST_F(Registry, QuarantineMovesTheFileAside) {
    const std::string garbage = "\x01 not a registry";
    write_file(store().file(), garbage);
    EXPECT_THROW((void)store().load(), RegistryCorrupt);

    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto moved = store().quarantine();
    EXPECT_EQ(moved.parent_path(), dir_);
    const std::string name = moved.filename().string();
    const std::string prefix = "registry.toml.corrupt-";
    ASSERT_EQ(name.rfind(prefix, 0), 0U) << name;
    EXPECT_NEAR(std::stoll(name.substr(prefix.size())), now, 5) << name;
    EXPECT_EQ(read_file(moved), garbage);
    EXPECT_FALSE(fs::exists(store().file()));
    EXPECT_EQ(store().load(), RegistryState{});

    // A second one within the same second keeps the first.
    write_file(store().file(), "second");
    const auto again = store().quarantine();
    EXPECT_NE(again, moved);
    EXPECT_EQ(read_file(again), "second");
    EXPECT_EQ(read_file(moved), garbage);

    EXPECT_THROW((void)store().quarantine(), Error); // nothing left to move
}

TEST_F(Registry, SigkillDuringSaveLeavesEitherTheOldOrTheNewState) {
    const auto a = sample_state(300);
    auto b = sample_state(7);
    b.default_level.reset();
    store().save(a);
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> delay_us(0, 20000);
    for (int round = 0; round < 25; ++round) {
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            try {
                for (;;) {
                    store().save(b);
                    store().save(a);
                }
            } catch (...) {
            }
            ::_exit(1);
        }
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        ASSERT_EQ(::kill(pid, SIGKILL), 0);
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFSIGNALED(status)) << "the saving child failed on its own";
        RegistryState loaded;
        ASSERT_NO_THROW(loaded = store().load()) << "round " << round;
        EXPECT_TRUE(loaded == a || loaded == b) << "round " << round;
    }
}

} // namespace
} // namespace lockc
