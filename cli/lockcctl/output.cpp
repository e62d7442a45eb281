#include "output.hpp"

#include "utf8.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <ctime>

namespace lockc::cli {

namespace {

constexpr std::string_view kBold = "\x1b[1m";
constexpr std::string_view kRed = "\x1b[31m";
constexpr std::string_view kReset = "\x1b[0m";

void append_hex_escape(std::string &out, unsigned char byte) {
    static constexpr std::string_view kHex = "0123456789abcdef";
    out += "\\x";
    out += kHex.at(byte >> 4U);
    out += kHex.at(byte & 0xfU);
}

// Code points a terminal acts on instead of showing: C0, DEL, C1 (0x9b is
// a one-byte CSI on some terminals) and the bidirectional overrides that
// can make text display in another order than it is.
bool is_control(char32_t c) {
    const bool c0_or_del = c < 0x20 || c == 0x7f;
    const bool c1 = c >= 0x80 && c <= 0x9f;
    const bool bidi = (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
    return c0_or_del || c1 || bidi;
}

std::string padded(const std::string &text, std::size_t width, bool right_aligned) {
    const auto used = display_width(text);
    const std::string padding(width > used ? width - used : 0, ' ');
    return right_aligned ? padding + text : text + padding;
}

} // namespace

Terminal Terminal::detect() {
    Terminal t;
    t.is_tty = ::isatty(STDOUT_FILENO) == 1;
    t.colour = t.is_tty && std::getenv("NO_COLOR") == nullptr;
    return t;
}

std::string sanitised(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto cp = decode_utf8(text, pos);
        if (!cp) {
            append_hex_escape(out, static_cast<unsigned char>(text[pos]));
            ++pos;
            continue;
        }
        const auto bytes = text.substr(pos, cp->length);
        if (is_control(cp->value)) {
            for (const char b : bytes) {
                append_hex_escape(out, static_cast<unsigned char>(b));
            }
        } else {
            out += bytes;
        }
        pos += cp->length;
    }
    return out;
}

std::string shown(std::string_view text) {
    return text.empty() ? "-" : sanitised(text);
}

std::string bold(const std::string &text, const Terminal &terminal) {
    return terminal.colour ? std::string(kBold) + text + std::string(kReset) : text;
}

std::string red(const std::string &text, const Terminal &terminal) {
    return terminal.colour ? std::string(kRed) + text + std::string(kReset) : text;
}

std::string local_time(std::uint64_t usec, bool with_milliseconds) {
    if (usec == 0) {
        return "-";
    }
    constexpr std::uint64_t kPerSecond = 1000000;
    constexpr std::uint64_t kPerMilli = 1000;
    const auto seconds = static_cast<std::time_t>(usec / kPerSecond);
    std::tm local{};
    if (::localtime_r(&seconds, &local) == nullptr) {
        return std::to_string(usec);
    }
    std::array<char, 64> buffer{};
    const char *format = with_milliseconds ? "%Y-%m-%d %H:%M:%S" : "%Y-%m-%d %H:%M:%S %Z";
    const auto length = std::strftime(buffer.data(), buffer.size(), format, &local);
    std::string out(buffer.data(), length);
    if (with_milliseconds) {
        const auto millis = std::to_string(usec % kPerSecond / kPerMilli);
        out += "." + std::string(3 - millis.size(), '0') + millis;
    }
    return out;
}

std::size_t display_width(std::string_view utf8) {
    std::size_t width = 0;
    std::size_t pos = 0;
    while (pos < utf8.size()) {
        const auto cp = decode_utf8(utf8, pos);
        pos += cp ? cp->length : 1;
        ++width;
    }
    return width;
}

void Table::add_row(const std::vector<std::string> &cells) {
    std::vector<std::string> row;
    row.reserve(columns_.size());
    for (std::size_t i = 0; i < columns_.size(); ++i) {
        row.push_back(i < cells.size() ? shown(cells[i]) : "-");
    }
    rows_.push_back(std::move(row));
}

std::string Table::render(bool without_legend, const Terminal &terminal) const {
    std::vector<std::size_t> widths;
    widths.reserve(columns_.size());
    for (std::size_t i = 0; i < columns_.size(); ++i) {
        std::size_t width = without_legend ? 0 : display_width(columns_[i].title);
        for (const auto &row : rows_) {
            width = std::max(width, display_width(row[i]));
        }
        widths.push_back(width);
    }
    const auto line = [&](const auto &cell_of) {
        std::string out;
        for (std::size_t i = 0; i < columns_.size(); ++i) {
            const bool last = i + 1 == columns_.size();
            // No trailing blanks after a left-aligned last column.
            const auto cell = last && !columns_[i].right_aligned
                                  ? cell_of(i)
                                  : padded(cell_of(i), widths[i], columns_[i].right_aligned);
            out += cell;
            out += last ? "" : " ";
        }
        return out + "\n";
    };
    std::string out;
    if (!without_legend) {
        const auto header = line([&](std::size_t i) { return columns_[i].title; });
        out += bold(header.substr(0, header.size() - 1), terminal) + "\n";
    }
    for (const auto &row : rows_) {
        out += line([&](std::size_t i) { return row[i]; });
    }
    return out;
}

void Fields::add(std::string name, std::string_view value) {
    fields_.emplace_back(std::move(name), std::vector<std::string>{shown(value)});
}

void Fields::add(std::string name, const std::vector<std::string> &lines) {
    std::vector<std::string> values;
    values.reserve(lines.size());
    for (const auto &l : lines) {
        values.push_back(shown(l));
    }
    if (values.empty()) {
        values.emplace_back("-");
    }
    fields_.emplace_back(std::move(name), std::move(values));
}

std::string Fields::render() const {
    std::size_t width = 0;
    for (const auto &[name, values] : fields_) {
        width = std::max(width, name.size() + 1);
    }
    std::string out;
    for (const auto &[name, values] : fields_) {
        for (std::size_t i = 0; i < values.size(); ++i) {
            const std::string label = i == 0 ? name + ":" : "";
            out += label + std::string(width - label.size() + 1, ' ') + values[i] + "\n";
        }
    }
    return out;
}

} // namespace lockc::cli
