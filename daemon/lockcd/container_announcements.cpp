#include "container_announcements.hpp"

#include <utility>

namespace lockc {

void ContainerAnnouncements::added(const std::string &id) {
    queued_.push_back({ContainerAnnouncement::Kind::Added, id, {}});
}

void ContainerAnnouncements::removed(const std::string &id) {
    // What was queued for this container since it last went (or since the
    // pass began) is about an object that no longer exists: drop it. If
    // that includes its addition, subscribers never heard of it.
    bool added_in_pass = false;
    auto it = queued_.end();
    while (it != queued_.begin()) {
        --it;
        if (it->id != id) {
            continue;
        }
        if (it->kind == ContainerAnnouncement::Kind::Removed) {
            break; // an earlier incarnation, announced as gone
        }
        added_in_pass = added_in_pass || it->kind == ContainerAnnouncement::Kind::Added;
        it = queued_.erase(it);
    }
    if (!added_in_pass) {
        queued_.push_back({ContainerAnnouncement::Kind::Removed, id, {}});
    }
}

void ContainerAnnouncements::changed(const std::string &id,
                                     const std::vector<std::string> &properties) {
    queued_.push_back({ContainerAnnouncement::Kind::Changed, id, properties});
}

std::vector<ContainerAnnouncement> ContainerAnnouncements::take() {
    return std::exchange(queued_, {});
}

} // namespace lockc
