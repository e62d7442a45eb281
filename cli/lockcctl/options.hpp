// The command line: global options (anywhere), one command, its arguments
// and its options. Everything is checked here, before lockcd is asked
// anything, so that a mistake is a usage error (exit 2) with nothing sent.
#pragma once

#include "model.hpp"

#include <optional>
#include <string>
#include <vector>

namespace lockc::cli {

enum class Command {
    Status,
    List,
    Show,
    Levels,
    SetLevel,
    SetMode,
    SetDefault,
    Register,
    Unregister,
    Reload,
    Monitor,
    Run,
    Help,
    Version,
};

struct GlobalOptions {
    bool json = false;
    bool no_pager = false;
    bool no_legend = false;
    bool no_ask_password = false;
    bool quiet = false;
};

struct Invocation {
    GlobalOptions global;
    Command command = Command::Help;
    // Positional arguments after the command name, their number checked.
    std::vector<std::string> arguments;
    // Command options, only where the command takes them; level and mode
    // names are checked.
    std::optional<std::string> level;
    std::optional<std::string> mode;
    std::optional<Location> location;
    std::string runtime;
    // run: the scope's unit name and description ("" for lockcd's
    // defaults), and the command line to exec, CMD first (never empty).
    std::string unit;
    std::string description;
    std::vector<std::string> command_line;
};

// Parses the arguments after argv[0]. Throws UsageError.
[[nodiscard]] Invocation parse_command_line(const std::vector<std::string> &args);

// The --help text.
[[nodiscard]] std::string usage_text();

} // namespace lockc::cli
