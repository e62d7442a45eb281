#include "events.hpp"

#include <array>
#include <cstring>

namespace lockc {

namespace {

constexpr std::array<std::string_view, LOCKC_HOOK_COUNT> kHookNames = {
    "sb_mount",        "sb_kern_mount", "move_mount",    "sb_pivotroot",
    "file_open",       "syslog",        "kernel_module", "bpf",
    "perf_event_open", "ptrace",        "task_kill",     "unix_stream_connect",
    "task_fix_setuid", "exec_setuid",   "userns_create", "socket_create",
    "capable",         "cgroup_tree",
};

constexpr std::array<std::string_view, 8> kTargetKinds = {
    "none", "path", "fs_path", "fs_type", "device", "socket", "task", "other",
};

// A fixed-size, NUL-padded C string field, without trusting the NUL.
template <std::size_t N> std::string field_string(const char (&field)[N]) {
    const auto *end = static_cast<const char *>(std::memchr(field, 0, N));
    return {field, end ? static_cast<std::size_t>(end - field) : N};
}

} // namespace

std::string_view hook_name(unsigned hook) {
    return hook < kHookNames.size() ? kHookNames[hook] : "unknown";
}

std::optional<lockc_hook> parse_hook(std::string_view name) {
    for (std::size_t i = 0; i < kHookNames.size(); ++i) {
        if (kHookNames[i] == name) {
            return static_cast<lockc_hook>(i);
        }
    }
    return std::nullopt;
}

std::string_view target_kind_name(unsigned kind) {
    return kind < kTargetKinds.size() ? kTargetKinds[kind] : "unknown";
}

std::optional<Event> decode_event(std::span<const std::byte> raw) {
    lockc_event e{};
    if (raw.size() != sizeof(e)) {
        return std::nullopt;
    }
    std::memcpy(&e, raw.data(), sizeof(e));
    if (e.hook >= LOCKC_HOOK_COUNT || e.level >= LOCKC_LEVEL_COUNT || e.mode >= LOCKC_MODE_COUNT ||
        e.target_kind >= kTargetKinds.size() || e.error < 0) {
        return std::nullopt;
    }
    Event out;
    out.boot_time = std::chrono::nanoseconds(e.time_ns);
    out.cgroup_id = e.cgroup_id;
    out.policy_cgroup_id = e.policy_cgroup_id;
    out.pid = e.pid;
    out.tid = e.tid;
    out.uid = e.uid;
    out.hook = static_cast<lockc_hook>(e.hook);
    out.level = static_cast<Level>(e.level);
    out.mode = static_cast<Mode>(e.mode);
    out.error = e.error;
    out.target_kind = static_cast<lockc_target_kind>(e.target_kind);
    out.tag = e.tag;
    out.comm = field_string(e.comm);
    out.target = field_string(e.target);
    return out;
}

std::string describe(const Event &event) {
    std::string s(hook_name(event.hook));
    s += event.mode == Mode::Audit ? " audited" : " denied";
    s += " pid " + std::to_string(event.pid) + " (" + event.comm + ") uid " +
         std::to_string(event.uid);
    if (!event.target.empty()) {
        s += ": " + event.target;
    }
    s += " (";
    s += to_string(event.level);
    s += ", ";
    s += to_string(event.mode);
    s += ")";
    return s;
}

} // namespace lockc
