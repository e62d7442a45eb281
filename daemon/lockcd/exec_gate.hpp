// Holds every exec of the configured container runtimes (runc, crun) until
// lockcd has answered: fanotify FAN_OPEN_EXEC_PERM marks on the binaries.
// While an exec waits, its argv is read from the blocked task (the execve
// arguments in /proc/<tid>/syscall, the strings from /proc/<tid>/mem: the
// old image is intact until the kernel has the permission answer), so
// lockcd can read the bundle and register the container's cgroup name
// before the runtime creates the cgroup. The answer is always "allow":
// lockc confines containers, it does not decide which may start.
//
// A gated exec waits for lockcd: lockcd must never itself exec a gated
// binary and wait for it on the thread that answers.
#pragma once

#include "unique_fd.hpp"

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace lockc {

// One exec waiting for lockcd's answer. Answering is RAII: the destructor
// allows an exec not yet answered, so an exception while handling it never
// leaves a runtime hanging.
class GatedExec {
  public:
    // `group` is shared so that the answer goes to the right fanotify group
    // even when the ExecGate is gone first (a bare fd number could by then
    // name another file).
    GatedExec(std::shared_ptr<const UniqueFd> group, UniqueFd event, pid_t tid) noexcept;
    GatedExec(GatedExec &&) noexcept = default;
    GatedExec &operator=(GatedExec &&) noexcept = delete;
    GatedExec(const GatedExec &) = delete;
    GatedExec &operator=(const GatedExec &) = delete;
    ~GatedExec() { (void)allow(); }

    // Lets the exec go on (once; later calls do nothing and return true).
    // Returns false when the answer could not be written.
    bool allow() noexcept;

    pid_t tid = 0;                 // the thread in execve (FAN_REPORT_TID)
    std::vector<std::string> argv; // empty when it could not be read
    std::filesystem::path cwd;     // the task's working directory
    std::string binary;            // the executable's path
    std::string error;             // why argv is empty, for the log

  private:
    std::shared_ptr<const UniqueFd> group_;
    UniqueFd event_;
};

class ExecGate {
  public:
    // Opens the fanotify group and marks those of `binaries` that exist
    // (symlinks resolved; one mark per inode). Throws std::system_error
    // when fanotify is unavailable (no CAP_SYS_ADMIN, kernel without
    // CONFIG_FANOTIFY_ACCESS_PERMISSIONS).
    explicit ExecGate(std::vector<std::filesystem::path> binaries);

    // Poll for POLLIN.
    [[nodiscard]] int fd() const noexcept { return group_ ? group_->get() : -1; }
    // The binaries currently marked (resolved paths).
    [[nodiscard]] const std::vector<std::filesystem::path> &marked() const noexcept {
        return marked_;
    }
    // Marks binaries that appeared or were replaced since (a package
    // upgrade puts a new inode behind the path) and unmarks inodes no
    // configured path reaches any more. Returns whether any mark changed.
    // Never throws; failures are returned by marked().
    bool refresh_marks();

    // Reads the waiting events without blocking (argv, cwd and binary
    // filled in), at most 256 per call: call again while fd() is readable.
    // Never throws: an event whose details cannot be read comes with
    // `error` set, and is still answered when it is destroyed.
    [[nodiscard]] std::vector<GatedExec> read();

  private:
    // A marked inode, held open: the mark is made through this file (so it
    // lands on the inode that was checked) and removed through it once the
    // path leads elsewhere.
    struct Mark {
        std::filesystem::path path;
        dev_t dev = 0;
        ino_t ino = 0;
        UniqueFd file;
    };

    std::vector<std::filesystem::path> binaries_;
    std::vector<std::filesystem::path> marked_;
    std::vector<Mark> marks_;
    std::shared_ptr<const UniqueFd> group_;
};

// The argv of a task blocked in execve/execveat, from /proc/<tid>/syscall
// and /proc/<tid>/mem (bounded: at most 256 arguments, each at most 4 KiB,
// 64 KiB in all). Only native (x86-64) tasks: a 32-bit task's exec shows
// other syscall numbers and is refused. Throws std::runtime_error saying
// why it could not.
[[nodiscard]] std::vector<std::string> argv_of_exec(pid_t tid);

} // namespace lockc
