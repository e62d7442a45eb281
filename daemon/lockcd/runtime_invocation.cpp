#include "runtime_invocation.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>

namespace lockc {

namespace {

namespace fs = std::filesystem;

// The same limit as the D-Bus API's (validation.hpp), which registers
// what is parsed here.
constexpr std::size_t kMaxIdLength = 255;

// How a runtime reads its command line. runc: Go's flag package under
// urfave/cli v1 ("-x" and "--x" alike, "--x=v"; bools take a value only
// as "--x=v"). crun: glibc argp ("--long[=v]", "-abc" clusters, "-bVALUE").
enum class Dialect : std::uint8_t { Go, Getopt };

enum class Kind : std::uint8_t {
    Flag,     // no value ("=v" is a Go bool)
    Value,    // a value: "=v" or the next argument
    Optional, // getopt: a value only if attached ("--tty=no"); Go: a flag
    Attached, // getopt: a value only if attached; bare, crun versions differ
    Exit,     // help or version: the runtime prints and does nothing else
};

struct Option {
    std::string_view name; // long name
    char short_name = 0;   // 0: none
    Kind kind = Kind::Flag;
};

constexpr Option kHelp{"help", 'h', Kind::Exit};

// runc 1.1 (urfave/cli adds help and version).
constexpr auto kRuncGlobals = std::to_array<Option>({
    {"root", 0, Kind::Value},
    {"log", 0, Kind::Value},
    {"log-format", 0, Kind::Value},
    {"criu", 0, Kind::Value},
    {"rootless", 0, Kind::Value},
    {"debug", 0, Kind::Flag},
    {"systemd-cgroup", 0, Kind::Flag},
    kHelp,
    {"version", 'v', Kind::Exit},
});

// crun 1.8 (argp adds --help, -?, --usage). Only "--rootless=V" is read:
// current crun declares it with a mandatory value, so a bare --rootless may
// swallow the command; which word is the command would be a guess.
constexpr auto kCrunGlobals = std::to_array<Option>({
    {"root", 0, Kind::Value},
    {"log", 0, Kind::Value},
    {"log-format", 0, Kind::Value},
    {"log-level", 0, Kind::Value},
    {"cgroup-manager", 0, Kind::Value},
    {"rootless", 0, Kind::Attached},
    {"debug", 0, Kind::Flag},
    {"systemd-cgroup", 0, Kind::Flag},
    {"version", 'v', Kind::Exit},
    {"", 'V', Kind::Exit},
    {"help", '?', Kind::Exit},
    {"usage", 0, Kind::Exit},
});

// create and run of both runtimes (each accepts a subset; an option the
// runtime lacks makes it fail, which is harmless here). crun's --config
// is left out on purpose: it moves config.json out of the bundle.
constexpr auto kCreateOptions = std::to_array<Option>({
    {"bundle", 'b', Kind::Value},
    {"console-socket", 0, Kind::Value},
    {"pid-file", 0, Kind::Value},
    {"preserve-fds", 0, Kind::Value},
    {"pidfd-socket", 0, Kind::Value},
    {"no-pivot", 0, Kind::Flag},
    {"no-new-keyring", 0, Kind::Flag},
    {"detach", 'd', Kind::Flag},
    {"keep", 0, Kind::Flag},
    {"no-subreaper", 0, Kind::Flag},
    kHelp,
    {"", '?', Kind::Exit},
    {"usage", 0, Kind::Exit},
});

constexpr auto kExecOptions = std::to_array<Option>({
    {"process", 'p', Kind::Value},
    {"console-socket", 0, Kind::Value},
    {"pid-file", 0, Kind::Value},
    {"cwd", 0, Kind::Value},
    {"env", 'e', Kind::Value},
    {"user", 'u', Kind::Value},
    {"cap", 'c', Kind::Value},
    {"apparmor", 0, Kind::Value},
    {"process-label", 0, Kind::Value},
    {"preserve-fds", 0, Kind::Value},
    {"cgroup", 0, Kind::Value},
    {"additional-gids", 'g', Kind::Value},
    {"detach", 'd', Kind::Flag},
    {"tty", 't', Kind::Optional},
    {"no-new-privs", 0, Kind::Flag},
    {"ignore-paused", 0, Kind::Flag},
    kHelp,
    {"", '?', Kind::Exit},
    {"usage", 0, Kind::Exit},
});

// crun's delete --regex and kill --regex are left out: the id would be a
// pattern.
constexpr auto kDeleteOptions = std::to_array<Option>(
    {{"force", 'f', Kind::Flag}, kHelp, {"", '?', Kind::Exit}, {"usage", 0, Kind::Exit}});
constexpr auto kKillOptions = std::to_array<Option>(
    {{"all", 'a', Kind::Flag}, kHelp, {"", '?', Kind::Exit}, {"usage", 0, Kind::Exit}});
constexpr auto kOtherOptions =
    std::to_array<Option>({kHelp, {"", '?', Kind::Exit}, {"usage", 0, Kind::Exit}});

// Commands that name no container.
constexpr std::array<std::string_view, 6> kCommandsWithoutId = {"init",     "list", "spec",
                                                                "features", "help", "h"};

struct Found {
    const Option *option = nullptr; // nullptr: not in the table
    std::string value;              // the value of Value/Optional/Attached, or Go's "=bool"
    bool has_value = false;
};

enum class Read : std::uint8_t {
    Options,    // found holds what args[i] said; i is past it (and its value)
    Positional, // args[i] is not an option
    Terminator, // "--", consumed
    Error,      // the runtime would refuse the command line
};

const Option *find_long(std::span<const Option> table, std::string_view name) {
    if (name.empty()) {
        return nullptr;
    }
    const auto it =
        std::find_if(table.begin(), table.end(), [&](const Option &o) { return o.name == name; });
    return it == table.end() ? nullptr : &*it;
}

const Option *find_short(std::span<const Option> table, char name) {
    const auto it = std::find_if(table.begin(), table.end(),
                                 [&](const Option &o) { return o.short_name == name; });
    return it == table.end() ? nullptr : &*it;
}

bool go_bool(std::string_view text, bool &out) {
    // strconv.ParseBool
    for (const std::string_view t : {"1", "t", "T", "true", "TRUE", "True"}) {
        if (text == t) {
            out = true;
            return true;
        }
    }
    for (const std::string_view f : {"0", "f", "F", "false", "FALSE", "False"}) {
        if (text == f) {
            out = false;
            return true;
        }
    }
    return false;
}

// One argument as Go's flag.FlagSet.Parse reads it. Go knows no short
// options: "-b" is the flag named "b", like "--b".
Read read_go(std::span<const Option> table, const std::vector<std::string> &args, std::size_t &i,
             std::vector<Found> &found) {
    const std::string_view arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
        return Read::Positional;
    }
    ++i;
    if (arg == "--") {
        return Read::Terminator;
    }
    std::string_view name = arg.substr(arg[1] == '-' ? 2 : 1);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
        return Read::Error; // "bad flag syntax"
    }
    Found f;
    if (const auto eq = name.find('='); eq != std::string_view::npos) {
        f.value = name.substr(eq + 1);
        f.has_value = true;
        name = name.substr(0, eq);
    }
    f.option = find_long(table, name);
    if (f.option == nullptr && name.size() == 1) {
        f.option = find_short(table, name[0]);
    }
    if (f.option != nullptr && f.option->kind == Kind::Value && !f.has_value) {
        if (i >= args.size()) {
            return Read::Error; // "flag needs an argument"
        }
        f.value = args[i++];
        f.has_value = true;
    }
    found.push_back(std::move(f));
    return Read::Options;
}

// One argument as getopt_long reads it (exact long names only: crun's
// callers never abbreviate, and a guess could pick the wrong option).
Read read_getopt(std::span<const Option> table, const std::vector<std::string> &args,
                 std::size_t &i, std::vector<Found> &found) {
    const std::string_view arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
        return Read::Positional;
    }
    ++i;
    if (arg == "--") {
        return Read::Terminator;
    }
    if (arg[1] == '-') {
        std::string_view name = arg.substr(2);
        Found f;
        if (const auto eq = name.find('='); eq != std::string_view::npos) {
            f.value = name.substr(eq + 1);
            f.has_value = true;
            name = name.substr(0, eq);
        }
        f.option = find_long(table, name);
        if (f.option != nullptr) {
            const auto kind = f.option->kind;
            if (f.has_value && (kind == Kind::Flag || kind == Kind::Exit)) {
                return Read::Error; // "doesn't allow an argument"
            }
            if (!f.has_value && kind == Kind::Attached) {
                return Read::Error;
            }
            if (!f.has_value && kind == Kind::Value) {
                if (i >= args.size()) {
                    return Read::Error;
                }
                f.value = args[i++];
                f.has_value = true;
            }
        }
        found.push_back(std::move(f));
        return Read::Options;
    }
    // A cluster of short options; one that takes a value ends it.
    for (std::size_t at = 1; at < arg.size(); ++at) {
        Found f;
        f.option = find_short(table, arg[at]);
        if (f.option == nullptr) {
            found.push_back(std::move(f));
            return Read::Options; // the rest of the cluster cannot be read
        }
        const auto kind = f.option->kind;
        if (kind == Kind::Value || kind == Kind::Optional || kind == Kind::Attached) {
            const auto rest = arg.substr(at + 1);
            if (!rest.empty()) {
                f.value = rest;
                f.has_value = true;
            } else if (kind == Kind::Attached) {
                return Read::Error;
            } else if (kind == Kind::Value) {
                if (i >= args.size()) {
                    return Read::Error;
                }
                f.value = args[i++];
                f.has_value = true;
            }
            found.push_back(std::move(f));
            return Read::Options;
        }
        found.push_back(std::move(f));
    }
    return Read::Options;
}

Read read_option(Dialect dialect, std::span<const Option> table,
                 const std::vector<std::string> &args, std::size_t &i, std::vector<Found> &found) {
    return dialect == Dialect::Go ? read_go(table, args, i, found)
                                  : read_getopt(table, args, i, found);
}

// urfave/cli v1 moves a command's flags before its arguments ("runc
// create ID --bundle B" works), keeping the argument that follows any flag
// without "=" in place as if it were that flag's value. Measured on runc
// 1.1.5: "create --no-pivot ID -b B" fails (ID stays glued to
// --no-pivot, so Go's parser stops there) while "create ID --no-pivot -b
// B" works; "--" is moved with the flags and does not glue.
std::vector<std::string> urfave_reorder(std::span<const std::string> args) {
    std::vector<std::string> flags;
    std::vector<std::string> rest;
    bool glue = false;
    for (const auto &arg : args) {
        const bool dash = arg.size() > 1 && arg[0] == '-';
        if (glue && !dash) {
            flags.push_back(arg);
            glue = false;
            continue;
        }
        if (dash) {
            flags.push_back(arg);
            glue = arg != "--" && arg.find('=') == std::string::npos;
        } else {
            rest.push_back(arg);
            glue = false;
        }
    }
    flags.insert(flags.end(), rest.begin(), rest.end());
    return flags;
}

bool valid_id(std::string_view id) {
    if (id.empty() || id.size() > kMaxIdLength || id == "." || id == "..") {
        return false;
    }
    // No spaces either: the D-Bus API refuses ids with them.
    return std::all_of(id.begin(), id.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c > 0x20 && c < 0x7f && c != '/';
    });
}

// bundle made absolute against cwd without resolving ".." (the runtime
// chdir()s into it, so "a/.." follows a symlink a); "." and empty
// components go.
std::optional<fs::path> absolute_bundle(const std::string &bundle, const fs::path &cwd) {
    const fs::path joined = bundle.empty() ? cwd : cwd / bundle;
    if (!joined.is_absolute()) {
        return std::nullopt;
    }
    fs::path out = joined.root_path();
    for (const auto &part : joined.relative_path()) {
        if (!part.empty() && part != ".") {
            out /= part;
        }
    }
    return out;
}

} // namespace

bool is_crun(std::string_view runtime) {
    return runtime == "crun" || runtime.starts_with("crun-") || runtime == "krun";
}

std::optional<RuntimeInvocation> parse_runtime_invocation(const std::vector<std::string> &argv,
                                                          const fs::path &cwd) {
    if (argv.empty()) {
        return std::nullopt;
    }
    RuntimeInvocation inv;
    inv.runtime = fs::path(argv[0]).filename().string();
    if (inv.runtime.empty()) {
        return std::nullopt;
    }
    const Dialect dialect = is_crun(inv.runtime) ? Dialect::Getopt : Dialect::Go;
    const std::span<const Option> globals = dialect == Dialect::Go
                                                ? std::span<const Option>(kRuncGlobals)
                                                : std::span<const Option>(kCrunGlobals);

    // Global options, up to the command. Both parsers stop at the first
    // non-option.
    std::size_t i = 1;
    while (i < argv.size()) {
        std::vector<Found> found;
        const auto read = read_option(dialect, globals, argv, i, found);
        if (read == Read::Positional || read == Read::Terminator) {
            break;
        }
        if (read == Read::Error) {
            return std::nullopt;
        }
        for (const auto &f : found) {
            // An unknown global may or may not take a value: the command
            // cannot be told.
            if (f.option == nullptr || f.option->kind == Kind::Exit) {
                return std::nullopt;
            }
            if (f.option->name == "systemd-cgroup") {
                bool on = true;
                if (f.has_value && !go_bool(f.value, on)) {
                    return std::nullopt;
                }
                inv.systemd_cgroup = on;
            } else if (f.option->name == "cgroup-manager") {
                if (f.value != "systemd" && f.value != "cgroupfs" && f.value != "disabled") {
                    return std::nullopt; // crun refuses it
                }
                inv.systemd_cgroup = f.value == "systemd";
            } else if (dialect == Dialect::Go && f.option->kind == Kind::Flag && f.has_value) {
                bool ignored = false;
                if (!go_bool(f.value, ignored)) {
                    return std::nullopt;
                }
            }
        }
    }
    if (i >= argv.size()) {
        return std::nullopt;
    }
    inv.command = argv[i++];
    if (std::find(kCommandsWithoutId.begin(), kCommandsWithoutId.end(), inv.command) !=
        kCommandsWithoutId.end()) {
        return inv;
    }

    const bool creates = inv.command == "create" || inv.command == "run";
    // Where an unknown option leaves the id ambiguous and the id matters.
    const bool strict = creates || inv.command == "delete";
    std::span<const Option> options = kOtherOptions;
    if (creates) {
        options = kCreateOptions;
    } else if (inv.command == "exec") {
        options = kExecOptions;
    } else if (inv.command == "delete") {
        options = kDeleteOptions;
    } else if (inv.command == "kill") {
        options = kKillOptions;
    }

    std::vector<std::string> args(argv.begin() + static_cast<std::ptrdiff_t>(i), argv.end());
    // runc reorders all but exec, whose arguments after the id are the
    // command to run; crun's argp (ARGP_IN_ORDER) stops at the id.
    if (dialect == Dialect::Go && inv.command != "exec") {
        args = urfave_reorder(args);
    }
    std::optional<std::string> bundle;
    std::size_t at = 0;
    while (at < args.size()) {
        std::vector<Found> found;
        const auto read = read_option(dialect, options, args, at, found);
        if (read == Read::Positional || read == Read::Terminator) {
            break;
        }
        if (read == Read::Error) {
            return std::nullopt;
        }
        for (const auto &f : found) {
            if (f.option == nullptr) {
                if (strict) {
                    return std::nullopt;
                }
                continue;
            }
            if (f.option->kind == Kind::Exit) {
                return std::nullopt;
            }
            if (dialect == Dialect::Go && f.option->kind != Kind::Value && f.has_value) {
                bool ignored = false;
                if (!go_bool(f.value, ignored)) {
                    return std::nullopt;
                }
            }
            if (f.option->name == "bundle") {
                bundle = f.value;
            }
        }
    }
    const std::span<const std::string> positional(args.begin() + static_cast<std::ptrdiff_t>(at),
                                                  args.end());
    // runc and crun take exactly one argument here and fail otherwise.
    if (positional.empty() || (strict && positional.size() != 1)) {
        return std::nullopt;
    }
    if (!valid_id(positional.front())) {
        return std::nullopt;
    }
    inv.container_id = positional.front();
    if (creates) {
        auto absolute = absolute_bundle(bundle.value_or(""), cwd);
        if (!absolute) {
            return std::nullopt;
        }
        inv.bundle = std::move(*absolute);
    }
    return inv;
}

bool creates_container(const RuntimeInvocation &invocation) {
    return invocation.command == "create" || invocation.command == "run";
}

bool deletes_container(const RuntimeInvocation &invocation) {
    return invocation.command == "delete";
}

} // namespace lockc
