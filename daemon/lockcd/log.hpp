// lockcd's own messages (not denials): to stderr, with the syslog level
// prefix journald understands when stderr is the journal.
#pragma once

#include <string_view>

namespace lockc::log {

void error(std::string_view message);
void warning(std::string_view message);
void notice(std::string_view message);
void info(std::string_view message);

} // namespace lockc::log
