// What D-Bus callers send as strings: container ids, level and mode names,
// cgroup paths and names. Each check accepts or throws ApiError, never
// anything else; a normalized cgroup path is clean (absolute, no ".",
// ".." or empty components), and the same path given under the mount
// normalizes to it again. (Normalizing the result a second time is not
// always a no-op: "/sys/fs/cgroup/sys/fs/cgroup/x" is the cgroup
// "/sys/fs/cgroup/x" below the root, which read again as a path would lose
// its prefix. The API takes both forms; lockcd normalizes what callers
// give once and keeps the result; paths the kernel gives are read as
// relative only, normalize_relative_cgroup_path().)
#include "api_error.hpp"
#include "fuzz_support.hpp"
#include "validation.hpp"

#include <string>

namespace {

template <typename F> void accepts_or_api_error(F &&check) {
    try {
        check();
    } catch (const lockc::api::ApiError &) {
    }
}

bool clean(const std::string &path) {
    if (path == "/") {
        return true;
    }
    if (!path.starts_with('/') || path.ends_with('/')) {
        return false;
    }
    std::string_view rest(path);
    while (!rest.empty()) {
        rest.remove_prefix(1); // the '/'
        const auto part = rest.substr(0, rest.find('/'));
        if (part.empty() || part == "." || part == "..") {
            return false;
        }
        rest.remove_prefix(part.size());
    }
    return true;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size) {
    using lockc::fuzz::require;
    const auto text = lockc::fuzz::as_text(data, size);
    accepts_or_api_error([&] { lockc::check_container_id(text); });
    accepts_or_api_error([&] { lockc::check_cgroup_name(text); });
    accepts_or_api_error([&] { (void)lockc::level_argument(text, lockc::Level::Baseline); });
    accepts_or_api_error([&] { (void)lockc::mode_argument(text, lockc::Mode::Enforce); });
    accepts_or_api_error([&] { (void)lockc::required_level(text); });
    accepts_or_api_error([&] { (void)lockc::required_mode(text); });
    accepts_or_api_error([&] {
        const auto path = lockc::normalize_relative_cgroup_path(text);
        require(clean(path), "a normalized cgroup path is clean");
        require(lockc::normalize_relative_cgroup_path(path) == path,
                "normalizing a relative path is idempotent");
    });
    accepts_or_api_error([&] {
        const auto path = lockc::normalize_cgroup_path(text, "/sys/fs/cgroup");
        require(clean(path), "a normalized cgroup path is clean");
        require(lockc::normalize_cgroup_path("/sys/fs/cgroup" + path, "/sys/fs/cgroup") == path,
                "a path under the mount normalizes to the same cgroup");
    });
    return 0;
}
