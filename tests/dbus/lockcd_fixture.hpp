// Host tests of lockcd over D-Bus: the real lockcd binary on a private
// system bus with a real polkitd (tests/dbus/test-bus.sh sets them up and
// exports DBUS_SYSTEM_BUS_ADDRESS and the test users). This kernel cannot
// enforce, so lockcd runs with --allow-unenforced; what the kernel does with
// the policy is tested in the VM.
#pragma once

#include "bus_names.hpp"
#include "bus_types.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include <gtest/gtest.h>

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lockc::test {

using bus::kBusName;
using bus::kContainerInterface;
using bus::kManagerInterface;
using bus::kManagerPath;

using bus::Options;

// A user the test harness made known to polkitd.
struct TestUser {
    uid_t uid = 0;
    gid_t gid = 0;
};
[[nodiscard]] TestUser member_user();   // in group lockc
[[nodiscard]] TestUser outsider_user(); // in no extra group

// The outcome of a call: "" when it succeeded, else the D-Bus error name.
struct CallOutcome {
    std::string error;
    std::string message;
};

// A cgroup v2 directory made for a test, removed (with its processes
// killed) afterwards.
class TestCgroup {
  public:
    explicit TestCgroup(const std::string &name);
    TestCgroup(const TestCgroup &) = delete;
    TestCgroup &operator=(const TestCgroup &) = delete;
    TestCgroup(TestCgroup &&) = delete;
    TestCgroup &operator=(TestCgroup &&) = delete;
    ~TestCgroup();
    [[nodiscard]] const std::filesystem::path &absolute() const { return absolute_; }
    [[nodiscard]] const std::string &relative() const { return relative_; }
    // Starts `sleep` in the cgroup; returns its pid.
    pid_t spawn_sleeper();

  private:
    std::filesystem::path absolute_;
    std::string relative_;
    std::vector<pid_t> children_;
};

class LockcdTest : public ::testing::Test {
  protected:
    void SetUp() override;
    void TearDown() override;

    // Starts lockcd (again), waits until it owns its name.
    void start_daemon(const std::vector<std::string> &extra_args = {});
    // SIGTERM (expects a clean exit) or SIGKILL.
    void stop_daemon(bool kill = false);
    [[nodiscard]] bool daemon_running();
    [[nodiscard]] std::string daemon_log() const;

    void write_config(const std::string &text);
    [[nodiscard]] std::string registry_text() const;

    // A proxy on this process's (root) connection.
    [[nodiscard]] std::unique_ptr<sdbus::IProxy> manager();
    [[nodiscard]] std::unique_ptr<sdbus::IProxy> object(const std::string &path);

    // Runs `call` on a fresh connection made by a child process running as
    // `user`; the child reports the outcome.
    [[nodiscard]] CallOutcome call_as(const TestUser &user,
                                      const std::function<void(sdbus::IProxy &)> &call);
    [[nodiscard]] CallOutcome call_in_child(const std::optional<TestUser> &user,
                                            const TestCgroup *cgroup,
                                            const std::function<void(sdbus::IProxy &)> &call);
    // The same as root, from a child that first moved itself into `cgroup`.
    [[nodiscard]] CallOutcome call_in_cgroup(const TestCgroup &cgroup,
                                             const std::function<void(sdbus::IProxy &)> &call);
    // The same on this process's connection (root).
    [[nodiscard]] CallOutcome call_as_root(const std::function<void(sdbus::IProxy &)> &call);

    // Processes the connection's messages for up to `wait`, until `done`.
    void pump_until(const std::function<bool()> &done,
                    std::chrono::milliseconds wait = std::chrono::milliseconds(3000));

    [[nodiscard]] std::vector<std::string> container_ids();
    [[nodiscard]] std::string manager_property(const std::string &name);

    std::filesystem::path dir_;
    std::filesystem::path config_file_;
    std::filesystem::path state_dir_;
    std::filesystem::path log_file_;
    pid_t daemon_pid_ = -1;
    std::unique_ptr<sdbus::IConnection> connection_;
};

} // namespace lockc::test
