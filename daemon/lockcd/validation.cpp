#include "validation.hpp"

#include "api_error.hpp"

#include <sdbus-c++/TypeTraits.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <vector>

namespace lockc {

using api::ApiError;

namespace {

// Quotes a caller's string for an error message: printable ASCII as is,
// anything else escaped, and long strings cut.
std::string shown(std::string_view text) {
    constexpr std::size_t kShown = 64;
    std::string out = "'";
    for (std::size_t i = 0; i < text.size() && i < kShown; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\') {
            out += static_cast<char>(c);
        } else {
            std::array<char, 8> hex{};
            std::snprintf(hex.data(), hex.size(), "\\x%02x", c);
            out += hex.data();
        }
    }
    out += text.size() > kShown ? "'..." : "'";
    return out;
}

} // namespace

void check_container_id(std::string_view id) {
    if (id.empty()) {
        throw ApiError(api::kInvalidArgument, "the container id is empty");
    }
    if (id.size() > kMaxContainerIdLength) {
        throw ApiError(api::kInvalidArgument, "the container id is " + std::to_string(id.size()) +
                                                  " bytes long; at most " +
                                                  std::to_string(kMaxContainerIdLength) +
                                                  " are allowed");
    }
    for (const char ch : id) {
        const auto c = static_cast<unsigned char>(ch);
        if (c <= 0x20 || c >= 0x7f) {
            throw ApiError(api::kInvalidArgument,
                           "the container id " + shown(id) +
                               " has a space or a non-printable character; ids are printable "
                               "ASCII without spaces");
        }
    }
}

Level level_argument(std::string_view name, Level fallback) {
    if (name.empty()) {
        return fallback;
    }
    if (auto level = parse_level(name)) {
        return *level;
    }
    throw ApiError(api::kInvalidLevel, "unknown level " + shown(name) +
                                           "; the levels are privileged, baseline, restricted");
}

Mode mode_argument(std::string_view name, Mode fallback) {
    if (name.empty()) {
        return fallback;
    }
    if (auto mode = parse_mode(name)) {
        return *mode;
    }
    throw ApiError(api::kInvalidMode,
                   "unknown mode " + shown(name) + "; the modes are enforce, audit");
}

Level required_level(std::string_view name) {
    if (name.empty()) {
        throw ApiError(api::kInvalidLevel,
                       "no level given; the levels are privileged, baseline, restricted");
    }
    return level_argument(name, Level::Baseline);
}

Mode required_mode(std::string_view name) {
    if (name.empty()) {
        throw ApiError(api::kInvalidMode, "no mode given; the modes are enforce, audit");
    }
    return mode_argument(name, Mode::Enforce);
}

namespace {

// The components of an absolute path, without empty ones ("//", trailing
// '/'); nullopt if there is a "." or "..".
std::optional<std::vector<std::string_view>> components(std::string_view path) {
    std::vector<std::string_view> out;
    std::size_t pos = 0;
    while (pos < path.size()) {
        const auto next = path.find('/', pos);
        const auto end = next == std::string_view::npos ? path.size() : next;
        const auto component = path.substr(pos, end - pos);
        pos = end + 1;
        if (component.empty()) {
            continue;
        }
        if (component == "." || component == "..") {
            return std::nullopt;
        }
        out.push_back(component);
    }
    return out;
}

bool printable_ascii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c >= 0x20 && c < 0x7f;
    });
}

// mount: nullptr for a path known to be relative to the root already.
std::string normalize(std::string_view path, const std::filesystem::path *mount) {
    constexpr std::size_t kMaxPath = 4096;
    if (path.empty() || path.front() != '/') {
        throw ApiError(api::kInvalidArgument,
                       "cgroup path " + shown(path) +
                           " is not absolute; give it relative to the cgroup root "
                           "('/system.slice/docker-ID.scope')" +
                           (mount != nullptr ? " or under " + mount->string() : std::string()));
    }
    // systemd escapes unit names to ASCII; anything else is not a container's
    // cgroup and could not be stored or shown safely.
    if (path.size() > kMaxPath || !printable_ascii(path)) {
        throw ApiError(api::kInvalidArgument,
                       "cgroup path " + shown(path) + " is too long or not printable ASCII");
    }
    const auto parts = components(path);
    if (!parts) {
        throw ApiError(api::kInvalidArgument,
                       "cgroup path " + shown(path) + " has '.' or '..' components");
    }
    // Compare whole components with the mount's, after both are normalized:
    // "/sys//fs/cgroup/x" is under /sys/fs/cgroup, "/sys/fs/cgroupX" is not.
    const std::string mount_text = mount != nullptr ? mount->string() : std::string();
    const auto mount_parts = mount != nullptr
                                 ? components(mount_text).value_or(std::vector<std::string_view>{})
                                 : std::vector<std::string_view>{};
    std::size_t skip = 0;
    if (!mount_parts.empty() && parts->size() >= mount_parts.size() &&
        std::equal(mount_parts.begin(), mount_parts.end(), parts->begin())) {
        skip = mount_parts.size();
    }
    std::string out;
    for (std::size_t i = skip; i < parts->size(); ++i) {
        out += '/';
        out += (*parts)[i];
    }
    return out.empty() ? "/" : out;
}

} // namespace

std::string normalize_cgroup_path(std::string_view path, const std::filesystem::path &mount) {
    return normalize(path, &mount);
}

std::string normalize_relative_cgroup_path(std::string_view path) {
    return normalize(path, nullptr);
}

void check_cgroup_name(std::string_view name) {
    // The kernel's pending map keys are LOCKC_CGROUP_NAME_LEN bytes with NUL.
    if (name.empty() || name.size() >= LOCKC_CGROUP_NAME_LEN || name == "." || name == ".." ||
        name.find('/') != std::string_view::npos || !printable_ascii(name)) {
        throw ApiError(api::kInvalidArgument,
                       "scope name " + shown(name) + " is not a cgroup directory name (1 to " +
                           std::to_string(LOCKC_CGROUP_NAME_LEN - 1) +
                           " printable ASCII characters, no '/', e.g. 'docker-ID.scope')");
    }
}

const sdbus::Variant *OptionReader::find(const std::string &key, std::string_view signature,
                                         std::string_view type_name) {
    const auto it = options_.find(key);
    if (it == options_.end()) {
        return nullptr;
    }
    taken_.insert(key);
    if (it->second.peekValueType() != signature) {
        throw ApiError(api::kInvalidArgument,
                       "option '" + key + "' must be " + std::string(type_name) + " ('" +
                           std::string(signature) + "'), not '" + it->second.peekValueType() + "'");
    }
    return &it->second;
}

std::optional<std::string> OptionReader::string(const std::string &key) {
    if (const auto *v = find(key, "s", "a string")) {
        return v->get<std::string>();
    }
    return std::nullopt;
}

std::optional<std::uint32_t> OptionReader::uint32(const std::string &key) {
    if (const auto *v = find(key, "u", "an unsigned 32-bit integer")) {
        return v->get<std::uint32_t>();
    }
    return std::nullopt;
}

std::optional<bool> OptionReader::boolean(const std::string &key) {
    if (const auto *v = find(key, "b", "a boolean")) {
        return v->get<bool>();
    }
    return std::nullopt;
}

void OptionReader::finish() const {
    for (const auto &[key, value] : options_) {
        if (!taken_.contains(key)) {
            throw ApiError(api::kInvalidArgument, "unknown option " + shown(key));
        }
    }
}

} // namespace lockc
