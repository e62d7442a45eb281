#include "cgroup.hpp"

#include "error.hpp"
#include "unique_fd.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace lockc {

std::uint64_t cgroup_id(const std::filesystem::path &path) {
    // cgroup2 (kernfs) file handles are the 64-bit node id.
    alignas(file_handle) std::array<unsigned char, sizeof(file_handle) + 8> buf{};
    auto *handle = reinterpret_cast<file_handle *>(buf.data());
    handle->handle_bytes = 8;
    int mount_id = 0;
    if (::name_to_handle_at(AT_FDCWD, path.c_str(), handle, &mount_id, 0) != 0) {
        if (errno == EOVERFLOW || errno == EOPNOTSUPP) {
            // A longer handle than 8 bytes, or none: another filesystem.
            throw Error(ErrorKind::InvalidArgument,
                        path.string() + " is not a cgroup v2 directory");
        }
        throw_system("cannot get the cgroup id of " + path.string(), errno);
    }
    if (handle->handle_bytes != sizeof(std::uint64_t)) {
        throw Error(ErrorKind::InvalidArgument, path.string() + " is not a cgroup v2 directory");
    }
    std::uint64_t id = 0;
    std::memcpy(&id, buf.data() + sizeof(file_handle), sizeof(id));
    return id;
}

bool is_hierarchy_root(const std::filesystem::path &dir) {
    std::error_code ec;
    return std::filesystem::exists(dir / "cgroup.procs", ec) &&
           !std::filesystem::exists(dir / "cgroup.type", ec);
}

int cgroup_depth(const std::filesystem::path &relative) {
    int depth = 0;
    for (const auto &part : relative.relative_path()) {
        if (!part.empty()) {
            ++depth;
        }
    }
    return depth;
}

std::filesystem::path cgroup2_mount() {
    std::ifstream in("/proc/self/mounts");
    std::string device;
    std::string dir;
    std::string type;
    std::string rest;
    while (in >> device >> dir >> type && std::getline(in, rest)) {
        if (type == "cgroup2") {
            return dir;
        }
    }
    throw Error(ErrorKind::NotFound, "no cgroup v2 filesystem is mounted");
}

std::filesystem::path cgroup_of_pid(int pid) {
    const std::string file = "/proc/" + std::to_string(pid) + "/cgroup";
    std::ifstream in(file);
    if (!in) {
        throw Error(ErrorKind::NotFound, "no process " + std::to_string(pid));
    }
    std::string line;
    while (std::getline(in, line)) {
        // cgroup v2 line: "0::/path"
        if (line.starts_with("0::")) {
            return line.substr(3);
        }
    }
    throw Error(ErrorKind::NotFound,
                "process " + std::to_string(pid) + " has no cgroup v2 membership");
}

std::optional<std::filesystem::path> cgroup_path_of_id(const std::filesystem::path &mount,
                                                       std::uint64_t id) {
    const UniqueFd mount_fd(::open(mount.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!mount_fd.valid()) {
        throw_system("cannot open " + mount.string(), errno);
    }
    // The handle type of this filesystem, from its root; the id is the rest.
    alignas(file_handle) std::array<unsigned char, sizeof(file_handle) + 8> buf{};
    auto *handle = reinterpret_cast<file_handle *>(buf.data());
    handle->handle_bytes = 8;
    int mount_id = 0;
    if (::name_to_handle_at(mount_fd.get(), "", handle, &mount_id, AT_EMPTY_PATH) != 0 ||
        handle->handle_bytes != sizeof(id)) {
        throw_system("cannot get a file handle on " + mount.string(), errno);
    }
    std::memcpy(buf.data() + sizeof(file_handle), &id, sizeof(id));
    const UniqueFd dir(
        ::open_by_handle_at(mount_fd.get(), handle, O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dir.valid()) {
        if (errno == ESTALE || errno == ENOENT) {
            return std::nullopt;
        }
        throw_system("cannot open cgroup " + std::to_string(id), errno);
    }
    std::array<char, 4096> target{};
    const std::string link = "/proc/self/fd/" + std::to_string(dir.get());
    const ssize_t n = ::readlink(link.c_str(), target.data(), target.size() - 1);
    if (n < 0) {
        throw_system("cannot read " + link, errno);
    }
    const std::string_view full(target.data(), static_cast<std::size_t>(n));
    const std::string root = mount.string();
    if (full == root) {
        return std::filesystem::path("/");
    }
    if (full.starts_with(root) && full.size() > root.size() && full[root.size()] == '/') {
        return std::filesystem::path(full.substr(root.size()));
    }
    // A cgroup outside this mount's view (another cgroup namespace).
    return std::nullopt;
}

} // namespace lockc
