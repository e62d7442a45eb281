// Shared helpers of the in-guest test driver: the enforcer under test, test
// cgroups, running an operation inside a cgroup, collecting events.
#pragma once

#include "enforcer.hpp"
#include "unique_fd.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace lockc::vmtest {

// The enforcer every test uses; (re)opened by the environment and by tests
// that restart it.
Enforcer &enforcer();
void reopen_enforcer(const EnforcerOptions &options = {});
void close_enforcer();
// The rules every test runs with: the defaults plus test-only entries.
RuleSet test_rules();
inline constexpr const char *kTestEngineSocket = "/run/lockc-vm-engine.sock";
// A file that test_rules() adds an open-path rule for, denied at baseline:
// such rules are configuration, not only restricted's built-in ones.
inline constexpr const char *kTestOpenRuleFile = "/run/lockc-vm-open-rule/denied";

// A cgroup directory (under /sys/fs/cgroup/lockc-test unless said
// otherwise), removed on scope exit.
class TestCgroup {
  public:
    explicit TestCgroup(const std::string &name);
    TestCgroup(const TestCgroup &parent, const std::string &name);
    // In a cgroup outside lockc-test: system.slice, say, where Docker's
    // scopes are, siblings of dbus.service and lockcd.service.
    TestCgroup(const std::filesystem::path &parent, const std::string &name);
    TestCgroup(const TestCgroup &) = delete;
    TestCgroup &operator=(const TestCgroup &) = delete;
    ~TestCgroup();
    [[nodiscard]] const std::filesystem::path &path() const { return path_; }
    [[nodiscard]] std::uint64_t id() const { return id_; }

  private:
    std::filesystem::path path_;
    std::uint64_t id_ = 0;
};

struct ChildResult {
    int err = 0;     // what the action returned (0 or an errno)
    int pid = 0;     // the child's pid (events name it)
    bool ok = false; // the child ran and reported
};

// The calling process's cgroup v2 directory.
std::filesystem::path own_cgroup();

// Whether the running kernel has the LSM hook `hook` (its BPF entry point,
// bpf_lsm_<hook>, in the kernel's BTF).
bool kernel_has_lsm_hook(const std::string &hook);

// Forks a child that runs `prepare` as a host process, joins `cgroup` (if
// given), runs `action` and reports its result. Both return 0 or an errno.
// An action that replaces the child with execve reports its exit status.
ChildResult run_child(const std::filesystem::path *cgroup, const std::function<int()> &prepare,
                      const std::function<int()> &action);

// The result of a call that returns a new fd: closes it, 0 or the errno.
int fd_result(long fd);
// open(2) of `path`: 0 or the errno.
int open_err(const char *path, int flags);

// What an action did in a container and what the kernel said of it.
struct ContainedResult {
    int err = 0;               // the action's result (0 or an errno)
    bool ok = false;           // the child ran and reported
    std::vector<Event> events; // decided by the container's entry
};
// Runs `action` in a new cgroup `name` with a running, enforcing entry at
// `level`, which is removed again afterwards.
ContainedResult run_contained(const std::string &name, Level level,
                              const std::function<int()> &action);

// The path of the enforcer's pinned map `name` ("policies"), and the map
// opened (invalid if it is not pinned).
std::filesystem::path pinned_map_path(const std::string &name);
UniqueFd open_pinned_map(const std::string &name);

// Polls `condition` until it holds or `timeout` passes.
bool wait_until(const std::function<bool()> &condition, std::chrono::seconds timeout);

// Events delivered since the last call, optionally only those decided by
// the entry of `policy_cgroup_id`.
std::vector<Event> take_events(std::uint64_t policy_cgroup_id = 0);

// One describe() line per event, for failure messages.
std::string describe_all(const std::vector<Event> &events);

// lockc's programs loaded in the kernel, by (truncated) name and count.
std::map<std::string, int> loaded_lockc_programs();
// Their ids: another load of the same programs has other ids.
std::set<std::uint32_t> loaded_lockc_program_ids();

// Runs a shell command, returns its exit status and combined output.
struct CommandResult {
    int status = -1;
    std::string output;
};
CommandResult sh(const std::string &command);

} // namespace lockc::vmtest
