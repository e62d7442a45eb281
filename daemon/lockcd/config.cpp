#include "config.hpp"

#include "error.hpp"
#include "unique_fd.hpp"

#include <toml++/toml.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <system_error>
#include <tuple>
#include <utility>

namespace lockc {

namespace {

// Larger than any sane configuration; stops a mistaken path (a device, a
// log) from being read without end.
constexpr std::size_t kMaxFileBytes = std::size_t{1024} * 1024;

std::string located(const std::string &file, std::uint32_t line, std::uint32_t column,
                    const std::string &message) {
    if (line == 0) {
        return file + ": " + message;
    }
    return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

// User text in messages, quoted; control bytes escaped so that a message
// stays one readable line in the journal.
std::string quote(std::string_view text) {
    static constexpr std::string_view hex = "0123456789abcdef";
    std::string out = "'";
    for (const char c : text) {
        const auto byte = static_cast<unsigned char>(c);
        if (byte < 0x20 || byte == 0x7f) {
            out += "\\x";
            out += hex[byte >> 4];
            out += hex[byte & 0xf];
        } else {
            out += c;
        }
    }
    return out + "'";
}

std::string_view type_name(const toml::node &node) {
    switch (node.type()) {
    case toml::node_type::table:
        return "a table";
    case toml::node_type::array:
        return "an array";
    case toml::node_type::string:
        return "a string";
    case toml::node_type::integer:
        return "an integer";
    case toml::node_type::floating_point:
        return "a float";
    case toml::node_type::boolean:
        return "a boolean";
    case toml::node_type::date:
        return "a date";
    case toml::node_type::time:
        return "a time";
    case toml::node_type::date_time:
        return "a date-time";
    case toml::node_type::none:
        break;
    }
    return "nothing";
}

struct Entry {
    const toml::key *key;
    const toml::node *value;
};

// toml::table iterates in key order; checking in file order makes the
// reported error the first one in the file.
std::vector<Entry> in_file_order(const toml::table &table) {
    std::vector<Entry> out;
    for (const auto &[key, value] : table) {
        out.push_back({&key, &value});
    }
    std::ranges::stable_sort(out, {}, [](const Entry &e) {
        const auto &pos = e.key->source().begin;
        return std::tuple{pos.line, pos.column};
    });
    return out;
}

class Reader {
  public:
    explicit Reader(const std::string &file) : file_(file) {}

    Config read(const toml::table &root) {
        Config config;
        for (const auto &[key, value] : in_file_order(root)) {
            const std::string name(key->str());
            if (name == "defaults") {
                read_defaults(config, table(*value, "[defaults]"));
            } else if (name == "containers") {
                read_containers(config, table(*value, "[containers]"));
            } else if (name == "logging") {
                read_logging(config, table(*value, "[logging]"));
            } else if (name == "kubernetes") {
                read_kubernetes(config, table(*value, "[kubernetes]"));
            } else if (name == "rules") {
                read_rules(config, *value);
            } else if (name == "runtimes") {
                read_runtimes(config, table(*value, "[runtimes]"));
            } else {
                fail(*key, "unknown " + std::string(value->is_table() ? "table " : "key ") +
                               quote(name) +
                               "; known tables: defaults, containers, logging, kubernetes, rules, "
                               "runtimes");
            }
        }
        return config;
    }

  private:
    template <typename Located>
    [[noreturn]] void fail(const Located &where, const std::string &message) const {
        const auto &pos = where.source().begin;
        throw ConfigError(file_, pos.line, pos.column, message);
    }

    [[noreturn]] void unknown_key(const toml::key &key, std::string_view table,
                                  std::string_view known) const {
        fail(key, "unknown key " + quote(key.str()) + " in " + std::string(table) +
                      "; known keys: " + std::string(known));
    }

    [[nodiscard]] const toml::table &table(const toml::node &value, std::string_view name) const {
        if (const auto *t = value.as_table()) {
            return *t;
        }
        fail(value, std::string(name) + " must be a table, not " + std::string(type_name(value)));
    }

    // `what` names the value in messages, e.g. "'level' in [defaults]".
    [[nodiscard]] std::string_view string(const toml::node &value, const std::string &what) const {
        if (const auto *s = value.as_string()) {
            return s->get();
        }
        fail(value, what + " must be a string, not " + std::string(type_name(value)));
    }

    [[nodiscard]] std::int64_t integer(const toml::node &value, const std::string &what,
                                       std::int64_t min, std::int64_t max) const {
        const auto *i = value.as_integer();
        if (i == nullptr) {
            fail(value, what + " must be an integer, not " + std::string(type_name(value)));
        }
        if (i->get() < min || i->get() > max) {
            fail(value, what + " must be between " + std::to_string(min) + " and " +
                            std::to_string(max) + ", not " + std::to_string(i->get()));
        }
        return i->get();
    }

    [[nodiscard]] Level level(const toml::node &value, const std::string &what) const {
        const auto text = string(value, what);
        if (const auto l = parse_level(text)) {
            return *l;
        }
        fail(value, "unknown level " + quote(text) + " for " + what +
                        "; expected privileged, baseline or restricted");
    }

    void read_defaults(Config &config, const toml::table &t) const {
        for (const auto &[key, value] : in_file_order(t)) {
            if (key->str() == "level") {
                config.default_level = level(*value, "'level' in [defaults]");
            } else if (key->str() == "mode") {
                const auto text = string(*value, "'mode' in [defaults]");
                const auto m = parse_mode(text);
                if (!m) {
                    fail(*value, "unknown mode " + quote(text) +
                                     " for 'mode' in [defaults]; expected enforce or audit");
                }
                config.default_mode = *m;
            } else {
                unknown_key(*key, "[defaults]", "level, mode");
            }
        }
    }

    void read_containers(Config &config, const toml::table &t) const {
        for (const auto &[key, value] : in_file_order(t)) {
            if (key->str() != "patterns") {
                unknown_key(*key, "[containers]", "patterns");
            }
            const auto *array = value->as_array();
            if (array == nullptr) {
                fail(*value, "'patterns' in [containers] must be an array of strings, not " +
                                 std::string(type_name(*value)));
            }
            config.container_patterns.clear();
            for (const auto &element : *array) {
                if (config.container_patterns.size() == LOCKC_MAX_PATTERNS) {
                    fail(element, "too many patterns in [containers]; at most " +
                                      std::to_string(LOCKC_MAX_PATTERNS) + " are allowed");
                }
                config.container_patterns.push_back(
                    pattern(element, string(element, "a pattern in [containers]")));
                const auto &added = config.container_patterns.back();
                if (std::ranges::count(config.container_patterns, added) > 1) {
                    fail(element, "duplicate pattern " + quote(added.text()) + " in [containers]");
                }
            }
        }
    }

    // "prefix*suffix" or "parent/prefix*suffix", sized for struct
    // lockc_name_pattern (NUL-terminated).
    [[nodiscard]] NamePattern pattern(const toml::node &where, std::string_view text) const {
        if (text.empty()) {
            fail(where, "empty pattern in [containers]; a pattern is prefix*suffix or "
                        "parent/prefix*suffix");
        }
        const std::string quoted = "pattern " + quote(text) + " in [containers]";
        if (text.find('\0') != std::string_view::npos) {
            fail(where, quoted + " may not contain NUL");
        }
        NamePattern p;
        if (const auto slash = text.find('/'); slash != std::string_view::npos) {
            p.parent = std::string(text.substr(0, slash));
            text.remove_prefix(slash + 1);
            if (p.parent.empty() || p.parent.find('*') != std::string::npos ||
                text.find('/') != std::string_view::npos) {
                fail(where, quoted + " names a parent directory: it must be parent/prefix*suffix "
                                     "with one plain parent name (no '*', one '/')");
            }
            if (p.parent.size() >= LOCKC_PATTERN_PARENT_LEN) {
                fail(where, quoted + " has a parent name longer than " +
                                std::to_string(LOCKC_PATTERN_PARENT_LEN - 1) + " bytes");
            }
        }
        const auto star = text.find('*');
        if (star == std::string_view::npos || text.find('*', star + 1) != std::string_view::npos) {
            fail(where, quoted + " must contain exactly one '*' (prefix*suffix)");
        }
        p.prefix = std::string(text.substr(0, star));
        p.suffix = std::string(text.substr(star + 1));
        if (p.prefix.empty() && p.parent.empty()) {
            fail(where, quoted + " needs a non-empty prefix before '*' or a parent directory "
                                 "(parent/*): it would match every cgroup");
        }
        if (p.prefix.size() >= LOCKC_PATTERN_PREFIX_LEN) {
            fail(where, quoted + " has a prefix longer than " +
                            std::to_string(LOCKC_PATTERN_PREFIX_LEN - 1) + " bytes");
        }
        if (p.suffix.size() >= LOCKC_PATTERN_SUFFIX_LEN) {
            fail(where, quoted + " has a suffix longer than " +
                            std::to_string(LOCKC_PATTERN_SUFFIX_LEN - 1) + " bytes");
        }
        return p;
    }

    void read_logging(Config &config, const toml::table &t) const {
        for (const auto &[key, value] : in_file_order(t)) {
            if (key->str() == "denials_burst") {
                config.denial_log_burst = static_cast<std::uint32_t>(
                    integer(*value, "'denials_burst' in [logging]", 1, kMaxDenialLogBurst));
            } else if (key->str() == "denials_interval_seconds") {
                config.denial_log_interval =
                    std::chrono::seconds(integer(*value, "'denials_interval_seconds' in [logging]",
                                                 1, kMaxDenialLogInterval.count()));
            } else {
                unknown_key(*key, "[logging]", "denials_burst, denials_interval_seconds");
            }
        }
    }

    void read_kubernetes(Config &config, const toml::table &t) const {
        for (const auto &[key, value] : in_file_order(t)) {
            if (key->str() == "namespaces") {
                read_namespaces(config, table(*value, "[kubernetes.namespaces]"));
            } else if (key->str() == "kubeconfig") {
                const std::string what = "'kubeconfig' in [kubernetes]";
                config.kubeconfig = absolute_path(string(*value, what), *value, what);
            } else {
                unknown_key(*key, "[kubernetes]", "namespaces, kubeconfig");
            }
        }
    }

    void read_namespaces(Config &config, const toml::table &t) const {
        config.namespace_levels.clear();
        for (const auto &[ns, ns_value] : in_file_order(t)) {
            const std::string name(ns->str());
            if (name.empty()) {
                fail(*ns, "empty namespace name in [kubernetes.namespaces]");
            }
            if (!valid_namespace_name(name)) {
                fail(*ns, "invalid namespace name " + quote(name) +
                              " in [kubernetes.namespaces]: a namespace name is 1 to 63 "
                              "lowercase letters, digits or '-', starting and ending with a "
                              "letter or digit");
            }
            config.namespace_levels.emplace(
                name, level(*ns_value, "namespace " + quote(name) + " in [kubernetes.namespaces]"));
        }
    }

    void read_runtimes(Config &config, const toml::table &t) const {
        for (const auto &[key, value] : in_file_order(t)) {
            if (key->str() == "binaries") {
                config.runtime_binaries.clear();
                for (const auto &[path, node] : strings(*value, "'binaries' in [runtimes]")) {
                    config.runtime_binaries.push_back(
                        absolute_path(path, *node, "'binaries' in [runtimes]"));
                }
                if (config.runtime_binaries.size() > kMaxRuntimeBinaries) {
                    fail(*value, "'binaries' in [runtimes] lists more than " +
                                     std::to_string(kMaxRuntimeBinaries) + " files");
                }
            } else if (key->str() == "docker_data_root") {
                config.docker_data_root =
                    absolute_path(string(*value, "'docker_data_root' in [runtimes]"), *value,
                                  "'docker_data_root' in [runtimes]");
            } else {
                unknown_key(*key, "[runtimes]", "binaries, docker_data_root");
            }
        }
    }

    [[nodiscard]] std::filesystem::path absolute_path(std::string_view text, const toml::node &node,
                                                      const std::string &what) const {
        if (text.empty() || text.front() != '/' || text.find('\0') != std::string_view::npos) {
            fail(node, what + " must be an absolute path, not " + quote(std::string(text)));
        }
        return std::filesystem::path(text).lexically_normal();
    }

    // [[rules]]: kind = "open" | "mount-source" | "unix-socket", path, deny =
    // [levels], access = ["read", "write"] (open only; default both).
    void read_rules(Config &config, const toml::node &value) const {
        const auto *array = value.as_array();
        if (array == nullptr || !array->is_array_of_tables()) {
            fail(value, "'rules' must be an array of tables ([[rules]]), not " +
                            std::string(type_name(value)));
        }
        const std::size_t room = LOCKC_MAX_PATH_RULES - default_rules().paths.size();
        // Each rule's prefix (its trie key) and the line that gave it.
        std::map<std::pair<std::uint32_t, std::string>, std::uint32_t> first_line;
        for (const auto &element : *array) {
            if (config.extra_rules.size() == room) {
                fail(element, "too many [[rules]]; at most " + std::to_string(room) +
                                  " fit next to the built-in ones");
            }
            const PathRule &added = config.extra_rules.emplace_back(rule(*element.as_table()));
            // The kernel's form decides what a valid path is (absolute,
            // short enough, "@name" for abstract sockets).
            RuleSet probe;
            probe.paths.push_back(added);
            lockc_path_key key{};
            try {
                (void)compile(probe);
                key = key_of(added);
            } catch (const Error &e) {
                fail(element, std::string("invalid rule: ") + e.what());
            }
            // Two rules for one prefix would leave which one holds to the
            // reader's guess; "/srv" and "/srv/" are the same prefix.
            const auto [at, inserted] = first_line.emplace(std::pair{key.space, key_path(key)},
                                                           element.source().begin.line);
            if (!inserted) {
                fail(element, "a second [[rules]] entry of this kind for " + quote(added.path) +
                                  "; the first is at line " + std::to_string(at->second) +
                                  ". Give each path one rule");
            }
        }
    }

    [[nodiscard]] PathRule rule(const toml::table &t) const {
        PathRule r;
        std::optional<std::uint8_t> access;
        bool have_kind = false;
        bool have_path = false;
        bool have_deny = false;
        std::uint8_t levels = 0; // bit 0 baseline, bit 1 restricted
        for (const auto &[key, value] : in_file_order(t)) {
            const std::string name(key->str());
            if (name == "kind") {
                const auto kind = string(*value, "'kind' in [[rules]]");
                if (kind == "open") {
                    r.space = RuleSpace::OpenPath;
                } else if (kind == "mount-source") {
                    r.space = RuleSpace::MountSource;
                } else if (kind == "unix-socket") {
                    r.space = RuleSpace::UnixSocket;
                } else {
                    fail(*value, "unknown kind " + quote(kind) +
                                     " in [[rules]]; expected open, mount-source or unix-socket");
                }
                have_kind = true;
            } else if (name == "path") {
                r.path = std::string(string(*value, "'path' in [[rules]]"));
                have_path = true;
            } else if (name == "deny") {
                for (const auto &item : strings(*value, "'deny' in [[rules]]")) {
                    const auto l = level(*item.second, "'deny' in [[rules]]");
                    if (l == Level::Privileged) {
                        fail(*item.second, "'deny' in [[rules]] cannot name privileged: that "
                                           "level is never denied anything");
                    }
                    levels |= l == Level::Baseline ? 1U : 2U;
                }
                have_deny = true;
            } else if (name == "access") {
                std::uint8_t bits = 0;
                for (const auto &item : strings(*value, "'access' in [[rules]]")) {
                    if (item.first == "read") {
                        bits |= LOCKC_ACCESS_READ;
                    } else if (item.first == "write") {
                        bits |= LOCKC_ACCESS_WRITE;
                    } else {
                        fail(*item.second, "unknown access " + quote(item.first) +
                                               " in [[rules]]; expected read or write");
                    }
                }
                access = bits;
            } else {
                unknown_key(*key, "[[rules]]", "kind, path, deny, access");
            }
        }
        if (!have_kind || !have_path || !have_deny) {
            fail(t, std::string("a [[rules]] entry needs ") + (!have_kind   ? "'kind'"
                                                               : !have_path ? "'path'"
                                                                            : "'deny'"));
        }
        if (levels == 0) {
            fail(t, "'deny' in [[rules]] names no level; the rule would do nothing");
        }
        if (access && r.space != RuleSpace::OpenPath) {
            fail(t, "'access' in [[rules]] applies to kind open only");
        }
        if (access == std::uint8_t{0}) {
            fail(t, "'access' in [[rules]] is empty; the rule would do nothing");
        }
        const std::uint8_t bits = access.value_or(LOCKC_ACCESS_ALL);
        // What baseline may not do, restricted may not do either.
        r.deny.baseline = (levels & 1U) != 0 ? bits : 0;
        r.deny.restricted = bits;
        return r;
    }

    // An array of strings, with each element's node for locations.
    [[nodiscard]] std::vector<std::pair<std::string, const toml::node *>>
    strings(const toml::node &value, const std::string &what) const {
        const auto *array = value.as_array();
        if (array == nullptr) {
            fail(value,
                 what + " must be an array of strings, not " + std::string(type_name(value)));
        }
        std::vector<std::pair<std::string, const toml::node *>> out;
        for (const auto &element : *array) {
            out.emplace_back(std::string(string(element, what)), &element);
        }
        return out;
    }

    const std::string &file_;
};

} // namespace

bool valid_namespace_name(std::string_view name) {
    const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
    return !name.empty() && name.size() <= 63 && alnum(name.front()) && alnum(name.back()) &&
           std::ranges::all_of(name, [&](char c) { return alnum(c) || c == '-'; });
}

std::vector<std::filesystem::path> default_runtime_binaries() {
    return {"/usr/bin/runc",        "/usr/sbin/runc", "/usr/local/bin/runc",
            "/usr/local/sbin/runc", "/usr/bin/crun",  "/usr/local/bin/crun"};
}

bool operator==(const Config &a, const Config &b) {
    return a.default_level == b.default_level && a.default_mode == b.default_mode &&
           a.container_patterns == b.container_patterns &&
           a.denial_log_burst == b.denial_log_burst &&
           a.denial_log_interval == b.denial_log_interval &&
           a.namespace_levels == b.namespace_levels && a.kubeconfig == b.kubeconfig &&
           a.runtime_binaries == b.runtime_binaries && a.docker_data_root == b.docker_data_root &&
           std::ranges::equal(
               a.extra_rules, b.extra_rules, [](const PathRule &x, const PathRule &y) {
                   return x.space == y.space && x.fs == y.fs && x.path == y.path &&
                          x.deny == y.deny && x.unless_own_netns == y.unless_own_netns;
               });
}

RuleSet rules_of(const Config &config) {
    return with_added_rules(default_rules(), config.extra_rules);
}

ConfigError::ConfigError(std::string file, std::uint32_t line, std::uint32_t column,
                         const std::string &message)
    : std::runtime_error(located(file, line, column, message)), file(std::move(file)), line(line),
      column(column) {}

Config parse_config(std::string_view text, const std::string &source_name) {
    toml::table root;
    try {
        root = toml::parse(text, std::string_view(source_name));
    } catch (const toml::parse_error &e) {
        const auto &pos = e.source().begin;
        throw ConfigError(source_name, pos.line, pos.column, std::string(e.description()));
    }
    return Reader(source_name).read(root);
}

Config load_config(const std::filesystem::path &file) {
    const std::string name = file.string();
    const auto cannot_read = [&name](int err) {
        return ConfigError(name, 0, 0, "cannot read: " + std::generic_category().message(err));
    };
    const UniqueFd fd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT) {
            return Config{};
        }
        throw cannot_read(errno);
    }
    std::string text;
    char buf[4096];
    for (;;) {
        const ssize_t n = ::read(fd.get(), buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw cannot_read(errno);
        }
        if (n == 0) {
            break;
        }
        text.append(buf, static_cast<std::size_t>(n));
        if (text.size() > kMaxFileBytes) {
            throw ConfigError(name, 0, 0, "larger than 1 MiB; is this a configuration file?");
        }
    }
    return parse_config(text, name);
}

} // namespace lockc
