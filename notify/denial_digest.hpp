// What lockc-notify shows: Denied records turned into desktop notification
// texts, one notification per container and burst. Pure logic (the clock is
// passed in), so that the wording and the coalescing are unit tested.
//
// The first denial of a container shows at once. Further denials of it
// while it keeps being denied (each within `window` of the previous one)
// update that same notification (replaces_id) with their count, at most
// once per `update_interval`. After `window` without a denial the next one
// is a new notification. At most `max_containers` containers are tracked;
// a new one pushes out the one denied least recently.
#pragma once

#include "model.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lockc::notify {

using Clock = std::chrono::steady_clock;

struct DigestSettings {
    std::chrono::milliseconds window{5000};
    std::chrono::milliseconds update_interval{1000};
    std::size_t max_containers = 64;
};

// The urgency hint of the Desktop Notifications spec.
enum class Urgency : std::uint8_t { Low = 0, Normal = 1, Critical = 2 };

// One Notify call to make.
struct NotificationText {
    std::string container;         // the container id (the key, not shown as is)
    std::uint32_t replaces_id = 0; // 0: a new notification
    std::string summary;           // plain text (the spec allows no markup here)
    std::string body;              // markup-escaped (&, <, >)
    Urgency urgency = Urgency::Normal;
    std::uint64_t denials = 0; // how many denials the text stands for
};

// What a hook's operation is, as words that follow "from": "opening",
// "mounting", "reading the kernel log", ...; unknown hooks as
// "using HOOK".
[[nodiscard]] std::string hook_words(std::string_view hook);

// A container id for people: a 64-hex-digit id (Docker, containerd, CRI-O;
// also inside a cgroup name such as "docker-<id>.scope") as its first 12
// digits, as `docker ps` shows it; anything else as it is. Sanitised.
[[nodiscard]] std::string container_label(std::string_view id);

// `text` with &, < and > as entities (the body markup of the spec).
[[nodiscard]] std::string escape_markup(std::string_view text);

// "lockc stopped 1f2e3d4c5b6a from opening sysfs:/kernel/uevent_seqnum";
// in audit mode "lockc would have stopped ...".
[[nodiscard]] std::string denial_summary(const cli::Denial &denial);

class DenialDigest {
  public:
    explicit DenialDigest(DigestSettings settings);

    // A denial came at `now`: the notification to show at once, if any
    // (the first of a burst, or an update whose interval has passed).
    [[nodiscard]] std::optional<NotificationText> add(const cli::Denial &denial,
                                                      Clock::time_point now);
    // Updates whose interval has passed by `now`.
    [[nodiscard]] std::vector<NotificationText> due(Clock::time_point now);
    // When due() next has something (nullopt: nothing pending).
    [[nodiscard]] std::optional<Clock::time_point> next_deadline() const;

    // The server showed the text of `container` as notification `id`:
    // later updates replace it.
    void shown(const std::string &container, std::uint32_t id);
    // The server could not be reached: show that container's text again
    // (as it stands then) at `retry_at`.
    void not_shown(const std::string &container, Clock::time_point retry_at);

    [[nodiscard]] std::size_t tracked() const { return bursts_.size(); }

  private:
    struct Burst {
        cli::Denial first;
        cli::Denial latest;
        std::uint64_t count = 0;
        std::uint32_t notification_id = 0;
        Clock::time_point last_denial;
        Clock::time_point next_send; // when an update may go out
        bool pending = false;        // denials (or a failed send) not shown yet
    };

    [[nodiscard]] NotificationText render(const std::string &container, Burst &burst,
                                          Clock::time_point now) const;
    void forget_quiet(Clock::time_point now);
    void make_room();

    DigestSettings settings_;
    std::map<std::string, Burst> bursts_;
};

} // namespace lockc::notify
