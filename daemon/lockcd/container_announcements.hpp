// What one pass of lockcd's main loop has to announce about container
// objects (InterfacesAdded, InterfacesRemoved, PropertiesChanged), kept in
// order and sent after the pass's replies: a caller waits for its reply,
// not for the bus to route the signals its call caused.
#pragma once

#include <string>
#include <vector>

namespace lockc {

struct ContainerAnnouncement {
    enum class Kind { Added, Removed, Changed };
    Kind kind = Kind::Added;
    std::string id;
    std::vector<std::string> properties; // Changed: which ones
    bool operator==(const ContainerAnnouncement &) const = default;
};

class ContainerAnnouncements {
  public:
    void added(const std::string &id);
    // A container added in this pass and removed again is announced neither
    // way: its object is gone before InterfacesAdded could describe it.
    void removed(const std::string &id);
    void changed(const std::string &id, const std::vector<std::string> &properties);
    // The pass's announcements in the order they happened; none after.
    [[nodiscard]] std::vector<ContainerAnnouncement> take();

  private:
    std::vector<ContainerAnnouncement> queued_;
};

} // namespace lockc
