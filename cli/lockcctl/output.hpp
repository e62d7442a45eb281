// Text for people: tables, "Name: value" blocks, times, colours, and the
// sanitising of everything that came from lockcd (a container id, a
// runtime name or a path chosen inside a container must not be able to
// send escape sequences to the terminal).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lockc::cli {

// What stdout is, decided once at start.
struct Terminal {
    bool is_tty = false;
    bool colour = false; // a terminal and NO_COLOR unset

    [[nodiscard]] static Terminal detect();
};

// `text` with every control character (C0, DEL, C1) and every byte that is
// not valid UTF-8 replaced by a visible \xNN escape; printable text,
// including non-ASCII, stays as it is.
[[nodiscard]] std::string sanitised(std::string_view text);

// "-" for an empty value, else sanitised.
[[nodiscard]] std::string shown(std::string_view text);

[[nodiscard]] std::string bold(const std::string &text, const Terminal &terminal);
[[nodiscard]] std::string red(const std::string &text, const Terminal &terminal);

// CLOCK_REALTIME microseconds as local time: "2024-05-01 12:34:56 CEST";
// with_milliseconds: "2024-05-01 12:34:56.789" (no zone). 0 is "-".
[[nodiscard]] std::string local_time(std::uint64_t usec, bool with_milliseconds);

// Columns sized to their widest cell; numbers right-aligned.
class Table {
  public:
    struct Column {
        std::string title;
        bool right_aligned = false;
    };
    explicit Table(std::vector<Column> columns) : columns_(std::move(columns)) {}

    // Cells are sanitised here.
    void add_row(const std::vector<std::string> &cells);
    [[nodiscard]] std::size_t rows() const { return rows_.size(); }

    // The header (unless without_legend) and the rows, each line ending
    // in '\n'.
    [[nodiscard]] std::string render(bool without_legend, const Terminal &terminal) const;

  private:
    std::vector<Column> columns_;
    std::vector<std::vector<std::string>> rows_;
};

// "Name: value" lines with the values aligned; values are sanitised.
class Fields {
  public:
    void add(std::string name, std::string_view value);
    // A value of several lines, aligned under the first.
    void add(std::string name, const std::vector<std::string> &lines);
    [[nodiscard]] std::string render() const;

  private:
    std::vector<std::pair<std::string, std::vector<std::string>>> fields_;
};

// Display width in terminal columns, counting each code point as one.
[[nodiscard]] std::size_t display_width(std::string_view utf8);

} // namespace lockc::cli
