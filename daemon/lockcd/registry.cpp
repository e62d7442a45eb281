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
#include <variant>

namespace lockc {
namespace {

constexpr std::int64_t kVersion = 1;
constexpr const char *kFileName = "registry.toml";
constexpr const char *kTmpName = "registry.toml.tmp";
constexpr const char *kJournalName = "registry.journal";
constexpr const char *kJournalTmpName = "registry.journal.tmp";
constexpr std::string_view kHeader = "# lockcd container registry: rewritten by lockcd from time "
                                     "to time;\n# the changes since are in registry.journal.\n";
constexpr std::string_view kJournalHeader =
    "# lockcd registry journal: changes since registry.toml\n";
// Below this, appending stays cheaper than rewriting the snapshot.
constexpr std::uint64_t kMinCompactionBytes = std::uint64_t{64} * 1024;
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

void validate_record(const ContainerRecord &c) {
    if (c.id.empty()) {
        invalid("a container has an empty id");
    }
    const std::string who = "container " + shown(c.id);
    for (const std::string *s : {&c.id, &c.runtime, &c.cgroup_path, &c.pending_name}) {
        if (!valid_utf8(*s)) {
            invalid(who + ": " + shown(*s) + " is not valid UTF-8");
        }
    }
    if (parse_level(to_string(c.level)) != c.level || parse_mode(to_string(c.mode)) != c.mode) {
        invalid(who + ": unknown level or mode");
    }
    if (c.registered_usec > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        invalid(who + ": registered_usec does not fit a TOML integer");
    }
}

void validate_defaults(std::optional<Level> level, std::optional<Mode> mode) {
    if ((level && !parse_level(to_string(*level))) || (mode && !parse_mode(to_string(*mode)))) {
        invalid("unknown default level or mode");
    }
}

void validate(const RegistryState &state) {
    validate_defaults(state.default_level, state.default_mode);
    std::unordered_set<std::string_view> seen;
    for (const auto &c : state.containers) {
        validate_record(c);
        if (!seen.insert(c.id).second) {
            invalid("duplicate container " + shown(c.id));
        }
    }
}

toml::table record_table(const ContainerRecord &c) {
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
    return t;
}

toml::table defaults_table(std::optional<Level> level, std::optional<Mode> mode) {
    toml::table defaults;
    if (level) {
        defaults.insert("level", to_string(*level));
    }
    if (mode) {
        defaults.insert("mode", to_string(*mode));
    }
    return defaults;
}

// Only single-line basic strings: no raw newline inside a value, so the end
// marker (and the end of a journal line) can only be a line of its own.
constexpr auto kFormat = toml::format_flags::allow_unicode_strings;

std::string serialize(const RegistryState &state, std::int64_t generation) {
    validate(state);
    toml::table root;
    root.insert("generation", generation);
    root.insert("version", kVersion);
    auto defaults = defaults_table(state.default_level, state.default_mode);
    if (!defaults.empty()) {
        root.insert("defaults", std::move(defaults));
    }
    toml::array containers;
    for (const auto &c : state.containers) {
        containers.push_back(record_table(c));
    }
    if (!containers.empty()) {
        root.insert("container", std::move(containers));
    }
    std::ostringstream out;
    out << kHeader << toml::toml_formatter(root, kFormat) << "\n\n" << kEndMarker << '\n';
    return std::move(out).str();
}

// One journal line, newline included.
std::string serialize(const RegistryChange &change) {
    toml::table value;
    const char *key = nullptr;
    if (const auto *put = std::get_if<PutContainer>(&change)) {
        validate_record(put->record);
        key = "put";
        value = record_table(put->record);
    } else if (const auto *remove = std::get_if<RemoveContainer>(&change)) {
        if (remove->id.empty() || !valid_utf8(remove->id)) {
            invalid("the removal of " + shown(remove->id));
        }
        key = "remove";
        value.insert("id", remove->id);
    } else {
        const auto &defaults = std::get<SetDefaults>(change);
        validate_defaults(defaults.level, defaults.mode);
        key = "defaults";
        value = defaults_table(defaults.level, defaults.mode);
    }
    value.is_inline(true);
    toml::table line;
    line.insert(key, std::move(value));
    std::ostringstream out;
    out << toml::toml_formatter(line, kFormat) << '\n';
    return std::move(out).str();
}

// Parsing with the file name and the line:column of each problem.
// `first_line`: the line of the file where the parsed text starts (journal
// lines are parsed one at a time).
class Reader {
  public:
    explicit Reader(const std::filesystem::path &file, std::size_t first_line = 1)
        : file_(file.string()), line_offset_(first_line - 1) {}

    [[noreturn]] void fail(const toml::source_position &at, const std::string &what) const {
        std::string msg = file_;
        if (at) {
            msg += ':' + std::to_string(at.line + line_offset_) + ':' + std::to_string(at.column);
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

    // A [[container]] table or a journal's put; `where` names it.
    [[nodiscard]] ContainerRecord container(const toml::table &t, std::string where) const {
        only_keys(t,
                  {"id", "level", "mode", "runtime", "cgroup_path", "cgroup_id", "pending_name",
                   "registered_usec"},
                  where);
        ContainerRecord c;
        c.id = required_string(t, "id", where);
        if (c.id.empty()) {
            fail(t.get("id"), where + "empty id");
        }
        where = "container " + shown(c.id) + ": ";
        c.level = *level(t, where, true);
        c.mode = *mode(t, where, true);
        c.runtime = string(t, "runtime", where).value_or("");
        c.cgroup_path = string(t, "cgroup_path", where).value_or("");
        c.cgroup_id = cgroup_id(t, where);
        c.pending_name = string(t, "pending_name", where).value_or("");
        c.registered_usec = registered_usec(t, where);
        return c;
    }

    // The [defaults] table or a journal's defaults.
    void defaults(const toml::table &t, const std::string &where, std::optional<Level> &level_out,
                  std::optional<Mode> &mode_out) const {
        only_keys(t, {"level", "mode"}, where);
        level_out = level(t, where, false);
        mode_out = mode(t, where, false);
    }

    [[nodiscard]] const toml::table &table(const toml::node *node, const std::string &what) const {
        const toml::table *t = node != nullptr ? node->as_table() : nullptr;
        if (t == nullptr) {
            fail(node, what + ": expected a table");
        }
        return *t;
    }

    // A non-negative `generation = N`.
    [[nodiscard]] std::int64_t generation(const toml::node *node) const {
        const auto *value = node != nullptr ? node->as_integer() : nullptr;
        if (value == nullptr || value->get() < 0) {
            fail(node, "generation: expected a non-negative integer");
        }
        return value->get();
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
    std::size_t line_offset_;
};

struct Snapshot {
    RegistryState state;
    std::int64_t generation = 0; // 0: written before there were journals
};

Snapshot parse(std::string_view text, const std::filesystem::path &file) {
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

    r.only_keys(root, {"generation", "version", "defaults", "container"}, "");
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

    Snapshot snapshot;
    RegistryState &state = snapshot.state;
    if (const toml::node *node = root.get("generation"); node != nullptr) {
        snapshot.generation = r.generation(node);
    }
    if (const toml::node *node = root.get("defaults"); node != nullptr) {
        r.defaults(r.table(node, "defaults"), "defaults: ", state.default_level,
                   state.default_mode);
    }

    const toml::node *node = root.get("container");
    if (node == nullptr) {
        return snapshot;
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
        auto c = r.container(*t, "container " + std::to_string(i + 1) + ": ");
        const auto id_at = t->get("id")->source().begin;
        if (const auto [it, added] = first_seen.emplace(c.id, id_at); !added) {
            r.fail(id_at, "duplicate container id " + shown(c.id) + " (first at line " +
                              std::to_string(it->second.line) + ")");
        }
        state.containers.push_back(std::move(c));
    }
    return snapshot;
}

// apply_change() for many changes: by index, not by searching the whole
// list for each (a journal can hold as many lines as there are containers).
// The order comes out as apply_change() leaves it.
class Replay {
  public:
    explicit Replay(std::vector<ContainerRecord> &&containers) {
        for (auto &c : containers) {
            index_.emplace(c.id, records_.size());
            records_.emplace_back(std::move(c));
        }
    }
    // False for the removal of an id that is not there.
    bool apply(RegistryChange &&change, RegistryState &state) {
        if (auto *put = std::get_if<PutContainer>(&change)) {
            if (const auto it = index_.find(put->record.id); it != index_.end()) {
                records_[it->second] = std::move(put->record);
            } else {
                index_.emplace(put->record.id, records_.size());
                records_.emplace_back(std::move(put->record));
            }
        } else if (const auto *remove = std::get_if<RemoveContainer>(&change)) {
            const auto it = index_.find(remove->id);
            if (it == index_.end()) {
                return false;
            }
            records_[it->second].reset();
            index_.erase(it);
        } else {
            return apply_change(state, change);
        }
        return true;
    }
    [[nodiscard]] std::vector<ContainerRecord> take() && {
        std::vector<ContainerRecord> out;
        out.reserve(index_.size());
        for (auto &r : records_) {
            if (r) {
                out.push_back(std::move(*r));
            }
        }
        return out;
    }

  private:
    std::vector<std::optional<ContainerRecord>> records_;
    std::unordered_map<std::string, std::size_t> index_;
};

// The lines of the journal `text`, applied through `changes`.
std::string replay_lines(std::string_view text, const std::filesystem::path &file,
                         Snapshot &snapshot, Replay &changes) {
    std::string warning;
    if (const auto end = text.rfind('\n'); end + 1 != text.size()) {
        // A line without its newline was being written when the machine
        // stopped: its change was never reported done.
        const auto cut = end == std::string_view::npos ? 0 : end + 1;
        warning = file.string() + ": ignored an incomplete last line (" +
                  std::to_string(text.size() - cut) + " bytes)";
        text = text.substr(0, cut);
    }
    std::optional<std::int64_t> generation;
    std::size_t line_no = 0;
    while (!text.empty()) {
        const auto eol = text.find('\n');
        const auto line = text.substr(0, eol);
        text.remove_prefix(eol + 1);
        ++line_no;
        if (line.empty() || line.front() == '#') {
            continue;
        }
        const Reader r(file, line_no);
        toml::table doc;
        try {
            doc = toml::parse(line, file.string());
        } catch (const toml::parse_error &e) {
            r.fail(e.source().begin, std::string(e.description()));
        }
        if (doc.size() != 1) {
            r.fail(toml::source_position{1, 1}, "expected one change per line");
        }
        const auto first = doc.begin();
        const toml::key &key = first->first;
        const toml::node &node = first->second;
        if (!generation) {
            if (key.str() != "generation") {
                r.fail(&node, "expected the generation first");
            }
            generation = r.generation(&node);
            if (*generation < snapshot.generation) {
                // Folded into the snapshot already, which a crash kept from
                // replacing this journal.
                return file.string() + ": generation " + std::to_string(*generation) +
                       " is already in registry.toml; ignored";
            }
            if (*generation > snapshot.generation) {
                r.fail(&node, "generation " + std::to_string(*generation) +
                                  " is newer than registry.toml's (" +
                                  std::to_string(snapshot.generation) + ")");
            }
            continue;
        }
        RegistryChange change;
        if (key.str() == "put") {
            change = PutContainer{r.container(r.table(&node, "put"), "put: ")};
        } else if (key.str() == "remove") {
            const auto &t = r.table(&node, "remove");
            r.only_keys(t, {"id"}, "remove: ");
            change = RemoveContainer{r.required_string(t, "id", "remove: ")};
        } else if (key.str() == "defaults") {
            SetDefaults defaults;
            r.defaults(r.table(&node, "defaults"), "defaults: ", defaults.level, defaults.mode);
            change = defaults;
        } else {
            r.fail(&node, "unknown change " + shown(key.str()));
        }
        const auto *remove = std::get_if<RemoveContainer>(&change);
        const std::string removed = remove != nullptr ? remove->id : std::string();
        if (!changes.apply(std::move(change), snapshot.state)) {
            r.fail(&node, "removes container " + shown(removed) + ", which is not registered");
        }
    }
    // Without a generation line there were no changes either: a journal is
    // created whole, so this is one cut short by a test or a tool.
    return warning;
}

// Replays the journal `text` onto `snapshot`. Returns what to warn about.
std::string replay(std::string_view text, const std::filesystem::path &file, Snapshot &snapshot) {
    Replay changes(std::move(snapshot.state.containers));
    snapshot.state.containers.clear();
    auto result = replay_lines(text, file, snapshot, changes);
    snapshot.state.containers = std::move(changes).take();
    return result;
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

// Renames `file` to "<file>.corrupt-<now>[.N]" and returns the new path.
std::filesystem::path move_aside(const UniqueFd &dir, const std::filesystem::path &directory,
                                 const char *file, std::int64_t now) {
    const std::string base = std::string(file) + ".corrupt-" + std::to_string(now);
    for (int n = 0; n < 1000; ++n) {
        const std::string name = n == 0 ? base : base + "." + std::to_string(n);
        // NOREPLACE: a second quarantine within the same second keeps both.
        int rc = ::renameat2(dir.get(), file, dir.get(), name.c_str(), RENAME_NOREPLACE);
        if (rc != 0 && errno == EINVAL) {
            // The filesystem lacks RENAME_NOREPLACE; check, then rename.
            if (::faccessat(dir.get(), name.c_str(), F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
                continue;
            }
            rc = ::renameat(dir.get(), file, dir.get(), name.c_str());
        }
        if (rc == 0) {
            return directory / name;
        }
        if (errno != EEXIST) {
            throw_system("cannot move " + (directory / file).string() + " aside", errno);
        }
    }
    throw_system("cannot move " + (directory / file).string() + " aside", EEXIST);
}

} // namespace

bool apply_change(RegistryState &state, const RegistryChange &change) {
    auto &containers = state.containers;
    if (const auto *put = std::get_if<PutContainer>(&change)) {
        const auto it = std::ranges::find(containers, put->record.id, &ContainerRecord::id);
        if (it != containers.end()) {
            *it = put->record;
        } else {
            containers.push_back(put->record);
        }
    } else if (const auto *remove = std::get_if<RemoveContainer>(&change)) {
        const auto it = std::ranges::find(containers, remove->id, &ContainerRecord::id);
        if (it == containers.end()) {
            return false;
        }
        containers.erase(it);
    } else {
        const auto &defaults = std::get<SetDefaults>(change);
        state.default_level = defaults.level;
        state.default_mode = defaults.mode;
    }
    return true;
}

RegistryStore::RegistryStore(std::filesystem::path directory)
    : directory_(std::move(directory)), file_(directory_ / kFileName),
      journal_(directory_ / kJournalName) {}

RegistryState RegistryStore::load(std::string *warning) {
    Snapshot snapshot;
    const UniqueFd fd(::open(file_.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.valid()) {
        snapshot = parse(read_all(fd.get(), file_), file_);
    } else if (errno != ENOENT) {
        throw_system("cannot open " + file_.string(), errno);
    }
    const UniqueFd journal(::open(journal_.c_str(), O_RDONLY | O_CLOEXEC));
    std::string note;
    if (journal.valid()) {
        note = replay(read_all(journal.get(), journal_), journal_, snapshot);
    } else if (errno != ENOENT) {
        throw_system("cannot open " + journal_.string(), errno);
    }
    if (warning != nullptr) {
        *warning = std::move(note);
    }
    generation_ = snapshot.generation;
    return std::move(snapshot.state);
}

namespace {

// Writes `text` to `name` in `dir` through a temporary and a rename, both
// synced. Throws before the rename with the temporary removed.
void replace_file(const UniqueFd &dir, const std::filesystem::path &directory, const char *name,
                  const char *tmp_name, std::string_view text) {
    const auto tmp = directory / tmp_name;
    try {
        // A stale temporary (left by a crash) is replaced, never written
        // through: it could be a symlink or a hard link to another file.
        if (::unlinkat(dir.get(), tmp_name, 0) != 0 && errno != ENOENT) {
            throw_system("cannot remove " + tmp.string(), errno);
        }
        const UniqueFd fd(::openat(dir.get(), tmp_name,
                                   O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
        if (!fd.valid()) {
            throw_system("cannot create " + tmp.string(), errno);
        }
        write_all(fd.get(), text, tmp);
        if (::fsync(fd.get()) != 0) {
            throw_system("cannot sync " + tmp.string(), errno);
        }
        if (::renameat(dir.get(), tmp_name, dir.get(), name) != 0) {
            throw_system("cannot rename " + tmp.string() + " to " + (directory / name).string(),
                         errno);
        }
    } catch (const Error &) {
        ::unlinkat(dir.get(), tmp_name, 0);
        throw;
    }
}

} // namespace

void RegistryStore::save(const RegistryState &state) {
    const auto generation = generation_ + 1;
    const std::string text = serialize(state, generation);
    const std::string journal_text =
        std::string(kJournalHeader) + "generation = " + std::to_string(generation) + "\n";
    const UniqueFd dir = open_directory(directory_);
    replace_file(dir, directory_, kFileName, kTmpName, text);
    // From here the old journal is stale (older generation): no more appends
    // to it, whatever fails next.
    journal_fd_.reset();
    generation_ = generation;
    snapshot_bytes_ = text.size();
    unsynced_since_.reset();
    replace_file(dir, directory_, kJournalName, kJournalTmpName, journal_text);
    sync_directory(dir, directory_);
    UniqueFd journal(
        ::openat(dir.get(), kJournalName, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
    if (!journal.valid()) {
        throw_system("cannot open " + journal_.string(), errno);
    }
    journal_fd_ = std::move(journal);
    journal_bytes_ = journal_text.size();
}

void RegistryStore::append(const RegistryChange &change) {
    const std::string line = serialize(change);
    if (!journal_fd_.valid()) {
        throw Error(ErrorKind::System, "cannot append to " + journal_.string() +
                                           ": it must be rewritten after an earlier failure");
    }
    const ssize_t n = ::write(journal_fd_.get(), line.data(), line.size());
    if (n == static_cast<ssize_t>(line.size())) {
        journal_bytes_ += line.size();
        if (!unsynced_since_) {
            unsynced_since_ = std::chrono::steady_clock::now();
        }
        return;
    }
    // One write() of a line this short is whole or fails; a short one
    // (disk full) is cut off again, so that the next line starts a line.
    const int err = n < 0 ? errno : ENOSPC;
    if (::ftruncate(journal_fd_.get(), static_cast<off_t>(journal_bytes_)) != 0) {
        journal_fd_.reset(); // a save() starts a clean one
    }
    throw_system("cannot write " + journal_.string(), err);
}

void RegistryStore::sync() {
    if (!unsynced_since_ || !journal_fd_.valid()) {
        return;
    }
    if (::fdatasync(journal_fd_.get()) != 0) {
        const int err = errno;
        // After a failed sync the page cache may have dropped the data
        // (fsync errors are reported once): only a new snapshot is safe.
        journal_fd_.reset();
        throw_system("cannot sync " + journal_.string(), err);
    }
    unsynced_since_.reset();
}

bool RegistryStore::compaction_due() const noexcept {
    return !journal_fd_.valid() || journal_bytes_ >= std::max(kMinCompactionBytes, snapshot_bytes_);
}

std::filesystem::path RegistryStore::quarantine() {
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const UniqueFd dir = open_directory(directory_);
    journal_fd_.reset();
    unsynced_since_.reset();
    std::optional<std::filesystem::path> first;
    for (const char *file : {kFileName, kJournalName}) {
        if (::faccessat(dir.get(), file, F_OK, AT_SYMLINK_NOFOLLOW) != 0 && errno == ENOENT) {
            continue;
        }
        const auto moved = move_aside(dir, directory_, file, now);
        first = first.value_or(moved);
    }
    if (!first) {
        throw_system("cannot move " + file_.string() + " aside", ENOENT);
    }
    sync_directory(dir, directory_);
    return *first;
}

} // namespace lockc
