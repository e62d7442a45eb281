#include "utf8.hpp"

namespace lockc::cli {

std::optional<CodePoint> decode_utf8(std::string_view text, std::size_t pos) {
    const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[pos + i]); };
    const unsigned char lead = byte(0);
    if (lead < 0x80U) {
        return CodePoint{lead, 1};
    }
    std::size_t length = 0;
    char32_t value = 0;
    char32_t minimum = 0;
    if ((lead & 0xe0U) == 0xc0U) {
        length = 2;
        value = lead & 0x1fU;
        minimum = 0x80;
    } else if ((lead & 0xf0U) == 0xe0U) {
        length = 3;
        value = lead & 0x0fU;
        minimum = 0x800;
    } else if ((lead & 0xf8U) == 0xf0U) {
        length = 4;
        value = lead & 0x07U;
        minimum = 0x10000;
    } else {
        return std::nullopt;
    }
    if (pos + length > text.size()) {
        return std::nullopt;
    }
    for (std::size_t i = 1; i < length; ++i) {
        if ((byte(i) & 0xc0U) != 0x80U) {
            return std::nullopt;
        }
        value = (value << 6U) | (byte(i) & 0x3fU);
    }
    const bool surrogate = value >= 0xd800 && value <= 0xdfff;
    if (value < minimum || value > 0x10ffff || surrogate) {
        return std::nullopt;
    }
    return CodePoint{value, length};
}

bool is_valid_utf8(std::string_view text) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto cp = decode_utf8(text, pos);
        if (!cp) {
            return false;
        }
        pos += cp->length;
    }
    return true;
}

} // namespace lockc::cli
