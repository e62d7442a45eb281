// Denials in the journal, with structured fields, rate-limited per
// container so that a container hammering a denied path cannot flood it.
// Suppressed messages are counted and the count is logged with the next
// message that passes.
#pragma once

#include "policy.hpp"

#include <chrono>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace lockc {

// One decision as lockcd reports it (journal, Denied signal).
struct Denial {
    std::string container; // registered id, or the cgroup directory name
    Level level = Level::Baseline;
    Mode mode = Mode::Enforce;
    std::string hook;
    std::string target;
    std::uint32_t pid = 0;
    std::uint32_t uid = 0;
    std::string comm;
    std::int32_t error = 0;      // errno the caller got; 0 when audited
    std::uint64_t time_usec = 0; // CLOCK_REALTIME
};

// The journal MESSAGE_ID of denial messages (journalctl MESSAGE_ID=...).
inline constexpr const char *kDenialMessageId = "3c0f2e7a9d5b4e61a8f1c27d64b09e53";

class DenialRateLimit {
  public:
    using Clock = std::chrono::steady_clock;
    DenialRateLimit(std::uint32_t burst, std::chrono::seconds interval)
        : burst_(burst), interval_(interval) {}
    void set_limits(std::uint32_t burst, std::chrono::seconds interval);

    struct Verdict {
        bool log = false;
        std::uint64_t suppressed_before = 0; // to mention in this message
    };
    // Whether a denial of `container` at `now` may be logged.
    [[nodiscard]] Verdict admit(const std::string &container, Clock::time_point now);
    [[nodiscard]] std::uint64_t suppressed_total() const noexcept { return suppressed_total_; }

  private:
    struct Window {
        Clock::time_point start;
        std::uint32_t logged = 0;
        std::uint64_t suppressed = 0;
    };
    std::uint32_t burst_;
    std::chrono::seconds interval_;
    // Windows of containers that stopped being denied are dropped once the
    // map is this large, so container churn cannot grow it without bound.
    static constexpr std::size_t kMaxWindows = 4096;
    std::unordered_map<std::string, Window> windows_;
    std::size_t scan_at_ = kMaxWindows;
    std::uint64_t suppressed_total_ = 0;
};

// Sends one denial to the journal (stderr if journald is not there).
void journal_denial(const Denial &denial, std::uint64_t suppressed_before);

} // namespace lockc
