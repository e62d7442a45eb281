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
    RegistryStore broken(dir_ / "plain" / "lockc");
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

// ---- The journal ----

// A sequence of changes touching every kind, with the state after each.
std::vector<RegistryChange> sample_changes() {
    auto awkward = record("line\nbreak \"q\" caf\xc3\xa9", Level::Restricted, Mode::Audit);
    awkward.cgroup_path = "/system.slice/a b.scope";
    awkward.cgroup_id = kU64Max;
    awkward.registered_usec = kI64Max;
    auto replaced = record("container-1", Level::Privileged, Mode::Enforce);
    replaced.pending_name = "later.scope";
    return {
        PutContainer{record("new-1")},
        PutContainer{awkward},
        RemoveContainer{"container-0"},
        SetDefaults{Level::Baseline, std::nullopt},
        PutContainer{replaced},
        RemoveContainer{"new-1"},
        SetDefaults{std::nullopt, std::nullopt},
        PutContainer{record("new-2", Level::Restricted)},
    };
}

TEST_F(Registry, AppendedChangesAreReplayedInOrder) {
    auto expected = sample_state(3);
    auto s = store();
    s.save(expected);
    for (const auto &change : sample_changes()) {
        s.append(change);
        ASSERT_TRUE(apply_change(expected, change));
        std::string warning = "unset";
        EXPECT_EQ(store().load(&warning), expected) << read_file(s.journal_file());
        EXPECT_EQ(warning, "");
    }
    // The snapshot alone is unchanged: the changes are in the journal.
    EXPECT_EQ(read_file(s.file()).find("new-2"), std::string::npos);
    const auto journal = read_file(s.journal_file());
    EXPECT_NE(journal.find("\nput = { "), std::string::npos) << journal;
    EXPECT_NE(journal.find("\nremove = { id = \"container-0\" }\n"), std::string::npos) << journal;
    // A save folds them in and starts an empty journal.
    s.save(expected);
    EXPECT_EQ(read_file(s.file()).find("new-1"), std::string::npos);
    EXPECT_NE(read_file(s.file()).find("new-2"), std::string::npos);
    EXPECT_EQ(read_file(s.journal_file()).find("put"), std::string::npos);
    EXPECT_EQ(store().load(), expected);
}

TEST_F(Registry, EveryJournalTruncationLoadsTheChangesBeforeIt) {
    const auto base = sample_state(2);
    auto s = store();
    s.save(base);
    std::vector<RegistryState> states{base};
    std::vector<std::size_t> ends{read_file(s.journal_file()).size()};
    for (const auto &change : sample_changes()) {
        s.append(change);
        states.push_back(states.back());
        ASSERT_TRUE(apply_change(states.back(), change));
        ends.push_back(read_file(s.journal_file()).size());
    }
    const auto full = read_file(s.journal_file());
    for (std::size_t cut = 0; cut <= full.size(); ++cut) {
        write_file(s.journal_file(), full.substr(0, cut));
        std::string warning;
        RegistryState loaded;
        ASSERT_NO_THROW(loaded = store().load(&warning)) << "cut at " << cut;
        // Every change whose line is complete, and none after.
        std::size_t k = 0;
        while (k + 1 < ends.size() && ends[k + 1] <= cut) {
            ++k;
        }
        EXPECT_EQ(loaded, states[k]) << "cut at " << cut;
        const bool at_line_end = cut == 0 || full[cut - 1] == '\n';
        EXPECT_EQ(warning.empty(), at_line_end) << "cut at " << cut << ": " << warning;
    }
}

TEST_F(Registry, AJournalOlderThanTheSnapshotIsIgnored) {
    auto s = store();
    s.save(sample_state(2));
    s.append(PutContainer{record("only-in-the-old-journal")});
    const auto old_journal = read_file(s.journal_file());
    const auto newer = sample_state(5);
    s.save(newer);
    // As if lockcd stopped between renaming the new snapshot into place and
    // replacing the journal.
    write_file(s.journal_file(), old_journal);
    std::string warning;
    EXPECT_EQ(store().load(&warning), newer);
    EXPECT_NE(warning.find("already in registry.toml"), std::string::npos) << warning;
}

TEST_F(Registry, BadJournalsAreCorruptAndNameTheLine) {
    auto s = store();
    s.save(sample_state(2));
    const std::string head = read_file(s.journal_file()); // comment, generation = 1
    const std::string ok = "put = { id = \"x\", level = \"baseline\", mode = \"enforce\" }\n";
    const std::pair<std::string, std::string> cases[] = {
        {head + ok + "remove = { id = \"nobody\" }\n", "not registered"},
        {head + ok + "rename = { id = \"x\" }\n", "unknown change \"rename\""},
        {head + ok + "put = { id = \"y\", level = \"max\", mode = \"enforce\" }\n",
         "is not privileged, baseline or restricted"},
        {head + ok + "put = { id = \"y\", level = \"baseline\" }\n", "missing mode"},
        {head + ok + "put = { id = \"\", level = \"baseline\", mode = \"audit\" }\n", "empty id"},
        {head + ok + "put = { id = \"y\", level = \"baseline\", mode = \"audit\", x = 1 }\n",
         "unknown key \"x\""},
        {head + ok + "remove = { id = \"x\", why = \"\" }\n", "unknown key \"why\""},
        {head + ok + "defaults = { level = \"none\" }\n", "defaults: level"},
        {head + ok + "put = 1\n", "put: expected a table"},
        {head + ok + "a = 1 b = 2\n", ""},
        {head + ok + "put = { id = \"y\" \n", ""},
        {head + ok + "generation = 1\n", "unknown change \"generation\""},
        {std::string("# x\n") + ok, "expected the generation first"},
        {"generation = -1\n", "generation: expected a non-negative integer"},
        {"generation = 9\n", "newer than registry.toml's (1)"},
    };
    for (const auto &[text, hint] : cases) {
        SCOPED_TRACE(text);
        write_file(s.journal_file(), text);
        try {
            (void)store().load();
            ADD_FAILURE() << "loaded without complaint";
        } catch (const RegistryCorrupt &e) {
            const std::string msg = e.what();
            EXPECT_NE(msg.find(s.journal_file().string() + ":"), std::string::npos) << msg;
            EXPECT_NE(msg.find(hint), std::string::npos) << "want \"" << hint << "\": " << msg;
        }
    }
    // The line of the bad change (line 4: comment, generation, ok, bad).
    write_file(s.journal_file(), head + ok + "remove = { id = \"nobody\" }\n");
    try {
        (void)store().load();
    } catch (const RegistryCorrupt &e) {
        EXPECT_NE(std::string(e.what()).find("registry.journal:4:"), std::string::npos) << e.what();
    }
}

TEST_F(Registry, AppendRefusesBadChangesAndAppendsBeforeASave) {
    auto fresh = store();
    EXPECT_THROW(fresh.append(PutContainer{record("x")}), Error);
    EXPECT_FALSE(fs::exists(fresh.journal_file()));

    auto s = store();
    s.save(sample_state(1));
    const auto before = read_file(s.journal_file());
    const std::vector<RegistryChange> bad = {
        PutContainer{record("")},
        PutContainer{record("bad\xff utf-8")},
        RemoveContainer{""},
        SetDefaults{static_cast<Level>(42), std::nullopt},
    };
    for (const auto &change : bad) {
        try {
            s.append(change);
            ADD_FAILURE() << "appended a change load() would refuse";
        } catch (const Error &e) {
            EXPECT_EQ(e.kind(), ErrorKind::InvalidArgument) << e.what();
        }
    }
    EXPECT_EQ(read_file(s.journal_file()), before);
}

TEST_F(Registry, CompactionIsDueOnceTheJournalIsAsLargeAsTheSnapshot) {
    auto s = store();
    s.save(sample_state(2000)); // a snapshot of about 400 KB
    const auto snapshot = fs::file_size(s.file());
    ASSERT_GT(snapshot, 64U * 1024U);
    std::uint64_t appended = 0;
    int n = 0;
    while (!s.compaction_due()) {
        s.append(PutContainer{record("c-" + std::to_string(n++))});
        appended = fs::file_size(s.journal_file());
        ASSERT_LE(appended, snapshot + 200) << "no compaction asked for";
    }
    EXPECT_GE(appended, snapshot);
    s.save(store().load());
    EXPECT_FALSE(s.compaction_due());
}

TEST_F(Registry, SyncMarksAppendsDurable) {
    auto s = store();
    s.save(sample_state(1));
    EXPECT_FALSE(s.unsynced_since());
    const auto t0 = std::chrono::steady_clock::now();
    s.append(RemoveContainer{"container-0"});
    ASSERT_TRUE(s.unsynced_since());
    EXPECT_GE(*s.unsynced_since(), t0);
    const auto first = *s.unsynced_since();
    s.append(SetDefaults{Level::Restricted, Mode::Audit});
    EXPECT_EQ(*s.unsynced_since(), first); // the oldest unsynced change counts
    s.sync();
    EXPECT_FALSE(s.unsynced_since());
    RegistryState expected;
    expected.default_level = Level::Restricted;
    expected.default_mode = Mode::Audit;
    EXPECT_EQ(store().load(), expected);
}

TEST_F(Registry, AFullDiskFailsAnAppendAndLeavesTheJournalWhole) {
    const int rc = in_child([&] {
        if (!private_mounts() ||
            ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=16k,mode=0700") != 0) {
            return kSkip;
        }
        auto s = store();
        auto expected = sample_state(2);
        s.save(expected);
        // Fill the rest of the filesystem.
        {
            std::ofstream filler(dir_ / "filler", std::ios::binary);
            const std::string block(512, 'f');
            for (int i = 0; i < 64 && filler.write(block.data(), std::streamsize(block.size()));
                 ++i) {
            }
        }
        const std::string big_id(200, 'x');
        int failures = 0;
        for (int i = 0; i < 100 && failures == 0; ++i) {
            const RegistryChange change = PutContainer{record(big_id + std::to_string(i))};
            try {
                s.append(change);
                apply_change(expected, change);
            } catch (const Error &e) {
                if (e.kind() != ErrorKind::System ||
                    std::string(e.what()).find(std::strerror(ENOSPC)) == std::string::npos) {
                    return 2;
                }
                ++failures;
            }
        }
        if (failures == 0) {
            return 1;
        }
        if (store().load() != expected) {
            return 3; // a failed append left part of a line, or lost one
        }
        fs::remove(dir_ / "filler");
        const RegistryChange after = RemoveContainer{"container-0"};
        s.append(after);
        apply_change(expected, after);
        return store().load() == expected ? 0 : 4;
    });
    if (rc == kSkip) {
        GTEST_SKIP() << "cannot mount a tmpfs";
    }
    EXPECT_EQ(rc, 0);
}

TEST_F(Registry, SigkillDuringAppendsLosesNoCompletedChange) {
    const auto base = sample_state(3);
    std::mt19937 rng(std::random_device{}());
    std::uniform_int_distribution<int> delay_us(0, 20000);
    for (int round = 0; round < 15; ++round) {
        auto s = store();
        s.save(base);
        int pipe_fds[2];
        ASSERT_EQ(::pipe(pipe_fds), 0);
        const pid_t pid = ::fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
            ::close(pipe_fds[0]);
            try {
                // Reports each change done, as lockcd replies to a call.
                for (std::uint32_t i = 0;; ++i) {
                    s.append(PutContainer{record("n" + std::to_string(i))});
                    if (::write(pipe_fds[1], &i, sizeof i) != sizeof i) {
                        break;
                    }
                }
            } catch (...) {
            }
            ::_exit(1);
        }
        ::close(pipe_fds[1]);
        std::this_thread::sleep_for(std::chrono::microseconds(delay_us(rng)));
        ASSERT_EQ(::kill(pid, SIGKILL), 0);
        int status = 0;
        ASSERT_EQ(::waitpid(pid, &status, 0), pid);
        EXPECT_TRUE(WIFSIGNALED(status)) << "the appending child failed on its own";
        std::int64_t done = -1;
        std::uint32_t i = 0;
        while (::read(pipe_fds[0], &i, sizeof i) == sizeof i) {
            done = i;
        }
        ::close(pipe_fds[0]);
        RegistryState loaded;
        ASSERT_NO_THROW(loaded = store().load()) << "round " << round;
        // Every reported change is there; at most one more (written, not yet
        // reported) may be.
        ASSERT_GE(loaded.containers.size(), base.containers.size());
        const auto extra =
            static_cast<std::int64_t>(loaded.containers.size() - base.containers.size());
        EXPECT_TRUE(extra == done + 1 || extra == done + 2)
            << "round " << round << ": " << extra << " appended, " << done + 1 << " reported";
        for (std::int64_t k = 0; k < extra; ++k) {
            EXPECT_EQ(loaded.containers[base.containers.size() + k].id, "n" + std::to_string(k));
        }
    }
}

TEST_F(Registry, QuarantineMovesTheJournalToo) {
    auto s = store();
    s.save(sample_state(1));
    s.append(RemoveContainer{"container-0"});
    const auto journal = read_file(s.journal_file());
    const auto moved = s.quarantine();
    EXPECT_EQ(moved.filename().string().rfind("registry.toml.corrupt-", 0), 0U);
    EXPECT_FALSE(fs::exists(s.file()));
    EXPECT_FALSE(fs::exists(s.journal_file()));
    bool journal_kept = false;
    for (const auto &entry : fs::directory_iterator(dir_)) {
        if (entry.path().filename().string().starts_with("registry.journal.corrupt-")) {
            journal_kept = read_file(entry.path()) == journal;
        }
    }
    EXPECT_TRUE(journal_kept);
    EXPECT_THROW(s.append(RemoveContainer{"x"}), Error); // a save() comes first
    EXPECT_EQ(store().load(), RegistryState{});
}

} // namespace
} // namespace lockc
