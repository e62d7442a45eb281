#include "commands.hpp"

#include "client.hpp"
#include "json.hpp"
#include "monitor.hpp"
#include "output.hpp"
#include "pager.hpp"
#include "polkit_agent.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

namespace lockc::cli {

namespace {

// What every command gets.
struct Context {
    const Invocation &invocation;
    const GlobalOptions &options;
    Terminal terminal;
    Client &client;
};

// Output of list, show and status goes through a pager on a terminal.
bool wants_pager(const Context &c) {
    return c.terminal.is_tty && !c.options.no_pager;
}

// Runs a change with its authorization; the polkit agent, if one was
// started, ends as soon as the change is answered.
template <typename Change> auto authorised(const Context &c, Change change) {
    const AuthorizationScope scope(c.options);
    return change(scope.authorization());
}

// The confirmation of a change, unless --quiet or --json.
void confirm(const Context &c, const std::string &text) {
    if (!c.options.quiet && !c.options.json) {
        std::cout << sanitised(text) << '\n';
    }
}

void write_counts(JsonWriter &json, const CountsPerHook &counts) {
    json.begin_object();
    for (const auto &[hook, count] : counts) {
        json.key(hook).unsigned_number(count);
    }
    json.end_object();
}

std::string joined(const std::vector<std::string> &items, const std::string &separator) {
    std::string out;
    for (const auto &item : items) {
        out += (out.empty() ? "" : separator) + item;
    }
    return out;
}

ExitCode status(const Context &c) {
    const auto s = c.client.status();
    std::string text;
    if (c.options.json) {
        JsonWriter json;
        json.begin_object()
            .key("version")
            .string(s.version)
            .key("enforcing")
            .boolean(s.enforcing)
            .key("enforcement_problem")
            .string(s.enforcement_problem)
            .key("kernel_lsms")
            .strings(s.kernel_lsms)
            .key("default_level")
            .string(s.default_level)
            .key("default_mode")
            .string(s.default_mode)
            .key("containers")
            .unsigned_number(s.container_count)
            .key("denials")
            .unsigned_number(total(s.denials))
            .key("audits")
            .unsigned_number(total(s.audits))
            .key("kernel_drops")
            .unsigned_number(s.kernel_drops)
            .key("events_received")
            .unsigned_number(s.events_received)
            .key("journal_suppressed")
            .unsigned_number(s.journal_suppressed)
            .key("signals_suppressed")
            .unsigned_number(s.signals_suppressed)
            .end_object();
        text = json.text() + "\n";
    } else {
        Fields fields;
        fields.add("Version", s.version);
        fields.add("Enforcing", s.enforcing ? "yes" : "no");
        if (!s.enforcing) {
            fields.add("EnforcementProblem", s.enforcement_problem);
        }
        fields.add("KernelLsms", joined(s.kernel_lsms, ","));
        fields.add("DefaultLevel", s.default_level);
        fields.add("DefaultMode", s.default_mode);
        fields.add("ContainerCount", std::to_string(s.container_count));
        fields.add("Denials", std::to_string(total(s.denials)));
        fields.add("Audits", std::to_string(total(s.audits)));
        fields.add("KernelDrops", std::to_string(s.kernel_drops));
        fields.add("EventsReceived", std::to_string(s.events_received));
        fields.add("JournalSuppressed", std::to_string(s.journal_suppressed));
        fields.add("SignalsSuppressed", std::to_string(s.signals_suppressed));
        text = fields.render();
    }
    const Pager pager(wants_pager(c));
    std::cout << text;
    return ExitCode::Success;
}

ExitCode list(const Context &c) {
    auto containers = c.client.list_containers();
    std::sort(containers.begin(), containers.end(),
              [](const auto &a, const auto &b) { return a.id < b.id; });
    struct Row {
        const ContainerSummary *container;
        std::uint64_t denials;
    };
    std::vector<Row> rows;
    rows.reserve(containers.size());
    for (const auto &container : containers) {
        if (const auto decisions = c.client.decisions_of(container)) {
            rows.push_back({&container, total(*decisions)});
        }
    }
    std::string text;
    if (c.options.json) {
        JsonWriter json;
        json.begin_array();
        for (const auto &row : rows) {
            json.begin_object()
                .key("id")
                .string(row.container->id)
                .key("runtime")
                .string(row.container->runtime)
                .key("level")
                .string(row.container->level)
                .key("mode")
                .string(row.container->mode)
                .key("state")
                .string(row.container->state)
                .key("denials")
                .unsigned_number(row.denials)
                .end_object();
        }
        json.end_array();
        text = json.text() + "\n";
    } else {
        Table table({{"ID"}, {"RUNTIME"}, {"LEVEL"}, {"MODE"}, {"STATE"}, {"DENIALS", true}});
        for (const auto &row : rows) {
            table.add_row({row.container->id, row.container->runtime, row.container->level,
                           row.container->mode, row.container->state, std::to_string(row.denials)});
        }
        text = table.render(c.options.no_legend, c.terminal);
        if (!c.options.no_legend) {
            text += "\n" + std::to_string(table.rows()) + " containers listed.\n";
        }
    }
    const Pager pager(wants_pager(c));
    std::cout << text;
    return ExitCode::Success;
}

// Every level, a line per level and the entries under it; one table for
// all, so that the columns line up across levels.
ExitCode levels(const Context &c) {
    const auto descriptions = c.client.describe_levels();
    std::string text;
    if (c.options.json) {
        JsonWriter json;
        json.begin_array();
        for (const auto &level : descriptions) {
            json.begin_object().key("level").string(level.level).key("denies").begin_array();
            for (const auto &denial : level.denies) {
                json.begin_object()
                    .key("kind")
                    .string(denial.kind)
                    .key("target")
                    .string(denial.target)
                    .key("access")
                    .string(denial.access)
                    .end_object();
            }
            json.end_array().end_object();
        }
        json.end_array();
        text = json.text() + "\n";
    } else {
        Table table({{"KIND"}, {"TARGET"}, {"DENIES"}});
        std::size_t entries = 0;
        for (const auto &level : descriptions) {
            for (const auto &denial : level.denies) {
                table.add_row({denial.kind, denial.target, denial.access});
            }
            entries += level.denies.size();
        }
        // Split the rendered table back into its lines: the legend, then
        // the rows in the order they were added.
        const auto rendered = table.render(c.options.no_legend, c.terminal);
        std::vector<std::string> lines;
        for (std::size_t begin = 0; begin < rendered.size();) {
            const auto end = rendered.find('\n', begin);
            lines.push_back(rendered.substr(begin, end - begin));
            begin = end + 1;
        }
        std::size_t next = 0;
        if (!c.options.no_legend) {
            text += "  " + lines.at(next++) + "\n";
        }
        for (const auto &level : descriptions) {
            text += bold(sanitised(level.level) + ":", c.terminal) + "\n";
            if (level.denies.empty()) {
                text += "  (nothing denied)\n";
            }
            for (std::size_t i = 0; i < level.denies.size(); ++i) {
                text += "  " + lines.at(next++) + "\n";
            }
        }
        if (!c.options.no_legend) {
            text += "\n" + std::to_string(descriptions.size()) + " levels, " +
                    std::to_string(entries) + " entries listed.\n";
        }
    }
    const Pager pager(wants_pager(c));
    std::cout << text;
    return ExitCode::Success;
}

ExitCode show(const Context &c) {
    const auto d = c.client.container(c.invocation.arguments.at(0));
    std::string text;
    if (c.options.json) {
        JsonWriter json;
        json.begin_object()
            .key("id")
            .string(d.id)
            .key("level")
            .string(d.level)
            .key("mode")
            .string(d.mode)
            .key("runtime")
            .string(d.runtime)
            .key("state")
            .string(d.state)
            .key("cgroup_path")
            .string(d.cgroup_path)
            .key("cgroup_id")
            .unsigned_number(d.cgroup_id)
            .key("pending_name")
            .string(d.pending_name)
            .key("registered_at_usec")
            .unsigned_number(d.registered_at_usec)
            .key("decisions");
        write_counts(json, d.decisions);
        json.end_object();
        text = json.text() + "\n";
    } else {
        Fields fields;
        fields.add("Id", d.id);
        fields.add("Level", d.level);
        fields.add("Mode", d.mode);
        fields.add("Runtime", d.runtime);
        fields.add("State", d.state);
        fields.add("CgroupPath", d.cgroup_path);
        fields.add("CgroupId", d.cgroup_id == 0 ? "" : std::to_string(d.cgroup_id));
        fields.add("PendingName", d.pending_name);
        fields.add("RegisteredAt", local_time(d.registered_at_usec, false));
        std::vector<std::string> decisions;
        for (const auto &[hook, count] : d.decisions) {
            if (count != 0) {
                decisions.push_back(hook + ": " + std::to_string(count));
            }
        }
        if (decisions.empty()) {
            decisions.emplace_back("none");
        }
        fields.add("Decisions", decisions);
        text = fields.render();
    }
    const Pager pager(wants_pager(c));
    std::cout << text;
    return ExitCode::Success;
}

ExitCode set_level(const Context &c) {
    const auto &id = c.invocation.arguments.at(0);
    const auto &level = c.invocation.arguments.at(1);
    authorised(c, [&](const Authorization &a) { c.client.set_level(id, level, a); });
    confirm(c, id + ": level " + level);
    return ExitCode::Success;
}

ExitCode set_mode(const Context &c) {
    const auto &id = c.invocation.arguments.at(0);
    const auto &mode = c.invocation.arguments.at(1);
    authorised(c, [&](const Authorization &a) { c.client.set_mode(id, mode, a); });
    confirm(c, id + ": mode " + mode);
    return ExitCode::Success;
}

ExitCode set_default(const Context &c) {
    // Two calls (lockcd has no single one): the level first, then the
    // mode, one agent (and one password) for both.
    const AuthorizationScope scope(c.options);
    if (!c.invocation.arguments.empty()) {
        const auto &level = c.invocation.arguments.front();
        c.client.set_default_level(level, scope.authorization());
        confirm(c, "default level " + level);
    }
    if (c.invocation.mode) {
        c.client.set_default_mode(*c.invocation.mode, scope.authorization());
        confirm(c, "default mode " + *c.invocation.mode);
    }
    return ExitCode::Success;
}

ExitCode register_container(const Context &c) {
    const Registration registration{c.invocation.arguments.at(0), c.invocation.level.value_or(""),
                                    c.invocation.mode.value_or(""), *c.invocation.location,
                                    c.invocation.runtime};
    const auto path = authorised(
        c, [&](const Authorization &a) { return c.client.register_container(registration, a); });
    if (c.options.quiet) {
        return ExitCode::Success;
    }
    if (c.options.json) {
        JsonWriter json;
        json.begin_object()
            .key("id")
            .string(registration.id)
            .key("object_path")
            .string(path)
            .end_object();
        std::cout << json.text() << '\n';
    } else {
        std::cout << sanitised(path) << '\n';
    }
    return ExitCode::Success;
}

ExitCode unregister(const Context &c) {
    const auto &id = c.invocation.arguments.at(0);
    authorised(c, [&](const Authorization &a) { c.client.unregister_container(id, a); });
    confirm(c, id + ": unregistered");
    return ExitCode::Success;
}

ExitCode reload(const Context &c) {
    authorised(c, [&](const Authorization &a) { c.client.reload(a); });
    confirm(c, "lockcd reloaded its configuration");
    return ExitCode::Success;
}

// ---- run ----

// How long systemd (moving this process into the scope) and lockcd (binding
// the scope's new cgroup to its container) may take, together, after
// RunConfined has answered; and how often to look.
constexpr auto kConfinementTimeout = std::chrono::seconds(10);
constexpr auto kConfinementPollInterval = std::chrono::milliseconds(10);

// This process's cgroup v2 path ("/system.slice/x.scope", the "0::" line of
// /proc/self/cgroup); "" if it cannot be read.
std::string own_cgroup() {
    std::ifstream file("/proc/self/cgroup");
    std::string line;
    while (std::getline(file, line)) {
        if (line.starts_with("0::")) {
            return line.substr(3);
        }
    }
    return "";
}

// Waits until this process is in the scope's cgroup and lockcd reports its
// container active. Throws Failure otherwise: the command must not run with
// less confinement than it was asked to.
void wait_until_confined(Client &client, const RunConfinedResult &scope) {
    const auto deadline = std::chrono::steady_clock::now() + kConfinementTimeout;
    const auto in_time = [&] {
        if (std::chrono::steady_clock::now() >= deadline) {
            return false;
        }
        std::this_thread::sleep_for(kConfinementPollInterval);
        return true;
    };
    while (!own_cgroup().ends_with("/" + scope.unit)) {
        if (!in_time()) {
            throw Failure(ExitCode::Failure, "systemd did not move lockcctl into " + scope.unit +
                                                 "; not running the command unconfined");
        }
    }
    // The container's id is the unit's name without ".scope".
    const auto id = scope.unit.substr(0, scope.unit.rfind(".scope"));
    std::string state;
    try {
        while ((state = client.container_state(scope.container, id)) != "active") {
            if (!in_time()) {
                throw Failure(ExitCode::Failure, "lockcd did not confine " + scope.unit +
                                                     " (its container is " + state +
                                                     "); not running the command unconfined");
            }
        }
    } catch (const Failure &e) {
        if (e.code() != ExitCode::NotFound) {
            throw;
        }
        throw Failure(ExitCode::Failure, "lockcd forgot the container of " + scope.unit +
                                             " before confining it; not running the command "
                                             "unconfined");
    }
}

// Becomes CMD (PATH searched as by a shell). Returns only by throwing.
[[noreturn]] void exec_command(std::vector<std::string> command_line) {
    std::vector<char *> argv;
    argv.reserve(command_line.size() + 1);
    for (auto &argument : command_line) {
        argv.push_back(argument.data());
    }
    argv.push_back(nullptr);
    ::execvp(argv.front(), argv.data());
    const int error = errno;
    throw Failure(error == ENOENT ? ExitCode::CommandNotFound : ExitCode::CommandNotExecutable,
                  command_line.front() + ": " + std::strerror(error));
}

// lockcd moves this process into a new scope, confined; once it is in
// there and confined, the process becomes CMD. Nothing is printed and
// stdin, stdout and stderr are CMD's as they were lockcctl's (no pager).
[[noreturn]] void run(const Invocation &invocation) {
    {
        Client client;
        const Context c{invocation, invocation.global, Terminal::detect(), client};
        const auto scope = authorised(c, [&](const Authorization &a) {
            return client.run_confined(invocation.level.value_or(""), invocation.mode.value_or(""),
                                       invocation.unit, invocation.description, a);
        });
        wait_until_confined(client, scope);
    } // The bus connection is closed here: CMD must not inherit it.
    exec_command(invocation.command_line);
}

} // namespace

ExitCode run_command(const Invocation &invocation) {
    if (invocation.command == Command::Run) {
        run(invocation);
    }
    Client client;
    const Context c{invocation, invocation.global, Terminal::detect(), client};
    switch (invocation.command) {
    case Command::Status:
        return status(c);
    case Command::List:
        return list(c);
    case Command::Show:
        return show(c);
    case Command::Levels:
        return levels(c);
    case Command::SetLevel:
        return set_level(c);
    case Command::SetMode:
        return set_mode(c);
    case Command::SetDefault:
        return set_default(c);
    case Command::Register:
        return register_container(c);
    case Command::Unregister:
        return unregister(c);
    case Command::Reload:
        return reload(c);
    case Command::Monitor:
        return run_monitor(client, invocation, c.terminal);
    case Command::Run: // above: it needs the connection closed before exec
    case Command::Help:
    case Command::Version:
        break;
    }
    throw Failure(ExitCode::Failure, "internal error: no such command");
}

} // namespace lockc::cli
