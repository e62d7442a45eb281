#include "registry.hpp"

#include "error.hpp"
#include "unique_fd.hpp"

#include <toml++/toml.h>

#include <fcntl.h>
#include <cstdio> // renameat2, RENAME_NOREPLACE
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <initializer_list>
#include <limits>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace lockc {
namespace {

constexpr std::int64_t kVersion = 1;
constexpr const char *kFileName = "registry.toml";
constexpr const char *kTmpName = "registry.toml.tmp";
constexpr std::string_view kHeader =
    "# lockcd container registry: rewritten by lockcd on every change.\n";
constexpr std::string_view kEndMarker = "# end of lockc registry";
constexpr std::string_view kWhitespace = " \t\r\n";

// For messages: ids are arbitrary, a newline in one must not split a log line.
std::string shown(std::string_view s) {
    constexpr std::string_view hex = "0123456789abcdef";
    std::string out = "\"";
    for (const char c : s) {
        const auto u = static_cast<unsigned char>(c);
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (u < 0x20 || u == 0x7f) {
            out += "\\x";
            out += hex[u >> 4];
            out += hex[u & 0xf];
        } else {
            out += c;
        }
    }
    out += '"';
    return out;
}

// toml++ writes invalid UTF-8 as escapes of other code points, so such a
// string would come back changed: refuse it instead.
bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto lead = static_cast<unsigned char>(s[i]);
        if (lead < 0x80) {
            ++i;
            continue;
        }
        std::size_t len = 0;
        char32_t cp = 0;
        char32_t min = 0;
        if ((lead & 0xe0U) == 0xc0) {
            len = 2, cp = lead & 0x1fU, min = 0x80;
        } else if ((lead & 0xf0U) == 0xe0) {
            len = 3, cp = lead & 0x0fU, min = 0x800;
        } else if ((lead & 0xf8U) == 0xf0) {
            len = 4, cp = lead & 0x07U, min = 0x10000;
        } else {
            return false;
        }
        if (s.size() - i < len) {
            return false;
        }
        for (std::size_t k = 1; k < len; ++k) {
            const auto cont = static_cast<unsigned char>(s[i + k]);
            if ((cont & 0xc0U) != 0x80) {
                return false;
            }
            cp = (cp << 6U) | (cont & 0x3fU);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
            return false;
        }
        i += len;
    }
    return true;
}

[[noreturn]] void invalid(const std::string &what) {
    throw Error(ErrorKind::InvalidArgument, "cannot save the registry: " + what);
}

void validate(const RegistryState &state) {
    if ((state.default_level && !parse_level(to_string(*state.default_level))) ||
        (state.default_mode && !parse_mode(to_string(*state.default_mode)))) {
        invalid("unknown default level or mode");
    }
    std::unordered_set<std::string_view> seen;
    for (const auto &c : state.containers) {
        if (c.id.empty()) {
            invalid("a container has an empty id");
        }
        const std::string who = "container " + shown(c.id);
        if (!seen.insert(c.id).second) {
            invalid("duplicate " + who);
        }
        for (const std::string *s : {&c.id, &c.runtime, &c.cgroup_path, &c.pending_name}) {
            if (!valid_utf8(*s)) {
                invalid(who + ": " + shown(*s) + " is not valid UTF-8");
            }
        }
        if (parse_level(to_string(c.level)) != c.level || parse_mode(to_string(c.mode)) != c.mode) {
            invalid(who + ": unknown level or mode");
        }
        if (c.registered_usec >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            invalid(who + ": registered_usec does not fit a TOML integer");
        }
    }
}

std::string serialize(const RegistryState &state) {
    validate(state);
    toml::table root;
    root.insert("version", kVersion);
    toml::table defaults;
    if (state.default_level) {
        defaults.insert("level", to_string(*state.default_level));
    }
    if (state.default_mode) {
        defaults.insert("mode", to_string(*state.default_mode));
    }
    if (!defaults.empty()) {
        root.insert("defaults", std::move(defaults));
    }
    toml::array containers;
    for (const auto &c : state.containers) {
        toml::table t;
        t.insert("id", c.id);
        t.insert("level", to_string(c.level));
        t.insert("mode", to_string(c.mode));
        if (!c.runtime.empty()) {
            t.insert("runtime", c.runtime);
        }
        if (!c.cgroup_path.empty()) {
            t.insert("cgroup_path", c.cgroup_path);
        }
        if (c.cgroup_id != 0) {
            t.insert("cgroup_id", std::to_string(c.cgroup_id));
        }
        if (!c.pending_name.empty()) {
            t.insert("pending_name", c.pending_name);
        }
        if (c.registered_usec != 0) {
            t.insert("registered_usec", static_cast<std::int64_t>(c.registered_usec));
        }
        containers.push_back(std::move(t));
    }
    if (!containers.empty()) {
        root.insert("container", std::move(containers));
    }
    // Only single-line basic strings: no raw newline inside a value, so the
    // end marker can only ever be a line of its own.
    std::ostringstream out;
    out << kHeader << toml::toml_formatter(root, toml::format_flags::allow_unicode_strings)
        << "\n\n"
        << kEndMarker << '\n';
    return std::move(out).str();
}

// Parsing with the file name and the line:column of each problem.
class Reader {
  public:
    explicit Reader(const std::filesystem::path &file) : file_(file.string()) {}

    [[noreturn]] void fail(const toml::source_position &at, const std::string &what) const {
        std::string msg = file_;
        if (at) {
            msg += ':' + std::to_string(at.line) + ':' + std::to_string(at.column);
        }
        throw RegistryCorrupt(msg + ": " + what);
    }
    [[noreturn]] void fail(const toml::node *at, const std::string &what) const {
        fail(at != nullptr ? at->source().begin : toml::source_position{}, what);
    }

    void only_keys(const toml::table &t, std::initializer_list<std::string_view> keys,
                   const std::string &where) const {
        for (const auto &[key, node] : t) {
            if (std::find(keys.begin(), keys.end(), key.str()) == keys.end()) {
                fail(&node, where + "unknown key " + shown(key.str()));
            }
        }
    }

    [[nodiscard]] std::optional<std::string> string(const toml::table &t, std::string_view key,
                                                    const std::string &where) const {
        const toml::node *node = t.get(key);
        if (node == nullptr) {
            return std::nullopt;
        }
        const auto *value = node->as_string();
        if (value == nullptr) {
            fail(node, where + std::string(key) + ": expected a string");
        }
        return value->get();
    }

    [[nodiscard]] std::string required_string(const toml::table &t, std::string_view key,
                                              const std::string &where) const {
        auto value = string(t, key, where);
        if (!value) {
            fail(&t, where + "missing " + std::string(key));
        }
        return std::move(*value);
    }

    [[nodiscard]] std::optional<Level> level(const toml::table &t, const std::string &where,
                                             bool required) const {
        return parsed(t, "level", where, required, parse_level,
                      "privileged, baseline or restricted");
    }
    [[nodiscard]] std::optional<Mode> mode(const toml::table &t, const std::string &where,
                                           bool required) const {
        return parsed(t, "mode", where, required, parse_mode, "enforce or audit");
    }

    [[nodiscard]] std::uint64_t cgroup_id(const toml::table &t, const std::string &where) const {
        const auto text = string(t, "cgroup_id", where);
        if (!text) {
            return 0;
        }
        std::uint64_t id = 0;
        const char *end = text->data() + text->size();
        // Canonical decimal only, as save() writes it: no sign, space or leading zero.
        const bool canonical = !text->empty() && (text->size() == 1 || text->front() != '0') &&
                               text->find_first_not_of("0123456789") == std::string::npos;
        const auto [ptr, ec] = std::from_chars(text->data(), end, id);
        if (!canonical || ec != std::errc{} || ptr != end) {
            fail(t.get("cgroup_id"),
                 where + "cgroup_id: " + shown(*text) + " is not a decimal number below 2^64");
        }
        return id;
    }

    [[nodiscard]] std::uint64_t registered_usec(const toml::table &t,
                                                const std::string &where) const {
        const toml::node *node = t.get("registered_usec");
        if (node == nullptr) {
            return 0;
        }
        const auto *value = node->as_integer();
        if (value == nullptr) {
            fail(node, where + "registered_usec: expected an integer");
        }
        if (value->get() < 0) {
            fail(node, where + "registered_usec: negative");
        }
        return static_cast<std::uint64_t>(value->get());
    }

  private:
    template <typename T>
    std::optional<T> parsed(const toml::table &t, std::string_view key, const std::string &where,
                            bool required, std::optional<T> (*parse)(std::string_view),
                            std::string_view choices) const {
        const auto text =
            required ? std::optional(required_string(t, key, where)) : string(t, key, where);
        if (!text) {
            return std::nullopt;
        }
        const auto value = parse(*text);
        if (!value) {
            fail(t.get(key), where + std::string(key) + ": " + shown(*text) + " is not " +
                                 std::string(choices));
        }
        return value;
    }

    std::string file_;
};

RegistryState parse(std::string_view text, const std::filesystem::path &file) {
    const Reader r(file);
    toml::table root;
    try {
        root = toml::parse(text, file.string());
    } catch (const toml::parse_error &e) {
        r.fail(e.source().begin, std::string(e.description()));
    }
    const auto end = text.find_last_not_of(kWhitespace);
    const auto body = text.substr(0, end == std::string_view::npos ? 0 : end + 1);
    if (!body.ends_with("\n" + std::string(kEndMarker))) {
        r.fail(toml::source_position{},
               "does not end with \"" + std::string(kEndMarker) + "\": cut short");
    }

    r.only_keys(root, {"version", "defaults", "container"}, "");
    const toml::node *version = root.get("version");
    if (version == nullptr) {
        r.fail(toml::source_position{}, "missing version");
    }
    if (!version->is_integer() || version->as_integer()->get() != kVersion) {
        r.fail(version, "unsupported version " +
                            (version->is_integer() ? std::to_string(version->as_integer()->get())
                                                   : std::string("(not an integer)")) +
                            ", expected " + std::to_string(kVersion));
    }

    RegistryState state;
    if (const toml::node *node = root.get("defaults"); node != nullptr) {
        const toml::table *defaults = node->as_table();
        if (defaults == nullptr) {
            r.fail(node, "defaults: expected a table");
        }
        r.only_keys(*defaults, {"level", "mode"}, "defaults: ");
        state.default_level = r.level(*defaults, "defaults: ", false);
        state.default_mode = r.mode(*defaults, "defaults: ", false);
    }

    const toml::node *node = root.get("container");
    if (node == nullptr) {
        return state;
    }
    const toml::array *containers = node->as_array();
    if (containers == nullptr) {
        r.fail(node, "container: expected an array of tables ([[container]])");
    }
    std::unordered_map<std::string, toml::source_position> first_seen;
    for (std::size_t i = 0; i < containers->size(); ++i) {
        const toml::node &element = (*containers)[i];
        const toml::table *t = element.as_table();
        if (t == nullptr) {
            r.fail(&element, "container: expected an array of tables ([[container]])");
        }
        std::string where = "container " + std::to_string(i + 1) + ": ";
        r.only_keys(*t,
                    {"id", "level", "mode", "runtime", "cgroup_path", "cgroup_id", "pending_name",
                     "registered_usec"},
                    where);
        ContainerRecord c;
        c.id = r.required_string(*t, "id", where);
        if (c.id.empty()) {
            r.fail(t->get("id"), where + "empty id");
        }
        where = "container " + shown(c.id) + ": ";
        const auto id_at = t->get("id")->source().begin;
        if (const auto [it, added] = first_seen.emplace(c.id, id_at); !added) {
            r.fail(id_at, "duplicate container id " + shown(c.id) + " (first at line " +
                              std::to_string(it->second.line) + ")");
        }
        c.level = *r.level(*t, where, true);
        c.mode = *r.mode(*t, where, true);
        c.runtime = r.string(*t, "runtime", where).value_or("");
        c.cgroup_path = r.string(*t, "cgroup_path", where).value_or("");
        c.cgroup_id = r.cgroup_id(*t, where);
        c.pending_name = r.string(*t, "pending_name", where).value_or("");
        c.registered_usec = r.registered_usec(*t, where);
        state.containers.push_back(std::move(c));
    }
    return state;
}

std::string read_all(int fd, const std::filesystem::path &file) {
    std::string out;
    std::array<char, 8192> buf{};
    for (;;) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_system("cannot read " + file.string(), errno);
        }
        if (n == 0) {
            return out;
        }
        out.append(buf.data(), static_cast<std::size_t>(n));
    }
}

void write_all(int fd, std::string_view data, const std::filesystem::path &file) {
    while (!data.empty()) {
        const ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            throw_system("cannot write " + file.string(), errno);
        }
        data.remove_prefix(static_cast<std::size_t>(n));
    }
}

UniqueFd open_directory(const std::filesystem::path &directory) {
    UniqueFd fd(::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd.valid()) {
        throw_system("cannot open " + directory.string(), errno);
    }
    return fd;
}

void sync_directory(const UniqueFd &dir, const std::filesystem::path &directory) {
    // Makes the rename itself durable, not only the file's data.
    if (::fsync(dir.get()) != 0) {
        throw_system("cannot sync " + directory.string(), errno);
    }
}

} // namespace

RegistryStore::RegistryStore(std::filesystem::path directory)
    : directory_(std::move(directory)), file_(directory_ / kFileName) {}

RegistryState RegistryStore::load() const {
    const UniqueFd fd(::open(file_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        if (errno == ENOENT) {
            return {};
        }
        throw_system("cannot open " + file_.string(), errno);
    }
    return parse(read_all(fd.get(), file_), file_);
}

void RegistryStore::save(const RegistryState &state) const {
    const std::string text = serialize(state);
    const UniqueFd dir = open_directory(directory_);
    const auto tmp = directory_ / kTmpName;
    try {
        // A stale temporary (left by a crash) is replaced, never written
        // through: it could be a symlink or a hard link to another file.
        if (::unlinkat(dir.get(), kTmpName, 0) != 0 && errno != ENOENT) {
            throw_system("cannot remove " + tmp.string(), errno);
        }
        const UniqueFd fd(::openat(dir.get(), kTmpName,
                                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd.valid()) {
            throw_system("cannot create " + tmp.string(), errno);
        }
        write_all(fd.get(), text, tmp);
        if (::fsync(fd.get()) != 0) {
            throw_system("cannot sync " + tmp.string(), errno);
        }
        if (::renameat(dir.get(), kTmpName, dir.get(), kFileName) != 0) {
            throw_system("cannot rename " + tmp.string() + " to " + file_.string(), errno);
        }
    } catch (const Error &) {
        // registry.toml was not touched; leave no half-written temporary.
        ::unlinkat(dir.get(), kTmpName, 0);
        throw;
    }
    sync_directory(dir, directory_);
}

std::filesystem::path RegistryStore::quarantine() const {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const std::string base = std::string(kFileName) + ".corrupt-" + std::to_string(now);
    const UniqueFd dir = open_directory(directory_);
    for (int n = 0; n < 1000; ++n) {
        const std::string name = n == 0 ? base : base + "." + std::to_string(n);
        // NOREPLACE: a second quarantine within the same second keeps both.
        int rc = ::renameat2(dir.get(), kFileName, dir.get(), name.c_str(), RENAME_NOREPLACE);
        if (rc != 0 && errno == EINVAL) {
            // The filesystem lacks RENAME_NOREPLACE; check, then rename.
            if (::faccessat(dir.get(), name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                continue;
            }
            rc = ::renameat(dir.get(), kFileName, dir.get(), name.c_str());
        }
        if (rc == 0) {
            sync_directory(dir, directory_);
            return directory_ / name;
        }
        if (errno != EEXIST) {
            throw_system("cannot move " + file_.string() + " aside", errno);
        }
    }
    throw_system("cannot move " + file_.string() + " aside", EEXIST);
}

} // namespace lockc
