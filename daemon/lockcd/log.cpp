#include "log.hpp"

#include <cstdlib>
#include <iostream>
#include <string>

namespace lockc::log {

namespace {

void write(int priority, std::string_view label, std::string_view message) {
    // JOURNAL_STREAM is set by systemd when stderr is connected to journald.
    static const bool to_journal = std::getenv("JOURNAL_STREAM") != nullptr;
    std::string line;
    if (to_journal) {
        line = "<" + std::to_string(priority) + ">";
    } else {
        line = "lockcd: ";
        line += label;
    }
    line += message;
    line += '\n';
    std::cerr << line << std::flush;
}

} // namespace

void error(std::string_view message) {
    write(3, "error: ", message);
}
void warning(std::string_view message) {
    write(4, "warning: ", message);
}
void notice(std::string_view message) {
    write(5, "", message);
}
void info(std::string_view message) {
    write(6, "", message);
}

} // namespace lockc::log
