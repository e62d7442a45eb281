#include "denial_journal.hpp"

#include <sys/uio.h>
#include <systemd/sd-journal.h>

#include <algorithm>
#include <iostream>
#include <vector>

namespace lockc {

namespace {} // namespace

void DenialRateLimit::set_limits(std::uint32_t burst, std::chrono::seconds interval) {
    burst_ = burst;
    interval_ = interval;
}

DenialRateLimit::Verdict DenialRateLimit::admit(const std::string &container,
                                                Clock::time_point now) {
    if (windows_.size() >= scan_at_ && !windows_.contains(container)) {
        // Expired windows go, even with a suppressed count (it stays in
        // suppressed_total()). Windows still open stay, so the map holds at
        // most about twice the containers denied within one interval (which
        // the kernel's entries bound); scanning again only once it doubled
        // keeps the cost per denial constant.
        std::erase_if(windows_,
                      [&](const auto &entry) { return now - entry.second.start >= interval_; });
        scan_at_ = std::max(kMaxWindows, windows_.size() * 2);
    }
    auto &w = windows_[container];
    if (w.logged == 0 && w.suppressed == 0) {
        w.start = now;
    } else if (now - w.start >= interval_) {
        w.start = now;
        w.logged = 0;
    }
    if (w.logged < burst_) {
        ++w.logged;
        Verdict v{true, w.suppressed};
        w.suppressed = 0;
        return v;
    }
    ++w.suppressed;
    ++suppressed_total_;
    return {};
}

void journal_denial(const Denial &denial, std::uint64_t suppressed_before) {
    const bool enforced = denial.mode == Mode::Enforce;
    std::string message = "container " + denial.container + ": " + denial.hook +
                          (enforced ? " denied" : " would be denied (audit)");
    if (!denial.target.empty()) {
        message += " on " + denial.target;
    }
    message += " to pid " + std::to_string(denial.pid) + " (" + denial.comm + ") uid " +
               std::to_string(denial.uid) + " at level " + std::string(to_string(denial.level));
    if (suppressed_before > 0) {
        message += "; " + std::to_string(suppressed_before) +
                   " earlier denials of this container were not logged (rate limit)";
    }
    const std::vector<std::string> fields = {
        "MESSAGE=" + message,
        std::string("MESSAGE_ID=") + kDenialMessageId,
        enforced ? "PRIORITY=4" : "PRIORITY=5",
        "SYSLOG_IDENTIFIER=lockcd",
        "LOCKC_CONTAINER=" + denial.container,
        "LOCKC_LEVEL=" + std::string(to_string(denial.level)),
        "LOCKC_MODE=" + std::string(to_string(denial.mode)),
        "LOCKC_HOOK=" + denial.hook,
        "LOCKC_TARGET=" + denial.target,
        "LOCKC_PID=" + std::to_string(denial.pid),
        "LOCKC_UID=" + std::to_string(denial.uid),
        "LOCKC_COMM=" + denial.comm,
        "LOCKC_ERRNO=" + std::to_string(denial.error),
        "LOCKC_SUPPRESSED=" + std::to_string(suppressed_before),
    };
    std::vector<iovec> iov;
    iov.reserve(fields.size());
    for (const auto &f : fields) {
        // sd_journal_sendv does not write through the pointers.
        iov.push_back({const_cast<char *>(f.data()), f.size()});
    }
    if (sd_journal_sendv(iov.data(), static_cast<int>(iov.size())) < 0) {
        std::cerr << "lockcd: " << message << '\n';
    }
}

} // namespace lockc
