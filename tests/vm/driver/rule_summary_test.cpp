// file_open and unix_stream_connect skip what cannot deny, as the summary
// of the rules (the one element of the rule_summary map) says: file_open
// composes a container's view of a path only when the open-path rules'
// union can deny the caller's level, and looks up a filesystem's rule only
// when the filter has its magic's bit; unix_stream_connect looks a socket
// name up only when the filter has its head's bit, or a rule is shorter
// than a head. The summary decides, and only while it is ready. Denied
// paths reach the event whole, or cut to the event's room.
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace lockc::vmtest {
namespace {

namespace fs = std::filesystem;

lockc_rule_summary read_summary() {
    lockc_rule_summary u{};
    const UniqueFd fd = open_pinned_map("rule_summary");
    EXPECT_TRUE(fd.valid()) << pinned_map_path("rule_summary");
    const std::uint32_t key = 0;
    EXPECT_EQ(bpf_map_lookup_elem(fd.get(), &key, &u), 0);
    return u;
}

// Behind the enforcer's back, as a loader in the middle of a change would.
void write_summary(const lockc_rule_summary &u) {
    const UniqueFd fd = open_pinned_map("rule_summary");
    ASSERT_TRUE(fd.valid()) << pinned_map_path("rule_summary");
    const std::uint32_t key = 0;
    EXPECT_EQ(bpf_map_update_elem(fd.get(), &key, &u, BPF_ANY), 0);
}

// `file` opened for reading from a baseline container: 0 or the errno.
int open_from_container(const char *file) {
    const auto r = run_contained("open-rules-summary", Level::Baseline,
                                 [file] { return open_err(file, O_RDONLY | O_CLOEXEC); });
    EXPECT_TRUE(r.ok);
    return r.err;
}

int open_rule_file_from_container() {
    return open_from_container(kTestOpenRuleFile);
}

class RuleSummary : public ::testing::Test {
  protected:
    void SetUp() override {
        fs::create_directories(fs::path(kTestOpenRuleFile).parent_path());
        std::ofstream(kTestOpenRuleFile) << "lockc";
    }
    // The rules as every test expects them, summary included.
    void TearDown() override { enforcer().apply_rules(test_rules()); }
};

TEST_F(RuleSummary, TheUnionDecidesWhetherPathsAreLookedUpButOnlyWhenReady) {
    // As applied: test_rules() denies this file at baseline.
    const auto applied = read_summary();
    EXPECT_EQ(applied.ready, 1);
    EXPECT_EQ(applied.path_deny[LOCKC_LEVEL_BASELINE], LOCKC_ACCESS_ALL);
    EXPECT_EQ(applied.path_deny[LOCKC_LEVEL_RESTRICTED], LOCKC_ACCESS_ALL);
    EXPECT_EQ(applied.path_deny[LOCKC_LEVEL_PRIVILEGED], 0);
    EXPECT_EQ(open_rule_file_from_container(), EPERM);

    // A ready union that says no rule denies baseline: the path is not
    // even composed, and the rule in the trie is not reached.
    lockc_rule_summary none = read_summary();
    std::fill(std::begin(none.path_deny), std::end(none.path_deny), 0);
    none.ready = 1;
    write_summary(none);
    EXPECT_EQ(open_rule_file_from_container(), 0);

    // Not ready, as while the rules are replaced: every path is looked up.
    none.ready = 0;
    write_summary(none);
    EXPECT_EQ(open_rule_file_from_container(), EPERM);

    // Applying the rules makes it ready again, with their union.
    enforcer().apply_rules(test_rules());
    const auto again = read_summary();
    EXPECT_EQ(again.ready, 1);
    EXPECT_EQ(again.path_deny[LOCKC_LEVEL_BASELINE], LOCKC_ACCESS_ALL);
    EXPECT_EQ(open_rule_file_from_container(), EPERM);
}

// sysfs files are decided by their path inside sysfs: a rule of the
// filesystem, looked up only when the filter has sysfs's bit.
TEST_F(RuleSummary, TheFsFilterDecidesWhetherFilesystemRulesAreLookedUpButOnlyWhenReady) {
    constexpr const char *kDenied = "/sys/kernel/uevent_seqnum"; // denied at baseline
    struct statfs sysfs {};
    ASSERT_EQ(::statfs("/sys", &sysfs), 0);
    const std::uint32_t bit = lockc_fs_filter_bit(static_cast<std::uint64_t>(sysfs.f_type));
    const std::uint64_t mask = std::uint64_t{1} << (bit % 64);

    const auto applied = read_summary();
    EXPECT_EQ(applied.ready, 1);
    EXPECT_NE(applied.fs_filter[bit / 64] & mask, 0U);
    EXPECT_EQ(open_from_container(kDenied), EPERM);

    // A ready filter without sysfs's bit: the rule is not looked up.
    lockc_rule_summary without = applied;
    without.fs_filter[bit / 64] &= ~mask;
    write_summary(without);
    EXPECT_EQ(open_from_container(kDenied), 0);

    // Not ready, as while the rules are replaced: the rule is looked up.
    without.ready = 0;
    write_summary(without);
    EXPECT_EQ(open_from_container(kDenied), EPERM);

    // Applying the rules makes it ready again, with sysfs's bit.
    enforcer().apply_rules(test_rules());
    const auto again = read_summary();
    EXPECT_EQ(again.ready, 1);
    EXPECT_NE(again.fs_filter[bit / 64] & mask, 0U);
    EXPECT_EQ(open_from_container(kDenied), EPERM);
}

// A listening unix socket bound at a path, unlinked on scope exit.
class BoundSocket {
  public:
    explicit BoundSocket(std::string path) : path_(std::move(path)) {
        fs::create_directories(fs::path(path_).parent_path());
        ::unlink(path_.c_str());
        fd_ = UniqueFd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path_.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
        listening_ = fd_.valid() &&
                     ::bind(fd_.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0 &&
                     ::listen(fd_.get(), 64) == 0;
    }
    BoundSocket(const BoundSocket &) = delete;
    BoundSocket &operator=(const BoundSocket &) = delete;
    BoundSocket(BoundSocket &&) = delete;
    BoundSocket &operator=(BoundSocket &&) = delete;
    ~BoundSocket() { ::unlink(path_.c_str()); }
    [[nodiscard]] bool listening() const { return listening_; }

  private:
    std::string path_;
    UniqueFd fd_;
    bool listening_ = false;
};

// A connect to `path` from a baseline container: 0 or the errno.
int connect_from_container(const std::string &path) {
    const auto r = run_contained("sock-rules-summary", Level::Baseline, [&path] {
        const UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
        return ::connect(fd.get(), reinterpret_cast<sockaddr *>(&addr), sizeof(addr)) == 0 ? 0
                                                                                           : errno;
    });
    EXPECT_TRUE(r.ok);
    return r.err;
}

std::uint32_t sock_bit(const std::string &name) {
    return lockc_sock_filter_bit(lockc_sock_head(name.c_str()));
}
bool sock_filter_has(const lockc_rule_summary &u, std::uint32_t bit) {
    return (u.sock_filter[bit / 64] >> (bit % 64) & 1) != 0;
}

// A socket rule of a full head, denying baseline, is looked up only when
// the filter has its head's bit. (A socket of its own: the hook matrix's
// engine socket is bound once for the whole run.)
TEST_F(RuleSummary, TheSockFilterDecidesWhetherSocketRulesAreLookedUpButOnlyWhenReady) {
    const std::string name = "/run/lockc-vm-summary.sock";
    const BoundSocket listener(name);
    ASSERT_TRUE(listener.listening());
    const PathRule rule{RuleSpace::UnixSocket, "", name, {1, 1}};
    const RuleSet rules = with_added_rules(test_rules(), {&rule, 1});
    enforcer().apply_rules(rules);
    const std::uint32_t bit = sock_bit(name);

    const auto applied = read_summary();
    EXPECT_EQ(applied.ready, 1);
    EXPECT_EQ(applied.sock_short, 0);
    EXPECT_TRUE(sock_filter_has(applied, bit));
    EXPECT_EQ(connect_from_container(name), EPERM);

    // A ready filter without the head's bit: the rule is not looked up.
    lockc_rule_summary without = applied;
    without.sock_filter[bit / 64] &= ~(std::uint64_t{1} << (bit % 64));
    write_summary(without);
    EXPECT_EQ(connect_from_container(name), 0);

    // A rule shorter than a head, as far as the summary knows: every name
    // is looked up.
    without.sock_short = 1;
    write_summary(without);
    EXPECT_EQ(connect_from_container(name), EPERM);

    // Not ready, as while the rules are replaced: the rule is looked up.
    without.sock_short = 0;
    without.ready = 0;
    write_summary(without);
    EXPECT_EQ(connect_from_container(name), EPERM);

    // Applying the rules makes it ready again, with the head's bit.
    enforcer().apply_rules(rules);
    const auto again = read_summary();
    EXPECT_EQ(again.ready, 1);
    EXPECT_TRUE(sock_filter_has(again, bit));
    EXPECT_EQ(connect_from_container(name), EPERM);
}

// A rule shorter than a head ("/run/lv", 7 bytes) has no bit: it sets
// sock_short, and a socket under it is denied though its head's bit is
// clear. Without the rule that socket is allowed, and so is one whose name
// is shorter than a head, which no rule of a full head can match.
TEST_F(RuleSummary, ARuleShorterThanAHeadMakesEveryConnectLookUp) {
    const std::string under = "/run/lv/lockc-vm.sock";
    const BoundSocket socket(under);
    ASSERT_TRUE(socket.listening());
    const std::string short_name = "/run/s"; // 6 bytes
    const BoundSocket short_socket(short_name);
    ASSERT_TRUE(short_socket.listening());
    ASSERT_EQ(read_summary().sock_short, 0);
    EXPECT_EQ(connect_from_container(under), 0);
    EXPECT_EQ(connect_from_container(short_name), 0);

    const PathRule shorter{RuleSpace::UnixSocket, "", "/run/lv", {1, 1}};
    enforcer().apply_rules(with_added_rules(test_rules(), {&shorter, 1}));
    const auto applied = read_summary();
    EXPECT_EQ(applied.ready, 1);
    EXPECT_EQ(applied.sock_short, 1);
    ASSERT_FALSE(sock_filter_has(applied, sock_bit(under)))
        << "the head of " << under << " shares a bit with a rule: this test needs another name";
    EXPECT_EQ(connect_from_container(under), EPERM);
    EXPECT_EQ(connect_from_container(short_name), 0); // looked up, no rule
}

// A denied path's event names it exactly; a path longer than the event's
// room is cut to its first LOCKC_TARGET_LEN - 1 bytes.
TEST_F(RuleSummary, ADeniedPathReachesTheEventWholeOrCutToItsRoom) {
    const fs::path dir = "/run/secrets/kubernetes.io/lockc-vm-long";
    const std::string longest = std::string(240, 'n');
    const fs::path deep = dir / longest / "token"; // > 255 bytes
    fs::create_directories(deep.parent_path());
    std::ofstream(deep) << "lockc";
    const fs::path shallow = dir / "token";
    std::ofstream(shallow) << "lockc";
    ASSERT_GT(deep.string().size(), LOCKC_TARGET_LEN);

    TestCgroup cg("open-path-event");
    enforcer().set_policy(cg.id(), Level::Restricted, Mode::Enforce, Phase::Running);
    (void)take_events();
    for (const fs::path &file : {shallow, deep}) {
        const auto r = run_child(&cg.path(), nullptr,
                                 [&file] { return open_err(file.c_str(), O_RDONLY | O_CLOEXEC); });
        EXPECT_TRUE(r.ok);
        EXPECT_EQ(r.err, EPERM) << file;
    }
    const auto events = take_events(cg.id());
    enforcer().remove_policy(cg.id());
    fs::remove_all(dir);
    ASSERT_EQ(events.size(), 2U) << describe_all(events);
    EXPECT_EQ(events[0].target, shallow.string());
    EXPECT_EQ(events[1].target, deep.string().substr(0, LOCKC_TARGET_LEN - 1));
    for (const auto &e : events) {
        EXPECT_EQ(e.hook, LOCKC_HOOK_FILE_OPEN);
        EXPECT_EQ(e.target_kind, LOCKC_TARGET_PATH);
    }
}

} // namespace
} // namespace lockc::vmtest
