#include "exec_gate.hpp"

#include <fcntl.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

namespace lockc {

namespace {

constexpr std::uint64_t kGatedEvents = FAN_OPEN_EXEC_PERM;

// Each waiting event holds an fd of lockcd's; reading is bounded so that a
// burst of execs cannot exhaust them (the rest stay queued, still blocked).
constexpr std::size_t kMaxEventsPerRead = 256;

constexpr std::size_t kMaxArgs = 256;
constexpr std::size_t kMaxArgBytes = 4096;                    // one argument, without its NUL
constexpr std::size_t kMaxArgvBytes = std::size_t{64} * 1024; // all arguments, with their NULs

// The native numbers: what /proc/<tid>/syscall shows for a 64-bit task. A
// 32-bit (ia32) task in exec shows 11 or 358, an x32 task has bit 30 set:
// neither matches, so their 4-byte pointers are never misread as 8-byte.
constexpr long kExecve = SYS_execve;
constexpr long kExecveat = SYS_execveat;
#if defined(__x86_64__)
static_assert(kExecve == 59 && kExecveat == 322);
#endif

[[noreturn]] void throw_errno(int error, const std::string &what) {
    throw std::system_error(error, std::system_category(), what);
}

std::string read_link(const std::string &path) {
    std::array<char, 4096> target{};
    const ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
    if (n < 0) {
        throw_errno(errno, "readlink " + path);
    }
    if (static_cast<std::size_t>(n) == target.size()) {
        throw std::runtime_error("readlink " + path + ": target too long");
    }
    return {target.data(), static_cast<std::size_t>(n)};
}

// A small /proc file, whole.
std::string read_proc_file(const std::string &path) {
    const UniqueFd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file.valid()) {
        throw_errno(errno, "open " + path);
    }
    std::string text;
    std::array<char, 512> chunk{};
    for (;;) {
        const ssize_t n = ::read(file.get(), chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw_errno(errno, "read " + path);
        }
        if (n == 0 || text.size() > 4096) {
            return text;
        }
        text.append(chunk.data(), static_cast<std::size_t>(n));
    }
}

struct BlockedSyscall {
    long nr = -1;
    std::array<std::uint64_t, 6> args{};
};

// "NR ARG1 .. ARG6 SP PC": NR in decimal, the others in hex with 0x.
// "running" when the task is not blocked, "-1 SP PC" when it is blocked
// outside a system call.
BlockedSyscall parse_syscall(std::string_view text, pid_t tid) {
    const std::string who = "thread " + std::to_string(tid);
    std::vector<std::string_view> fields;
    while (!text.empty()) {
        const auto start = text.find_first_not_of(" \n");
        if (start == std::string_view::npos) {
            break;
        }
        text.remove_prefix(start);
        const auto end = std::min(text.find_first_of(" \n"), text.size());
        fields.push_back(text.substr(0, end));
        text.remove_prefix(end);
    }
    if (fields.empty() || fields[0] == "running") {
        throw std::runtime_error(who + " is not blocked in a system call");
    }
    BlockedSyscall call;
    const auto *first = fields[0].data();
    const auto *last = first + fields[0].size();
    if (const auto [end, ec] = std::from_chars(first, last, call.nr);
        ec != std::errc() || end != last) {
        throw std::runtime_error(who + ": unexpected /proc syscall line");
    }
    if (call.nr < 0) {
        throw std::runtime_error(who + " is not in a system call");
    }
    if (fields.size() != 1 + call.args.size() + 2) {
        throw std::runtime_error(who + ": unexpected /proc syscall line");
    }
    for (std::size_t i = 0; i < call.args.size(); ++i) {
        auto field = fields[i + 1];
        if (!field.starts_with("0x")) {
            throw std::runtime_error(who + ": unexpected /proc syscall line");
        }
        field.remove_prefix(2);
        const auto *begin = field.data();
        const auto *end = begin + field.size();
        if (const auto [stop, ec] = std::from_chars(begin, end, call.args.at(i), 16);
            ec != std::errc() || stop != end) {
            throw std::runtime_error(who + ": unexpected /proc syscall line");
        }
    }
    return call;
}

std::string hex(std::uint64_t value) {
    std::array<char, 2 + 16> text{'0', 'x'};
    const auto [end, ec] = std::to_chars(text.data() + 2, text.data() + text.size(), value, 16);
    return {text.data(), end};
}

// Reads what it can of [address, address + size) from /proc/<tid>/mem: at
// least one byte, fewer than asked where the mapping ends. Throws when
// nothing at `address` is readable.
std::size_t read_memory(int mem, std::uint64_t address, char *into, std::size_t size) {
    constexpr auto kMaxOffset = static_cast<std::uint64_t>(std::numeric_limits<off_t>::max());
    if (address > kMaxOffset - size) {
        throw std::runtime_error("address " + hex(address) + " is not a user address");
    }
    for (;;) {
        const ssize_t n = ::pread(mem, into, size, static_cast<off_t>(address));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            throw std::runtime_error("memory at " + hex(address) + " is unreadable");
        }
        return static_cast<std::size_t>(n);
    }
}

// The argv pointers up to their NULL.
std::vector<std::uint64_t> read_pointers(int mem, std::uint64_t argv) {
    using Pointer = std::uintptr_t; // the task's own: native tasks only
    std::array<Pointer, kMaxArgs + 1> pointers{};
    std::size_t got = 0; // bytes
    std::size_t checked = 0;
    for (;;) {
        const auto room = sizeof(pointers) - got;
        if (room == 0) {
            throw std::runtime_error("more than " + std::to_string(kMaxArgs) + " arguments");
        }
        got += read_memory(mem, argv + got, reinterpret_cast<char *>(pointers.data()) + got, room);
        for (; checked < got / sizeof(Pointer); ++checked) {
            if (pointers.at(checked) == 0) {
                return {pointers.begin(), pointers.begin() + static_cast<std::ptrdiff_t>(checked)};
            }
        }
    }
}

// A NUL-terminated string; nullopt when longer than `limit` bytes. Reads up
// to the next 4 KiB boundary at a time: a short argument costs one small
// read, and no read starts in a page the string does not reach.
std::optional<std::string> read_string(int mem, std::uint64_t address, std::size_t limit) {
    constexpr std::size_t kChunk = 4096;
    std::array<char, kChunk> chunk{};
    std::string text;
    while (text.size() <= limit) {
        const auto at = address + text.size();
        const auto want = std::min(kChunk - at % kChunk, limit + 1 - text.size());
        const auto n = read_memory(mem, at, chunk.data(), want);
        const auto *nul = static_cast<const char *>(std::memchr(chunk.data(), 0, n));
        text.append(chunk.data(),
                    nul != nullptr ? static_cast<std::size_t>(nul - chunk.data()) : n);
        if (nul != nullptr) {
            return text;
        }
    }
    return std::nullopt;
}

// Opens a configured binary to mark it: nullopt when it is missing or not a
// regular file.
std::optional<std::pair<std::filesystem::path, UniqueFd>>
open_binary(const std::filesystem::path &binary, struct stat &st) noexcept {
    try {
        std::error_code ec;
        auto path = std::filesystem::canonical(binary, ec);
        if (ec) {
            return std::nullopt;
        }
        // O_NONBLOCK: a FIFO put there must not hang lockcd; O_NOFOLLOW: a
        // symlink swapped in since canonical() is left to the next refresh.
        UniqueFd file(
            ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW));
        if (!file.valid() || ::fstat(file.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
            return std::nullopt;
        }
        return std::pair{std::move(path), std::move(file)};
    } catch (...) {
        return std::nullopt;
    }
}

// Fills in what lockcd needs to know of a waiting exec. Never throws.
void describe(GatedExec &exec, int event_fd) noexcept {
    try {
        try {
            exec.binary = read_link("/proc/self/fd/" + std::to_string(event_fd));
            if (exec.tid <= 0) {
                // fanotify reports 0 for a task outside lockcd's pid namespace.
                throw std::runtime_error("the thread is not in lockcd's pid namespace");
            }
            exec.cwd = read_link("/proc/" + std::to_string(exec.tid) + "/cwd");
            exec.argv = argv_of_exec(exec.tid);
        } catch (const std::exception &e) {
            exec.argv.clear();
            exec.error = e.what();
        }
    } catch (...) {
        // Out of memory for the message: the exec is still answered.
        exec.argv.clear();
    }
}

} // namespace

GatedExec::GatedExec(std::shared_ptr<const UniqueFd> group, UniqueFd event, pid_t tid) noexcept
    : tid(tid), group_(std::move(group)), event_(std::move(event)) {}

bool GatedExec::allow() noexcept {
    if (!event_.valid()) {
        return true;
    }
    bool written = false;
    if (group_) {
        // The kernel finds the event by this fd number: answer before
        // closing it.
        const fanotify_response response{event_.get(), FAN_ALLOW};
        ssize_t n = 0;
        do {
            n = ::write(group_->get(), &response, sizeof(response));
        } while (n < 0 && errno == EINTR);
        written = n == static_cast<ssize_t>(sizeof(response));
    }
    event_.reset();
    group_.reset();
    return written;
}

ExecGate::ExecGate(std::vector<std::filesystem::path> binaries) : binaries_(std::move(binaries)) {
    // FAN_UNLIMITED_QUEUE: with a full queue the kernel allows a permission
    // event unseen, so a container could start unregistered. Each queued
    // event is a task blocked in exec, so the queue is bounded anyway.
    // O_RDONLY and O_LARGEFILE are both 0 on x86-64, which tidy takes for a
    // repeated operand.
    // NOLINTNEXTLINE(misc-redundant-expression)
    constexpr unsigned kEventFileFlags = O_RDONLY | O_CLOEXEC | O_LARGEFILE;
    UniqueFd group(::fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_TID |
                                       FAN_UNLIMITED_QUEUE,
                                   kEventFileFlags));
    if (!group.valid()) {
        throw_errno(errno, "fanotify_init: cannot hold runtime execs (needs CAP_SYS_ADMIN and "
                           "a kernel with CONFIG_FANOTIFY_ACCESS_PERMISSIONS)");
    }
    group_ = std::make_shared<const UniqueFd>(std::move(group));
    (void)refresh_marks();
}

bool ExecGate::refresh_marks() {
    if (!group_) {
        return false;
    }
    bool changed = false;
    try {
        // Incremental rather than a new group: nothing waiting in the group
        // is lost, and an exec is never held twice.
        std::vector<Mark> next;
        next.reserve(binaries_.size());
        for (const auto &binary : binaries_) {
            struct stat st {};
            auto opened = open_binary(binary, st);
            if (!opened) {
                continue;
            }
            const auto same = [&](const Mark &m) {
                return m.file.valid() && m.dev == st.st_dev && m.ino == st.st_ino;
            };
            if (std::any_of(next.begin(), next.end(), same)) {
                continue; // a hard link or symlink to a binary already marked
            }
            if (const auto kept = std::find_if(marks_.begin(), marks_.end(), same);
                kept != marks_.end()) {
                kept->path = std::move(opened->first);
                next.push_back(std::move(*kept));
                continue;
            }
            // Through the open file (no path): the mark lands on the inode
            // just checked, even if the path is replaced meanwhile.
            if (::fanotify_mark(group_->get(), FAN_MARK_ADD, kGatedEvents, opened->second.get(),
                                nullptr) != 0) {
                continue;
            }
            next.push_back(
                Mark{std::move(opened->first), st.st_dev, st.st_ino, std::move(opened->second)});
            changed = true;
        }
        // The inodes left behind (replaced or removed): only their held file
        // still reaches them.
        for (const auto &old : marks_) {
            if (old.file.valid()) {
                (void)::fanotify_mark(group_->get(), FAN_MARK_REMOVE, kGatedEvents, old.file.get(),
                                      nullptr);
                changed = true;
            }
        }
        marks_ = std::move(next);
        std::vector<std::filesystem::path> paths;
        paths.reserve(marks_.size());
        for (const auto &mark : marks_) {
            paths.push_back(mark.path);
        }
        marked_ = std::move(paths);
    } catch (...) {
        // Out of memory: marks already made stay; marked_ may lag.
    }
    return changed;
}

std::vector<GatedExec> ExecGate::read() {
    std::vector<GatedExec> execs;
    if (!group_) {
        return execs;
    }
    try {
        // Reserved so that taking an event never reallocates (which could
        // throw with an event's fd not yet owned).
        execs.reserve(kMaxEventsPerRead);
        alignas(fanotify_event_metadata) std::array<char, 4096> buffer{};
        std::array<int, kMaxEventsPerRead> event_fds{}; // of execs[i]
        constexpr std::size_t kEventSize = sizeof(fanotify_event_metadata);
        bool readable = true;
        while (readable && execs.size() < kMaxEventsPerRead) {
            const auto room =
                std::min(buffer.size(), (kMaxEventsPerRead - execs.size()) * kEventSize);
            const ssize_t n = ::read(group_->get(), buffer.data(), room);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break; // EAGAIN: nothing more waiting
            }
            const auto size = static_cast<std::size_t>(n);
            const auto first = execs.size();
            // First own every event's fd, then read the details: an
            // exception in between cannot leave an fd unowned.
            for (std::size_t offset = 0; size - offset >= kEventSize;) {
                fanotify_event_metadata event{};
                std::memcpy(&event, buffer.data() + offset, kEventSize);
                if (event.vers != FANOTIFY_METADATA_VERSION) {
                    // A layout this code does not know (the kernel has only
                    // ever written version 3): nothing in it can be trusted.
                    readable = false;
                    break;
                }
                if (event.event_len < kEventSize || event.event_len > size - offset) {
                    break;
                }
                offset += event.event_len;
                if ((event.mask & FAN_Q_OVERFLOW) != 0) {
                    // Not with FAN_UNLIMITED_QUEUE; if ever, the lost execs
                    // were allowed by the kernel unseen.
                    event_fds.at(execs.size()) = -1;
                    execs.emplace_back(group_, UniqueFd(), 0);
                    execs.back().error = "fanotify queue overflow: execs went on unseen";
                    continue;
                }
                UniqueFd file(event.fd >= 0 ? event.fd : -1);
                if ((event.mask & kGatedEvents) == 0) {
                    continue; // not a permission event: nothing to answer
                }
                event_fds.at(execs.size()) = event.fd;
                execs.emplace_back(group_, std::move(file), event.pid);
                if (event.fd < 0) {
                    execs.back().error = "fanotify gave no file for the exec";
                }
            }
            for (auto i = first; i < execs.size(); ++i) {
                if (execs[i].error.empty()) {
                    describe(execs[i], event_fds.at(i));
                }
            }
        }
    } catch (...) {
        // Out of memory: what was read is returned, and answered either way.
    }
    return execs;
}

// /proc/<tid>/syscall of a task held by the gate. The event reaches lockcd
// before the task has gone to sleep waiting for the answer, and a wake-up
// of the group's wait queue (another exec answered) has it running for a
// moment: the kernel then says "running". It is waiting for lockcd, so it
// settles; measured in the test VM with podman under TCG.
std::string held_syscall_text(const std::string &dir) {
    constexpr int kAttempts = 200;
    std::string text;
    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        text = read_proc_file(dir + "/syscall");
        if (!text.starts_with("running")) {
            break;
        }
        std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    return text;
}

std::vector<std::string> argv_of_exec(pid_t tid) {
    const std::string dir = "/proc/" + std::to_string(tid);
    const auto call = parse_syscall(held_syscall_text(dir), tid);
    std::uint64_t argv = 0;
    if (call.nr == kExecve) {
        argv = call.args[1]; // execve(path, argv, envp)
    } else if (call.nr == kExecveat) {
        argv = call.args[2]; // execveat(dirfd, path, argv, envp, flags)
    } else {
        throw std::runtime_error("thread " + std::to_string(tid) + " is in system call " +
                                 std::to_string(call.nr) +
                                 ", not a native execve or execveat (a 32-bit task?)");
    }
    if (argv == 0) {
        return {}; // execve(path, NULL, ...): an empty argv
    }
    // Needs ptrace access to the task (CAP_SYS_PTRACE). The task is blocked
    // in exec until answered, so its memory is the old image's throughout.
    const UniqueFd mem(::open((dir + "/mem").c_str(), O_RDONLY | O_CLOEXEC));
    if (!mem.valid()) {
        throw_errno(errno, "open " + dir + "/mem");
    }
    const auto pointers = read_pointers(mem.get(), argv);
    std::vector<std::string> args;
    args.reserve(pointers.size());
    std::size_t total = 0;
    for (const auto pointer : pointers) {
        const auto in_all = [] {
            return std::runtime_error("the arguments are longer than " +
                                      std::to_string(kMaxArgvBytes) + " bytes in all");
        };
        if (total >= kMaxArgvBytes) {
            throw in_all();
        }
        const auto limit = std::min(kMaxArgBytes, kMaxArgvBytes - total - 1);
        std::optional<std::string> arg;
        try {
            arg = read_string(mem.get(), pointer, limit);
        } catch (const std::runtime_error &e) {
            throw std::runtime_error("argument " + std::to_string(args.size()) + ": " + e.what());
        }
        if (!arg) {
            if (limit < kMaxArgBytes) {
                throw in_all();
            }
            throw std::runtime_error("argument " + std::to_string(args.size()) +
                                     " is longer than " + std::to_string(kMaxArgBytes) + " bytes");
        }
        total += arg->size() + 1;
        args.push_back(std::move(*arg));
    }
    return args;
}

} // namespace lockc
