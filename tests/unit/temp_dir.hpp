// A temporary directory for one test, removed with everything in it.
#pragma once

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace lockc::test {

class TempDir {
  public:
    // <base>/<prefix>-XXXXXX, canonical (gated paths are compared as such);
    // base is $TMPDIR or /tmp unless given.
    explicit TempDir(std::string_view prefix = "lockc-test",
                     const std::filesystem::path &base = std::filesystem::temp_directory_path()) {
        std::string pattern = (base / (std::string(prefix) + "-XXXXXX")).string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            throw std::system_error(errno, std::system_category(), "mkdtemp");
        }
        path_ = std::filesystem::canonical(pattern);
    }
    // On tmpfs when the machine has one, for callers that write (and fsync)
    // over and over, such as fuzz targets.
    [[nodiscard]] static TempDir in_memory(std::string_view prefix) {
        const std::filesystem::path shm = "/dev/shm";
        return std::filesystem::is_directory(shm) ? TempDir(prefix, shm) : TempDir(prefix);
    }
    TempDir(const TempDir &) = delete;
    TempDir &operator=(const TempDir &) = delete;
    ~TempDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    [[nodiscard]] const std::filesystem::path &path() const { return path_; }

  private:
    std::filesystem::path path_;
};

} // namespace lockc::test
