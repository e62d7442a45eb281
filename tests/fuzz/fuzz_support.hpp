// Shared by the fuzz targets: the libFuzzer entry point's signature, and a
// check that aborts (a finding) when a property of the code under test
// does not hold. The same sources build as libFuzzer targets (clang, with
// AddressSanitizer and UBSan) and as corpus replays (replay_main.cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t *data, std::size_t size);

namespace lockc::fuzz {

inline std::string_view as_text(const std::uint8_t *data, std::size_t size) {
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): bytes as chars
    return {reinterpret_cast<const char *>(data), size};
}

// A broken property is a finding like a crash: abort, so that libFuzzer
// saves the input.
inline void require(bool holds, const char *property) {
    if (!holds) {
        std::fprintf(stderr, "fuzz property broken: %s\n", property);
        std::abort();
    }
}

// A directory of this process's own, on tmpfs when there is one (the
// registry fsyncs every save), removed when the fuzzer exits normally.
class ScratchDir {
  public:
    explicit ScratchDir(const char *name) {
        const std::filesystem::path base = std::filesystem::is_directory("/dev/shm")
                                               ? "/dev/shm"
                                               : std::filesystem::temp_directory_path();
        std::string pattern = (base / (std::string("lockc-fuzz-") + name + "-XXXXXX")).string();
        if (::mkdtemp(pattern.data()) == nullptr) {
            std::abort();
        }
        path_ = pattern;
    }
    ScratchDir(const ScratchDir &) = delete;
    ScratchDir &operator=(const ScratchDir &) = delete;
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
    [[nodiscard]] const std::filesystem::path &path() const { return path_; }

  private:
    std::filesystem::path path_;
};

inline void write_file(const std::filesystem::path &file, std::string_view text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

} // namespace lockc::fuzz
