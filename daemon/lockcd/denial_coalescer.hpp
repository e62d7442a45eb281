// Denials gathered for DeniedCoalesced subscribers: denials that differ
// only in their time become one entry with a count and the first and last
// time, over a short window. A container hammering one denied path costs
// the bus one entry per window instead of one per denial; nothing but the
// times in between is lost.
#pragma once

#include "denial_journal.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lockc {

// A denial made `count` times: `denial.time_usec` is the first time,
// `last_usec` the last.
struct RepeatedDenial {
    Denial denial;
    std::uint64_t last_usec = 0;
    std::uint32_t count = 0;
};

class DenialCoalescer {
  public:
    using Clock = std::chrono::steady_clock;
    // Entries are handed out `window` after the first denial of a window
    // came in, or at once when `max_entries` distinct denials are held.
    DenialCoalescer(Clock::duration window, std::size_t max_entries)
        : window_(window), max_entries_(max_entries) {}

    void add(const Denial &denial, Clock::time_point now);
    // When take() should be called; nullopt while nothing is held.
    [[nodiscard]] std::optional<Clock::time_point> due() const;
    // The held entries in the order their first denial came in; empties
    // the coalescer and starts a new window with the next denial.
    [[nodiscard]] std::vector<RepeatedDenial> take();
    // Drops what is held (nobody left to send it to).
    void clear();
    [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }

  private:
    // Every field but the time, packed into key_ (reused: no allocation per
    // denial once it has grown).
    void pack_key(const Denial &denial);

    Clock::duration window_;
    std::size_t max_entries_;
    Clock::time_point opened_{};
    std::vector<RepeatedDenial> entries_;
    std::unordered_map<std::string, std::size_t> index_; // key -> entries_ index
    std::string key_;
};

} // namespace lockc
