// Decision events from the ring buffer, decoded and validated.
#pragma once

#include "lockc_shared.h"
#include "policy.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace lockc {

struct Event {
    std::chrono::nanoseconds boot_time{}; // CLOCK_BOOTTIME
    std::uint64_t cgroup_id = 0;
    std::uint64_t policy_cgroup_id = 0;
    std::uint32_t pid = 0;
    std::uint32_t tid = 0;
    std::uint32_t uid = 0;
    lockc_hook hook = LOCKC_HOOK_SB_MOUNT;
    Level level = Level::Baseline;
    Mode mode = Mode::Enforce;
    int error = 0; // errno given to the caller, 0 when audited
    lockc_target_kind target_kind = LOCKC_TARGET_NONE;
    std::uint32_t tag = 0; // the deciding entry's (PolicyEntry::tag)
    std::string comm;
    std::string target;
};

// Name of a hook as users see it ("file_open"); "unknown" if out of range.
[[nodiscard]] std::string_view hook_name(unsigned hook);
[[nodiscard]] std::optional<lockc_hook> parse_hook(std::string_view name);
[[nodiscard]] std::string_view target_kind_name(unsigned kind);

// nullopt for a record that is not a valid event (wrong size, values out of
// range): the kernel side is trusted, but a mismatched object is not.
[[nodiscard]] std::optional<Event> decode_event(std::span<const std::byte> raw);

// One line for logs: "file_open denied pid 12 (cat) uid 0: sysfs:/fs (baseline, enforce)".
[[nodiscard]] std::string describe(const Event &event);

} // namespace lockc
