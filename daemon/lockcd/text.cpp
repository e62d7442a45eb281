#include "text.hpp"

#include <array>

namespace lockc {

std::string escape_untrusted(std::string_view text) {
    static constexpr std::array<char, 16> kHex = {'0', '1', '2', '3', '4', '5', '6', '7',
                                                  '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
    std::string out;
    out.reserve(text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            out += ch;
        } else {
            out += "\\x";
            out += kHex.at(c >> 4U);
            out += kHex.at(c & 0xfU);
        }
    }
    return out;
}

PathTail path_tail(std::string_view path) {
    const auto slash = path.rfind('/');
    if (slash == std::string_view::npos) {
        return {path, {}};
    }
    const auto dir = path.substr(0, slash);
    const auto before = dir.rfind('/');
    return {path.substr(slash + 1),
            before == std::string_view::npos ? dir : dir.substr(before + 1)};
}

} // namespace lockc
