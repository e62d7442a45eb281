// file_open composes a container's view of a path only when the open-path
// rules' union (the one element of the open_path_rules map) can deny the
// caller's level: the union is what decides, and only while it is ready.
// Denied paths reach the event whole, or cut to the event's room.
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

namespace lockc::vmtest {
namespace {

namespace fs = std::filesystem;

constexpr const char *kUnionPin = "/sys/fs/bpf/lockc/maps/open_path_rules";

int open_read(const std::string &file) {
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return errno;
    }
    ::close(fd);
    return 0;
}

lockc_open_path_rules read_union() {
    lockc_open_path_rules u{};
    const int fd = bpf_obj_get(kUnionPin);
    EXPECT_GE(fd, 0) << kUnionPin;
    const std::uint32_t key = 0;
    EXPECT_EQ(bpf_map_lookup_elem(fd, &key, &u), 0);
    ::close(fd);
    return u;
}

// Behind the enforcer's back, as a loader in the middle of a change would.
void write_union(const lockc_open_path_rules &u) {
    const int fd = bpf_obj_get(kUnionPin);
    ASSERT_GE(fd, 0) << kUnionPin;
    const std::uint32_t key = 0;
    EXPECT_EQ(bpf_map_update_elem(fd, &key, &u, BPF_ANY), 0);
    ::close(fd);
}

// kTestOpenRuleFile opened for reading from a baseline container.
int open_rule_file_from_container() {
    TestCgroup cg("open-path-union");
    enforcer().set_policy(cg.id(), Level::Baseline, Mode::Enforce, Phase::Running);
    const auto r = run_child(&cg.path(), nullptr, [] { return open_read(kTestOpenRuleFile); });
    enforcer().remove_policy(cg.id());
    EXPECT_TRUE(r.ok);
    return r.err;
}

class OpenPathRules : public ::testing::Test {
  protected:
    void SetUp() override {
        fs::create_directories(fs::path(kTestOpenRuleFile).parent_path());
        std::ofstream(kTestOpenRuleFile) << "lockc";
    }
    // The rules as every test expects them, union included.
    void TearDown() override { enforcer().apply_rules(test_rules()); }
};

TEST_F(OpenPathRules, TheUnionDecidesWhetherPathsAreLookedUpButOnlyWhenReady) {
    // As applied: test_rules() denies this file at baseline.
    const auto applied = read_union();
    EXPECT_EQ(applied.ready, 1);
    EXPECT_EQ(applied.deny[LOCKC_LEVEL_BASELINE], LOCKC_ACCESS_ALL);
    EXPECT_EQ(applied.deny[LOCKC_LEVEL_RESTRICTED], LOCKC_ACCESS_ALL);
    EXPECT_EQ(applied.deny[LOCKC_LEVEL_PRIVILEGED], 0);
    EXPECT_EQ(open_rule_file_from_container(), EPERM);

    // A ready union that says no rule denies baseline: the path is not
    // even composed, and the rule in the trie is not reached.
    lockc_open_path_rules none{};
    none.ready = 1;
    write_union(none);
    EXPECT_EQ(open_rule_file_from_container(), 0);

    // Not ready, as while the rules are replaced: every path is looked up.
    none.ready = 0;
    write_union(none);
    EXPECT_EQ(open_rule_file_from_container(), EPERM);

    // Applying the rules makes it ready again, with their union.
    enforcer().apply_rules(test_rules());
    const auto again = read_union();
    EXPECT_EQ(again.ready, 1);
    EXPECT_EQ(again.deny[LOCKC_LEVEL_BASELINE], LOCKC_ACCESS_ALL);
    EXPECT_EQ(open_rule_file_from_container(), EPERM);
}

// A denied path's event names it exactly; a path longer than the event's
// room is cut to its first LOCKC_TARGET_LEN - 1 bytes.
TEST_F(OpenPathRules, ADeniedPathReachesTheEventWholeOrCutToItsRoom) {
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
        const auto r = run_child(&cg.path(), nullptr, [&file] { return open_read(file); });
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
