#include "denial_coalescer.hpp"

#include <algorithm>
#include <limits>
#include <utility>

namespace lockc {

void DenialCoalescer::pack_key(const Denial &denial) {
    key_.clear();
    // NUL separates the strings: none of them can hold one (D-Bus strings
    // cannot), so no two different denials pack to the same key.
    for (const auto *field : {&denial.container, &denial.hook, &denial.target, &denial.comm}) {
        key_.append(*field);
        key_.push_back('\0');
    }
    key_.append(std::to_string(static_cast<int>(denial.level)))
        .append(1, '\0')
        .append(std::to_string(static_cast<int>(denial.mode)))
        .append(1, '\0')
        .append(std::to_string(denial.pid))
        .append(1, '\0')
        .append(std::to_string(denial.uid))
        .append(1, '\0')
        .append(std::to_string(denial.error));
}

void DenialCoalescer::add(const Denial &denial, Clock::time_point now) {
    if (entries_.empty()) {
        opened_ = now;
    }
    pack_key(denial);
    if (const auto it = index_.find(key_); it != index_.end()) {
        auto &entry = entries_[it->second];
        // A count that would wrap starts a new entry instead.
        if (entry.count < std::numeric_limits<std::uint32_t>::max()) {
            ++entry.count;
            // Events from different CPUs may come slightly out of order.
            entry.denial.time_usec = std::min(entry.denial.time_usec, denial.time_usec);
            entry.last_usec = std::max(entry.last_usec, denial.time_usec);
            return;
        }
    }
    index_.insert_or_assign(key_, entries_.size());
    entries_.push_back(RepeatedDenial{denial, denial.time_usec, 1});
}

std::optional<DenialCoalescer::Clock::time_point> DenialCoalescer::due() const {
    if (entries_.empty()) {
        return std::nullopt;
    }
    if (entries_.size() >= max_entries_) {
        return opened_; // already due
    }
    return opened_ + window_;
}

std::vector<RepeatedDenial> DenialCoalescer::take() {
    index_.clear();
    return std::exchange(entries_, {});
}

void DenialCoalescer::clear() {
    index_.clear();
    entries_.clear();
}

} // namespace lockc
