#include "lockcd_fixture.hpp"

#include "cgroup.hpp"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace lockc::test {

namespace {

std::uint32_t env_id(const char *name) {
    const char *value = std::getenv(name);
    if (value == nullptr) {
        throw std::runtime_error(std::string(name) +
                                 " is not set: run the test under tests/dbus/test-bus.sh");
    }
    return static_cast<std::uint32_t>(std::stoul(value));
}

bool name_has_owner(sdbus::IConnection &connection, const std::string &name) {
    auto bus = sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus");
    bool has = false;
    bus->callMethod("NameHasOwner")
        .onInterface("org.freedesktop.DBus")
        .withArguments(name)
        .storeResultsTo(has);
    return has;
}

std::string read_file(const std::filesystem::path &path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_all(int fd, const std::string &text) {
    std::size_t done = 0;
    while (done < text.size()) {
        const auto n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) {
            return;
        }
        done += static_cast<std::size_t>(n);
    }
}

} // namespace

TestUser member_user() {
    return {env_id("LOCKC_TEST_MEMBER_UID"), env_id("LOCKC_TEST_MEMBER_GID")};
}

TestUser outsider_user() {
    return {env_id("LOCKC_TEST_OUTSIDER_UID"), env_id("LOCKC_TEST_OUTSIDER_GID")};
}

// ---- TestCgroup ----

TestCgroup::TestCgroup(const std::string &name) {
    const auto mount = cgroup2_mount();
    relative_ = "/" + name + "-" + std::to_string(::getpid());
    absolute_ = mount / relative_.substr(1);
    std::filesystem::create_directory(absolute_);
}

TestCgroup::~TestCgroup() {
    for (const pid_t pid : children_) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }
    std::error_code ec;
    std::filesystem::remove(absolute_, ec);
}

pid_t TestCgroup::spawn_sleeper() {
    const pid_t pid = ::fork();
    if (pid == 0) {
        std::ofstream(absolute_ / "cgroup.procs") << ::getpid() << std::flush;
        ::execlp("sleep", "sleep", "600", nullptr);
        ::_exit(127);
    }
    children_.push_back(pid);
    // Wait until the child has moved itself.
    for (int i = 0; i < 200; ++i) {
        if (read_file(absolute_ / "cgroup.procs").find(std::to_string(pid)) != std::string::npos) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pid;
}

// ---- LockcdTest ----

void LockcdTest::SetUp() {
    std::string pattern = "/tmp/lockcd-test.XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    config_file_ = dir_ / "lockc.toml";
    state_dir_ = dir_ / "state";
    log_file_ = dir_ / "lockcd.log";
    std::filesystem::create_directory(state_dir_);
    write_config("");
    connection_ = sdbus::createSystemBusConnection();
    start_daemon();
}

void LockcdTest::TearDown() {
    if (daemon_pid_ > 0) {
        stop_daemon(false);
    }
    connection_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void LockcdTest::start_daemon(const std::vector<std::string> &extra_args) {
    std::vector<std::string> args = {LOCKCD_PATH,  "--allow-unenforced", "--config",
                                     config_file_, "--state-dir",        state_dir_,
                                     "--pin-dir",  dir_ / "no-pins"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        const int log = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        ::dup2(log, STDOUT_FILENO);
        ::dup2(log, STDERR_FILENO);
        std::vector<char *> argv;
        argv.reserve(args.size() + 1);
        for (auto &a : args) {
            argv.push_back(a.data());
        }
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    daemon_pid_ = pid;
    for (int i = 0; i < 500; ++i) {
        if (name_has_owner(*connection_, kBusName)) {
            return;
        }
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) {
            daemon_pid_ = -1;
            FAIL() << "lockcd exited during start-up (status " << status << "):\n" << daemon_log();
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    FAIL() << "lockcd did not take its bus name within 5 s:\n" << daemon_log();
}

void LockcdTest::stop_daemon(bool kill) {
    ASSERT_GT(daemon_pid_, 0);
    ::kill(daemon_pid_, kill ? SIGKILL : SIGTERM);
    int status = 0;
    ASSERT_EQ(::waitpid(daemon_pid_, &status, 0), daemon_pid_);
    daemon_pid_ = -1;
    if (!kill) {
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
            << "lockcd did not exit cleanly (status " << status << "):\n"
            << daemon_log();
    }
    // The bus releases the name when it notices the closed connection.
    for (int i = 0; i < 500 && name_has_owner(*connection_, kBusName); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

bool LockcdTest::daemon_running() {
    if (daemon_pid_ <= 0) {
        return false;
    }
    int status = 0;
    return ::waitpid(daemon_pid_, &status, WNOHANG) == 0;
}

std::string LockcdTest::daemon_log() const {
    return read_file(log_file_);
}

void LockcdTest::write_config(const std::string &text) {
    std::ofstream(config_file_) << text;
}

std::string LockcdTest::registry_text() const {
    // The snapshot and the changes since.
    return read_file(state_dir_ / "registry.toml") + read_file(state_dir_ / "registry.journal");
}

std::unique_ptr<sdbus::IProxy> LockcdTest::manager() {
    return object(kManagerPath);
}

std::unique_ptr<sdbus::IProxy> LockcdTest::object(const std::string &path) {
    return sdbus::createProxy(*connection_, kBusName, path);
}

CallOutcome LockcdTest::call_as_root(const std::function<void(sdbus::IProxy &)> &call) {
    try {
        auto proxy = manager();
        call(*proxy);
        return {};
    } catch (const sdbus::Error &e) {
        return {e.getName(), e.getMessage()};
    }
}

CallOutcome LockcdTest::call_as(const TestUser &user,
                                const std::function<void(sdbus::IProxy &)> &call) {
    return call_in_child(user, nullptr, call);
}

CallOutcome LockcdTest::call_in_cgroup(const TestCgroup &cgroup,
                                       const std::function<void(sdbus::IProxy &)> &call) {
    return call_in_child(std::nullopt, &cgroup, call);
}

CallOutcome LockcdTest::call_in_child(const std::optional<TestUser> &user, const TestCgroup *cgroup,
                                      const std::function<void(sdbus::IProxy &)> &call) {
    std::array<int, 2> fds{};
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        return {"test.PipeFailed", ""};
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        std::string report;
        bool ready = true;
        if (cgroup != nullptr) {
            std::ofstream procs(cgroup->absolute() / "cgroup.procs");
            procs << ::getpid() << std::flush;
            ready = static_cast<bool>(procs);
        }
        if (ready && user &&
            (::setgroups(0, nullptr) != 0 || ::setresgid(user->gid, user->gid, user->gid) != 0 ||
             ::setresuid(user->uid, user->uid, user->uid) != 0)) {
            ready = false;
        }
        if (!ready) {
            report = "test.ChildSetupFailed\n";
        } else {
            try {
                auto connection = sdbus::createSystemBusConnection();
                auto proxy = sdbus::createProxy(*connection, kBusName, kManagerPath);
                call(*proxy);
                report = "\n";
            } catch (const sdbus::Error &e) {
                report = e.getName() + "\n" + e.getMessage();
            }
        }
        write_all(fds[1], report);
        ::_exit(0);
    }
    ::close(fds[1]);
    std::string text;
    std::array<char, 4096> buf{};
    ssize_t n = 0;
    while ((n = ::read(fds[0], buf.data(), buf.size())) > 0) {
        text.append(buf.data(), static_cast<std::size_t>(n));
    }
    ::close(fds[0]);
    ::waitpid(pid, nullptr, 0);
    const auto newline = text.find('\n');
    if (newline == std::string::npos) {
        return {"test.ChildFailed", text};
    }
    return {text.substr(0, newline), text.substr(newline + 1)};
}

void LockcdTest::pump_until(const std::function<bool()> &done, std::chrono::milliseconds wait) {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
        while (connection_->processPendingRequest()) {
        }
        if (done()) {
            return;
        }
        const auto data = connection_->getEventLoopPollData();
        pollfd pfd{data.fd, data.events, 0};
        ::poll(&pfd, 1, 20);
    }
}

std::vector<std::string> LockcdTest::container_ids() {
    std::vector<bus::ContainerEntry> list;
    manager()->callMethod("ListContainers").onInterface(kManagerInterface).storeResultsTo(list);
    std::vector<std::string> ids;
    ids.reserve(list.size());
    for (const auto &entry : list) {
        ids.push_back(std::get<0>(entry));
    }
    return ids;
}

std::string LockcdTest::manager_property(const std::string &name) {
    return manager()->getProperty(name).onInterface(kManagerInterface).get<std::string>();
}

} // namespace lockc::test
