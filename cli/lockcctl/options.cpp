#include "options.hpp"

#include "exit_codes.hpp"
#include "utf8.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <limits>
#include <map>
#include <string_view>

namespace lockc::cli {

namespace {

// Command options, as bits: each command says which it takes.
enum CommandOption : unsigned {
    LevelOption = 1U << 0U,
    ModeOption = 1U << 1U,
    CgroupOption = 1U << 2U,
    ScopeOption = 1U << 3U,
    PidOption = 1U << 4U,
    RuntimeOption = 1U << 5U,
    UnitOption = 1U << 6U,
    DescriptionOption = 1U << 7U,
};

struct CommandSpec {
    std::string_view name;
    Command command;
    std::size_t min_arguments;
    std::size_t max_arguments;
    unsigned options;
    std::string_view synopsis;
};

constexpr std::size_t kAny = std::numeric_limits<std::size_t>::max();

constexpr std::array<CommandSpec, 14> kCommands = {{
    {"status", Command::Status, 0, 0, 0, "status"},
    {"list", Command::List, 0, 0, 0, "list"},
    {"ls", Command::List, 0, 0, 0, "list"},
    {"show", Command::Show, 1, 1, 0, "show ID"},
    {"levels", Command::Levels, 0, 0, 0, "levels"},
    {"set-level", Command::SetLevel, 2, 2, 0, "set-level ID LEVEL"},
    {"set-mode", Command::SetMode, 2, 2, 0, "set-mode ID MODE"},
    {"set-default", Command::SetDefault, 0, 1, ModeOption, "set-default [LEVEL] [--mode MODE]"},
    {"register", Command::Register, 1, 1,
     LevelOption | ModeOption | CgroupOption | ScopeOption | PidOption | RuntimeOption,
     "register ID --level LEVEL [--mode MODE] (--cgroup PATH | --scope NAME | --pid PID) "
     "[--runtime NAME]"},
    {"unregister", Command::Unregister, 1, 1, 0, "unregister ID"},
    {"reload", Command::Reload, 0, 0, 0, "reload"},
    {"monitor", Command::Monitor, 0, kAny, 0, "monitor [ID...]"},
    // run's CMD and its arguments are not positional arguments: they are
    // in RawCommandLine::command_line.
    {"run", Command::Run, 0, 0, LevelOption | ModeOption | UnitOption | DescriptionOption,
     "run --level LEVEL [--mode MODE] [--unit NAME] [--description TEXT] [--] CMD [ARG...]"},
    {"help", Command::Help, 0, kAny, 0, "help"},
}};

struct ValueOptionSpec {
    std::string_view name;
    CommandOption bit;
};

constexpr std::array<ValueOptionSpec, 8> kValueOptions = {{
    {"level", LevelOption},
    {"mode", ModeOption},
    {"cgroup", CgroupOption},
    {"scope", ScopeOption},
    {"pid", PidOption},
    {"runtime", RuntimeOption},
    {"unit", UnitOption},
    {"description", DescriptionOption},
}};

std::string quoted(std::string_view text) {
    return "'" + std::string(text) + "'";
}

template <std::size_t N> std::string joined(const std::array<std::string_view, N> &names) {
    std::string out;
    for (const auto name : names) {
        out += out.empty() ? "" : ", ";
        out += name;
    }
    return out;
}

void check_level(std::string_view level) {
    if (std::find(kLevels.begin(), kLevels.end(), level) == kLevels.end()) {
        throw UsageError("unknown level " + quoted(level) + " (the levels are " + joined(kLevels) +
                         ")");
    }
}

void check_mode(std::string_view mode) {
    if (std::find(kModes.begin(), kModes.end(), mode) == kModes.end()) {
        throw UsageError("unknown mode " + quoted(mode) + " (the modes are " + joined(kModes) +
                         ")");
    }
}

// A transient scope's unit name as lockcd takes it: what systemd accepts
// (letters, digits, ':', '_', '.', '-'), ending in ".scope", and short
// enough to be registered as a cgroup name before the cgroup exists.
void check_unit(std::string_view unit) {
    constexpr std::string_view kSuffix = ".scope";
    constexpr std::size_t kMaxLength = 127;
    const bool valid_characters = std::all_of(unit.begin(), unit.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == ':' || c == '_' || c == '.' || c == '-';
    });
    if (!valid_characters || unit.size() <= kSuffix.size() || !unit.ends_with(kSuffix) ||
        unit.size() > kMaxLength) {
        throw UsageError("--unit needs a scope unit name (letters, digits, ':', '_', '.' and '-', "
                         "ending in \".scope\", at most 127 bytes), not " +
                         quoted(unit));
    }
}

std::uint32_t parse_pid(std::string_view text) {
    std::uint32_t pid = 0;
    const auto *end = text.data() + text.size();
    const auto [ptr, error] = std::from_chars(text.data(), end, pid);
    if (text.empty() || error != std::errc() || ptr != end || pid == 0) {
        throw UsageError("--pid needs a process id (a positive number), not " + quoted(text));
    }
    return pid;
}

// Everything on the command line, before it is checked against the command.
struct RawCommandLine {
    GlobalOptions global;
    bool help = false;
    bool version = false;
    std::vector<std::string> positional;
    std::map<std::string_view, std::string> values; // by option name
    unsigned given = 0;
    std::vector<std::string> command_line; // run's CMD [ARG...]
};

// After "run", the first argument that is not an option (or any argument
// after "--") is CMD: it and everything after it are the command's.
bool starts_run_command(const RawCommandLine &line) {
    return line.positional.size() == 1 && line.positional.front() == "run";
}

// Sets a global flag by name; false if `name` is none.
bool set_flag(RawCommandLine &line, std::string_view name) {
    if (name == "json") {
        line.global.json = true;
    } else if (name == "no-pager") {
        line.global.no_pager = true;
    } else if (name == "no-legend") {
        line.global.no_legend = true;
    } else if (name == "no-ask-password") {
        line.global.no_ask_password = true;
    } else if (name == "quiet") {
        line.global.quiet = true;
    } else if (name == "help") {
        line.help = true;
    } else if (name == "version") {
        line.version = true;
    } else {
        return false;
    }
    return true;
}

// D-Bus strings are UTF-8: refuse here what could not be sent.
void check_utf8(const std::vector<std::string> &args, std::size_t i) {
    if (!is_valid_utf8(args[i])) {
        throw UsageError("argument " + std::to_string(i + 1) + " is not valid UTF-8");
    }
}

RawCommandLine split(const std::vector<std::string> &args) {
    RawCommandLine line;
    bool options_end = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string_view arg = args[i];
        const bool positional = options_end || arg == "-" || !arg.starts_with('-');
        // run's command line goes to exec as it is: nothing in it is an
        // option of lockcctl, and it is not sent to lockcd (any bytes do).
        if (!line.command_line.empty() || (positional && starts_run_command(line))) {
            line.command_line.emplace_back(arg);
            continue;
        }
        check_utf8(args, i);
        if (positional) {
            line.positional.emplace_back(arg);
        } else if (arg == "--") {
            // Ids (and run's CMD) may start with '-': after "--" nothing is
            // an option.
            options_end = true;
        } else if (arg == "-q") {
            line.global.quiet = true;
        } else if (arg == "-h") {
            line.help = true;
        } else if (arg.starts_with("--")) {
            const auto equals = arg.find('=');
            const auto name =
                arg.substr(2, equals == std::string_view::npos ? arg.npos : equals - 2);
            const auto value_spec =
                std::find_if(kValueOptions.begin(), kValueOptions.end(),
                             [&](const ValueOptionSpec &spec) { return spec.name == name; });
            if (value_spec == kValueOptions.end()) {
                if (equals != std::string_view::npos && set_flag(line, name)) {
                    throw UsageError("option --" + std::string(name) + " takes no value");
                }
                if (!set_flag(line, name)) {
                    throw UsageError("unknown option " + quoted(arg.substr(0, equals)));
                }
                continue;
            }
            std::string value;
            if (equals != std::string_view::npos) {
                value = arg.substr(equals + 1);
            } else if (i + 1 < args.size()) {
                check_utf8(args, ++i);
                value = args[i];
            } else {
                throw UsageError("option --" + std::string(name) + " needs a value");
            }
            if ((line.given & value_spec->bit) != 0U) {
                throw UsageError("option --" + std::string(name) + " is given twice");
            }
            line.given |= value_spec->bit;
            line.values[value_spec->name] = std::move(value);
        } else {
            throw UsageError("unknown option " + quoted(arg));
        }
    }
    return line;
}

void check_arguments(const CommandSpec &spec, const RawCommandLine &line) {
    const auto count = line.positional.size() - 1;
    if (count < spec.min_arguments) {
        throw UsageError("missing argument: lockcctl " + std::string(spec.synopsis));
    }
    if (count > spec.max_arguments) {
        throw UsageError("too many arguments: lockcctl " + std::string(spec.synopsis));
    }
    for (const auto &option : kValueOptions) {
        if ((line.given & option.bit) != 0U && (spec.options & option.bit) == 0U) {
            throw UsageError("option --" + std::string(option.name) + " is not valid for " +
                             quoted(spec.name));
        }
    }
}

std::optional<Location> location_of(const RawCommandLine &line) {
    std::optional<Location> location;
    int given = 0;
    if (const auto it = line.values.find("cgroup"); it != line.values.end()) {
        location = CgroupLocation{it->second};
        ++given;
    }
    if (const auto it = line.values.find("scope"); it != line.values.end()) {
        location = ScopeLocation{it->second};
        ++given;
    }
    if (const auto it = line.values.find("pid"); it != line.values.end()) {
        location = PidLocation{parse_pid(it->second)};
        ++given;
    }
    if (given > 1) {
        throw UsageError("give only one of --cgroup, --scope and --pid");
    }
    return location;
}

std::optional<std::string> value_of(const RawCommandLine &line, std::string_view name) {
    if (const auto it = line.values.find(name); it != line.values.end()) {
        return it->second;
    }
    return std::nullopt;
}

} // namespace

Invocation parse_command_line(const std::vector<std::string> &args) {
    RawCommandLine line = split(args);
    Invocation invocation;
    invocation.global = line.global;
    if (line.help) {
        invocation.command = Command::Help;
        return invocation;
    }
    if (line.version) {
        invocation.command = Command::Version;
        return invocation;
    }
    if (line.positional.empty()) {
        throw UsageError("no command given");
    }
    const auto &name = line.positional.front();
    const auto spec = std::find_if(kCommands.begin(), kCommands.end(),
                                   [&](const CommandSpec &s) { return s.name == name; });
    if (spec == kCommands.end()) {
        throw UsageError("unknown command " + quoted(name));
    }
    check_arguments(*spec, line);
    invocation.command = spec->command;
    invocation.arguments.assign(line.positional.begin() + 1, line.positional.end());
    invocation.level = value_of(line, "level");
    invocation.mode = value_of(line, "mode");
    invocation.runtime = value_of(line, "runtime").value_or("");
    invocation.location = location_of(line);
    invocation.unit = value_of(line, "unit").value_or("");
    invocation.description = value_of(line, "description").value_or("");
    invocation.command_line = std::move(line.command_line);

    switch (invocation.command) {
    case Command::SetLevel:
        check_level(invocation.arguments.at(1));
        break;
    case Command::SetMode:
        check_mode(invocation.arguments.at(1));
        break;
    case Command::SetDefault:
        if (invocation.arguments.empty() && !invocation.mode) {
            throw UsageError("set-default needs a LEVEL, --mode MODE or both");
        }
        if (!invocation.arguments.empty()) {
            check_level(invocation.arguments.front());
        }
        break;
    case Command::Register:
        if (!invocation.level) {
            throw UsageError("register needs --level LEVEL");
        }
        if (!invocation.location) {
            throw UsageError("register needs one of --cgroup PATH, --scope NAME or --pid PID");
        }
        check_level(*invocation.level);
        break;
    case Command::Run:
        if (!invocation.level) {
            throw UsageError("run needs --level LEVEL");
        }
        check_level(*invocation.level);
        if (const auto unit = value_of(line, "unit")) {
            check_unit(*unit);
        }
        if (invocation.command_line.empty()) {
            throw UsageError("run needs a command: lockcctl " + std::string(spec->synopsis));
        }
        break;
    default:
        break;
    }
    if (invocation.mode) {
        check_mode(*invocation.mode);
    }
    return invocation;
}

std::string usage_text() {
    return R"(Usage: lockcctl [OPTIONS] COMMAND [ARGS...]

Inspect and change lockc's mandatory access control of containers, through
lockcd (org.lockc.Manager on the system bus).

Commands:
  status                      lockcd and the kernel: enforcing or why not,
                              defaults, counters
  list, ls                    registered containers
  show ID                     every property of one container
  levels                      the levels and what each denies, from
                              lockcd's running policy
  set-level ID LEVEL          change a container's level
  set-mode ID MODE            change a container's mode
  set-default [LEVEL] [--mode MODE]
                              change the default level and/or mode
  register ID --level LEVEL [--mode MODE]
           (--cgroup PATH | --scope NAME | --pid PID) [--runtime NAME]
                              confine a container; prints its object path
  unregister ID               forget a container
  reload                      make lockcd read its configuration again
  monitor [ID...]             print denials as they happen (of these
                              containers only, if given) until Ctrl+C
  run --level LEVEL [--mode MODE] [--unit NAME] [--description TEXT]
      [--] CMD [ARG...]       run CMD confined, in a new transient systemd
                              scope (NAME.scope); exits with CMD's status
  help                        this text

LEVEL is privileged, baseline or restricted; MODE is enforce or audit.

Options (before or after the command; for run, before CMD):
  --json             machine output: one JSON document (monitor: one JSON
                     object per line)
  --no-pager         never pipe the output into a pager
  --no-legend        no header and footer lines in tables
  --no-ask-password  never ask for a password; fail if authentication is
                     needed
  -q, --quiet        print nothing on success when changing something
  -h, --help         this text
  --version          print the version

Exit status:
  0  success
  1  any other failure
  2  usage error (unknown command or option, missing or extra argument,
     unknown level or mode)
  4  no such container
  5  not authorised
  6  lockcd is not reachable (not running and could not be started, or no
     system bus)
Once CMD runs, run exits with CMD's status; 127 if CMD was not found, 126
if it could not be executed.

See docs/lockcctl.md for the JSON fields.
)";
}

} // namespace lockc::cli
