// Strict UTF-8 decoding: D-Bus promises valid UTF-8, but lockcctl prints
// and escapes text from the bus without trusting that.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace lockc::cli {

struct CodePoint {
    char32_t value = 0;
    std::size_t length = 0; // bytes, 1 to 4
};

// The code point at `text[pos]`, or nullopt for an invalid sequence
// (truncated, overlong, a surrogate, beyond U+10FFFF, a stray byte).
[[nodiscard]] std::optional<CodePoint> decode_utf8(std::string_view text, std::size_t pos);

// Whether all of `text` is valid UTF-8 (D-Bus accepts nothing else).
[[nodiscard]] bool is_valid_utf8(std::string_view text);

} // namespace lockc::cli
