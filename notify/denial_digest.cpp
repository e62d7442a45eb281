#include "denial_digest.hpp"

#include "output.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace lockc::notify {

namespace {

// Targets are paths chosen inside a container: bound what one adds to a
// notification (and to the server's memory).
constexpr std::size_t kMaxField = 200;

struct HookWords {
    std::string_view hook;
    std::string_view words;
};

// One entry per hook of bpf/lockc.h (lockc::hook_name), worded to follow
// "lockc stopped CONTAINER from"; the target, if any, comes after.
constexpr std::array<HookWords, 18> kHookWords = {{
    {"sb_mount", "mounting"},
    {"sb_kern_mount", "mounting a filesystem of type"},
    {"move_mount", "moving a mount"},
    {"sb_pivotroot", "calling pivot_root"},
    {"file_open", "opening"},
    {"syslog", "reading the kernel log"},
    {"kernel_module", "loading a kernel module"},
    {"bpf", "using bpf()"},
    {"perf_event_open", "using performance monitoring (perf_event_open)"},
    {"ptrace", "tracing a process outside it"},
    {"task_kill", "signalling a process outside it"},
    {"unix_stream_connect", "connecting to the socket"},
    {"task_fix_setuid", "becoming root"},
    {"exec_setuid", "running a setuid-root program"},
    {"userns_create", "creating a user namespace"},
    {"socket_create", "creating a raw or packet socket"},
    {"capable", "using the host-wide capability"},
    {"cgroup_tree", "changing the cgroup tree outside it:"},
}};

bool is_hex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// Sanitised (no control characters, valid UTF-8) and at most kMaxField
// bytes, cut at a character boundary.
std::string clipped(std::string_view text) {
    std::string out = cli::sanitised(text);
    if (out.size() <= kMaxField) {
        return out;
    }
    std::size_t cut = kMaxField;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0U) == 0x80U) {
        --cut;
    }
    out.resize(cut);
    return out + "…";
}

// "opening sysfs:/kernel/uevent_seqnum", or the words alone without a target.
std::string operation(const cli::Denial &denial) {
    std::string text = hook_words(denial.hook);
    if (!denial.target.empty()) {
        text += " " + clipped(denial.target);
    }
    return text;
}

bool audited(const cli::Denial &denial) {
    return denial.mode == "audit";
}

// Who did it and under which policy, for the body (not yet escaped).
std::string details(const cli::Denial &denial) {
    return clipped(denial.comm.empty() ? "a process" : denial.comm) + " (pid " +
           std::to_string(denial.pid) + ", uid " + std::to_string(denial.uid) + ") in container " +
           clipped(denial.container) + ", level " + clipped(denial.level) + ", mode " +
           clipped(denial.mode);
}

} // namespace

std::string hook_words(std::string_view hook) {
    const auto *const it = std::find_if(kHookWords.begin(), kHookWords.end(),
                                        [hook](const HookWords &w) { return w.hook == hook; });
    if (it != kHookWords.end()) {
        return std::string(it->words);
    }
    return "using " + (hook.empty() ? std::string("an operation") : clipped(hook));
}

std::string container_label(std::string_view id) {
    // The first run of 64 hex digits, if any.
    std::size_t run = 0;
    for (std::size_t i = 0; i < id.size(); ++i) {
        run = is_hex(id[i]) ? run + 1 : 0;
        const bool ends = i + 1 == id.size() || !is_hex(id[i + 1]);
        if (run == 64 && ends) {
            return std::string(id.substr(i + 1 - 64, 12));
        }
    }
    return id.empty() ? std::string("an unnamed container") : clipped(id);
}

std::string escape_markup(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
        switch (c) {
        case '&':
            out += "&amp;";
            break;
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

std::string denial_summary(const cli::Denial &denial) {
    return std::string(audited(denial) ? "lockc would have stopped " : "lockc stopped ") +
           container_label(denial.container) + " from " + operation(denial);
}

DenialDigest::DenialDigest(DigestSettings settings) : settings_(settings) {
    settings_.max_containers = std::max<std::size_t>(settings_.max_containers, 1);
}

std::optional<NotificationText> DenialDigest::add(const cli::Denial &denial,
                                                  Clock::time_point now) {
    forget_quiet(now);
    auto it = bursts_.find(denial.container);
    if (it == bursts_.end()) {
        make_room();
        Burst burst;
        burst.first = denial;
        it = bursts_.emplace(denial.container, std::move(burst)).first;
    }
    Burst &burst = it->second;
    burst.latest = denial;
    burst.count += std::max<std::uint32_t>(denial.count, 1);
    burst.last_denial = now;
    burst.pending = true;
    if (now < burst.next_send) {
        return std::nullopt; // due() sends the update when its interval has passed
    }
    return render(it->first, burst, now);
}

std::vector<NotificationText> DenialDigest::due(Clock::time_point now) {
    std::vector<NotificationText> texts;
    for (auto &[container, burst] : bursts_) {
        if (burst.pending && now >= burst.next_send) {
            texts.push_back(render(container, burst, now));
        }
    }
    return texts;
}

std::optional<Clock::time_point> DenialDigest::next_deadline() const {
    std::optional<Clock::time_point> next;
    for (const auto &[container, burst] : bursts_) {
        if (burst.pending && (!next || burst.next_send < *next)) {
            next = burst.next_send;
        }
    }
    return next;
}

void DenialDigest::shown(const std::string &container, std::uint32_t id) {
    if (const auto it = bursts_.find(container); it != bursts_.end()) {
        it->second.notification_id = id;
    }
}

void DenialDigest::not_shown(const std::string &container, Clock::time_point retry_at) {
    if (const auto it = bursts_.find(container); it != bursts_.end()) {
        it->second.pending = true;
        it->second.next_send = std::max(it->second.next_send, retry_at);
    }
}

NotificationText DenialDigest::render(const std::string &container, Burst &burst,
                                      Clock::time_point now) const {
    burst.pending = false;
    burst.next_send = now + settings_.update_interval;
    NotificationText text;
    text.container = container;
    text.replaces_id = burst.notification_id;
    text.summary = denial_summary(burst.first);
    text.denials = burst.count;
    const bool all_audited = audited(burst.first) && audited(burst.latest);
    text.urgency = all_audited ? Urgency::Low : Urgency::Normal;
    std::string body;
    if (burst.count > 1) {
        const auto more = burst.count - 1;
        body = std::to_string(more) + (more == 1 ? " more operation " : " more operations ") +
               (audited(burst.latest) ? "reported (audit mode) in " : "denied in ") +
               container_label(container) + "; the latest: " + operation(burst.latest) + " by " +
               clipped(burst.latest.comm.empty() ? "a process" : burst.latest.comm) + "\n";
    }
    body += details(burst.first);
    text.body = escape_markup(body);
    return text;
}

void DenialDigest::forget_quiet(Clock::time_point now) {
    std::erase_if(bursts_, [&](const auto &entry) {
        const Burst &burst = entry.second;
        return !burst.pending && now - burst.last_denial >= settings_.window;
    });
}

void DenialDigest::make_room() {
    while (bursts_.size() >= settings_.max_containers) {
        const auto oldest =
            std::min_element(bursts_.begin(), bursts_.end(), [](const auto &a, const auto &b) {
                return a.second.last_denial < b.second.last_denial;
            });
        bursts_.erase(oldest);
    }
}

} // namespace lockc::notify
