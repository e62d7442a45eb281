#include "vm_support.hpp"

#include "cgroup.hpp"

#include <gtest/gtest.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <linux/bpf.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <thread>
#include <fcntl.h>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>

namespace lockc::vmtest {

namespace fs = std::filesystem;

namespace {

std::optional<Enforcer> &instance() {
    static std::optional<Enforcer> e;
    return e;
}

const fs::path &test_root() {
    static const fs::path root = cgroup2_mount() / "lockc-test";
    return root;
}

} // namespace

Enforcer &enforcer() {
    if (!instance()) {
        reopen_enforcer();
    }
    return *instance();
}

void reopen_enforcer(const EnforcerOptions &options) {
    instance().reset();
    instance().emplace(Enforcer::open(options));
    instance()->apply_rules(test_rules());
}

void close_enforcer() {
    instance().reset();
}

RuleSet test_rules() {
    RuleSet r = default_rules();
    r.paths.push_back({RuleSpace::UnixSocket, "", kTestEngineSocket, {1, 1}});
    r.paths.push_back(
        {RuleSpace::OpenPath, "", kTestOpenRuleFile, {LOCKC_ACCESS_ALL, LOCKC_ACCESS_ALL}});
    return r;
}

TestCgroup::TestCgroup(const std::string &name) : path_(test_root() / name) {
    fs::create_directories(test_root());
    fs::create_directory(path_);
    id_ = cgroup_id(path_);
}

TestCgroup::TestCgroup(const TestCgroup &parent, const std::string &name)
    : path_(parent.path() / name) {
    fs::create_directory(path_);
    id_ = cgroup_id(path_);
}

TestCgroup::TestCgroup(const fs::path &parent, const std::string &name) : path_(parent / name) {
    fs::create_directory(path_);
    id_ = cgroup_id(path_);
}

TestCgroup::~TestCgroup() {
    // Children exit before this runs; rmdir fails only if one is left.
    ::rmdir(path_.c_str());
}

fs::path own_cgroup() {
    return cgroup2_mount() / cgroup_of_pid(::getpid()).relative_path();
}

bool kernel_has_lsm_hook(const std::string &hook) {
    // Without BTF lockc does not load at all (CO-RE), and says so.
    const std::unique_ptr<btf, decltype(&btf__free)> kernel(btf__load_vmlinux_btf(), btf__free);
    return kernel &&
           btf__find_by_name_kind(kernel.get(), ("bpf_lsm_" + hook).c_str(), BTF_KIND_FUNC) >= 0;
}

ChildResult run_child(const fs::path *cgroup, const std::function<int()> &prepare,
                      const std::function<int()> &action) {
    std::array<int, 2> fds{};
    // Close-on-exec: an action that execs successfully reports through its
    // exit status instead.
    if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
        return {};
    }
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(fds[0]);
        int result = prepare ? prepare() : 0;
        if (result == 0 && cgroup != nullptr) {
            std::ofstream procs(*cgroup / "cgroup.procs");
            procs << ::getpid() << std::flush;
            result = procs ? 0 : -1000; // a setup failure, not an errno
        } else if (result != 0) {
            result = -2000 - result;
        }
        if (result == 0) {
            result = action();
        }
        (void)!::write(fds[1], &result, sizeof(result));
        ::_exit(0);
    }
    ::close(fds[1]);
    ChildResult r;
    r.pid = pid;
    const bool reported = ::read(fds[0], &r.err, sizeof(r.err)) == sizeof(r.err);
    ::close(fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (reported) {
        r.ok = true;
    } else if (WIFEXITED(status)) {
        r.ok = true;
        r.err = WEXITSTATUS(status);
    }
    return r;
}

int fd_result(long fd) {
    if (fd < 0) {
        return errno;
    }
    ::close(static_cast<int>(fd));
    return 0;
}

int open_err(const char *path, int flags) {
    return fd_result(::open(path, flags));
}

ContainedResult run_contained(const std::string &name, Level level,
                              const std::function<int()> &action) {
    TestCgroup cg(name);
    enforcer().set_policy(cg.id(), level, Mode::Enforce, Phase::Running);
    (void)take_events();
    const auto r = run_child(&cg.path(), nullptr, action);
    ContainedResult result{r.err, r.ok, take_events(cg.id())};
    enforcer().remove_policy(cg.id());
    return result;
}

std::filesystem::path pinned_map_path(const std::string &name) {
    return std::filesystem::path(kDefaultPinDir) / "maps" / name;
}

UniqueFd open_pinned_map(const std::string &name) {
    return UniqueFd(bpf_obj_get(pinned_map_path(name).c_str()));
}

bool wait_until(const std::function<bool()> &condition, std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!condition()) {
        if (std::chrono::steady_clock::now() > deadline) {
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return true;
}

std::vector<Event> take_events(std::uint64_t policy_cgroup_id) {
    std::vector<Event> out;
    enforcer().consume_events([&](const Event &e) {
        if (policy_cgroup_id == 0 || e.policy_cgroup_id == policy_cgroup_id) {
            out.push_back(e);
        }
    });
    return out;
}

std::string describe_all(const std::vector<Event> &events) {
    std::string s;
    for (const auto &e : events) {
        s += describe(e) + "\n";
    }
    return s;
}

namespace {

void for_each_lockc_program(const std::function<void(const bpf_prog_info &)> &visit) {
    __u32 id = 0;
    while (bpf_prog_get_next_id(id, &id) == 0) {
        const int fd = bpf_prog_get_fd_by_id(id);
        if (fd < 0) {
            continue;
        }
        bpf_prog_info info{};
        __u32 len = sizeof(info);
        if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
            std::string(info.name).starts_with("lockc_")) {
            visit(info);
        }
        ::close(fd);
    }
}

} // namespace

// Programs of ours loaded in the kernel, by (truncated) name.
std::map<std::string, int> loaded_lockc_programs() {
    std::map<std::string, int> out;
    for_each_lockc_program([&](const bpf_prog_info &info) { ++out[info.name]; });
    return out;
}

std::set<std::uint32_t> loaded_lockc_program_ids() {
    std::set<std::uint32_t> out;
    for_each_lockc_program([&](const bpf_prog_info &info) { out.insert(info.id); });
    return out;
}

CommandResult sh(const std::string &command) {
    CommandResult r;
    FILE *p = ::popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr) {
        return r;
    }
    std::array<char, 4096> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) {
        r.output.append(buf.data(), n);
    }
    const int status = ::pclose(p);
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

} // namespace lockc::vmtest
