// The fanotify gate on runtime execs (exec_gate.hpp), with real execs:
// children exec a copy of /bin/true that a gate holds, and the test reads
// what lockcd would (argv, cwd, binary) while they wait. Needs root
// (CAP_SYS_ADMIN for fanotify, CAP_SYS_PTRACE for /proc/<tid>/mem). Every
// wait is bounded, so a broken gate fails the test instead of hanging it.
#include "exec_gate.hpp"
#include "exec_support.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

extern char **environ; // NOLINT(readability-redundant-declaration): not in every unistd.h

namespace lockc {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using namespace lockc::test;

std::string parent_of(pid_t pid) {
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line)) {
        if (line.starts_with("PPid:")) {
            return line.substr(line.find_first_not_of(" \t", 5));
        }
    }
    return {};
}

// A temporary directory with a runtime in it.
struct Scratch {
    TempDir tmp;
    fs::path runtime = copy_true(tmp.path() / "runtime");
};

TEST(ExecGate, HoldsExecAndReadsArgvCwdAndBinary) {
    const Scratch scratch;
    const auto &tmp = scratch.tmp;
    const auto &runtime = scratch.runtime;
    ExecGate gate({runtime});
    ASSERT_EQ(gate.marked(), std::vector<fs::path>{runtime});
    const auto work = tmp.path() / "bundle dir";
    fs::create_directory(work);
    std::vector<std::string> args{
        "runc",     "--root", "/run/runc", "create", "", "with space", std::string(3000, 'x'),
        "--bundle", "/b"};
    auto child = exec_child(runtime, args, work);

    auto execs = wait_execs(gate);
    ASSERT_EQ(execs.size(), 1U);
    auto &exec = execs[0];
    EXPECT_EQ(exec.error, "");
    EXPECT_EQ(exec.tid, child->pid());
    EXPECT_EQ(exec.argv, args);
    EXPECT_EQ(exec.binary, runtime.string());
    EXPECT_EQ(exec.cwd, work);
    // Held: still in execve until answered.
    EXPECT_FALSE(child->wait(200ms));
    EXPECT_TRUE(exec.allow());
    EXPECT_TRUE(exec.allow()); // once; the second does nothing
    EXPECT_EQ(child->wait(), 0);
}

TEST(ExecGate, ReadsTheExecingThreadOfAMultiThreadedProcess) {
    const Scratch scratch;
    const auto &runtime = scratch.runtime;
    ExecGate gate({runtime});
    std::vector<std::string> args{"crun", "run", "from-a-thread"};
    auto argv = c_argv(args);
    std::array<int, 2> tid_pipe{};
    ASSERT_EQ(::pipe2(tid_pipe.data(), O_CLOEXEC), 0);
    const UniqueFd tid_in(tid_pipe[0]);
    UniqueFd tid_out(tid_pipe[1]);
    Child child([&]() {
        std::thread thread([&]() {
            const pid_t tid = ::gettid();
            if (::write(tid_out.get(), &tid, sizeof(tid)) != sizeof(tid)) {
                ::_exit(121);
            }
            ::execv(runtime.c_str(), argv.data());
            ::_exit(127);
        });
        thread.join();
        return 126;
    });
    tid_out.reset();
    pollfd p{tid_in.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 5000), 1);
    pid_t tid = 0;
    ASSERT_EQ(::read(tid_in.get(), &tid, sizeof(tid)), static_cast<ssize_t>(sizeof(tid)));
    ASSERT_NE(tid, child.pid());

    auto execs = wait_execs(gate);
    ASSERT_EQ(execs.size(), 1U);
    EXPECT_EQ(execs[0].error, "");
    EXPECT_EQ(execs[0].tid, tid);
    EXPECT_EQ(execs[0].argv, args);
    EXPECT_TRUE(execs[0].allow());
    EXPECT_EQ(child.wait(), 0);
}

// posix_spawn is a vfork (CLONE_VM): the exec'ing child reads its argv from
// the parent's memory, as Go's os/exec (containerd, dockerd) does.
TEST(ExecGate, ReadsArgvOfAVforkedChild) {
    const Scratch scratch;
    const auto &runtime = scratch.runtime;
    ExecGate gate({runtime});
    std::vector<std::string> args{"runc", "create", "--bundle", "/spawned", "id"};
    auto argv = c_argv(args);
    Child spawner([&]() {
        pid_t pid = 0;
        if (::posix_spawn(&pid, runtime.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
            return 122;
        }
        int status = 0;
        ::waitpid(pid, &status, 0);
        return WIFEXITED(status) ? WEXITSTATUS(status) : 123;
    });

    auto execs = wait_execs(gate);
    ASSERT_EQ(execs.size(), 1U);
    EXPECT_EQ(execs[0].error, "");
    EXPECT_NE(execs[0].tid, spawner.pid());
    EXPECT_EQ(parent_of(execs[0].tid), std::to_string(spawner.pid()));
    EXPECT_EQ(execs[0].argv, args);
    EXPECT_TRUE(execs[0].allow());
    EXPECT_EQ(spawner.wait(), 0);
}

TEST(ExecGate, ReadsArgvOfExecveatOnAnEmptyPath) {
    const Scratch scratch;
    const auto &runtime = scratch.runtime;
    ExecGate gate({runtime});
    std::vector<std::string> args{"runc", "start", "by-fd"};
    auto argv = c_argv(args);
    const UniqueFd file(::open(runtime.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(file.valid());
    Child child([&]() {
        ::syscall(SYS_execveat, file.get(), "", argv.data(), environ, AT_EMPTY_PATH);
        return 127;
    });

    auto execs = wait_execs(gate);
    ASSERT_EQ(execs.size(), 1U);
    EXPECT_EQ(execs[0].error, "");
    EXPECT_EQ(execs[0].argv, args);
    EXPECT_EQ(execs[0].binary, runtime.string());
    EXPECT_TRUE(execs[0].allow());
    EXPECT_EQ(child.wait(), 0);
}

TEST(ExecGate, LetsUnmarkedBinariesRunUnheld) {
    const Scratch scratch;
    const auto &tmp = scratch.tmp;
    const auto &runtime = scratch.runtime;
    ExecGate gate({runtime});
    const auto other = copy_true(tmp.path() / "other"); // same bytes, another inode
    std::vector<std::string> args{"other"};
    auto child = exec_child(other, args);
    EXPECT_EQ(child->wait(), 0);
    EXPECT_TRUE(wait_execs(gate, 100ms).empty());
}

TEST(ExecGate, DestroyingAnUnansweredExecAllowsIt) {
    const Scratch scratch;
    const auto &runtime = scratch.runtime;
    ExecGate gate({runtime});
    std::vector<std::string> args{"runc", "delete", "x"};
    auto child = exec_child(runtime, args);
    {
        auto execs = wait_execs(gate);
        ASSERT_EQ(execs.size(), 1U);
        // Moved twice: only the last owner answers, when it goes.
        GatedExec moved(std::move(execs[0]));
        execs.clear();
        EXPECT_FALSE(child->wait(200ms));
        const GatedExec last(std::move(moved));
        EXPECT_FALSE(child->wait(100ms));
    }
    EXPECT_EQ(child->wait(), 0);
}

TEST(ExecGate, AnExecOutlivingTheGateIsStillAnswered) {
    const Scratch scratch;
    const auto &runtime = scratch.runtime;
    auto gate = std::make_unique<ExecGate>(std::vector<fs::path>{runtime});
    std::vector<std::string> args{"runc", "state", "x"};
    auto child = exec_child(runtime, args);
    auto execs = wait_execs(*gate);
    ASSERT_EQ(execs.size(), 1U);
    gate.reset();
    EXPECT_FALSE(child->wait(100ms)); // still held
    EXPECT_TRUE(execs[0].allow());
    EXPECT_EQ(child->wait(), 0);
}

TEST(ExecGate, RefreshMarksFollowsAReplacedBinary) {
    const Scratch scratch;
    const auto &tmp = scratch.tmp;
    const auto &runtime = scratch.runtime;
    ExecGate gate({runtime});
    EXPECT_FALSE(gate.refresh_marks()); // nothing changed
    const UniqueFd old_file(::open(runtime.c_str(), O_RDONLY | O_CLOEXEC));
    ASSERT_TRUE(old_file.valid());
    // A package upgrade: the new file is renamed over the old one.
    const auto staged = copy_true(tmp.path() / "runtime.new");
    fs::rename(staged, runtime);

    std::vector<std::string> args{"runc", "create", "x"};
    {
        auto child = exec_child(runtime, args);
        EXPECT_EQ(child->wait(), 0) << "the new inode is not marked yet";
        EXPECT_TRUE(wait_execs(gate, 100ms).empty());
    }
    auto argv = c_argv(args);
    const auto exec_old = [&]() {
        ::syscall(SYS_execveat, old_file.get(), "", argv.data(), environ, AT_EMPTY_PATH);
        return 127;
    };
    {
        Child child(exec_old); // the old inode keeps its mark until refreshed
        auto execs = wait_execs(gate);
        ASSERT_EQ(execs.size(), 1U);
        EXPECT_EQ(execs[0].binary, runtime.string() + " (deleted)");
        EXPECT_TRUE(execs[0].allow());
        EXPECT_EQ(child.wait(), 0);
    }

    EXPECT_TRUE(gate.refresh_marks());
    EXPECT_FALSE(gate.refresh_marks());
    EXPECT_EQ(gate.marked(), std::vector<fs::path>{runtime});
    {
        auto child = exec_child(runtime, args);
        auto execs = wait_execs(gate);
        ASSERT_EQ(execs.size(), 1U);
        EXPECT_EQ(execs[0].argv, args);
        EXPECT_TRUE(execs[0].allow());
        EXPECT_EQ(child->wait(), 0);
    }
    {
        Child child(exec_old); // unmarked now
        EXPECT_EQ(child.wait(), 0);
        EXPECT_TRUE(wait_execs(gate, 100ms).empty());
    }
}

TEST(ExecGate, MarksExistingBinariesOncePerInode) {
    const Scratch scratch;
    const auto &tmp = scratch.tmp;
    const auto &runtime = scratch.runtime;
    const auto missing = tmp.path() / "crun";
    const auto symlink = tmp.path() / "runc-link";
    const auto hardlink = tmp.path() / "runc-hard";
    const auto fifo = tmp.path() / "fifo";
    fs::create_symlink(runtime, symlink);
    fs::create_hard_link(runtime, hardlink);
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0700), 0);
    ExecGate gate({missing, symlink, runtime, hardlink, fifo, tmp.path()});
    EXPECT_EQ(gate.marked(), std::vector<fs::path>{runtime});

    copy_true(missing); // installed later
    EXPECT_TRUE(gate.refresh_marks());
    EXPECT_EQ(gate.marked(), (std::vector<fs::path>{missing, runtime}));
    std::vector<std::string> args{"crun", "create", "y"};
    auto child = exec_child(missing, args);
    auto execs = wait_execs(gate);
    ASSERT_EQ(execs.size(), 1U);
    EXPECT_EQ(execs[0].argv, args);
    EXPECT_TRUE(execs[0].allow());
    EXPECT_EQ(child->wait(), 0);

    fs::remove(missing);
    EXPECT_TRUE(gate.refresh_marks());
    EXPECT_EQ(gate.marked(), std::vector<fs::path>{runtime});
}

// Past the bounds, argv is not read (a truncated command line could be
// misread), and the exec is still held and answered.
TEST(ExecGate, ReportsArgvPastItsBoundsAsAnError) {
    const Scratch scratch;
    const auto &runtime = scratch.runtime;
    ExecGate gate({runtime});
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {std::vector<std::string>(257, "a"), "more than 256 arguments"},
        {{"runc", std::string(4097, 'x')}, "argument 1 is longer than 4096 bytes"},
        {std::vector<std::string>(17, std::string(4000, 'y')),
         "the arguments are longer than 65536 bytes in all"},
    };
    for (const auto &[argv, message] : cases) {
        auto args = argv;
        auto child = exec_child(runtime, args);
        auto execs = wait_execs(gate);
        ASSERT_EQ(execs.size(), 1U);
        EXPECT_TRUE(execs[0].argv.empty());
        EXPECT_NE(execs[0].error.find(message), std::string::npos) << execs[0].error;
        EXPECT_EQ(execs[0].tid, child->pid());
        EXPECT_EQ(execs[0].binary, runtime.string());
        EXPECT_FALSE(child->wait(50ms));
        execs.clear();
        EXPECT_EQ(child->wait(), 0);
    }
    // At the bounds, it is.
    std::vector<std::string> args(256, std::string(200, 'z'));
    args[1] = std::string(4096, 'w');
    auto child = exec_child(runtime, args);
    auto execs = wait_execs(gate);
    ASSERT_EQ(execs.size(), 1U);
    EXPECT_EQ(execs[0].error, "");
    EXPECT_EQ(execs[0].argv, args);
    execs.clear();
    EXPECT_EQ(child->wait(), 0);
}

// The event comes before the kernel reads argv: a bad pointer is lockcd's to
// survive, and the exec then fails in the kernel (EFAULT).
TEST(ExecGate, ReportsUnreadableArgvAsAnError) {
    const Scratch scratch;
    const auto &runtime = scratch.runtime;
    ExecGate gate({runtime});
    std::string name = "runc";
    // NOLINTBEGIN(performance-no-int-to-ptr): deliberately bad addresses
    std::array<char *, 3> bad_string{name.data(), reinterpret_cast<char *>(0x10), nullptr};
    auto *const bad_array = reinterpret_cast<char **>(0x10);
    // NOLINTEND(performance-no-int-to-ptr)
    const std::vector<std::pair<char **, std::string>> cases{
        {bad_string.data(), "argument 1: memory at 0x10 is unreadable"},
        {bad_array, "memory at 0x10 is unreadable"},
    };
    for (const auto &[argv, message] : cases) {
        Child child([&, argv = argv]() {
            ::execve(runtime.c_str(), argv, environ);
            return errno == EFAULT ? 3 : 4;
        });
        auto execs = wait_execs(gate);
        ASSERT_EQ(execs.size(), 1U);
        EXPECT_TRUE(execs[0].argv.empty());
        EXPECT_EQ(execs[0].error, message);
        EXPECT_TRUE(execs[0].allow());
        EXPECT_EQ(child.wait(), 3);
    }
    // execve(path, NULL, envp) is an empty argv, not an error.
    Child child([&]() {
        ::syscall(SYS_execve, runtime.c_str(), nullptr, environ); // glibc says nonnull
        return 127;
    });
    auto execs = wait_execs(gate);
    ASSERT_EQ(execs.size(), 1U);
    EXPECT_EQ(execs[0].error, "");
    EXPECT_TRUE(execs[0].argv.empty());
    EXPECT_TRUE(execs[0].allow());
    EXPECT_EQ(child.wait(), 0);
}

TEST(ExecGate, ThrowsWithoutCapSysAdmin) {
    Child child([]() {
        if (::setgroups(0, nullptr) != 0 || ::setresgid(65534, 65534, 65534) != 0 ||
            ::setresuid(65534, 65534, 65534) != 0) {
            return 120;
        }
        try {
            const ExecGate gate({"/bin/true"});
            return 1;
        } catch (const std::system_error &e) {
            return std::string(e.what()).find("fanotify") != std::string::npos ? 0 : 2;
        }
    });
    EXPECT_EQ(child.wait(), 0);
}

TEST(ExecGate, ArgvOfExecRefusesATaskNotInExec) {
    std::array<int, 2> fds{};
    ASSERT_EQ(::pipe2(fds.data(), O_CLOEXEC), 0);
    const UniqueFd in(fds[0]);
    UniqueFd out(fds[1]);
    Child child([&]() {
        out.reset();
        char c = 0;
        return static_cast<int>(::read(in.get(), &c, 1)); // blocks in read(2) until EOF
    });
    // Until it blocks, its syscall file says "running".
    std::string message;
    for (int i = 0; i < 500 && message.find("system call 0,") == std::string::npos; ++i) {
        try {
            (void)argv_of_exec(child.pid());
            FAIL() << "argv of a task in read(2)";
        } catch (const std::runtime_error &e) {
            message = e.what();
        }
        std::this_thread::sleep_for(10ms);
    }
    EXPECT_NE(message.find("system call 0, not a native execve"), std::string::npos) << message;
    // This thread is in read(2) of its own syscall file.
    EXPECT_THROW((void)argv_of_exec(::gettid()), std::runtime_error);
    out.reset();
    ASSERT_EQ(child.wait(), 0);
    EXPECT_THROW((void)argv_of_exec(child.pid()), std::runtime_error); // gone
}

} // namespace
} // namespace lockc
