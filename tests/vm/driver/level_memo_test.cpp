// The level file_open and unix_stream_connect remember for a cgroup
// (current_level() in lockc.bpf.c, per CPU) follows every change: a task
// that keeps running while its entry is written, removed or made, or while
// it moves to another cgroup, is judged by the entry as it is at its next
// open. One long-lived task per check, on CPU 0, and the test itself on
// another CPU (its own opens would replace CPU 0's memo): each open after
// a change would find the memo its open before the change made, and use
// it if the change did not retire it.
#include "vm_support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <filesystem>
#include <fstream>

namespace lockc::vmtest {
namespace {

namespace fs = std::filesystem;

// Denied at baseline and restricted (an open-path rule of test_rules()).
constexpr const char *kEveryLevelFile = kTestOpenRuleFile;
// Denied at restricted only (its built-in service-account rule).
constexpr const char *kRestrictedFile = "/run/secrets/kubernetes.io/serviceaccount/token";

constexpr int kTaskCpu = 0;
constexpr int kTestCpu = 1;

// Pins the calling thread to `cpu`.
bool on_cpu(int cpu) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::sched_setaffinity(0, sizeof(set), &set) == 0;
}

// A child that opens a file each time it is asked to, and stays.
class OpeningTask {
  public:
    OpeningTask() {
        std::array<int, 2> to_child{};
        std::array<int, 2> to_parent{};
        if (::pipe2(to_child.data(), O_CLOEXEC) != 0 || ::pipe2(to_parent.data(), O_CLOEXEC) != 0) {
            return;
        }
        pid_ = ::fork();
        if (pid_ == 0) {
            ::close(to_child[1]);
            ::close(to_parent[0]);
            if (!on_cpu(kTaskCpu)) {
                ::_exit(1);
            }
            char which = 0;
            while (::read(to_child[0], &which, 1) == 1) {
                const int err =
                    open_err(which == 'r' ? kRestrictedFile : kEveryLevelFile, O_RDONLY);
                if (::write(to_parent[1], &err, sizeof(err)) != sizeof(err)) {
                    break;
                }
            }
            ::_exit(0);
        }
        ::close(to_child[0]);
        ::close(to_parent[1]);
        requests_ = UniqueFd(to_child[1]);
        answers_ = UniqueFd(to_parent[0]);
    }
    OpeningTask(const OpeningTask &) = delete;
    OpeningTask &operator=(const OpeningTask &) = delete;
    ~OpeningTask() {
        requests_.reset(); // the child's read ends, and so does it
        if (pid_ > 0) {
            ::waitpid(pid_, nullptr, 0);
        }
    }

    [[nodiscard]] bool started() const { return pid_ > 0 && answers_.valid(); }

    // The open's result in the child: 0 or its errno (-1: no answer).
    int open_every_level_file() { return ask('e'); }
    int open_restricted_file() { return ask('r'); }

    // Moves the child into `cgroup`, or back where it started.
    [[nodiscard]] bool move_home() const { return move_to(home_); }
    [[nodiscard]] bool move_to(const fs::path &cgroup) const {
        std::ofstream procs(cgroup / "cgroup.procs");
        procs << pid_ << std::flush;
        return static_cast<bool>(procs);
    }

  private:
    int ask(char which) {
        int err = -1;
        if (::write(requests_.get(), &which, 1) != 1 ||
            ::read(answers_.get(), &err, sizeof(err)) != sizeof(err)) {
            return -1;
        }
        return err;
    }

    // The test's own cgroup, which the child starts in.
    fs::path home_ = own_cgroup();
    pid_t pid_ = -1;
    UniqueFd requests_;
    UniqueFd answers_;
};

class LevelMemo : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_EQ(::sched_getaffinity(0, sizeof(affinity_), &affinity_), 0);
        ASSERT_TRUE(on_cpu(kTestCpu)) << "the VM needs two CPUs";
        for (const char *file : {kEveryLevelFile, kRestrictedFile}) {
            fs::create_directories(fs::path(file).parent_path());
            std::ofstream(file) << "lockc";
        }
        ASSERT_TRUE(task_.started());
    }
    void TearDown() override { ::sched_setaffinity(0, sizeof(affinity_), &affinity_); }

    cpu_set_t affinity_{};
    OpeningTask task_;
};

TEST_F(LevelMemo, ALevelWrittenWhileTheTaskRunsDecidesItsNextOpen) {
    TestCgroup cg("memo-level");
    enforcer().set_policy(cg.id(), Level::Baseline, Mode::Enforce, Phase::Running);
    ASSERT_TRUE(task_.move_to(cg.path()));
    EXPECT_EQ(task_.open_restricted_file(), 0) << "baseline";
    EXPECT_EQ(task_.open_every_level_file(), EPERM) << "baseline";

    enforcer().set_policy(cg.id(), Level::Restricted, Mode::Enforce, Phase::Running);
    EXPECT_EQ(task_.open_restricted_file(), EPERM) << "baseline, then restricted";

    enforcer().set_policy(cg.id(), Level::Privileged, Mode::Enforce, Phase::Running);
    EXPECT_EQ(task_.open_every_level_file(), 0) << "restricted, then privileged";
    EXPECT_EQ(task_.open_restricted_file(), 0) << "restricted, then privileged";

    enforcer().set_policy(cg.id(), Level::Baseline, Mode::Enforce, Phase::Running);
    EXPECT_EQ(task_.open_every_level_file(), EPERM) << "privileged, then baseline";

    enforcer().remove_policy(cg.id());
    EXPECT_EQ(task_.open_every_level_file(), 0) << "entry removed";
    EXPECT_TRUE(task_.move_home());
}

TEST_F(LevelMemo, AnEntryMadeForTheTasksCgroupConfinesIt) {
    TestCgroup cg("memo-new-entry");
    ASSERT_TRUE(task_.move_to(cg.path()));
    EXPECT_EQ(task_.open_every_level_file(), 0) << "no entry yet";
    enforcer().set_policy(cg.id(), Level::Baseline, Mode::Enforce, Phase::Running);
    EXPECT_EQ(task_.open_every_level_file(), EPERM) << "entry made";
    enforcer().remove_policy(cg.id());
    EXPECT_TRUE(task_.move_home());
}

TEST_F(LevelMemo, ATaskMovedToAnotherCgroupIsJudgedByItsEntry) {
    TestCgroup host("memo-host");
    TestCgroup privileged("memo-privileged");
    TestCgroup baseline("memo-baseline");
    enforcer().set_policy(privileged.id(), Level::Privileged, Mode::Enforce, Phase::Running);
    enforcer().set_policy(baseline.id(), Level::Baseline, Mode::Enforce, Phase::Running);
    // No entry is written from here on: only the moves change the answer.
    ASSERT_TRUE(task_.move_to(host.path()));
    EXPECT_EQ(task_.open_every_level_file(), 0) << "host";
    ASSERT_TRUE(task_.move_to(baseline.path()));
    EXPECT_EQ(task_.open_every_level_file(), EPERM) << "host, then baseline";
    ASSERT_TRUE(task_.move_to(privileged.path()));
    EXPECT_EQ(task_.open_every_level_file(), 0) << "baseline, then privileged";
    ASSERT_TRUE(task_.move_to(baseline.path()));
    EXPECT_EQ(task_.open_every_level_file(), EPERM) << "privileged, then baseline";
    ASSERT_TRUE(task_.move_to(host.path()));
    EXPECT_EQ(task_.open_every_level_file(), 0) << "baseline, then host";
    enforcer().remove_policy(privileged.id());
    enforcer().remove_policy(baseline.id());
    EXPECT_TRUE(task_.move_home());
}

// A cgroup below the task's gets an entry, then the task moves into it:
// the nearest entry decides, not the one remembered for the parent.
TEST_F(LevelMemo, AChildCgroupsOwnEntryDecidesOverItsParents) {
    TestCgroup parent("memo-parent");
    enforcer().set_policy(parent.id(), Level::Privileged, Mode::Enforce, Phase::Running);
    TestCgroup child(parent, "leaf");
    ASSERT_TRUE(task_.move_to(child.path()));
    EXPECT_EQ(task_.open_every_level_file(), 0) << "privileged parent";
    enforcer().set_policy(child.id(), Level::Baseline, Mode::Enforce, Phase::Running);
    EXPECT_EQ(task_.open_every_level_file(), EPERM) << "baseline entry of its own";
    EXPECT_TRUE(task_.move_home());
    enforcer().remove_policy(child.id());
    enforcer().remove_policy(parent.id());
}

} // namespace
} // namespace lockc::vmtest
