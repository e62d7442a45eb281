// A small JSON writer for --json: compact, one document per call site,
// strings escaped per RFC 8259 (anything from lockcd may hold quotes,
// backslashes or control characters).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace lockc::cli {

// `text` as a JSON string literal, with its quotes. Invalid UTF-8 bytes
// become U+FFFD, so the output is always valid JSON; control characters
// (C0, DEL, C1, bidirectional overrides) are \u escapes, so it is also
// safe on a terminal.
[[nodiscard]] std::string json_quoted(std::string_view text);

// Builds one JSON value; the calls must nest correctly (begin/end pairs,
// key before each member value).
class JsonWriter {
  public:
    JsonWriter &begin_object();
    JsonWriter &end_object();
    JsonWriter &begin_array();
    JsonWriter &end_array();
    JsonWriter &key(std::string_view name);
    // Distinct names, not overloads: a string literal must never turn into
    // a bool.
    JsonWriter &string(std::string_view value);
    JsonWriter &unsigned_number(std::uint64_t value);
    JsonWriter &signed_number(std::int64_t value);
    JsonWriter &boolean(bool value);
    JsonWriter &strings(const std::vector<std::string> &values);

    [[nodiscard]] const std::string &text() const { return out_; }

  private:
    void before_value();

    std::string out_;
    // Per open object or array: whether it has had a member yet.
    std::vector<bool> has_members_;
    bool after_key_ = false;
};

} // namespace lockc::cli
