#include "json.hpp"

#include "utf8.hpp"

#include <array>

namespace lockc::cli {

namespace {

void append_unicode_escape(std::string &out, char32_t c) {
    static constexpr std::string_view kHex = "0123456789abcdef";
    out += "\\u";
    constexpr unsigned kNibbles = 4;
    for (unsigned i = kNibbles; i-- > 0;) {
        out += kHex.at((static_cast<unsigned>(c) >> (i * 4U)) & 0xfU);
    }
}

// C0 (JSON requires it), DEL, C1 (0x9b can act as CSI), the bidirectional
// overrides, and the line and paragraph separators (which some JSON
// readers, such as JavaScript before ES2019, do not take raw).
bool needs_unicode_escape(char32_t c) {
    const bool c0_del_c1 = c < 0x20 || (c >= 0x7f && c <= 0x9f);
    const bool bidi = (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
    const bool separator = c == 0x2028 || c == 0x2029;
    return c0_del_c1 || bidi || separator;
}

} // namespace

std::string json_quoted(std::string_view text) {
    std::string out = "\"";
    out.reserve(text.size() + 2);
    std::size_t pos = 0;
    while (pos < text.size()) {
        const auto cp = decode_utf8(text, pos);
        if (!cp) {
            append_unicode_escape(out, 0xfffd);
            ++pos;
            continue;
        }
        switch (cp->value) {
        case '"':
            out += "\\\"";
            break;
        case '\\':
            out += "\\\\";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\b':
            out += "\\b";
            break;
        case '\f':
            out += "\\f";
            break;
        default:
            // Control characters must be escaped; the others a terminal
            // acts on are, too, so that JSON printed on a terminal is
            // harmless.
            if (needs_unicode_escape(cp->value)) {
                append_unicode_escape(out, cp->value);
            } else {
                out += text.substr(pos, cp->length);
            }
        }
        pos += cp->length;
    }
    out += '"';
    return out;
}

void JsonWriter::before_value() {
    if (after_key_) {
        after_key_ = false;
        return;
    }
    if (!has_members_.empty()) {
        if (has_members_.back()) {
            out_ += ',';
        }
        has_members_.back() = true;
    }
}

JsonWriter &JsonWriter::begin_object() {
    before_value();
    out_ += '{';
    has_members_.push_back(false);
    return *this;
}

JsonWriter &JsonWriter::end_object() {
    out_ += '}';
    has_members_.pop_back();
    return *this;
}

JsonWriter &JsonWriter::begin_array() {
    before_value();
    out_ += '[';
    has_members_.push_back(false);
    return *this;
}

JsonWriter &JsonWriter::end_array() {
    out_ += ']';
    has_members_.pop_back();
    return *this;
}

JsonWriter &JsonWriter::key(std::string_view name) {
    before_value();
    out_ += json_quoted(name);
    out_ += ':';
    after_key_ = true;
    return *this;
}

JsonWriter &JsonWriter::string(std::string_view value) {
    before_value();
    out_ += json_quoted(value);
    return *this;
}

JsonWriter &JsonWriter::unsigned_number(std::uint64_t value) {
    before_value();
    out_ += std::to_string(value);
    return *this;
}

JsonWriter &JsonWriter::signed_number(std::int64_t value) {
    before_value();
    out_ += std::to_string(value);
    return *this;
}

JsonWriter &JsonWriter::boolean(bool value) {
    before_value();
    out_ += value ? "true" : "false";
    return *this;
}

JsonWriter &JsonWriter::strings(const std::vector<std::string> &values) {
    begin_array();
    for (const auto &v : values) {
        string(v);
    }
    return end_array();
}

} // namespace lockc::cli
