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

inline void write_file(const std::filesystem::path &file, std::string_view text) {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

} // namespace lockc::fuzz
